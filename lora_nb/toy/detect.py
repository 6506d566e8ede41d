"""Measure what a picture shows: the object's colour and shape, and a "zigzag star" score.

The course judges a LoRA by eye (FluxTrainer walkthrough §8: the XY grid). For tests and benchmarks the same
judgement needs a number, so this module reads small generated pictures (64x64 from the built-in
tiny-shapes model) with plain image measurements, no learned model:

- `read_scene(img)`: background colour (median of the border), the object (the largest blob of
  pixels that differ from the background and are not its shadow), the object's colour (nearest
  named colour of `lora_nb.toy.scenes`) and shape (from the harmonics of its radial outline:
  a circle has none, a triangle a strong 3rd, a square a 4th, a five-pointed star a 5th; the
  nearest of the drawn shapes' mean harmonics wins, so an oval counts as a circle).
- `star_score(img)`: how much the picture shows the sample dataset's toy - a yellow five-pointed
  star with navy zigzag stripes (`datasets_sample/20_zigzag_star`): yellow area x (navy stripes
  on the yellow + five-pointedness of the yellow blob), in [0, 1]. The base model's scenes have no
  star and no navy, so its pictures score near 0; the sample pictures score near 1.

    r = read_scene(img); r.colour, r.shape, r.background
    star_score(img).score
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ..evaluate.metrics import ConceptScorer
from .scenes import BACKGROUND_COLOURS, OBJECT_COLOURS

SIGNATURE_RAYS = 64  # directions sampled around the blob's centre for its radial outline


# --------------------------------------------------------------------------------------------------
# Small image tools (numpy only: the kit does not depend on scipy/scikit-image)
# --------------------------------------------------------------------------------------------------
def as_rgb(image) -> np.ndarray:
    """A PIL image or HxWx3 array -> uint8 HxWx3 array."""
    if hasattr(image, "convert"):
        return np.asarray(image.convert("RGB"))
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = np.clip(arr * (255 if arr.max() <= 1.0 else 1), 0, 255).astype(np.uint8)
    return arr[..., :3]


def hsv(image) -> np.ndarray:
    """HxWx3 float array: hue in degrees [0, 360), saturation and value in [0, 1]."""
    from PIL import Image

    h = np.asarray(Image.fromarray(as_rgb(image)).convert("HSV")).astype(np.float32)
    return np.stack([h[..., 0] * (360 / 256), h[..., 1] / 255, h[..., 2] / 255], axis=-1)


def dilate(mask: np.ndarray, r: int = 1) -> np.ndarray:
    """Binary dilation with a (2r+1)^2 square."""
    out = mask.copy()
    h, w = mask.shape
    p = np.pad(mask, r)
    for dy in range(2 * r + 1):
        for dx in range(2 * r + 1):
            out |= p[dy:dy + h, dx:dx + w]
    return out


def sandwiched(mask: np.ndarray, reach: int) -> np.ndarray:
    """Pixels with `mask` within `reach` px on both sides, vertically or horizontally."""
    h, w = mask.shape
    p = np.pad(mask, reach)
    up = np.zeros_like(mask)
    down, left, right = up.copy(), up.copy(), up.copy()
    for k in range(1, reach + 1):
        up |= p[reach - k:reach - k + h, reach:reach + w]
        down |= p[reach + k:reach + k + h, reach:reach + w]
        left |= p[reach:reach + h, reach - k:reach - k + w]
        right |= p[reach:reach + h, reach + k:reach + k + w]
    return (up & down) | (left & right)


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 8-connected blob of `mask` (empty if the mask is)."""
    h, w = mask.shape
    labels = np.zeros((h, w), np.int32)
    best, best_size, current = 0, 0, 0
    for y0, x0 in zip(*np.nonzero(mask)):
        if labels[y0, x0]:
            continue
        current += 1
        labels[y0, x0] = current
        queue, size = deque([(y0, x0)]), 0
        while queue:
            y, x = queue.popleft()
            size += 1
            for yy in (y - 1, y, y + 1):
                for xx in (x - 1, x, x + 1):
                    if 0 <= yy < h and 0 <= xx < w and mask[yy, xx] and not labels[yy, xx]:
                        labels[yy, xx] = current
                        queue.append((yy, xx))
        if size > best_size:
            best, best_size = current, size
    return labels == best if best else np.zeros_like(mask)


