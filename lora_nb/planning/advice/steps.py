"""Steps: the Flux LoRA guide's step count by dataset size, rounded to the checkpoint interval, the
LoRA explainer's repeats x epochs, and the SD1.5/SDXL rule that joins the two."""

from __future__ import annotations

import math
from dataclasses import replace

from ...errors import ConfigError
from ...i18n import get_language, t
from ...i18n.plan import cite
from .data import StepAdvice
from .tables import EPOCHS_RULE, FIT_LEVELS, REFERENCE_SET, REPEATS_EPOCHS, STEP_BANDS, checkpoint_interval


def align_steps(steps: float, interval: int) -> tuple[int, int, int]:
    """(nearest, lower, upper) multiples of `interval` (at least one interval)."""
    lower = max(interval, int(steps // interval) * interval)
    upper = max(interval, int(math.ceil(steps / interval)) * interval)
    nearest = lower if steps - lower < upper - steps else upper
    return nearest, lower, upper


def recommend_steps(n_images: int, batch: int = 1, grad_accum: int = 1, fit: str = "normal") -> StepAdvice:
    """Flux LoRA guide's step count for a dataset of `n_images`, rounded so checkpoints line up.

    At batch 1: the guide's figure for datasets of that size (STEP_BANDS), but never less than 4
    epochs (3-4 epochs, §2.4). With a batch of B x gradient accumulation G each step sees B*G
    images, so the guide's batch-1 count is divided by B*G. Rounded to the checkpoint interval so
    checkpoints and validation images fall on the same steps (§4.4: 1234 -> 1500 or 1000).
    """
    if n_images < 1:
        raise ConfigError("dataset: no images -> add images to train_data_dir before planning steps")
    if fit not in FIT_LEVELS:
        raise ConfigError(f"fit: {fit!r} is not one of {', '.join(FIT_LEVELS)}")
    epochs_steps = EPOCHS_RULE * n_images
    band = next((b for b in STEP_BANDS if n_images < b[0]), None)
    if band is None:
        base = epochs_steps
        said = t("adv.epochs_rule", epochs=EPOCHS_RULE, n=n_images, steps=epochs_steps)
    else:
        base = max(band[1] if fit == "normal" else band[2], epochs_steps)
        said = t(band[3])  # what the guide says for that size
    per_step = batch * grad_accum
    raw = base / per_step
    steps, lower, upper = align_steps(raw, checkpoint_interval(int(raw)))
    interval = checkpoint_interval(steps)
    reason = (t("adv.steps_reason", n=n_images, said=said)
              + (t("adv.steps_batch", per_step=per_step, batch=batch, ga=grad_accum, base=base, raw=raw)
                 if per_step > 1 else "")
              + t("adv.steps_round", interval=interval))
    return StepAdvice(n_images, steps, interval, round(raw), lower, upper, fit, reason,
                      "Flux LoRA guide §2.4, §4.4, §5")


def repeats_epochs(dataset_type: str, n_images: int, batch: int = 1, grad_accum: int = 1) -> dict:
    """LoRA explainer's repeats x epochs for the dataset type, the steps that gives, and the Kohya practice guide's
    range."""
    if dataset_type not in REPEATS_EPOCHS:
        raise ConfigError(f"dataset_type: {dataset_type!r} is not one of {', '.join(REPEATS_EPOCHS)}")
    r = REPEATS_EPOCHS[dataset_type]
    steps = math.ceil(n_images * r["repeats"] / batch / grad_accum) * r["epochs"]
    return dict(repeats=r["repeats"], epochs=r["epochs"], steps=steps, source=r["source"],
                kohya_guide=r["kohya_guide"], kohya_guide_repeats=r["kohya_guide_repeats"],
                formula=t("adv.re_formula", n=n_images, repeats=r["repeats"], epochs=r["epochs"], batch=batch,
                          ga=grad_accum, steps=steps))


def sd_steps(dataset_type: str, n_images: int, batch: int = 1, grad_accum: int = 1, fit: str = "normal") -> StepAdvice:
    """SD1.5/SDXL steps: the LoRA explainer's repeats x epochs up to REFERENCE_SET images, that total for larger sets
    (fewer epochs), or the Flux LoRA guide's count where it is more (why: the comment at REFERENCE_SET). Each part
    grows with the set, so the steps never fall when images are added."""
    flux = recommend_steps(n_images, batch, grad_accum, fit)
    re_ = repeats_epochs(dataset_type, min(n_images, REFERENCE_SET), batch, grad_accum)
    common = dict(source=cite(re_["source"], get_language()), formula=re_["formula"], ref=REFERENCE_SET, n=n_images)
    if n_images > REFERENCE_SET and flux.raw_steps > re_["steps"]:
        return replace(flux, reason=t("adv.steps_sd_flux", **common) + flux.reason,
                       source="LoRA explainer; Kohya practice guide; " + flux.source)
    steps, lower, upper = align_steps(re_["steps"], checkpoint_interval(re_["steps"]))
    every = checkpoint_interval(steps)
    if n_images <= REFERENCE_SET:
        why = t("adv.steps_small_sd", **common, steps=steps, every=every, flux=flux.steps, flux_reason=flux.reason)
    else:
        why = t("adv.steps_sd_held", **common, steps=steps, every=every, flux=flux.steps, flux_reason=flux.reason,
                seen=steps * batch * grad_accum / n_images, full=re_["repeats"] * re_["epochs"],
                repeats=re_["repeats"], epochs=re_["epochs"])
    return StepAdvice(n_images, steps, every, re_["steps"], lower, upper, fit, why,
                      "LoRA explainer (高级参数); Kohya practice guide (新手建议)")


def fewer_passes(target: int, n_images: int, repeats: int, epochs: int, batch: int = 1,
                 grad_accum: int = 1) -> tuple[int, int, int]:
    """(repeats, epochs, steps) at most the given ones whose steps come nearest `target`, keeping the most repeats
    on a tie: the LoRA explainer lowers the epochs for a larger set."""
    def steps_for(reps: int) -> tuple[int, int, int]:
        per_epoch = math.ceil(n_images * reps / (batch * grad_accum))
        e = min(epochs, max(1, round(target / per_epoch)))
        return reps, e, per_epoch * e

    return min((steps_for(r) for r in range(repeats, 0, -1)), key=lambda c: abs(c[2] - target))
