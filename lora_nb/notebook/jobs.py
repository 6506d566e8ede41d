"""Training in a background thread, so the live display's stop button (and the kernel's interrupt
button) work while the trainer runs: `start_training` and the `TrainingJob` it returns."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..errors import LoraNbError
from ..progress import quiet_progress

if TYPE_CHECKING:
    from .live import LiveTrainDisplay


@dataclass
class TrainingJob:
    """A training run in a background thread. `wait()` returns the TrainResult (or raises the
    trainer's error). Interrupting `wait()` (the kernel's interrupt button) asks for a clean stop
    (checkpoint first) and keeps waiting for it; a second interrupt stops waiting."""

    thread: threading.Thread
    display: LiveTrainDisplay | None
    result: Any = None
    error: BaseException | None = None
    started: float = 0.0
    finished: float = 0.0
    stop_event: threading.Event = field(default_factory=threading.Event)
    output_dir: str = ""

    @property
    def done(self) -> bool:
        return not self.thread.is_alive()

    def stop(self) -> None:
        """Ask the trainer to save a checkpoint and stop after the current step."""
        self.stop_event.set()
        if self.display is not None and not self.display.should_stop():
            self.display.request_stop()

    def wait(self, timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.thread.is_alive():
            try:
                self.thread.join(0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic())))
            except KeyboardInterrupt:
                if self.stop_event.is_set():
                    raise  # second interrupt: stop waiting (the run still stops at the next step)
                self.stop()
                continue
            if deadline is not None and time.monotonic() >= deadline:
                break
        if self.thread.is_alive():
            raise TimeoutError("training is still running")
        if self.error is not None:
            raise self.error
        return self.result


_live: TrainingJob | None = None  # the kernel's running job: one at a time


def start_training(config: Config, display: LiveTrainDisplay | None = None, callbacks: Sequence = (),
                   background: bool = True) -> TrainingJob:
    """Train `config` with the live display. `background=True` returns at once (the cell ends, the
    stop button works, `job.wait()` later gives the result); `False` waits here (headless runs)."""
    from ..training.trainer import TrainCallback, train

    global _live
    config.validate()
    if _live is not None and not _live.done:  # a second click or re-run cell while one trains
        raise LoraNbError(f"a training run is already running in this notebook (into {_live.output_dir}) -> wait "
                          f"for it (job.wait()), or stop it (its Stop button or job.stop()) before starting another")
    if display is not None:
        display.family = display.family or config.family
        display.show()  # in this cell, before the thread starts
    job = TrainingJob(threading.Thread(target=lambda: None), display, output_dir=config.output_dir)

    class _JobStop(TrainCallback):  # job.stop() works with or without a display
        def should_stop(self) -> bool:
            return job.stop_event.is_set()

    cbs = ([display] if display is not None else []) + list(callbacks) + [_JobStop()]

    def run():
        try:
            with quiet_progress(any(getattr(cb, "shows_progress", False) for cb in cbs)):
                job.result = train(config, callbacks=cbs)
        except BaseException as e:  # handed to wait()
            job.error = e
        finally:
            job.finished = time.time()

    ctx = contextvars.copy_context()  # outputs of the thread stay with this cell
    job.thread = threading.Thread(target=ctx.run, args=(run,), name="lora-nb-train", daemon=True)
    job.started = time.time()
    job.thread.start()
    _live = job
    if not background:
        job.wait()
    return job