def radial_harmonics(mask: np.ndarray, n_rays: int = SIGNATURE_RAYS, max_k: int = 8) -> np.ndarray:
    """Outline harmonics of a blob: |FFT_k| / FFT_0 of its radius as a function of angle.

    The radius along each ray from the centroid is the farthest blob pixel on it. A circle gives
    ~0 for every k; a regular n-gon or n-pointed star peaks at k = n (a star far more than a
    polygon, its radius swinging between the points and the notches). Index k of the result is
    harmonic k (index 0 unused, 0.0).
    """
    ys, xs = np.nonzero(mask)
    if len(xs) < 5:
        return np.zeros(max_k + 1)
    cy, cx = ys.mean(), xs.mean()
    h, w = mask.shape
    steps = np.arange(0, max(h, w), 0.5)
    radii = np.zeros(n_rays)
    for i in range(n_rays):
        a = 2 * math.pi * i / n_rays
        px = np.round(cx + steps * math.cos(a)).astype(int)
        py = np.round(cy + steps * math.sin(a)).astype(int)
        ok = (px >= 0) & (px < w) & (py >= 0) & (py < h)
        hit = np.zeros_like(ok)
        hit[ok] = mask[py[ok], px[ok]]
        radii[i] = steps[np.nonzero(hit)[0][-1]] + 0.5 if hit.any() else 0.0
    spec = np.abs(np.fft.rfft(radii))
    return np.concatenate([[0.0], spec[1:max_k + 1] / max(spec[0], 1e-6)])


def nearest_colour(rgb, palette: dict[str, tuple[int, int, int]]) -> str:
    names = list(palette)
    d = [sum((float(a) - b) ** 2 for a, b in zip(rgb, palette[n])) for n in names]
    return names[int(np.argmin(d))]


# --------------------------------------------------------------------------------------------------
# What the picture shows
# --------------------------------------------------------------------------------------------------
@dataclass
class SceneReading:
    """The detector's reading of one picture (colours as (r, g, b) and as the nearest scene word)."""

    background_rgb: tuple[int, int, int]
    background: str
    colour_rgb: tuple[int, int, int] | None
    colour: str | None  # None when no object stands out from the background
    shape: str | None  # circle, triangle, square, diamond or star
    area: float  # object pixels / picture pixels
    centre: tuple[float, float] | None  # (x, y) as fractions of the picture side
    harmonics: list[float] = field(default_factory=list)


# Mean outline harmonics 2-5 of each shape as `lora_nb.toy.scenes` draws it (plain fill and background,
# random size/angle/position; `shape_prototypes()` recomputes them, tests/test_detect.py compares):
# the references a generated blob is compared with.
SHAPE_PROTOTYPES = {
    "circle": (0.011, 0.002, 0.008, 0.002),
    "triangle": (0.005, 0.128, 0.004, 0.004),
    "square": (0.016, 0.006, 0.068, 0.007),
    "diamond": (0.079, 0.014, 0.075, 0.009),
}


def shape_prototypes(n: int = 400, seed: int = 5) -> dict[str, np.ndarray]:
    """Mean harmonics 2-5 per shape over the plain scenes among `n` random ones (see SHAPE_PROTOTYPES)."""
    import random

    from .scenes import random_scene, render_scene

    rng = random.Random(seed)
    found: dict[str, list] = {}
    for _ in range(n):
        spec = random_scene(rng)
        if spec.pattern == "plain" and spec.fill == "plain":
            mask, _ = object_mask(as_rgb(render_scene(spec)))
            found.setdefault(spec.shape, []).append(radial_harmonics(mask)[2:6])
    return {shape: np.mean(v, axis=0) for shape, v in found.items()}


