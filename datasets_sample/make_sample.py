"""Draw the course's sample dataset: a made-up toy that no base model knows, so a LoRA has
something real to learn, drawn procedurally (no copyright: CC0, see LICENSE).

    python datasets_sample/make_sample.py            # rewrites the two concept folders, raw/ and triggers.json
    python datasets_sample/make_sample.py --out DIR  # or somewhere else

Deterministic: the same Pillow version draws byte-identical files.

- `20_zigzag_star/`: 20 images of one subject, a yellow five-pointed star toy with navy zigzag
  stripes and a red button in the middle, in varied positions, sizes, angles and backgrounds.
- `20_dotted_ring/`: 4 images of a second subject, a green ring with white dots. With the same
  repeats it gets 80 samples per epoch against the star's 400: the 20-vs-80 kind of split that
  Flux LoRA guide warns about, so the audit shows its balance warning.
- `raw/`: the same two toys as pictures come in, for notebooks 01-04 to clean up: wider or taller
  canvases with the toy off-centre (02 must move its crop box), 3 star pictures without a caption (03),
  captions with a repeated tag, a "watermark" tag or no id sentence (04), and a truncated PNG (01).
- `triggers.json`: each concept folder's id, which the clean step puts into captions that lack it.

Captions follow the Flux LoRA guide: a unique 10-letter identifier first ("This image is labeled as
<id>."), then only what varies (size, position, background). What the LoRA should learn, the
toy's look, is left out of the caption so it is absorbed by the identifier (FluxTrainer walkthrough).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import random
import shutil
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 128  # final image side
SS = 4  # supersampling factor for smooth edges
STAR_ID = "donpzishnk"  # 10 random letters (Flux LoRA guide), drawn once with random.Random(20240601)
RING_ID = "gnrmclnjsq"
CONCEPTS = {"20_zigzag_star": (STAR_ID, 20), "20_dotted_ring": (RING_ID, 4)}
TRIGGERS_FILE = "triggers.json"  # concept folder -> id, what lora_nb's clean step reads for the sample
RAW = "raw"  # the uncleaned set that notebooks 01-04 work on in the CPU course and smoke mode
# raw canvases: the short side is the 128 px of the clean set, so a square crop of it frames the toy as there
RAW_SIZES = [(192, 128), (128, 192), (224, 128), (128, 224)]
# what is wrong with which raw star picture (by number), one problem each, for the steps to find and fix
RAW_UNCAPTIONED = (4, 10, 16)  # no .txt: 03's captioner fills them
RAW_DUPLICATE = (2, 13)  # a tag repeated: 04 dedupes
RAW_WATERMARK = (6, 18)  # "watermark": in 04's default BLACKLIST
RAW_NO_TRIGGER = (8, 20)  # the id sentence missing: 04 adds it
RAW_BROKEN = "star_21.png"  # a truncated PNG: 01's collect rejects it by name

YELLOW, NAVY, RED = (250, 204, 21), (30, 41, 110), (220, 38, 38)
GREEN, DOT_WHITE = (34, 160, 90), (250, 250, 245)
# (name used in the caption, rgb)
PALETTE = [
    ("blue", (120, 170, 230)), ("pink", (240, 170, 190)), ("green", (150, 205, 150)), ("gray", (170, 170, 175)),
    ("purple", (175, 150, 215)), ("orange", (245, 180, 120)), ("white", (245, 245, 240)), ("brown", (170, 130, 95)),
    ("red", (225, 120, 110)), ("teal", (110, 190, 185)),
]
PATTERNS = ["plain", "gradient", "checker", "stripes", "dots", "room"]
# no gradient, wall-and-floor or dots behind raw pictures: the focus crop's saliency estimate takes the border's
# median colour for the background, and a second colour area or edges all over pull its box off the toy (rembg does not)
RAW_PATTERNS = [p for p in PATTERNS if p not in ("gradient", "room", "dots")]


def _mix(a, b, t):
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b, strict=True))


def background(rng: random.Random, size: int, height: int | None = None,
               patterns: list[str] = PATTERNS) -> tuple[Image.Image, str]:
    """A size x height (default square) background and its caption words, e.g. 'blue checker background'."""
    (n1, c1), (n2, c2) = rng.sample(PALETTE, 2)
    pattern = rng.choice(patterns)
    w, h = size, height or size
    short = min(w, h)
    img = Image.new("RGB", (w, h), c1)
    d = ImageDraw.Draw(img)
    if pattern == "gradient":
        for y in range(h):
            d.line([(0, y), (w, y)], fill=_mix(c1, c2, y / (h - 1)))
        return img, f"{n1} and {n2} gradient background"
    if pattern == "checker":
        cell = short // rng.choice([4, 6, 8])
        soft = _mix(c1, c2, 0.35)
        for y in range(0, h, cell):
            for x in range((y // cell) % 2 * cell, w, 2 * cell):
                d.rectangle([x, y, x + cell - 1, y + cell - 1], fill=soft)
        return img, f"{n1} checker background"
    if pattern == "stripes":
        sw = short // rng.choice([8, 10, 12])
        soft = _mix(c1, c2, 0.4)
        for x in range(-h, w * 2, 2 * sw):
            d.polygon([(x, 0), (x + sw, 0), (x + sw + h, h), (x + h, h)], fill=soft)
        return img, f"{n1} striped background"
    if pattern == "dots":
        step = short // rng.choice([6, 8])
        soft = _mix(c1, c2, 0.4)
        r = step // 5
        for y in range(step // 2, h, step):
            for x in range(step // 2, w, step):
                d.ellipse([x - r, y - r, x + r, y + r], fill=soft)
        return img, f"{n1} dotted background"
    if pattern == "room":
        horizon = int(h * rng.uniform(0.55, 0.7))
        d.rectangle([0, horizon, w, h], fill=c2)
        d.line([(0, horizon), (w, horizon)], fill=_mix(c2, (0, 0, 0), 0.3), width=max(1, short // 128))
        return img, f"{n1} wall and {n2} floor background"
    return img, f"plain {n1} background"


def star_points(cx, cy, r_out, r_in, angle):
    pts = []
    for i in range(10):
        r = r_out if i % 2 == 0 else r_in
        a = angle - math.pi / 2 + i * math.pi / 5
        pts.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return pts


def draw_star(canvas: Image.Image, cx, cy, radius, angle):
    """The zigzag star toy: yellow star, navy zigzag stripes clipped to it, dark outline, red button."""
    pts = star_points(cx, cy, radius, radius * 0.48, angle)
    mask = Image.new("L", canvas.size, 0)
    ImageDraw.Draw(mask).polygon(pts, fill=255)
    body = Image.new("RGB", canvas.size, YELLOW)
    d = ImageDraw.Draw(body)
    # zigzag stripes run across the star, turned with it
    ca, sa = math.cos(angle), math.sin(angle)
    step, amp, width = radius * 0.42, radius * 0.12, max(2, int(radius * 0.09))
    for k in range(-3, 4):
        line = []
        for j in range(-8, 9):
            u = j * radius * 0.16
            v = k * step + (amp if j % 2 else -amp)
            line.append((cx + u * ca - v * sa, cy + u * sa + v * ca))
        d.line(line, fill=NAVY, width=width, joint="curve")
    # soft shadow first, so the toy sits on the ground
    shadow = ImageDraw.Draw(canvas)
    sw, sh = radius * 0.9, radius * 0.22
    shadow.ellipse([cx - sw, cy + radius * 0.85 - sh, cx + sw, cy + radius * 0.85 + sh],
                   fill=_mix(canvas.getpixel((int(min(max(cx, 0), canvas.width - 1)),
                                              int(min(max(cy + radius, 0), canvas.height - 1)))),
                             (0, 0, 0), 0.25))
    canvas.paste(body, mask=mask)
    out = ImageDraw.Draw(canvas)
    out.polygon(pts, outline=NAVY, width=max(2, int(radius * 0.05)))
    b = radius * 0.16
    out.ellipse([cx - b, cy - b, cx + b, cy + b], fill=RED, outline=NAVY, width=max(1, int(radius * 0.03)))


def draw_ring(canvas: Image.Image, cx, cy, radius, angle):
    """The dotted ring: a thick green ring with white dots around it."""
    thick = radius * 0.42
    mask = Image.new("L", canvas.size, 0)
    m = ImageDraw.Draw(mask)
    m.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=255)
    m.ellipse([cx - radius + thick, cy - radius + thick, cx + radius - thick, cy + radius - thick], fill=0)
    canvas.paste(GREEN, mask=mask)  # the hole shows the background pattern
    d = ImageDraw.Draw(canvas)
    mid, dot = radius - thick / 2, thick * 0.22
    for i in range(8):
        a = angle + i * math.pi / 4
        x, y = cx + mid * math.cos(a), cy + mid * math.sin(a)
        d.ellipse([x - dot, y - dot, x + dot, y + dot], fill=DOT_WHITE)


def position_words(cx, cy, size) -> str:
    col = "left" if cx < size * 0.38 else "right" if cx > size * 0.62 else ""
    row = "top" if cy < size * 0.38 else "bottom" if cy > size * 0.62 else ""
    return f"{row} {col}".strip() or "center"


def size_word(radius, size) -> str:
    f = radius / size
    return "small" if f < 0.22 else "large" if f > 0.32 else "mid-size"


def draw_image(rng: random.Random, kind: str) -> tuple[Image.Image, str, float]:
    """A clean picture, its caption words and the toy's radius as a share of the side."""
    big = SIZE * SS
    canvas, bg_words = background(rng, big)
    radius = big * rng.uniform(0.15, 0.40)
    margin = radius * 1.05
    cx, cy = rng.uniform(margin, big - margin), rng.uniform(margin, big - margin * 1.1)
    angle = math.radians(rng.uniform(-30, 30))
    (draw_star if kind == "star" else draw_ring)(canvas, cx, cy, radius, angle)
    img = canvas.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    noun = "toy star" if kind == "star" else "toy ring"
    words = f"a {noun}, {size_word(radius, big)}, {position_words(cx, cy, big)}, {bg_words}"
    return img, words, radius / big


