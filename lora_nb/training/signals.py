"""Ctrl-C and `kill` stop a command-line run the way the notebook's Stop button does: the current
step finishes, a checkpoint and the resume state are saved, and the run ends cleanly. A second
signal exits at once.
Under a launcher (`accelerate launch` / torchrun) Ctrl-C reaches every worker as SIGINT and the launcher
then sends SIGTERM to each (and SIGKILL after its grace period, 30 s for torchrun): a different signal
within `LAUNCHER_ECHO_S` of the first is that echo, not a second request. The trainer stops all ranks at
the same step (the flag is summed across processes).

`SignalStop` is a TrainCallback whose `should_stop()` reads the flag the handler sets (the trainer
saves a checkpoint when a callback asks to stop). Handlers can only be installed in the main thread:
in a notebook's training thread `installed()` does nothing (the Stop button covers it there).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from contextlib import contextmanager

from .trainer import TrainCallback

SIGNALS = (signal.SIGINT, signal.SIGTERM)
LAUNCHER_ECHO_S = 2.0
_LAUNCHER_ENV = ("LOCAL_RANK", "TORCHELASTIC_RUN_ID")  # set by torchrun / accelerate launch in each worker


def _under_launcher() -> bool:
    return any(v in os.environ for v in _LAUNCHER_ENV)


class SignalStop(TrainCallback):
    def __init__(self, prog: str = "lora-nb train"):
        self.prog = prog
        self.signum: int | None = None
        self._first_at = 0.0

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number (130, 143)."""
        return 128 + self.signum if self.signum else 0

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    def should_stop(self) -> bool:
        return self.signum is not None

    def _handle(self, signum, frame) -> None:
        if (self.signum is not None and signum != self.signum and _under_launcher()
                and time.monotonic() - self._first_at < LAUNCHER_ECHO_S):
            return  # the launcher passing the same Ctrl-C on as SIGTERM
        if self.signum is not None:  # the second one: leave now (finally blocks still release the lock)
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            raise SystemExit(128 + signum)
        self.signum, self._first_at = signum, time.monotonic()
        # os.write, not print: the handler may interrupt tqdm in the middle of writing to stderr
        os.write(2, f"\n{self.prog}: {signal.Signals(signum).name} received: finishing this step and saving a "
                    f"checkpoint, then stopping (send it again to quit at once)\n".encode())

    @contextmanager
    def installed(self):
        """Handle SIGINT and SIGTERM inside the block (main thread only); the previous handlers come back."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.signal(s, self._handle) for s in SIGNALS}
        try:
            yield self
        finally:
            for s, h in previous.items():
                signal.signal(s, h)
