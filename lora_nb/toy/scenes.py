"""Procedural scenes with matching captions: the training data of the built-in tiny base model.

A shape (circle, square, triangle or diamond) in a colour, size, position and fill pattern, on a
background (plain, gradient, checker, stripes, dots, wall-and-floor), drawn with Pillow and
described in words, e.g. "a red circle, small, top left, plain blue background" or "a red circle
on a blue background". The vocabulary and the picture style (pastel backgrounds, soft shadow under
the object, supersampled edges) follow `datasets_sample/make_sample.py`, so the course's sample
concept differs from what the base knows in one thing only: the subject.

There are no stars anywhere in this distribution, on purpose: the zigzag star toy of the sample
dataset must be a concept the base has never seen, so that the LoRA has something real to learn
(Flux LoRA guide: train a LoRA on what the base model cannot draw).

    spec = random_scene(random.Random(0))          # a SceneSpec: what to draw
    img = render_scene(spec)                       # a 64x64 PIL image
    caption(spec, random.Random(1))                # one of several caption styles
    render_scene(SceneSpec("circle", "red", background="blue"))  # a chosen scene
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

SIZE = 64  # image side of the tiny model
SUPERSAMPLE = 4  # drawn at 4x and downsampled, for smooth edges as in the sample dataset

SHAPES = ("circle", "square", "triangle", "diamond")

# Saturated object colours. No navy: navy-on-yellow is the unseen star's signature.
OBJECT_COLOURS = {
    "red": (220, 38, 38), "orange": (245, 130, 30), "yellow": (245, 200, 30), "green": (34, 160, 70),
    "blue": (40, 90, 225), "purple": (135, 60, 190), "pink": (235, 90, 165), "white": (248, 248, 245),
    "black": (30, 30, 35), "brown": (125, 80, 45),
}
# Pastel background colours: the same names and values as the sample dataset's PALETTE.
BACKGROUND_COLOURS = {
    "blue": (120, 170, 230), "pink": (240, 170, 190), "green": (150, 205, 150), "gray": (170, 170, 175),
    "purple": (175, 150, 215), "orange": (245, 180, 120), "white": (245, 245, 240), "brown": (170, 130, 95),
    "red": (225, 120, 110), "teal": (110, 190, 185), "yellow": (240, 225, 140),
}
BACKGROUND_PATTERNS = ("plain", "gradient", "checker", "stripes", "dots", "room")
# Plain backgrounds most often: the tiny model learns text -> colour and shape first on them, and the
# sample's six background kinds all still occur, so a LoRA need not learn them.
PATTERN_WEIGHTS = (0.35, 0.15, 0.12, 0.12, 0.11, 0.15)
FILLS = ("plain", "striped", "dotted")
SIZE_WORDS = ("small", "mid-size", "large")
# Shapes lean at most this much (degrees). A small model draws the average of what a word covers
# before it draws any one case: squares turned anywhere in +-30 deg average into a round blob (the first
# tiny-shapes model drew exactly that), while upright-ish squares and triangles keep their corners.
MAX_TILT = 10.0
POSITION_WORDS = ("top left", "top", "top right", "left", "center", "right", "bottom left", "bottom",
                  "bottom right")

# Words the tokenizer must know as whole tokens (captions, the sample dataset, common prompts).
VOCABULARY = sorted(set(
    " ".join(SHAPES + tuple(OBJECT_COLOURS) + tuple(BACKGROUND_COLOURS) + FILLS + SIZE_WORDS + POSITION_WORDS)
    .replace("-", " ").split()
    + "a an the on in of and with toy background gradient checker striped dotted wall floor plain mid size "
      "this image is labeled as star ring".split()))


@dataclass(frozen=True)
class SceneSpec:
    """One scene. Coordinates are fractions of the image side; `angle` in degrees."""

    shape: str
    colour: str
    fill: str = "plain"
    size: float = 0.25  # radius / image side (the sample's stars span 0.15-0.40)
    x: float = 0.5
    y: float = 0.5
    angle: float = 0.0
    background: str = "blue"
    background2: str = "white"  # second colour of gradient/checker/stripes/dots/room backgrounds
    pattern: str = "plain"
    pattern_scale: int = 6  # cells/stripes/dots across the image
    horizon: float = 0.62  # for "room": where the floor starts
    shadow: bool = True
    outline: bool = False

    @property
    def size_word(self) -> str:
        return size_word(self.size)

    @property
    def position_word(self) -> str:
        return position_word(self.x, self.y)

    @property
    def background_words(self) -> str:
        b, b2 = self.background, self.background2
        return {"plain": f"plain {b} background", "gradient": f"{b} and {b2} gradient background",
                "checker": f"{b} checker background", "stripes": f"{b} striped background",
                "dots": f"{b} dotted background", "room": f"{b} wall and {b2} floor background"}[self.pattern]


def size_word(radius: float) -> str:
    """The sample dataset's thresholds (make_sample.size_word)."""
    return "small" if radius < 0.22 else "large" if radius > 0.32 else "mid-size"