def _shape_from_harmonics(hm: np.ndarray) -> str:
    """The five-pointed star by its 5th harmonic; otherwise the nearest drawn shape's harmonics
    (an oval blob is nearer a circle than a square: a square needs corners, a strong 4th)."""
    h3, h4, h5 = hm[3], hm[4], hm[5]
    if h5 > 0.08 and h5 > max(h3, h4):
        return "star"
    return min(SHAPE_PROTOTYPES, key=lambda s: float(np.sum((hm[2:6] - np.array(SHAPE_PROTOTYPES[s])) ** 2)))


def object_mask(image, min_distance: float = 55.0) -> tuple[np.ndarray, tuple[int, int, int]]:
    """(mask of the largest object blob, background rgb) for a picture on a roughly plain background.

    Pixels far (RGB distance) from the background's colour belong to an object, except darker
    copies of the background colour (its shadow, as the scenes and the sample draw under objects).
    """
    rgb = as_rgb(image).astype(np.float32)
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    bg = np.median(border, axis=0)
    dist = np.linalg.norm(rgb - bg, axis=-1)
    norm = np.linalg.norm(rgb, axis=-1) + 1e-6
    cos = (rgb @ bg) / (norm * (np.linalg.norm(bg) + 1e-6))
    ratio = norm / (np.linalg.norm(bg) + 1e-6)
    shadow = (cos > 0.985) & (ratio > 0.45) & (ratio < 0.97)
    mask = largest_component((dist > min_distance) & ~shadow)
    return mask, tuple(int(v) for v in bg)


def read_scene(image) -> SceneReading:
    """Background, object colour, shape, size and position of a generated (or drawn) scene."""
    rgb = as_rgb(image)
    mask, bg = object_mask(rgb)
    background = nearest_colour(bg, BACKGROUND_COLOURS)
    h, w = mask.shape
    area = float(mask.mean())
    if area < 0.01:  # under ~40 pixels at 64x64: nothing stands out
        return SceneReading(bg, background, None, None, None, area, None, [])
    inner = mask & ~dilate(~mask, 1)  # away from the anti-aliased edge
    pix = rgb[inner if inner.sum() >= 8 else mask]
    col = tuple(int(v) for v in np.median(pix, axis=0))
    hm = radial_harmonics(mask)
    ys, xs = np.nonzero(mask)
    return SceneReading(bg, background, col, nearest_colour(col, OBJECT_COLOURS), _shape_from_harmonics(hm), area,
                        (float(xs.mean() + 0.5) / w, float(ys.mean() + 0.5) / h), [round(float(v), 4) for v in hm])


# --------------------------------------------------------------------------------------------------
# The zigzag-star score
# --------------------------------------------------------------------------------------------------
@dataclass
class StarScore:
    """How much a picture shows the zigzag star toy; `score` in [0, 1], the parts for inspection."""

    score: float
    yellow: float  # share of the picture in the toy's yellow
    stripes: float  # navy pixels on/next to the yellow blob, per yellow pixel
    points: float  # 5th radial harmonic of the yellow+navy blob (five points)
    presence: float  # the three terms below, each in [0, 1]
    stripe_term: float
    point_term: float


TOY_YELLOW, TOY_NAVY = (250, 204, 21), (30, 41, 110)  # datasets_sample/make_sample.py


def star_masks(image) -> dict[str, np.ndarray]:
    """Pixels on the toy's yellow-to-navy colour line, split into its yellow and navy ends.

    A blurry picture mixes the yellow body and the navy stripes into olive shades, so pixels are
    measured by their distance to the segment navy->yellow in RGB and by where they project on it
    (t = 0 navy, 1 yellow). The scenes' pastel backgrounds and bright objects lie far from it.
    """
    rgb = as_rgb(image).astype(np.float32)
    n, y = np.array(TOY_NAVY, np.float32), np.array(TOY_YELLOW, np.float32)
    axis = y - n
    t = np.clip(((rgb - n) @ axis) / float(axis @ axis), 0.0, 1.0)
    dist = np.linalg.norm(rgb - (n + t[..., None] * axis), axis=-1)
    on_line = dist < 45
    return {"yellow": on_line & (t > 0.7), "navy": on_line & (t < 0.45), "line": on_line}


