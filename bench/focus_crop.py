"""How far the model-free focus crop lands from the subject (bench/README.md, "Focus crop without a model").

The sample's raw pictures (datasets_sample/raw) are its clean 128 px pictures widened by mirrored background,
so a square focus crop should cut the clean picture back out. For every widened picture this finds where the
clean picture lies in it (by comparing pixels, not from make_sample's logic) and prints the offset in px
between that box and `crop_image(raw, side, "focus").box` at 128 px (the clean size) and 64 px (the course's).
`--draw N` adds N more pictures drawn and widened by make_sample.py with other seeds, `--timing` the cost of
one saliency map for the raw stars enlarged to 512 and 1024 px.

    OMP_NUM_THREADS=1 python bench/focus_crop.py --draw 200 --timing
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "datasets_sample"
CONCEPT = "20_zigzag_star"
SIDES = (128, 64)


def make_sample():
    spec = importlib.util.spec_from_file_location("make_sample", SAMPLE / "make_sample.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def clean_box(raw: Image.Image, clean: Image.Image) -> tuple[int, int, int, int]:
    """Where `clean` lies inside `raw` (the offset whose pixels differ least)."""
    r, c = np.asarray(raw.convert("RGB"), np.float32), np.asarray(clean.convert("RGB"), np.float32)
    (h, w), (ch, cw) = r.shape[:2], c.shape[:2]
    x, y = min(((x, y) for x in range(w - cw + 1) for y in range(h - ch + 1)),
               key=lambda o: np.abs(r[o[1]:o[1] + ch, o[0]:o[0] + cw] - c).mean())
    return (x, y, x + cw, y + ch)


def offsets(pairs) -> list[tuple[str, dict[int, int]]]:
    """[(name, {side: px offset})] for (name, raw, clean) pairs whose raw picture was widened."""
    from lora_nb.dataset.crop import crop_image

    out = []
    for name, raw, clean in pairs:
        if raw.size == clean.size:
            continue
        want = clean_box(raw, clean)
        got = {s: crop_image(raw, s, "focus").box for s in SIDES}
        out.append((name, {s: max(abs(b[0] - want[0]), abs(b[1] - want[1])) for s, b in got.items()}))
    return out


def raw_sample_pairs(concept: str = CONCEPT):
    for p in sorted((SAMPLE / "raw" / concept).glob("*.png")):
        clean = SAMPLE / concept / p.name
        if clean.exists():  # the truncated raw file has no clean twin
            yield p.name, Image.open(p).convert("RGB"), Image.open(clean).convert("RGB")


def drawn_pairs(n: int, seed: int = 1):
    ms = make_sample()
    rng = random.Random(seed)
    for i in range(n):
        img, words, toy = ms.draw_image(rng, "star")
        yield f"drawn_{i:03d} ({words.rsplit(', ', 1)[-1]})", ms.widen(img, toy), img


def summary(found) -> str:
    lines = []
    for s in SIDES:
        o = np.array([d[s] for _, d in found])
        lines.append(f"{s} px: {len(o)} widened pictures, max {o.max()} px, mean {o.mean():.2f} px, "
                     f"{(o <= 2).sum()} within 2 px")
    return "\n".join(lines)


def timing(repeats: int = 5) -> str:
    """ms per saliency map: the raw sample's stars enlarged to a 512 and a 1024 px longer side (mean, worst)."""
    from lora_nb.dataset.crop import saliency_map

    raws = [raw for _, raw, _ in raw_sample_pairs()]
    out = []
    for side in (512, 1024):
        ms = []
        for raw in raws:
            big = raw.resize((raw.width * side // max(raw.size), raw.height * side // max(raw.size)),
                             Image.Resampling.LANCZOS)
            saliency_map(big)
            t0 = time.perf_counter()
            for _ in range(repeats):
                saliency_map(big)
            ms.append((time.perf_counter() - t0) / repeats * 1000)
        out.append(f"saliency_map at {side} px (the {len(raws)} raw stars): mean {np.mean(ms):.1f} ms, "
                   f"worst {max(ms):.1f} ms")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--draw", type=int, default=0, help="also measure this many freshly drawn pictures")
    ap.add_argument("--timing", action="store_true", help="time saliency_map on 512 and 1024 px pictures")
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per picture")
    args = ap.parse_args(argv)
    sets = [("raw sample, star", raw_sample_pairs()), ("raw sample, ring", raw_sample_pairs("20_dotted_ring"))]
    sets += [(f"{args.draw} drawn stars", drawn_pairs(args.draw))] if args.draw else []
    for title, pairs in sets:
        found = offsets(pairs)
        print(f"== {title}")
        if args.verbose:
            print("\n".join(f"  {name}: {d}" for name, d in found))
        print(summary(found))
    if args.timing:
        print(timing())


if __name__ == "__main__":
    main()