def position_word(x: float, y: float) -> str:
    """The sample dataset's nine regions (make_sample.position_words)."""
    col = "left" if x < 0.38 else "right" if x > 0.62 else ""
    row = "top" if y < 0.38 else "bottom" if y > 0.62 else ""
    return f"{row} {col}".strip() or "center"


def random_scene(rng: random.Random) -> SceneSpec:
    """A scene drawn from the base model's training distribution."""
    shape = rng.choice(SHAPES)
    colour = rng.choice(sorted(OBJECT_COLOURS))
    b1, b2 = rng.sample(sorted(BACKGROUND_COLOURS), 2)
    if colour == b1 and rng.random() < 0.8:  # a red circle on a (pastel) red background is hard to see
        b1, b2 = b2, b1
    r = rng.uniform(0.15, 0.40)
    margin = r * 1.05
    x = rng.uniform(margin, 1 - margin)
    y = rng.uniform(margin, 1 - margin * 1.1)
    return SceneSpec(
        shape=shape, colour=colour, fill=rng.choices(FILLS, weights=(0.7, 0.15, 0.15))[0], size=r, x=x, y=y,
        angle=rng.uniform(-MAX_TILT, MAX_TILT) if shape != "circle" else 0.0, background=b1, background2=b2,
        pattern=rng.choices(BACKGROUND_PATTERNS, weights=PATTERN_WEIGHTS)[0], pattern_scale=rng.choice((4, 6, 8)),
        horizon=rng.uniform(0.55, 0.7), shadow=rng.random() < 0.8, outline=rng.random() < 0.4)


def caption(spec: SceneSpec, rng: random.Random | None = None) -> str:
    """A caption for `spec`; with `rng`, one of several styles (so prompts need not be verbatim).

    Styles: the sample dataset's "a red circle, small, top left, plain blue background"
    (parts left out at random), "a red circle on a blue background", and "a toy circle, ..." without
    the colour (as the sample's "a toy star", so a caption without colour still means something).
    """
    fill = "" if spec.fill == "plain" else spec.fill + " "
    noun = f"{spec.colour} {fill}{spec.shape}"
    if rng is None:
        return f"{_a(noun)} {noun}, {spec.size_word}, {spec.position_word}, {spec.background_words}"
    style = rng.random()
    bg = spec.background_words
    if spec.pattern == "plain" and rng.random() < 0.5:
        bg = f"{spec.background} background"
    if style < 0.3:
        return f"{_a(noun)} {noun} on a {bg}"
    if style < 0.45:
        noun = f"toy {fill}{spec.shape}"
    elif style < 0.55:
        noun = f"{spec.colour} toy {fill}{spec.shape}"
    parts = [f"{_a(noun)} {noun}"] + [w for w in (spec.size_word, spec.position_word, bg) if rng.random() < 0.8]
    return ", ".join(parts)


def _a(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


# --------------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------------
def _mix(a, b, t):
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))


