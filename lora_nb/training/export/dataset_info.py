"""kohya's dataset metadata (``ss_dataset_dirs``, ``ss_bucket_info``, batches per epoch) from the run's `DatasetScan`.

Meanings as sd-scripts' `train_network.py` / `library/train_util.py` write them for a DreamBooth-style
folder dataset: counts include repeats except ``img_count`` and the aspect-ratio error.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from ..data import epoch_batches

if TYPE_CHECKING:
    from ...config import Config
    from ..data import DatasetScan


def dataset_dirs(scan: DatasetScan) -> dict[str, dict[str, int]]:
    """``{concept folder: {"n_repeats": N, "img_count": K}}``: images found per training folder (without repeats;
    the reg folders are `DatasetScan.reg_dirs`)."""
    out: dict[str, dict[str, int]] = {}
    for s in scan.samples:
        if s.is_reg:
            continue
        entry = out.setdefault(s.concept, {"n_repeats": s.repeats, "img_count": 0})
        entry["img_count"] += 1
    return out


def bucket_info(scan: DatasetScan, config: Config) -> dict | None:
    """``{"buckets": {i: {"resolution": [w, h], "count": images x repeats}}, "mean_img_ar_error": e}``, or None
    without bucketing (kohya keeps its None then). e is the mean |bucket w/h - image w/h| over images."""
    if not config.enable_bucket:
        return None
    counts = Counter()
    for s in scan.samples:
        counts[s.bucket] += s.repeats
    buckets = {i: {"resolution": list(b), "count": counts[b]} for i, b in enumerate(sorted(counts))}
    errors = [abs(s.bucket[0] / s.bucket[1] - s.size[0] / s.size[1]) for s in scan.samples]
    return {"buckets": buckets, "mean_img_ar_error": sum(errors) / len(errors) if errors else 0.0}


def batches_per_epoch(scan: DatasetScan, config: Config, num_processes: int = 1) -> int:
    """kohya's ``len(train_dataloader)``: batches one process sees per epoch (before gradient accumulation)."""
    batches = epoch_batches(scan.samples, config.train_batch_size, config.seed, 0, num_processes)
    return len(batches) // num_processes
