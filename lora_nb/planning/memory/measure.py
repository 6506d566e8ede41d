"""The measured peak (GPU only): a short real training run's peak memory, CUDA context and step time."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...errors import LoraNbError
from .calibration import GiB

if TYPE_CHECKING:  # pragma: no cover
    from ...config import Config


@dataclass
class Measurement:
    """What a short real run used: PyTorch's peaks, the CUDA context and one step's time."""

    device: str
    steps: int
    peak_allocated_gb: float  # torch.cuda.max_memory_allocated
    peak_reserved_gb: float  # torch.cuda.max_memory_reserved
    context_gb: float  # used on the device outside PyTorch's allocator (CUDA context, other processes)
    step_seconds: float | None  # time between the last two optimizer steps
    wall_seconds: float  # the whole dry run, loading included

    @property
    def total_gb(self) -> float:
        return self.peak_reserved_gb + self.context_gb


def measure_peak(config: Config, steps: int = 2) -> Measurement:
    """Run `steps` real training steps of `config` on CUDA; measure the peak memory and step time.

    Uses the real trainer (`lora_nb.training.trainer.train`) with sampling and state saving off and a
    throw-away output folder; the time of the last step comes from the trainer's step callback.
    """
    import torch

    if not torch.cuda.is_available():
        raise LoraNbError("measure_peak needs a CUDA GPU -> run it on a GPU machine (Colab: Runtime > Change "
                          "runtime type > GPU), or rely on the prediction alone")
    from ...training.trainer import TrainCallback, train

    stamps: list[float] = []

    class _Clock(TrainCallback):
        def on_step(self, step: int, logs: dict) -> None:
            torch.cuda.synchronize()
            stamps.append(time.perf_counter())

    torch.cuda.init()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lora-nb-dryrun-") as tmp:
        train(config.replace(max_train_steps=steps, save_every_n_steps=0, sample_every_n_steps=0, save_state=False,
                             output_dir=tmp, resume=""), callbacks=[_Clock()])
        free, total = torch.cuda.mem_get_info()
        context = (total - free - torch.cuda.memory_reserved()) / GiB
    wall = time.perf_counter() - t0
    step_s = (stamps[-1] - stamps[-2]) if len(stamps) >= 2 else None
    return Measurement(torch.cuda.get_device_name(0), steps, torch.cuda.max_memory_allocated() / GiB,
                       torch.cuda.max_memory_reserved() / GiB, max(context, 0.0), step_s, wall)
