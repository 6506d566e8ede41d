"""GPU-memory presets: the memory-saving settings each family needs on 12 GB, 16 GB (the free Colab
T4), 24 GB and 40 GB+ GPUs, picked from the detected GPU and overridable.

Running out of GPU memory is the failure users of every trainer report most (SDXL on a T4, Flux
on anything under 24 GB). A preset changes only memory-related settings -- quantisation,
gradient checkpointing, caches, CPU offload, the 8-bit optimizer and, where nothing else fits,
the resolution -- never the learning rate, rank or step count. A field the user has changed from
its default is kept (and reported), so a preset never overrides a deliberate choice; set
``gpu_preset = "none"`` to switch presets off.

Precision is left to ``mixed_precision = "auto"``: fp16 on the T4 (it has no bf16), bf16 on Ampere
and newer.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..i18n import get_language, t
from ..i18n.memory import PRESET_WHY_ZH

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Config

TIERS = ("12GB", "16GB", "24GB", "40GB")


@dataclass(frozen=True)
class Preset:
    family: str
    tier: str
    settings: dict
    why: str


_SDXL_LOW = {"resolution": 1024, "gradient_checkpointing": True, "cache_latents": "memory",
             "cache_text_embeddings": "auto", "optimizer": "adamw8bit", "cpu_offload": True}
_FLUX_LOW = {"quantization": "nf4", "resolution": 512, "gradient_checkpointing": True, "cache_latents": "memory",
             "cache_text_embeddings": "auto", "optimizer": "adamw8bit", "cpu_offload": True}

PRESETS: dict[tuple[str, str], Preset] = {p.family + "/" + p.tier: p for p in [
    Preset("sd15", "12GB", {"resolution": 512, "optimizer": "adamw8bit", "cache_latents": "memory"},
           "SD1.5 at 512 px needs ~5 GB at batch 1: the 8-bit optimizer and latent cache are enough."),
    Preset("sd15", "16GB", {"resolution": 512, "optimizer": "adamw8bit", "cache_latents": "memory"},
           "Colab T4 (fp16): SD1.5 at 512 px fits with room to spare."),
    Preset("sd15", "24GB", {"resolution": 512, "cache_latents": "memory"}, "No memory savings needed."),
    Preset("sd15", "40GB", {"resolution": 512, "cache_latents": "memory"}, "No memory savings needed."),
    Preset("sdxl", "12GB", dict(_SDXL_LOW),
           "SDXL at 1024 px: gradient checkpointing cuts the UNet's activations ~10x (~9 -> ~1 GB); the text "
           "encoders (1.6 GB) are freed after caching their outputs; the VAE runs once per image."),
    Preset("sdxl", "16GB", dict(_SDXL_LOW),
           "Colab T4 (fp16, no bf16): as 12 GB; the VAE stays in fp32 (fp16 gives black images) unless an "
           "fp16-safe VAE is set."),
    Preset("sdxl", "24GB", {"resolution": 1024, "gradient_checkpointing": False, "cache_latents": "memory",
                            "cache_text_embeddings": "auto", "optimizer": "adamw8bit"},
           "SDXL at 1024 px fits without checkpointing (~17 GB), which is ~30% faster."),
    Preset("sdxl", "40GB", {"resolution": 1024, "gradient_checkpointing": False, "cache_latents": "memory"},
           "No memory savings needed."),
    Preset("flux", "12GB", dict(_FLUX_LOW),
           "Flux-dev (12B) in NF4 is ~6.7 GB; T5-XXL (~10 GB) encodes the captions once and is freed before "
           "the transformer loads; checkpointing at 512 px keeps activations under 1 GB."),
    Preset("flux", "16GB", dict(_FLUX_LOW),
           "As 12 GB. On the T4 Flux runs in fp16 (no bf16): diffusers clips its activations, but watch for NaN "
           "(the trainer stops with advice)."),
    Preset("flux", "24GB", {**_FLUX_LOW, "resolution": 1024, "cpu_offload": False},
           "NF4 at 1024 px with checkpointing; bf16 weights alone (24 GB) would not fit."),
    Preset("flux", "40GB", {"quantization": "none", "resolution": 1024, "gradient_checkpointing": True,
                            "cache_latents": "memory", "cache_text_embeddings": "auto"},
           "bf16 weights (24 GB) with checkpointing at 1024 px."),
]}


def tier_for_memory(total_gb: float) -> str:
    """The preset tier for a GPU reporting `total_gb` GiB (a T4 reports 14.7, a 24 GB card ~23.6)."""
    if total_gb < 13.5:
        return "12GB"
    if total_gb < 20:
        return "16GB"
    if total_gb < 36:
        return "24GB"
    return "40GB"


def detect_tier() -> str | None:
    """The tier of this machine's first GPU, or None without CUDA."""
    from ..env import gpu_info

    info = gpu_info()
    return tier_for_memory(info.total_gb) if info else None


