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
- `raw/`: the same pictures as they might come in, for notebooks 01-04 to clean up: each widened or
  heightened by mirroring its background out on the side away from the toy (02's focus crop must find the
  toy and cuts the clean picture back out), 3 star pictures without a caption (03), captions with a
  repeated tag, a "watermark" tag or no id sentence (04), and a truncated PNG (01).
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
RAW_EXTEND = (32, 96, 16)  # raw pictures grow by 32 to 96 px (in steps of 16) of mirrored background
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


def _mix(a, b, t):
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b, strict=True))


def background(rng: random.Random, size: int) -> tuple[Image.Image, str]:
    """A background and its caption words, e.g. 'blue checker background'."""
    (n1, c1), (n2, c2) = rng.sample(PALETTE, 2)
    pattern = rng.choice(PATTERNS)
    img = Image.new("RGB", (size, size), c1)
    d = ImageDraw.Draw(img)
    if pattern == "gradient":
        for y in range(size):
            d.line([(0, y), (size, y)], fill=_mix(c1, c2, y / (size - 1)))
        return img, f"{n1} and {n2} gradient background"
    if pattern == "checker":
        cell = size // rng.choice([4, 6, 8])
        soft = _mix(c1, c2, 0.35)
        for y in range(0, size, cell):
            for x in range((y // cell) % 2 * cell, size, 2 * cell):
                d.rectangle([x, y, x + cell - 1, y + cell - 1], fill=soft)
        return img, f"{n1} checker background"
    if pattern == "stripes":
        w = size // rng.choice([8, 10, 12])
        soft = _mix(c1, c2, 0.4)
        for x in range(-size, size * 2, 2 * w):
            d.polygon([(x, 0), (x + w, 0), (x + w + size, size), (x + size, size)], fill=soft)
        return img, f"{n1} striped background"
    if pattern == "dots":
        step = size // rng.choice([6, 8])
        soft = _mix(c1, c2, 0.4)
        r = step // 5
        for y in range(step // 2, size, step):
            for x in range(step // 2, size, step):
                d.ellipse([x - r, y - r, x + r, y + r], fill=soft)
        return img, f"{n1} dotted background"
    if pattern == "room":
        horizon = int(size * rng.uniform(0.55, 0.7))
        d.rectangle([0, horizon, size, size], fill=c2)
        d.line([(0, horizon), (size, horizon)], fill=_mix(c2, (0, 0, 0), 0.3), width=max(1, size // 128))
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
    size = canvas.width
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
                   fill=_mix(canvas.getpixel((int(min(max(cx, 0), size - 1)),
                                              int(min(max(cy + radius, 0), size - 1)))),
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


def draw_image(rng: random.Random, kind: str) -> tuple[Image.Image, str, tuple[float, float, float]]:
    """A clean picture, its caption words and where the toy is: (x, y, radius) as shares of the side."""
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
    return img, words, (cx / big, cy / big, radius / big)


def widen(img: Image.Image, toy: tuple[float, float, float]) -> Image.Image:
    """The clean picture with its background mirrored out on the side farthest from the toy: a strip of that
    side, free of the toy and its shadow, reflected outward. A square crop around the toy cuts the clean
    picture back out, so the raw set teaches what the clean one does once step 02 has found the toy."""
    x, y, r = (v * SIZE for v in toy)
    room = {"left": x - r, "right": SIZE - x - r, "top": y - r, "bottom": SIZE - y - 1.1 * r}  # shadow below
    side = max(room, key=room.get)
    lo, hi, step = RAW_EXTEND
    ext = min(hi, int(room[side]) // step * step)
    if ext < lo:  # the toy fills the picture: nothing to mirror without it
        return img
    w, h = (SIZE + ext, SIZE) if side in ("left", "right") else (SIZE, SIZE + ext)
    out = Image.new("RGB", (w, h))
    if side == "right":
        out.paste(img, (0, 0))
        out.paste(img.crop((SIZE - ext, 0, SIZE, SIZE)).transpose(Image.Transpose.FLIP_LEFT_RIGHT), (SIZE, 0))
    elif side == "left":
        out.paste(img, (ext, 0))
        out.paste(img.crop((0, 0, ext, SIZE)).transpose(Image.Transpose.FLIP_LEFT_RIGHT), (0, 0))
    elif side == "bottom":
        out.paste(img, (0, 0))
        out.paste(img.crop((0, SIZE - ext, SIZE, SIZE)).transpose(Image.Transpose.FLIP_TOP_BOTTOM), (0, SIZE))
    else:
        out.paste(img, (0, ext))
        out.paste(img.crop((0, 0, SIZE, ext)).transpose(Image.Transpose.FLIP_TOP_BOTTOM), (0, 0))
    return out


def raw_caption(ident: str, number: int, words: str) -> str | None:
    """The raw caption of star picture `number`, with its planted problem (None: no caption file)."""
    if number in RAW_UNCAPTIONED:
        return None
    parts = words.split(", ")
    if number in RAW_DUPLICATE:
        parts.append(parts[1])  # the size word again
    if number in RAW_WATERMARK:
        parts.insert(2, "watermark")
    text = ", ".join(parts)
    return text if number in RAW_NO_TRIGGER else f"This image is labeled as {ident}. {text}"


def make_raw(out: Path, drawn: dict[str, list]) -> list[Path]:
    """`raw/`: the clean pictures (`drawn`: concept folder -> [(image, words, toy)]) widened by `widen`, with
    the star's caption problems and a truncated copy of its first picture."""
    written = []
    for folder, (ident, _) in CONCEPTS.items():
        d = out / RAW / folder
        d.mkdir(parents=True)
        kind = "star" if "star" in folder else "ring"
        for i, (img, words, toy) in enumerate(drawn[folder], 1):
            name = f"{kind}_{i:02d}"
            widen(img, toy).save(d / f"{name}.png", optimize=True)
            written.append(d / f"{name}.png")
            text = raw_caption(ident, i, words) if kind == "star" else f"This image is labeled as {ident}. {words}"
            if text is not None:
                (d / f"{name}.txt").write_text(text + "\n", encoding="utf-8")
                written.append(d / f"{name}.txt")
        if kind == "star":  # a download cut short: the PNG's first half
            buf = io.BytesIO()
            widen(*drawn[folder][0][::2]).save(buf, "PNG", optimize=True)
            (d / RAW_BROKEN).write_bytes(buf.getvalue()[:len(buf.getvalue()) // 2])
            written.append(d / RAW_BROKEN)
    return written


def make(out: Path) -> list[Path]:
    written, drawn = [], {}
    for folder, (ident, count) in CONCEPTS.items():
        rng = random.Random(f"{ident}-{count}")
        d = out / folder
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        kind = "star" if "star" in folder else "ring"
        for i in range(count):
            img, words, toy = draw_image(rng, kind)
            drawn.setdefault(folder, []).append((img, words, toy))
            name = f"{kind}_{i + 1:02d}"
            img.save(d / f"{name}.png", optimize=True)
            (d / f"{name}.txt").write_text(f"This image is labeled as {ident}. {words}\n", encoding="utf-8")
            written += [d / f"{name}.png", d / f"{name}.txt"]
    if (out / RAW).exists():
        shutil.rmtree(out / RAW)
    written += make_raw(out, drawn)
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