def star_score(image) -> StarScore:
    """Zigzag-star-ness of a picture: presence of yellow x (stripes + points) / 2, each term in [0, 1].

    presence: yellow body (not counting rims) covers 1% of the picture (the sample's smallest toys
    at 64 px have ~1%);
    stripes: navy between yellow pixels, full marks at 0.2 stripe pixels per yellow pixel;
    points: five-pointedness of the toy's blob, full marks at a 5th radial harmonic of 0.08 (the
    sample's stars ~0.12-0.18 sharp, ~0.05-0.1 blurred; circles, squares, triangles and diamonds
    have no 5th harmonic, < 0.02).
    """
    m = star_masks(image)
    # yellow with the colour line all around it: a body, not the anti-aliased rim of an orange shape
    yellow = m["yellow"] & ~dilate(~m["line"], 1)
    n_yellow = int(yellow.sum())
    frac = n_yellow / yellow.size
    if n_yellow < 4:
        return StarScore(0.0, round(frac, 4), 0.0, 0.0, 0.0, 0.0, 0.0)
    # the toy: the biggest yellow blob with the navy stripes and outline on it, small gaps closed
    body = m["yellow"] | (m["navy"] & dilate(m["yellow"], 2))
    blob = largest_component(~dilate(~dilate(body, 1), 1))
    # stripes are navy *between* yellow (above and below, or left and right, within 3 px); a
    # shadow or outline at the rim has yellow on one side only
    stripes = float((m["navy"] & sandwiched(yellow & blob, 3)).sum()) / n_yellow
    points = float(radial_harmonics(blob)[5])
    presence = min(1.0, frac / 0.01)
    stripe_term = min(1.0, stripes / 0.2)
    point_term = float(np.clip((points - 0.02) / 0.06, 0.0, 1.0))
    score = presence * (stripe_term + point_term) / 2
    return StarScore(round(score, 4), round(frac, 4), round(stripes, 4), round(points, 4), round(presence, 4),
                     round(stripe_term, 4), round(point_term, 4))


def mean_star_score(images) -> float:
    """Mean `star_score` over pictures (e.g. several seeds of one XY-grid cell)."""
    images = list(images)
    return float(np.mean([star_score(im).score for im in images])) if images else 0.0


# the star score as a concept measure for `evaluate.evaluate_run` / `recommend_checkpoint`: the CPU course
# and the tests get the same recommendation logic as CLIP/DINO on a real model
STAR_SCORER = ConceptScorer("star", lambda images: [star_score(im).score for im in images])


def score_grid(result) -> list[list[list[float]]]:
    """`star_score` of every cell of an `evaluate.XYResult`, as [panel][row][col]."""
    return [[[star_score(im).score for im in row] for row in panel] for panel in result.cells]


# --------------------------------------------------------------------------------------------------
# Checks on a model: generate, then read the pictures
# --------------------------------------------------------------------------------------------------
@dataclass
class PromptCheck:
    """How often a model draws what the prompt says, read by `read_scene` (one row per prompt)."""

    rows: list[dict]  # prompt, expected colour/shape/background, and the share of seeds that match each

    @property
    def colour(self) -> float:
        return float(np.mean([r["colour"] for r in self.rows]))

    @property
    def shape(self) -> float:
        return float(np.mean([r["shape"] for r in self.rows]))

    @property
    def background(self) -> float:
        return float(np.mean([r["background"] for r in self.rows]))

    def markdown(self) -> str:
        lines = ["| prompt | colour | shape | background |", "|---|---|---|---|"]
        lines += [f"| {r['prompt']} | {r['colour']:.2f} | {r['shape']:.2f} | {r['background']:.2f} |"
                  for r in self.rows]
        lines.append(f"| **mean** | **{self.colour:.2f}** | **{self.shape:.2f}** | **{self.background:.2f}** |")
        return "\n".join(lines)


