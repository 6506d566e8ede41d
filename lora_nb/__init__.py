"""lora-nb: the helper package behind the LoRA course notebooks.

The verbs a notebook calls are imported lazily, so `import lora_nb` is fast and does not pull
torch/diffusers until a step actually needs them.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

from .config import Config  # noqa: E402  (light: stdlib only)
from .errors import LoraNbError  # noqa: E402

# verb -> module that defines it
_VERBS = {
    "train": "train",
    "build_tiny_model": "testing",
}


def __getattr__(name):
    if name in _VERBS:
        return getattr(importlib.import_module(f".{_VERBS[name]}", __name__), name)
    raise AttributeError(f"module 'lora_nb' has no attribute {name!r}")


__all__ = ["Config", "LoraNbError", "__version__", *_VERBS]
