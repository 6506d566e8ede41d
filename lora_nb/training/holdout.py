"""Which images are held out to measure the validation loss: a seeded split of the training images
(`validation_split`, as sd-scripts' validation_split: the held-out images are removed from training) or
a separate folder (`validation_data_dir`, never trained on). Torch-free: the planner's step math reads it.
"""

from __future__ import annotations

import math
import random
from typing import TypeVar

from ..errors import DatasetError

S = TypeVar("S")


def held_out_count(num_images: int, split: float) -> int:
    """How many of `num_images` a `validation_split` holds out: a fraction below 1 (at least one image),
    or a whole count from 1 on; 0 holds out none."""
    if not split:
        return 0
    return max(1, math.floor(num_images * split + 0.5)) if split < 1 else int(split)


def split_samples(samples: list[S], split: float, seed: int) -> tuple[list[S], list[S]]:
    """(training samples, held-out samples): a seeded choice of the held-out images; both lists keep the
    scan's order, so the training list equals the scan of a folder without the held-out images."""
    n = held_out_count(len(samples), split)
    if not n:
        return list(samples), []
    if n >= len(samples):
        raise DatasetError(f"validation_split {split:g} holds out {n} of the {len(samples)} training image(s) and "
                           f"leaves none to train on -> lower validation_split (e.g. 0.1, or a count below "
                           f"{len(samples)}) or add images")
    chosen = set(random.Random(f"{seed}-validation-split").sample(range(len(samples)), n))
    return ([s for i, s in enumerate(samples) if i not in chosen],
            [s for i, s in enumerate(samples) if i in chosen])


def train_eval_indices(num_train: int, n: int, seed: int) -> list[int]:
    """A fixed, seeded subset of the training images, as many as are held out (or all when fewer), on which
    the same loss is measured: the gap to the held-out loss shows overfitting."""
    return sorted(random.Random(f"{seed}-validation-train").sample(range(num_train), min(n, num_train)))
