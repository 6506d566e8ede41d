"""Training time: seconds per step from a measured step or from the per-GPU table scaled to the
config, plus the time the validation images take."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...families.facts import facts
from ...i18n import t
from .activations import latent_tokens
from .gpus import GPU, GPU_PRESETS, resolve_gpu

if TYPE_CHECKING:  # pragma: no cover
    from ...config import Config

# Seconds per optimizer step at the family's native resolution, batch 1, 16-bit weights, no
# checkpointing, no quantisation. Rough figures from public reports and the FluxTrainer walkthrough (Flux LoRA on an
# RTX 4090 at 768 px: 2.42 s/it, i.e. ~4.3 s/it at 1024 px); a measured step time
# (`measure_peak`) replaces them.
STEP_SECONDS = {
    "sd15": {"T4-16GB": 0.55, "12GB": 0.30, "24GB": 0.13, "A100-40GB": 0.12, "A100-80GB": 0.11},
    "sdxl": {"T4-16GB": 4.5, "12GB": 2.0, "24GB": 0.8, "A100-40GB": 0.6, "A100-80GB": 0.55},
    "flux": {"T4-16GB": 22.0, "12GB": 9.0, "24GB": 4.3, "A100-40GB": 2.2, "A100-80GB": 1.9},
}
# Slow-downs applied to STEP_SECONDS (config help: checkpointing ~30% slower; dequantising
# every layer on the fly costs NF4 ~25%, LLM.int8 ~40%).
SPEED_FACTORS = {"gradient_checkpointing": 1.3, "nf4": 1.25, "int8": 1.4}


def _speed_column(gpu: GPU) -> str:
    """The STEP_SECONDS column closest to a GPU (by memory; the T4 is the only 16 GB card listed)."""
    if gpu.name in GPU_PRESETS:
        return gpu.name
    if gpu.memory_gb >= 60:
        return "A100-80GB"
    if gpu.memory_gb >= 30:
        return "A100-40GB"
    if gpu.memory_gb >= 18:
        return "24GB"
    return "12GB" if gpu.bf16 else "T4-16GB"


@dataclass
class TimeEstimate:
    seconds_per_step: float
    source: str  # "measured" or "table (<gpu column>, rough)"
    train_seconds: float
    sample_seconds: float  # validation images during training

    @property
    def total_seconds(self) -> float:
        return self.train_seconds + self.sample_seconds


def estimate_time(config: Config, total_steps: int, n_sample_events: int, gpu: str | GPU | None = None,
                  step_seconds: float | None = None) -> TimeEstimate | None:
    """Training time from a measured step time, else from the per-GPU table scaled to this config.

    Table scaling: linear in latent tokens x batch x grad accumulation, x1.3 with checkpointing,
    x1.25 NF4 / x1.4 int8. Validation images: each denoising step ~1/3 of a training step (a forward
    pass without backward), twice with classifier-free guidance (SD1.5/SDXL).
    """
    gpu = resolve_gpu(gpu)
    if step_seconds is None:
        if gpu is None:
            return None
        col = _speed_column(gpu)
        s = STEP_SECONDS[config.family][col]
        s *= latent_tokens(config.family, config.resolution) / latent_tokens(
            config.family, facts(config.family).resolution)
        s *= config.train_batch_size * config.gradient_accumulation_steps
        if config.gradient_checkpointing:
            s *= SPEED_FACTORS["gradient_checkpointing"]
        if config.quantization != "none":
            s *= SPEED_FACTORS[config.quantization]
        source = t("time.table", column=col)
    else:
        s, source = step_seconds, t("time.measured")
    per_micro = s / max(1, config.train_batch_size * config.gradient_accumulation_steps)
    cfg_mult = 2 if facts(config.family).guidance_pass else 1  # Flux-dev: a guidance embedding, no CFG pass
    per_image = config.sample_steps * per_micro / 3 * cfg_mult
    n_prompts = len(config.sample_prompts)
    return TimeEstimate(s, source, total_steps * s, n_sample_events * n_prompts * per_image)