def check_prompts(pipe, cases, seeds=(0, 1, 2, 3), steps: int = 20, cfg: float = 5.0) -> PromptCheck:
    """Generate each `(colour, shape, background)` case as "a <colour> <shape> on a <background>
    background" for every seed (one batch per prompt, a generator per seed), and count how often the
    picture's reading matches."""
    import torch

    rows = []
    for colour, shape, background in cases:
        prompt = f"a {colour} {shape} on a {background} background"
        hits = {"colour": 0, "shape": 0, "background": 0}
        gens = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
        images = pipe(prompt, num_inference_steps=steps, guidance_scale=cfg, generator=gens,
                      num_images_per_prompt=len(gens)).images
        for img in images:
            r = read_scene(img)
            hits["colour"] += r.colour == colour
            hits["shape"] += r.shape == shape
            hits["background"] += r.background == background
        rows.append({"prompt": prompt, **{k: v / len(seeds) for k, v in hits.items()}})
    return PromptCheck(rows)


@dataclass
class StarCurve:
    """Mean `star_score` over seeds for every (checkpoint, strength) cell of an XY grid."""

    checkpoints: list[str]  # row labels (checkpoint steps)
    strengths: list[float]
    scores: list[list[float]]  # [checkpoint][strength]
    grid: object = None  # the evaluate.XYResult the scores come from
    ceiling: float | None = None  # the base model's star ceiling (lora_nb.toy.ceiling), if it has one

    def score(self, checkpoint: int, strength: float) -> float:
        return self.scores[checkpoint][self.strengths.index(strength)]

    def relative(self, checkpoint: int, strength: float) -> float:
        """The cell's score as a share of the ceiling (1 = the sample's own drawings through the VAE)."""
        return self.score(checkpoint, strength) / self.ceiling if self.ceiling else self.score(checkpoint, strength)

    def markdown(self) -> str:
        """Mean scores; with a ceiling each cell reads `raw (share of the ceiling)`."""
        def cell(v: float) -> str:
            return f"{v:.3f} ({v / self.ceiling:.2f})" if self.ceiling else f"{v:.3f}"

        lines = ["| checkpoint | " + " | ".join(f"strength {s:g}" for s in self.strengths) + " |",
                 "|---|" + "---|" * len(self.strengths)]
        lines += [f"| {c} | " + " | ".join(cell(v) for v in row) + " |"
                  for c, row in zip(self.checkpoints, self.scores)]
        return "\n".join(lines)


def star_curve(base, loras, prompt: str, strengths=(0.0, 0.5, 1.0), seeds=(0, 1, 2, 3), steps: int = 20,
               cfg: float = 5.0, size: int = 64, progress: bool = False, batch: int = 16,
               ceiling: float | None = None) -> StarCurve:
    """Render checkpoints x strengths x seeds with `evaluate.xy_grid` (the course's own XY grid, the
    same noise in every cell) and score every picture with `star_score`. A cell's seeds are drawn in
    batches of `batch` (the 64 px tiny model: all at once, several times faster on a CPU). `ceiling`
    (`lora_nb.toy.ceiling.star_ceiling(base)`) adds each cell's share of the reachable score."""
    from ..evaluate.xy import xy_grid

    res = xy_grid(base, loras, prompt, strengths=list(strengths), seeds=list(seeds), x="strength", y="lora",
                  axes=["seed"], steps=steps, cfg=cfg, width=size, height=size, progress=progress, batch=batch,
                  show_at=256)  # the sheet the demo saves: 64 px cells shown at 256 px
    per_seed = np.array(score_grid(res))  # [seed][checkpoint][strength]
    return StarCurve(list(res.y.labels), [float(s) for s in res.x.values], per_seed.mean(axis=0).round(4).tolist(),
                     res, ceiling)