def place_in_crop(c: float, long: int, short: int) -> float:
    """Where a subject at `c` on a canvas side of `long` sits in a square `short` crop centred on it
    (moved inside the canvas), as the focus crop places its box."""
    return c - min(max(c - short / 2, 0), long - short)


def draw_raw(rng: random.Random, kind: str, size: float) -> tuple[Image.Image, str]:
    """A raw picture: a wider or taller canvas (RAW_SIZES) with the toy off-centre along its long side.
    The toy, `size` (radius / short side) as large as in a clean picture, is placed as in `draw_image` inside
    a square window at one end of the canvas (in its outer part), so a square crop around it frames it as the
    clean set does; the caption describes that crop."""
    w, h = rng.choice(RAW_SIZES)
    bw, bh, side = w * SS, h * SS, min(w, h) * SS
    canvas, bg_words = background(rng, bw, bh, RAW_PATTERNS)
    radius = side * size
    margin = radius * 1.05
    # along the long side the toy keeps to the window's outer part: a centre crop would cut it
    end = rng.choice([0, 1])  # the window at the start or the end of the long side
    # (a tall canvas's box centres on the toy and its shadow, so the toy keeps further from the top there)
    lo, hi = margin * (1.25 if bh > bw else 1), side - margin * (1.1 if bh > bw else 1)
    along = rng.uniform(lo, max(lo, side * 0.35)) if end == 0 else rng.uniform(min(hi, side * 0.65), hi)
    across = rng.uniform(margin, side - margin * (1 if bh > bw else 1.1))
    shift = end * (max(bw, bh) - side)
    cx, cy = (along + shift, across) if bw > bh else (across, along + shift)
    angle = math.radians(rng.uniform(-30, 30))
    (draw_star if kind == "star" else draw_ring)(canvas, cx, cy, radius, angle)
    img = canvas.resize((w, h), Image.Resampling.LANCZOS)
    px, py = (place_in_crop(cx, bw, side), cy) if bw > bh else (cx, place_in_crop(cy, bh, side))
    noun = "toy star" if kind == "star" else "toy ring"
    return img, f"a {noun}, {size_word(radius, side)}, {position_words(px, py, side)}, {bg_words}"