def _background(spec: SceneSpec, size: int):
    from PIL import Image, ImageDraw

    c1, c2 = BACKGROUND_COLOURS[spec.background], BACKGROUND_COLOURS[spec.background2]
    img = Image.new("RGB", (size, size), c1)
    d = ImageDraw.Draw(img)
    n = spec.pattern_scale
    if spec.pattern == "gradient":
        for y in range(size):
            d.line([(0, y), (size, y)], fill=_mix(c1, c2, y / (size - 1)))
    elif spec.pattern == "checker":
        cell, soft = size / n, _mix(c1, c2, 0.35)
        for j in range(n):
            for i in range(j % 2, n, 2):
                d.rectangle([i * cell, j * cell, (i + 1) * cell - 1, (j + 1) * cell - 1], fill=soft)
    elif spec.pattern == "stripes":
        w, soft = size / (n + 4), _mix(c1, c2, 0.4)
        x = -size
        while x < 2 * size:
            d.polygon([(x, 0), (x + w, 0), (x + w + size, size), (x + size, size)], fill=soft)
            x += 2 * w
    elif spec.pattern == "dots":
        step, soft = size / n, _mix(c1, c2, 0.4)
        r = step / 5
        for j in range(n):
            for i in range(n):
                cx, cy = (i + 0.5) * step, (j + 0.5) * step
                d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=soft)
    elif spec.pattern == "room":
        h = spec.horizon * size
        d.rectangle([0, h, size, size], fill=c2)
        d.line([(0, h), (size, h)], fill=_mix(c2, (0, 0, 0), 0.3), width=max(1, size // 128))
    return img


def shape_polygon(shape: str, cx: float, cy: float, r: float, angle_deg: float) -> list[tuple[float, float]]:
    """Outline points of a (non-circle) shape of 'radius' r, turned by angle_deg."""
    if shape == "square":
        pts = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
        k = r * 0.82  # a square of the same visual weight as the circle
    elif shape == "triangle":
        pts = [(math.cos(a), math.sin(a)) for a in (math.radians(-90 + 120 * i) for i in range(3))]
        pts = [(px, py + 0.15) for px, py in pts]  # sit the triangle on its base
        k = r * 1.12
    elif shape == "diamond":
        pts = [(0, -1.15), (0.8, 0), (0, 1.15), (-0.8, 0)]
        k = r
    else:
        raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")
    a = math.radians(angle_deg)
    ca, sa = math.cos(a), math.sin(a)
    return [(cx + k * (px * ca - py * sa), cy + k * (px * sa + py * ca)) for px, py in pts]


def _object_body(spec: SceneSpec, size: int, r: float):
    """The object's fill (plain, striped or dotted), as a full-canvas image to paste through a mask."""
    from PIL import Image, ImageDraw

    colour = OBJECT_COLOURS[spec.colour]
    body = Image.new("RGB", (size, size), colour)
    if spec.fill == "plain":
        return body
    # a lighter tint (or a darker shade for white/yellow) of the same colour, never another hue
    tint = _mix(colour, (0, 0, 0), 0.35) if sum(colour) > 600 else _mix(colour, (255, 255, 255), 0.55)
    d = ImageDraw.Draw(body)
    cx, cy = spec.x * size, spec.y * size
    a = math.radians(spec.angle)
    ca, sa = math.cos(a), math.sin(a)
    if spec.fill == "striped":
        step, w = r * 0.5, r * 0.16
        for k in range(-4, 5):  # straight stripes across the object, turned with it
            v = k * step
            p0 = (cx - 2 * r * ca - v * sa, cy - 2 * r * sa + v * ca)
            p1 = (cx + 2 * r * ca - v * sa, cy + 2 * r * sa + v * ca)
            d.line([p0, p1], fill=tint, width=max(1, int(w)))
    else:  # dotted
        step, dot = r * 0.5, r * 0.1
        for j in range(-4, 5):
            for i in range(-4, 5):
                u, v = i * step, j * step
                px, py = cx + u * ca - v * sa, cy + u * sa + v * ca
                d.ellipse([px - dot, py - dot, px + dot, py + dot], fill=tint)
    return body


def render_scene(spec: SceneSpec, size: int = SIZE):
    """Draw `spec` as an RGB PIL image of `size` x `size`."""
    from PIL import Image, ImageDraw

    if spec.shape not in SHAPES:
        raise ValueError(f"unknown shape {spec.shape!r}; known: {', '.join(SHAPES)}")
    big = size * SUPERSAMPLE
    canvas = _background(spec, big)
    cx, cy, r = spec.x * big, spec.y * big, spec.size * big
    if spec.shadow:  # the sample's soft ground shadow, so a shadow is not what makes its toy special
        sw, sh = r * 0.9, r * 0.22
        ground = canvas.getpixel((int(min(max(cx, 0), big - 1)), int(min(max(cy + r, 0), big - 1))))
        ImageDraw.Draw(canvas).ellipse([cx - sw, cy + r * 0.85 - sh, cx + sw, cy + r * 0.85 + sh],
                                       fill=_mix(ground, (0, 0, 0), 0.25))
    mask = Image.new("L", canvas.size, 0)
    m = ImageDraw.Draw(mask)
    pts = None
    if spec.shape == "circle":
        m.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
    else:
        pts = shape_polygon(spec.shape, cx, cy, r, spec.angle)
        m.polygon(pts, fill=255)
    canvas.paste(_object_body(spec, big, r), mask=mask)
    if spec.outline:  # a darker line of the object's own colour
        line = _mix(OBJECT_COLOURS[spec.colour], (0, 0, 0), 0.45)
        width = max(2, int(r * 0.06))
        d = ImageDraw.Draw(canvas)
        if pts is None:
            d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=line, width=width)
        else:
            d.polygon(pts, outline=line, width=width)
    return canvas.resize((size, size), Image.Resampling.LANCZOS)


def scene_from_words(shape: str, colour: str, background: str, **kw) -> SceneSpec:
    """A centred, mid-size scene on a plain background: `scene_from_words("circle", "red", "blue")`."""
    return replace(SceneSpec(shape, colour, background=background), **kw)


def make_scenes(n: int, seed: int = 0, size: int = SIZE):
    """`n` (image, caption, spec) triples from a fixed seed: the same seed gives the same scenes."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        spec = random_scene(rng)
        out.append((render_scene(spec, size), caption(spec, rng), spec))
    return out


def write_scene_dataset(root, n: int, seed: int = 0, size: int = SIZE, concept: str = "1_scenes"):
    """Write `n` scenes as PNG + .txt captions in one kohya concept folder (for browsing the data or
    training on it with the kit). Returns the folder."""
    from pathlib import Path

    from ..fileio import atomic_dir, atomic_write_text

    folder = Path(root) / concept
    with atomic_dir(folder) as tmp:
        for i, (img, text, _) in enumerate(make_scenes(n, seed, size)):
            img.save(Path(tmp) / f"scene_{i:05d}.png")
            atomic_write_text(Path(tmp) / f"scene_{i:05d}.txt", text + "\n")
    return folder
