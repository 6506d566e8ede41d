"""The starting config for a dataset: the advisor's recipe fills every recipe field the user has not set.

Config's defaults know nothing of the dataset (rank 16, 10 epochs, one checkpoint at the end), so a plan
of them advised against them. `starting_config` gives the plan's own recipe instead: steps from the
dataset's size, checkpoints and validation images every N steps with at least `MIN_CHECKPOINTS` of them
and the last on the final step, rank by purpose, alpha = rank/2 and the learning rate by rank.

"Set by the user" is decided field by field, by one rule (`user_set`): a field is the user's when it is
named in `keep` (a parameter, CLI flag or course mode that gave it, even at the default value), or when
its value differs both from the Config default and from what the advisor put there last time
(`advised_before`, which a project records). Everything else is the advisor's, so a field the user left
alone follows the dataset as it grows; a user's value always wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ..config import Config
from .advice.concepts import as_counts
from .advice.data import LoraRecipe
from .advice.rates import lr_for_rank, lr_reason, recommend_alpha
from .advice.recipe import recommend
from .advice.tables import MIN_CHECKPOINTS, checkpoint_interval, purpose_info
from .planner import _scan, step_plan

# The recipe's fields, in the order they are decided (alpha and lr follow the rank; checkpoints the steps).
ADVISED_FIELDS = ("rank", "alpha", "learning_rate", "max_train_steps", "save_every_n_steps", "sample_every_n_steps")
_DEFAULTS = {f.name: f.default for f in fields(Config)}


@dataclass
class StartingConfig:
    config: Config  # the config to start from: the user's values, the advisor's in the fields left unset
    advised: dict[str, Any]  # field -> the advisor's value, for the fields it set
    reasons: dict[str, str]  # field -> why (the recipe's reasons, with their sources)
    kept: list[str]  # recipe fields the user set: their values were kept
    n_images: int
    purpose: str
    recipe: LoraRecipe | None = field(repr=False, default=None)  # the recipe for the dataset as one LoRA

    def describe(self) -> str:
        """'rank=32, alpha=16, ...' of the advised fields (empty when the user set them all)."""
        return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.advised.items())

    def why(self) -> str:
        """Why, in short, for the advised fields (the full reasons, with sources: `reasons`, and the plan's recipe)."""
        a, parts = self.advised, []
        if "max_train_steps" in a:
            parts.append(f"{a['max_train_steps']} steps for {self.n_images} images")
        if "save_every_n_steps" in a:
            parts.append(f"checkpoints and validation images every {a['save_every_n_steps']} steps, at least "
                         f"{MIN_CHECKPOINTS}, the last on the final step (Flux LoRA guide §4.3-4.4)")
        if "rank" in a:
            parts.append(f"rank {a['rank']} for {purpose_info(self.purpose)['label']}")
        if "alpha" in a:
            parts.append("alpha = rank/2 (LoRA explainer)")
        if "learning_rate" in a:
            parts.append(f"learning rate {a['learning_rate']:g} by rank (Flux LoRA guide §3.2)")
        return "; ".join(parts)


def user_set(config: Config, keep: Iterable[str] = (), advised_before: Mapping[str, Any] | None = None) -> set[str]:
    """The recipe fields the user set (see the module's rule)."""
    before = advised_before or {}
    out = set(keep) & set(ADVISED_FIELDS)
    for name in ADVISED_FIELDS:
        value = getattr(config, name)
        if value != _DEFAULTS[name] and not (name in before and before[name] == value):
            out.add(name)
    return out


def starting_config(config: Config, *, purpose: str = "person", fit: str = "normal", dataset_type: str | None = None,
                    similar: bool | None = None, counts=None, keep: Iterable[str] = (),
                    advised_before: Mapping[str, Any] | None = None) -> StartingConfig:
    """`config` with the advisor's recipe in every recipe field the user has not set (`user_set`).

    The dataset is `config.train_data_dir` (scanned as the trainer and the plan scan it), or `counts`
    ({concept: n_images} or {concept: (repeats, n_images)}). A dataset the advisor would split into one
    LoRA per concept still trains as one LoRA here, so its recipe is the one for all images together.
    `keep`: names the user gave explicitly (their values win even when equal to the default);
    `advised_before`: the advisor's values from last time (a project's record), which are not the user's.
    """
    keep = set(keep)
    mine = user_set(config, keep, advised_before)
    if mine >= {"rank", "alpha", "learning_rate", "max_train_steps", "save_every_n_steps"}:  # nothing to scan
        return StartingConfig(config, {}, {}, sorted(mine), 0, purpose)
    if counts is not None:
        concepts, buckets, reg = as_counts(counts), None, (0, 0)
    else:
        concepts, buckets, _, _, _, reg = _scan(config)
    n_images = sum(c.images for c in concepts)
    args = dict(purpose=purpose, family=config.family, optimizer=config.optimizer, fit=fit,
                batch=config.train_batch_size, grad_accum=config.gradient_accumulation_steps, similar=similar,
                dataset_type=dataset_type)
    rec = recommend(concepts=concepts, **args)
    r = rec.loras[0] if not rec.split else recommend(n_images, **args).loras[0]
    advised: dict[str, Any] = {}
    reasons: dict[str, str] = {}

    def put(name: str, value: Any, why: str) -> None:
        if name not in mine:
            advised[name], reasons[name] = value, why

    put("rank", r.rank, r.reasons["rank"])
    rank = advised.get("rank", config.rank)
    put("alpha", recommend_alpha(rank), r.reasons["alpha"])
    if not config.unet_lr:  # a UNet lr of its own replaces learning_rate: the user chose the rate
        put("learning_rate", lr_for_rank(rank, config.optimizer), lr_reason(rank, config.optimizer))
    if not _chose_epochs(config, keep):
        put("max_train_steps", r.steps, r.reasons["steps"])
    cfg = config.replace(**advised)
    total = step_plan(cfg, concepts, buckets, reg).total_steps
    every = checkpoint_interval(total)
    put("save_every_n_steps", every,
        f"{total // every} checkpoints every {every} steps, the last on step {total}: at least {MIN_CHECKPOINTS} "
        f"evenly spaced ones to choose from in the XY grid (Flux LoRA guide §4.3-4.4: the best one is rarely the "
        f"last; round the total to the interval).")
    put("sample_every_n_steps", -1, "Validation images at every checkpoint (-1 follows save_every_n_steps), so each "
                                    "checkpoint has its own to judge it by (Flux LoRA guide §4.4).")
    return StartingConfig(config.replace(**advised), advised, reasons, sorted(mine), n_images, purpose, r)


def _chose_epochs(config: Config, keep: Iterable[str]) -> bool:
    """Whether the user chose the run's length in epochs (named, or off the default): steps then stay 0."""
    return "max_train_epochs" in set(keep) or config.max_train_epochs != _DEFAULTS["max_train_epochs"]
