"""A captioner for the toy world: it reads a scene instead of running a captioning model.

The CPU course and smoke mode have no BLIP or Florence-2 (no GPU, no download), yet notebook 03 must
fill the sample's uncaptioned pictures. `ToyCaptioner` is a `lora_nb.dataset.caption.Captioner` that
measures each picture with `lora_nb.toy.detect` - is the zigzag star there, where, how large, on what
background - and writes the sample's caption style without the id, e.g.
"a toy star, small, bottom right, pink checker background" (04 adds the id, as it does for any captioner).
A picture without the star is described by `read_scene` ("a red circle, ..."), so a wrong picture
gets a caption that shows it is wrong.

    caption_folder(folder, captioner=ToyCaptioner())
"""

from __future__ import annotations

import numpy as np

from .detect import as_rgb, dilate, largest_component, nearest_colour, object_mask, read_scene, star_masks, star_score
from .scenes import BACKGROUND_COLOURS, position_word, size_word

STAR_FOUND = 0.5  # star_score from which a picture shows the toy: the sample's stars at 64 px score >= 0.5
NEAR = 12.0  # RGB distance within which a pixel has the background's base colour
PLAIN_SHARE = 0.95  # a plain background: nearly every pixel has its base colour
SUBJECT_REACH = 1.4  # the subject's outline and shadow reach this many radii from its centre
LINE_FIT = 0.5  # share of the background's variance that one value per row (or diagonal) must leave at most
DOTS_SHARE = 0.6  # dots cover little: at least this share of the background is its base colour


class ToyCaptioner:
    """Captions toy scenes by reading them (see the module doc); no model, nothing to load."""

    name = "toy"

    def caption_images(self, images: list) -> list[str]:
        return [describe(im) for im in images]


def describe(image) -> str:
    """The sample's caption words for one picture: subject, size, position, background."""
    rgb = as_rgb(image)
    side = min(rgb.shape[:2])
    if star_score(rgb).score >= STAR_FOUND:
        m = star_masks(rgb)
        blob = largest_component(m["yellow"] | (m["navy"] & dilate(m["yellow"], 2)))
        subject = "a toy star"
    else:
        blob, _ = object_mask(rgb)
        r = read_scene(rgb)
        subject = f"a {r.colour} {r.shape}" if r.shape else "a picture"
    if not blob.any():
        return f"{subject}, {background_words(rgb)}"
    ys, xs = np.nonzero(blob)
    cx, cy = xs.mean() + 0.5, ys.mean() + 0.5
    radius = float(np.sqrt(((xs + 0.5 - cx) ** 2 + (ys + 0.5 - cy) ** 2).max())) + 0.5
    h, w = blob.shape
    return (f"{subject}, {size_word(radius / side)}, {position_word(cx / w, cy / h)}, "
            f"{background_words(rgb, (cx, cy), radius)}")


def _name(rgb) -> str:
    return nearest_colour(rgb, BACKGROUND_COLOURS)


def _residual(values: np.ndarray, groups: np.ndarray) -> float:
    """Share of the variance left when every group of pixels is replaced by its median."""
    total = float(((values - values.mean(axis=0)) ** 2).sum()) + 1e-6
    left = 0.0
    for g in np.unique(groups):
        v = values[groups == g]
        left += float(((v - np.median(v, axis=0)) ** 2).sum())
    return left / total


def background_words(image, centre: tuple[float, float] | None = None, radius: float = 0.0) -> str:
    """The sample's background words ('plain blue background', 'blue and white gradient background',
    'blue checker background', ...) read from the pixels outside the subject's circle (`centre`, `radius`
    in pixels), widened to leave out its outline and shadow."""
    rgb = as_rgb(image).astype(np.float32)
    h, w = rgb.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    away = np.ones((h, w), bool)
    if centre is not None:
        away = np.hypot(xx + 0.5 - centre[0], yy + 0.5 - centre[1]) > SUBJECT_REACH * radius + 1
        if away.mean() < 0.1:  # the subject fills the picture: read what is left
            away = np.hypot(xx + 0.5 - centre[0], yy + 0.5 - centre[1]) > radius
    ys, xs = np.nonzero(away)
    pix = rgb[ys, xs]
    base = np.median(pix, axis=0)
    near_base = np.linalg.norm(pix - base, axis=1) < NEAR
    if near_base.mean() >= PLAIN_SHARE:
        return f"plain {_name(base)} background"
    if _residual(pix, ys) < LINE_FIT:  # one colour per row: a gradient or a wall above a floor
        rows = np.array([np.median(rgb[y][away[y]], axis=0) for y in range(h) if away[y].any()])
        top, bottom = _name(rows[: max(1, len(rows) // 8)].mean(axis=0)), _name(rows[-max(1, len(rows) // 8):].mean(0))
        steps = np.convolve(np.linalg.norm(np.diff(rows, axis=0), axis=1), np.ones(3), "same")
        if steps.max() > 0.6 * steps.sum() / 3:  # the change happens at one line (+- a row): the floor starts there
            return f"{top} wall and {bottom} floor background"
        return f"{top} and {bottom} gradient background"
    # two colours in equal parts: the base is the one that is a palette colour, the other a mix of two
    dark = pix.sum(axis=1) < np.median(pix.sum(axis=1))
    a, b = np.median(pix[dark], axis=0), np.median(pix[~dark], axis=0)
    off_palette = [min(np.linalg.norm(np.array(v) - c) for v in BACKGROUND_COLOURS.values()) for c in (a, b)]
    colour = _name(a if off_palette[0] <= off_palette[1] else b)
    if _residual(pix, xs - ys) < LINE_FIT:  # constant along the diagonals
        return f"{colour} striped background"
    if near_base.mean() >= DOTS_SHARE:  # dots cover little: the base colour shows almost everywhere
        return f"{_name(base)} dotted background"
    return f"{colour} checker background"
