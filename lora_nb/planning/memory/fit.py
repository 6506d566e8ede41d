"""Memory fit: whether a config fits a GPU and, if not, each change that helps (with its
prediction) and the changes that together make it fit."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ...families.textcache import enabled as text_cache_enabled
from ...i18n import t
from .gpus import GPU, resolve_gpu
from .predict import MemoryEstimate, predict_memory
from .reference import _family

if TYPE_CHECKING:  # pragma: no cover
    from ...config import Config
    from .measure import Measurement


@dataclass
class Suggestion:
    description: str
    changes: dict[str, Any]  # Config fields -> values
    total_gb: float
    fits: bool
    reason: str = ""


@dataclass
class MemoryFit:
    estimate: MemoryEstimate
    gpu: GPU | None
    fits: bool | None  # None when no GPU is known
    headroom_gb: float | None
    suggestions: list[Suggestion]  # single changes, each with its predicted total
    combined: Suggestion | None  # the changes, in the order listed, that together make it fit
    measured: Measurement | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["estimate"] = self.estimate.to_dict()
        return d


# Order = what to try first: free, then cheap in quality/speed, then costly. Each one's description and
# reason: i18n keys fix.<key> and fix.<key>.why (lora_nb/i18n/plan.py).
_CHANGES = ("cache_latents", "cache_text_embeddings", "cpu_offload", "gradient_checkpointing", "optimizer",
            "train_batch_size", "quantization", "resolution")


def _change(config: Config, key: str) -> dict | None:
    """The Config fields that make change `key`, or None when it does not apply."""
    if key == "cache_latents":
        return {"cache_latents": "memory"} if config.cache_latents == "none" else None
    if key == "cache_text_embeddings":
        if text_cache_enabled(config):
            return None
        ch = {"cache_text_embeddings": "auto"} if config.cache_text_embeddings == "no" else {}
        if config.train_text_encoder:
            ch["train_text_encoder"] = False
        if config.shuffle_caption:
            ch["shuffle_caption"] = False
        return ch or None
    if key == "cpu_offload":
        return {"cpu_offload": True} if not config.cpu_offload else None
    if key == "gradient_checkpointing":
        return {"gradient_checkpointing": True} if not config.gradient_checkpointing else None
    if key == "optimizer":
        return {"optimizer": "adamw8bit"} if config.optimizer in ("adamw", "prodigy", "dadaptation", "lion") else None
    if key == "train_batch_size":
        if config.train_batch_size == 1:
            return None
        return {"train_batch_size": 1,
                "gradient_accumulation_steps": config.gradient_accumulation_steps * config.train_batch_size}
    if key == "quantization":
        ok = config.quantization == "none" and config.network_type not in ("loha", "lokr")
        return {"quantization": "nf4"} if ok else None
    if key == "resolution":
        lower = max(_family(config.family)["min_resolution"], int(config.resolution * 0.75) // 64 * 64)
        if lower >= config.resolution:
            return None
        ch = {"resolution": lower}
        if config.min_bucket_reso > lower:
            ch["min_bucket_reso"] = lower
        return ch
    raise KeyError(key)  # pragma: no cover


def memory_fit(config: Config, gpu: str | GPU | None = "detect", *, n_images: int | None = None,
               n_captions: int | None = None, measured: Measurement | None = None) -> MemoryFit:
    """Predict the peak and say whether it fits `gpu` (a preset name, 'detect' or None); if not, each
    change that helps, with its prediction, and the changes that together make it fit.

    `measured` (a `measure_peak` result for this config) corrects the prediction: the measured
    allocated peak replaces the predicted one, and the suggestions are scaled by the same ratio.
    """
    gpu = resolve_gpu(gpu)
    est = predict_memory(config, gpu, n_images=n_images, n_captions=n_captions)
    correction = 1.0
    if measured is not None and measured.peak_allocated_gb > 0:
        predicted = est.allocated_gb
        correction = measured.peak_allocated_gb / predicted
        est.correction = correction
        est.notes.append(t("mem.corrected", steps=measured.steps, device=measured.device,
                           measured=measured.peak_allocated_gb, predicted=predicted, correction=correction))
    if gpu is None:
        return MemoryFit(est, None, None, None, [], None, measured)

    def total(cfg) -> float:
        alt = predict_memory(cfg, gpu, n_images=n_images, n_captions=n_captions)
        alt.correction = correction
        return alt.total_gb

    fits = est.total_gb <= gpu.memory_gb
    suggestions: list[Suggestion] = []
    combined = None
    if not fits:
        for key in _CHANGES:
            ch = _change(config, key)
            if ch:
                gb = total(config.replace(**ch))
                suggestions.append(Suggestion(t(f"fix.{key}"), ch, gb, gb <= gpu.memory_gb, t(f"fix.{key}.why")))
        cur, changes, gb = config, {}, est.total_gb
        for key in _CHANGES:  # cumulative, in order, until it fits
            ch = _change(cur, key)
            if not ch:
                continue
            cur = cur.replace(**ch)
            changes.update(ch)
            gb = total(cur)
            if gb <= gpu.memory_gb:
                combined = Suggestion(t("fix.together"), dict(changes), gb, True)
                break
        if combined is None and changes:
            combined = Suggestion(t("fix.all"), dict(changes), gb, False)
    return MemoryFit(est, gpu, fits, round(gpu.memory_gb - est.total_gb, 3), suggestions, combined, measured)
