"""Where is the subject, without a model: the focus crop's fallback when rembg is not available.

The background is what the picture's border shows. A patterned background (stripes, checks, dots, a wall
over a floor, a gradient) shows several colours there, so the border is modelled as a small palette of its
common colours plus the blends of colours it shows side by side; a pixel is salient by how far its colour
is from that model. Edges count only where the colour also departs from the background, so the pattern's
own texture (which is all edges) does not pull the box off the subject. The old estimate (one median border
colour plus raw edge energy) lit a two-colour pattern up as a whole: on the course's raw sample 7 of 15
focus crops sat 8-24 px off the star (bench/focus_crop.py). numpy + PIL only, a few ms a picture.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

SIZE = 128  # the map's longer side: enough to place a crop box, cheap at any image size
BAND = 1 / 12  # the border band's width (share of the shorter side): deep enough to meet a dot pattern's first row
PALETTE = 16  # at most this many border colours (a two-colour pattern plus its blends, a gradient's steps)
SAME = 12.0  # palette entries closer than this (RGB distance) are one colour split by the quantiser
COMMON = 0.006  # share of a side's strip a colour needs there (a thin horizon line has about 1%)
BLEND = 0.002  # two background colours this often side by side in the band: their blends are background too
NOISE = 0.9  # the band's own distance at this quantile is the model's noise floor (blur, JPEG, shading)
FAINT = 20.0  # and never below this RGB distance: a shade past the border's (a gradient's far end) is no subject


def _sides(shape: tuple[int, int]) -> list[np.ndarray]:
    """The four border strips (top, bottom, left, right) as masks; their union is the border band."""
    h, w = shape
    k = max(2, round(min(h, w) * BAND))
    sides = [np.zeros((h, w), bool) for _ in range(4)]
    sides[0][:k], sides[1][-k:], sides[2][:, :k], sides[3][:, -k:] = True, True, True, True
    return sides


def border_palette(a: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int]], np.ndarray]:
    """The border band's background colours (float RGB rows), the pairs of them that meet in the band,
    and the band's mask.

    Median cut (PIL) quantises the band and entries closer than SAME are merged. A colour is background when
    it is on two opposite sides (COMMON of each): a pattern, a wall, a floor, a gradient, a horizon reach across
    the picture; a subject cut by one edge, or sitting in a corner, does not and stays a subject."""
    sides = _sides(a.shape[:2])
    band = np.logical_or.reduce(sides)
    px = a[band].astype(np.uint8)
    q = Image.fromarray(px[None]).quantize(PALETTE, method=Image.Quantize.MEDIANCUT)
    idx = np.asarray(q)[0]
    counts = np.bincount(idx, minlength=PALETTE)
    entries = np.asarray(q.getpalette(), np.float32).reshape(-1, 3)
    group, heads = np.arange(PALETTE), []  # merge each entry into a more common one it nearly equals
    for e in np.argsort(-counts, kind="stable")[:np.count_nonzero(counts)]:
        near = [g for g in heads if np.linalg.norm(entries[e] - entries[g]) < SAME]
        group[e] = near[0] if near else e
        heads += [] if near else [e]
    label = np.full(band.shape, -1)
    label[band] = group[idx]
    common = [[(label[s] == g).mean() >= COMMON for s in sides] for g in heads]  # top, bottom, left, right
    keep = [g for g, (t, b, left, r) in zip(heads, common, strict=True) if (t and b) or (left and r)]
    if not keep:  # no colour recurs around the border (a busy scene): its median colour, as a plain background
        return np.median(a[band], axis=0)[None], [], band
    colours = np.stack([a[label == g].mean(axis=0) for g in keep])
    pos = np.full(PALETTE + 1, -1)  # group -> row of `colours`; the last slot maps the band's outside (-1)
    pos[keep] = np.arange(len(keep))
    label = pos[label]
    # which kept colours touch (two pixels apart: across a blended pixel): a pattern's edges blend exactly those
    codes = []
    for x, y in ((label[:, 2:], label[:, :-2]), (label[2:], label[:-2])):
        ok = (x >= 0) & (y >= 0) & (x != y)
        codes.append(np.minimum(x, y)[ok] * PALETTE + np.maximum(x, y)[ok])
    code, n = np.unique(np.concatenate(codes), return_counts=True)
    pairs = [divmod(int(c), PALETTE) for c in code[n >= BLEND * band.sum()]]
    return colours, pairs, band


def background_distance(a: np.ndarray, colours: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
    """Each pixel's RGB distance to the background model: the nearest palette colour or blend of two
    colours that meet in the border (a point on the segment between them)."""
    x = a.reshape(-1, 3).astype(np.float64)
    xx = (x * x).sum(axis=1, keepdims=True)
    c = colours.astype(np.float64)
    d2 = (xx - 2 * x @ c.T + (c * c).sum(axis=1)).min(axis=1)  # squared distances as products: cheap
    if pairs:
        i, j = np.asarray(pairs).T
        p, v = c[i], c[j] - c[i]  # all segments at once: p + t v, t in [0, 1]
        xv, vv = x @ v.T - (p * v).sum(axis=1), (v * v).sum(axis=1)
        t = np.clip(xv / vv, 0, 1)
        d2 = np.minimum(d2, (xx - 2 * x @ p.T + (p * p).sum(axis=1) - 2 * t * xv + t * t * vv).min(axis=1))
    return np.sqrt(np.maximum(d2, 0)).reshape(a.shape[:2]).astype(np.float32)


def saliency_map(img: Image.Image, size: int = SIZE) -> np.ndarray:
    """A rough 'where is the subject' map (float array, longer side `size`): the distance of each colour
    from the border's colour model above its noise floor, plus edge energy weighted by that distance.

    Plain backgrounds behave as a single border colour; a patterned one does not light up as a whole."""
    small = img.convert("RGB")
    small.thumbnail((size, size))
    a = np.asarray(small, dtype=np.float32)
    colours, pairs, band = border_palette(a)
    dist = background_distance(a, colours, pairs)
    floor = max(np.quantile(dist[band], NOISE), FAINT)
    contrast = np.maximum(dist - floor, 0)
    grey = a.mean(axis=2)
    gx, gy = np.zeros_like(grey), np.zeros_like(grey)  # central differences; the image border is no edge
    gx[:, 1:-1] = np.abs(grey[:, 2:] - grey[:, :-2])
    gy[1:-1, :] = np.abs(grey[2:, :] - grey[:-2, :])
    # an edge counts by how far from the background the colours within 2 px of it are (a dilation reaches
    # across the edge): the pattern's own edges, between its colours, drop out
    near = np.asarray(Image.fromarray(contrast).filter(ImageFilter.MaxFilter(5)), dtype=np.float32)
    edges = np.hypot(gx, gy) * near / (near.max() + 1e-6)
    edges = Image.fromarray((255 * edges / (edges.max() + 1e-6)).astype("uint8"), "L")
    edges = np.asarray(edges.filter(ImageFilter.GaussianBlur(2)), dtype=np.float32)  # energy, not thin lines
    sal = contrast / (contrast.max() + 1e-6) + edges / (edges.max() + 1e-6)
    return np.maximum(sal - np.median(sal), 0)  # keep what stands out from the typical pixel


def subject_box(weights, image_size: tuple[int, int], lo: float = 0.03, hi: float = 0.97):
    """Box (x0, y0, x1, y1) in image pixels holding the central mass of `weights` (a small map or
    a mask array); None when the map is empty. Mass quantiles ignore stray specks."""
    weights = np.asarray(weights, dtype=np.float64)
    total = weights.sum()
    if total <= 0:
        return None
    sx, sy = image_size[0] / weights.shape[1], image_size[1] / weights.shape[0]

    def span(profile, scale):
        c = np.cumsum(profile) / total
        return float(np.searchsorted(c, lo)) * scale, float(np.searchsorted(c, hi) + 1) * scale

    x0, x1 = span(weights.sum(axis=0), sx)
    y0, y1 = span(weights.sum(axis=1), sy)
    return (x0, y0, min(x1, image_size[0]), min(y1, image_size[1]))
