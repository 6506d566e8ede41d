"""Progress bars that step aside while the notebook's live training panel shows the progress.

The kit's own bars (`from lora_nb.progress import tqdm`, a tqdm.auto bar) and the libraries' (diffusers,
transformers, huggingface_hub loading bars) are off inside `quiet_progress()`; `start_training`
enters it when a callback shows progress itself (`LiveTrainDisplay.shows_progress`). Outside it
every bar behaves as tqdm.auto's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm.auto import tqdm as _tqdm

_lock = threading.Lock()
_depth = 0  # global, not per thread: the trainer runs in a thread started inside the context


def bars_enabled() -> bool:
    return _depth == 0


class tqdm(_tqdm):  # noqa: N801  (a drop-in for tqdm.auto.tqdm)
    """tqdm.auto's bar; disabled while `quiet_progress()` is active."""

    def __init__(self, *args, **kwargs):
        if not bars_enabled():
            kwargs["disable"] = True
        super().__init__(*args, **kwargs)


def _library_switches() -> list[tuple]:
    """(is_enabled, enable, disable) of the libraries' global progress-bar switches."""
    import diffusers.utils.logging as dl
    import huggingface_hub.utils as hh
    import transformers.utils.logging as tl

    return [(dl.is_progress_bar_enabled, dl.enable_progress_bar, dl.disable_progress_bar),
            (tl.is_progress_bar_enabled, tl.enable_progress_bar, tl.disable_progress_bar),
            (lambda: not hh.are_progress_bars_disabled(), hh.enable_progress_bars, hh.disable_progress_bars)]


@contextmanager
def quiet_progress(active: bool = True) -> Iterator[None]:
    """No progress bars (the kit's or the libraries') inside; the libraries' switches are restored after."""
    global _depth
    if not active:
        yield
        return
    switches = _library_switches()
    was_on = [is_on() for is_on, _, _ in switches]
    with _lock:
        _depth += 1
    for _, _, off in switches:
        off()
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            last = _depth == 0
        if last:
            for (_, on, _), on_before in zip(switches, was_on):
                if on_before:
                    on()
