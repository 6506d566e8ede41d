"""Optimizer state bytes for the adapter tensors, per optimizer (8-bit, factored and plain states)."""

from __future__ import annotations

from ...errors import ConfigError
from .calibration import CALIBRATION


def optimizer_state_bytes(optimizer: str, shapes: list[tuple[int, int]]) -> float:
    """Bytes of optimizer state for fp32 adapter tensors of the given (rows, cols) shapes.

    adamw: exp_avg + exp_avg_sq in fp32 (8 B/param). adamw8bit (bitsandbytes): both states in 8 bits
    with one fp32 absmax per 256-value block, but tensors under 4096 values stay fp32 (bnb's
    min_8bit_size). lion: one momentum (4). prodigy: exp_avg, exp_avg_sq, s, p0 (16).
    dadaptation (DAdaptAdam): exp_avg, exp_avg_sq, s (12). adafactor (no momentum): a factored
    second moment, rows + cols values per matrix.
    """
    total = 0.0
    per = CALIBRATION["optimizer_bytes"]
    for r, c in shapes:
        n = r * c
        if optimizer == "adamw8bit":
            total += n * (2 + 2 * 4 / 256) if n >= 4096 else n * 8
        elif optimizer == "adafactor":
            total += (r + c) * 4 if min(r, c) > 1 else n * 4
        elif optimizer in per:
            total += n * per[optimizer]
        else:
            raise ConfigError(f"optimizer: {optimizer!r} has no memory rule -> use one of adamw, adamw8bit, lion, "
                              f"prodigy, dadaptation, adafactor")
    return total
