"""The GPUs a plan can be for: presets of common cards (by the memory torch reports), names and
aliases resolved to them, and the GPU of this machine."""

from __future__ import annotations

from dataclasses import dataclass

from ...env import gpu_info
from ...errors import ConfigError
from ...training.presets import tier_for_memory


@dataclass(frozen=True)
class GPU:
    name: str
    memory_gb: float  # what torch.cuda reports as total memory, in GiB
    bf16: bool
    examples: str = ""

    @property
    def tier(self) -> str:
        """The Config.gpu_preset tier of this GPU (12GB, 16GB, 24GB, 40GB), as `lora_nb.training.presets` picks it."""
        return tier_for_memory(self.memory_gb)


GPU_PRESETS: dict[str, GPU] = {
    "T4-16GB": GPU("T4-16GB", 14.7, False, "Colab free tier T4"),
    "12GB": GPU("12GB", 11.7, True, "RTX 3060 12GB, RTX 4070"),
    "24GB": GPU("24GB", 23.6, True, "RTX 3090/4090 (A10G and L4 report ~22 GiB)"),
    "A100-40GB": GPU("A100-40GB", 39.4, True, "Colab A100"),
    "A100-80GB": GPU("A100-80GB", 79.1, True, "A100/H100 80GB"),
}
_GPU_ALIASES = {"t4": "T4-16GB", "16gb": "T4-16GB", "16": "T4-16GB", "12": "12GB", "24": "24GB",
                "a100": "A100-40GB", "40gb": "A100-40GB", "40": "A100-40GB", "80gb": "A100-80GB", "80": "A100-80GB"}


def resolve_gpu(gpu: str | GPU | None) -> GPU | None:
    """A preset name (case-insensitive: 't4', '16GB', '24gb', 'a100-80gb'...), 'detect', a GPU or None."""
    if gpu is None or isinstance(gpu, GPU):
        return gpu
    key = str(gpu).strip().lower().replace(" ", "").replace("_", "-")
    if key in ("detect", "auto"):
        return detect_gpu()
    if key == "none":
        return None
    for name in GPU_PRESETS:
        if key == name.lower():
            return GPU_PRESETS[name]
    if key in _GPU_ALIASES:
        return GPU_PRESETS[_GPU_ALIASES[key]]
    raise ConfigError(f"unknown GPU {gpu!r} -> use one of {', '.join(GPU_PRESETS)}, 'detect' or 'none'")


def detect_gpu() -> GPU | None:
    """The GPU of this machine as a `GPU`, or None without CUDA."""
    info = gpu_info()
    if info is None:
        return None
    return GPU(info.name, round(info.total_gb, 1), info.supports_bf16, "detected")
