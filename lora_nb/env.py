"""Where are we running: Colab or not, which GPU, which precision, which token.

Kept free of heavy imports at module level so `import lora_nb` stays fast in a notebook.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from .errors import ConfigError


def in_colab() -> bool:
    return "google.colab" in sys.modules or bool(os.environ.get("COLAB_RELEASE_TAG"))


@dataclass(frozen=True)
class GPUInfo:
    name: str
    total_gb: float
    capability: tuple[int, int]

    @property
    def supports_bf16(self) -> bool:
        return self.capability >= (8, 0)  # Ampere and newer; the T4 (7.5) has no bf16 units


def gpu_info() -> GPUInfo | None:
    import torch

    if not torch.cuda.is_available():
        return None
    p = torch.cuda.get_device_properties(0)
    return GPUInfo(p.name, p.total_memory / 2**30, (p.major, p.minor))


def resolve_mixed_precision(setting: str, gpu: GPUInfo | None = None) -> str:
    """'auto' -> fp16 on Turing (T4), bf16 on Ampere+, no on CPU; explicit settings pass through,
    except fp16 without a CUDA GPU: torch has no fp16 autocast/loss scaling on the CPU, so training
    would stop at the first layer with a dtype mismatch."""
    if setting not in ("auto", "fp16"):
        return setting
    gpu = gpu if gpu is not None else gpu_info()
    if setting == "fp16":
        if gpu is None:
            raise ConfigError('mixed_precision: "fp16" needs a CUDA GPU and none is visible -> set mixed_precision '
                              '= "no" or "auto" (auto picks fp16/bf16 on a GPU, no on the CPU), or on Colab choose '
                              'Runtime > Change runtime type > T4 GPU')
        return setting
    if gpu is None:
        return "no"
    return "bf16" if gpu.supports_bf16 else "fp16"


def hf_token() -> str | None:
    """The Hugging Face token from the environment or Colab secrets.

    Never stored in a Config, metadata or log: it is read where a download needs it.
    """
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        if os.environ.get(var):
            return os.environ[var]
    if in_colab():
        try:
            from google.colab import userdata  # type: ignore

            return userdata.get("HF_TOKEN")
        except Exception:  # secret not set or access not granted
            return None
    return None


def offline() -> bool:
    """HF_HUB_OFFLINE, or TRANSFORMERS_OFFLINE (huggingface_hub honours both), is set: no hub requests."""
    return any(os.environ.get(v, "0").strip().lower() in ("1", "true", "yes", "on")
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
