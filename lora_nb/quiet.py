"""Library messages a learner cannot act on, dropped by exact text at the kit's import (`lora_nb/__init__`).

Each entry names the logger that emits it and a pattern of the message; nothing else from those
loggers (or any other) is touched. They show in red under cells of runs that work:

- bitsandbytes: on CPUs with AVX512-BF16 (Colab's) importing bitsandbytes tries the optional Hub
  package `kernels` for a CPU 4-bit matmul and logs a warning when it is missing; the kit trains on
  the GPU, where that CPU kernel is never used.
- transformers >= 5: `CLIPImageProcessor`/`SiglipImageProcessor` fall back to their PIL versions
  without torchvision (once each, when diffusers' pipelines import them); the kit never preprocesses
  images through them (the safety checker is not loaded), so the fallback changes nothing.
"""

from __future__ import annotations

import logging
import re

NOISE: tuple[tuple[str, str], ...] = (
    ("bitsandbytes.backends.cpu.ops", r"^Failed to load CPU gemm_4bit_forward from kernels-community"),
    ("transformers.utils.import_utils", r"^`\w+ImageProcessor` requires torchvision \(not installed\); falling back"),
)


class _DropMessages(logging.Filter):
    """Drops a logger's records whose message matches one of `patterns`."""

    def __init__(self, patterns: list[str]):
        super().__init__()
        self.patterns = [re.compile(p) for p in patterns]

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except (TypeError, ValueError):  # a malformed record is not ours to judge
            return True
        return not any(p.search(msg) for p in self.patterns)


def install() -> None:
    """Add the filters (once) to the emitting loggers; works before or after the libraries are imported."""
    by_logger: dict[str, list[str]] = {}
    for name, pattern in NOISE:
        by_logger.setdefault(name, []).append(pattern)
    for name, patterns in by_logger.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMessages) for f in logger.filters):
            logger.addFilter(_DropMessages(patterns))