def get_preset(family: str, tier: str) -> Preset:
    key = f"{family}/{tier}"
    if key not in PRESETS:
        raise ConfigError(f"gpu_preset: no preset {tier!r} for family {family!r} -> use one of {', '.join(TIERS)}, "
                          f"auto or none")
    return PRESETS[key]


@dataclass
class PresetChoice:
    """What a preset did to a config: the result, the fields set, and the user's values it kept."""

    config: Config
    preset: Preset | None
    applied: dict[str, Any] = field(default_factory=dict)
    kept: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # field: (your value, preset's value)
    reason: str = ""

    def describe(self) -> str:
        if self.preset is None:
            return t("preset.none", reason=self.reason)
        name = f"{self.preset.family}/{self.preset.tier}"
        why = PRESET_WHY_ZH.get(name, self.preset.why) if get_language() == "zh" else self.preset.why
        parts = [t("preset.chosen", name=name, reason=self.reason, why=why)]
        if self.applied:
            parts.append(t("preset.set", items=", ".join(f"{k}={v!r}" for k, v in self.applied.items())))
        if self.kept:
            parts.append(t("preset.kept", items=", ".join(t("preset.kept_item", field=k, value=repr(a), preset=repr(b))
                                                          for k, (a, b) in self.kept.items())))
        return t("preset.sep").join(parts)


def _defaults() -> dict[str, Any]:
    from ..config import Config

    out = {}
    for f in dataclasses.fields(Config):
        out[f.name] = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    return out


def choose_preset(config: Config, tier: str | None = None, gpu_gb: float | None = None) -> PresetChoice:
    """Apply the memory preset for `config.family` to the fields still at their defaults.

    tier: a tier name to force; default `config.gpu_preset` ('auto' detects the GPU; `gpu_gb`
    stands in for the detected memory, e.g. to plan for a Colab T4 from a laptop: 14.7).
    """
    tier = tier or config.gpu_preset
    if tier == "none":
        return PresetChoice(config, None, reason=t("preset.off"))
    reason = t("preset.picked", tier=tier)
    if tier == "auto":
        tier = tier_for_memory(gpu_gb) if gpu_gb is not None else detect_tier()
        if tier is None:
            return PresetChoice(config, None, reason=t("preset.no_cuda"))
        reason = t("preset.auto", gpu=f"{gpu_gb:g} GiB" if gpu_gb is not None else t("preset.detected"), tier=tier)
    preset = get_preset(config.family, tier)
    defaults = _defaults()
    applied, kept = {}, {}
    for k, v in preset.settings.items():
        cur = getattr(config, k)
        if cur == v:
            continue
        if cur == defaults[k]:
            applied[k] = v
        else:
            kept[k] = (cur, v)
    changes = dict(applied)
    if "resolution" in applied:  # buckets must allow the new resolution
        changes["max_bucket_reso"] = max(config.max_bucket_reso, applied["resolution"])
        changes["min_bucket_reso"] = min(config.min_bucket_reso, applied["resolution"])
    new = config.replace(**changes) if changes else config
    return PresetChoice(new, preset, applied, kept, reason)


def preset_table() -> list[dict]:
    """Every preset as a row (family, tier, settings, why) for a notebook table."""
    return [{"family": p.family, "tier": p.tier, **p.settings, "why": p.why} for p in PRESETS.values()]