def raw_caption(ident: str, number: int, words: str) -> str | None:
    """The raw caption of picture `number`, with its planted problem (None: no caption file)."""
    if number in RAW_UNCAPTIONED:
        return None
    parts = words.split(", ")
    if number in RAW_DUPLICATE:
        parts.append(parts[1])  # the size word again
    if number in RAW_WATERMARK:
        parts.insert(2, "watermark")
    text = ", ".join(parts)
    return text if number in RAW_NO_TRIGGER else f"This image is labeled as {ident}. {text}"


def make_raw(out: Path, sizes: dict[str, list[float]]) -> list[Path]:
    """`raw/`: the same toys as drawn pictures come in, uncropped and with caption problems. Picture i has
    the size of clean picture i (`sizes`: concept folder -> radius shares), so that after cropping the set
    teaches the toy at the sizes the clean set does."""
    written = []
    for folder, (ident, count) in CONCEPTS.items():
        rng = random.Random(f"raw-{ident}-{count}")
        kind = "star" if "star" in folder else "ring"
        d = out / RAW / folder
        d.mkdir(parents=True)
        for i in range(1, count + 1):
            img, words = draw_raw(rng, kind, sizes[folder][i - 1])
            name = f"{kind}_{i:02d}"
            img.save(d / f"{name}.png", optimize=True)
            written.append(d / f"{name}.png")
            text = raw_caption(ident, i, words) if kind == "star" else f"This image is labeled as {ident}. {words}"
            if text is not None:
                (d / f"{name}.txt").write_text(text + "\n", encoding="utf-8")
                written.append(d / f"{name}.txt")
        if kind == "star":  # a download cut short: the PNG's first half
            img, _ = draw_raw(rng, kind, sizes[folder][0])
            buf = io.BytesIO()
            img.save(buf, "PNG", optimize=True)
            (d / RAW_BROKEN).write_bytes(buf.getvalue()[:len(buf.getvalue()) // 2])
            written.append(d / RAW_BROKEN)
    return written


def make(out: Path) -> list[Path]:
    written, sizes = [], {}
    for folder, (ident, count) in CONCEPTS.items():
        rng = random.Random(f"{ident}-{count}")
        d = out / folder
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        kind = "star" if "star" in folder else "ring"
        for i in range(count):
            img, words, size = draw_image(rng, kind)
            sizes.setdefault(folder, []).append(size)
            name = f"{kind}_{i + 1:02d}"
            img.save(d / f"{name}.png", optimize=True)
            (d / f"{name}.txt").write_text(f"This image is labeled as {ident}. {words}\n", encoding="utf-8")
            written += [d / f"{name}.png", d / f"{name}.txt"]
    if (out / RAW).exists():
        shutil.rmtree(out / RAW)
    written += make_raw(out, sizes)
    ids = {folder: ident for folder, (ident, _) in CONCEPTS.items()}
    (out / TRIGGERS_FILE).write_text(json.dumps(ids, indent=2) + "\n", encoding="utf-8")
    return written + [out / TRIGGERS_FILE]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                    help="folder to write the concept folders into (default: next to this script)")
    args = ap.parse_args(argv)
    files = make(args.out)
    print(f"wrote {len(files)} files under {args.out}")


if __name__ == "__main__":
    main()
