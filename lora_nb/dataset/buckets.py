"""Aspect-ratio buckets: training sizes whose sides are multiples of 64 (FluxTrainer walkthrough,
Kohya practice guide).

One home for the bucket rules used by both the crop step (bucket mode) and the trainer, so an
image cropped into a bucket lands in the very same bucket at training time.
"""

from __future__ import annotations

import math

from ..config import Config
from ..options import default

STEP = 64  # VAE /8 x UNet /8: sides must be multiples of 64


def make_buckets(resolution: int, min_side: int = default(Config, "min_bucket_reso"), max_side: int | None = None,
                 step: int = STEP) -> list[tuple[int, int]]:
    """Bucket sizes of about resolution^2 pixels, sides multiples of `step` (kohya's make_bucket_resolutions)."""
    max_side = max_side or resolution * 2
    max_area = resolution * resolution
    buckets = {(resolution, resolution)}
    w = min_side
    while w <= max_side:
        h = min(max_side, (max_area // w) // step * step)
        if h >= min_side:
            buckets |= {(w, h), (h, w)}
        w += step
    return sorted(buckets)


def closest_bucket(width: int, height: int, buckets: list[tuple[int, int]]) -> tuple[int, int]:
    """The bucket whose aspect ratio is closest (in log scale, so 2:1 and 1:2 weigh the same)."""
    ar = math.log(width / height)
    return min(buckets, key=lambda b: (abs(math.log(b[0] / b[1]) - ar), -b[0] * b[1]))


def choose_bucket(size: tuple[int, int], buckets: list[tuple[int, int]], allow_upscale: bool,
                  min_side: int = 64, step: int = 64):
    """The bucket closest in aspect ratio among those the image covers without upscaling.

    An image smaller than every bucket of its shape gets its own bucket, its sides rounded down to
    multiples of 64 (kohya's `bucket_no_upscale`), as long as both sides reach `min_side`.
    Returns (bucket, upscaled: bool) or (None, False) when the image is too small to train on.
    """
    w, h = size
    ar = math.log(w / h)

    def closest(pool):  # closest aspect ratio first, then the largest area (least resolution lost)
        return min(pool, key=lambda b: (round(abs(math.log(b[0] / b[1]) - ar), 2), -b[0] * b[1]))

    fitting = [b for b in buckets if b[0] <= w and b[1] <= h]
    if fitting:
        b = closest(fitting)
        own = (w // step * step, h // step * step)
        # a shape-matched own bucket beats a much worse aspect match among the standard ones
        if abs(math.log(b[0] / b[1]) - ar) > 0.15 and min(own) >= min_side and own[0] * own[1] <= max(
                x * y for x, y in buckets):
            return own, False
        return b, False
    own = (w // step * step, h // step * step)
    if min(own) >= min_side:
        return own, False
    if allow_upscale:
        return closest(buckets), True
    return None, False
