"""When things happen in a run: total steps, warmup, checkpoint and validation steps.

Shared by the trainer and the plan, so what the plan promises is what the trainer does.
Flux LoRA guide §4.4: checkpoints and validation images at the same steps, and the total rounded so
the intervals line up.
"""

from __future__ import annotations

from ..config import Config


def total_steps(config: Config, steps_per_epoch: int) -> int:
    return config.max_train_steps or steps_per_epoch * config.max_train_epochs


def warmup_steps(config: Config, total: int) -> int:
    return config.lr_warmup_steps or round(config.lr_warmup_ratio * total)


def checkpoint_steps(config: Config, total: int) -> list[int]:
    """Every `save_every_n_steps` and always at the end."""
    every = config.save_every_n_steps
    steps = list(range(every, total, every)) if every else []
    return steps + [total]


def sample_steps(config: Config, total: int) -> list[int]:
    """-1: at the checkpoint steps (Flux LoRA guide); 0: never; N: every N steps and at the end."""
    every = config.sample_every_n_steps
    if every == 0:
        return []
    if every < 0:
        return checkpoint_steps(config, total)
    return sorted(set(range(every, total, every)) | {total})
