"""One owner per run folder: a lock file, taken atomically before a run writes anything.

Two runs into one folder (a double-run Train cell, a reopened Colab tab, two terminals) would interleave their
loss logs and overwrite each other's checkpoints. The lock file records who owns the folder (pid, host, start
time, the process's own start time so a reused pid is not mistaken for the owner); a second run is refused
with that information. A lock whose process is gone (same host) is taken over. A process on another host
cannot be checked from here (a Colab runtime writing to Google Drive, then disconnected: the learner's next
runtime has another hostname), so the owner shows it lives by a heartbeat: a thread rewrites the lock's record
with the time (`beat`) every `HEARTBEAT_S` seconds, whatever the training loop is doing. A new content, not
only a touched mtime: a synced folder (Google Drive) carries content changes to the other machine, a bare
mtime change may not. Another host's lock silent for `STALE_AFTER_S` is taken over with a note (a lock of an
older kit, which has no heartbeat, is judged by its mtime alike); a live one is refused with how to remove it.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import psutil

from ..errors import LoraNbError
from ..fileio import atomic_write_text
from ..i18n import duration, t

LOCK_NAME = "lora-nb.lock"
HEARTBEAT_S = 30.0  # how often the owner rewrites its lock's beat
# Another host's lock silent this long is stale. Google Drive (Colab's mount) uploads a change and the other
# runtime sees it only after its own refresh: seconds, at times a minute or two. Five minutes is ten missed beats
# and well above that delay, yet short next to reconnecting a runtime and running the setup cells again.
STALE_AFTER_S = 300.0
_held: set[str] = set()  # lock files held by this process: a second run in the same kernel is refused


def _process_started(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


class RunLock:
    """`acquire()` (returns a line to print when a stale lock was taken over) ... `release()`."""

    def __init__(self, folder: str | os.PathLike):
        self.path = Path(folder) / LOCK_NAME
        self.host = socket.gethostname()
        self.owned = False
        self._stop = threading.Event()  # set by release: ends the heartbeat
        self._beat: threading.Thread | None = None

    def _read(self, wait: float = 1.0) -> dict | None:
        """The owner's record; None when the file stays unreadable (a kill between create and write)."""
        deadline = time.monotonic() + wait
        while True:
            try:
                info = json.loads(self.path.read_text(encoding="utf-8"))
                if isinstance(info, dict) and isinstance(info.get("pid"), int):
                    return info
            except FileNotFoundError:
                return {}
            except (OSError, ValueError):
                pass
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)  # the owner is writing it right now

    def _silent_for(self, info: dict | None) -> float | None:
        """Seconds since the lock's last heartbeat (the later of its recorded beat and its mtime); None when
        it is gone."""
        try:
            last = max(self.path.stat().st_mtime, float((info or {}).get("beat") or 0))
        except FileNotFoundError:
            return None
        except (TypeError, ValueError):  # a beat that is not a number: the mtime alone
            last = self.path.stat().st_mtime
        return max(0.0, time.time() - last)  # a time ahead of ours: the clocks differ a little

    def _alive(self, info: dict, silent: float) -> bool:
        if info.get("host") != self.host:
            return silent < STALE_AFTER_S  # its heartbeat is the only sign of life visible from here
        pid = info["pid"]
        if pid == os.getpid():
            return str(self.path.resolve()) in _held
        started = _process_started(pid)
        return started is not None and abs(started - float(info.get("process_started") or started)) < 1.0

    def _describe(self, info: dict) -> str:
        return f"pid {info['pid']} on {info.get('host', '?')}, since {_when(float(info.get('started', 0)))}"

    def acquire(self) -> str | None:
        note = None
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                info = self._read()
                silent = self._silent_for(info)
                if info == {} or silent is None:
                    continue  # released meanwhile
                if info is not None and self._alive(info, silent):
                    raise LoraNbError(self._refusal(info, silent))
                note = self._taken_over(info, silent)
                self.path.unlink(missing_ok=True)  # a rival doing the same at this instant loses at O_EXCL
                continue
            except OSError as e:
                raise LoraNbError(f"output_dir: cannot write to {self.path.parent} ({e.strerror}) -> choose a "
                                  f"folder you can write to, or fix its permissions") from None
            info = {"pid": os.getpid(), "host": self.host, "started": time.time(),
                    "process_started": _process_started(os.getpid())}
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(info))
            _held.add(str(self.path.resolve()))
            self.owned = True
            self._stop.clear()
            self._beat = threading.Thread(target=self._heartbeat, args=(self._stop, info), daemon=True,
                                          name=f"lora-nb lock heartbeat {self.path}")
            self._beat.start()
            return note
        raise LoraNbError(f"output_dir {self.path.parent}: another run keeps taking its lock -> start one run at a "
                          f"time, or set output_dir to another folder")

    def _heartbeat(self, stop: threading.Event, info: dict) -> None:
        # the whole record again with the time, written beside and renamed over it: a reader never sees half
        while not stop.wait(HEARTBEAT_S):
            try:
                if self.path.is_file():  # removed by hand: not recreated behind the learner's back
                    atomic_write_text(self.path, json.dumps({**info, "beat": time.time()}))
            except OSError:
                pass  # Drive offline for a moment: the next beat tries again

    def _taken_over(self, info: dict | None, silent: float) -> str:
        if not info:
            return t("run.lock_unreadable", folder=self.path.parent)
        who = t("run.lock_who", pid=info["pid"], host=info.get("host", "?"), when=_when(float(info.get("started", 0))))
        if info.get("host") != self.host:
            return t("run.lock_taken_remote", who=who, ago=duration(silent), folder=self.path.parent)
        return t("run.lock_taken", who=who, folder=self.path.parent)

    def _refusal(self, info: dict, silent: float) -> str:
        out = self.path.parent
        fix = f"wait for it to finish, stop it (kill {info['pid']}, or its notebook's Stop button), or set " \
              f"output_dir to another folder"
        if info.get("host") != self.host:
            fix += (f"; if that run is gone (e.g. a closed Colab runtime), run again in "
                    f"{duration(STALE_AFTER_S - silent, 'en')}: its lock is taken over once silent for "
                    f"{duration(STALE_AFTER_S, 'en')} (last sign of life {duration(silent, 'en')} ago), "
                    f"or delete {self.path}")
        return f"output_dir {out} is in use by another training run ({self._describe(info)}) -> {fix}"

    def release(self) -> None:
        if not self.owned:
            return
        self.owned = False
        self._stop.set()
        self._beat.join()  # no touch after this: the file is removed below, or a new owner's
        _held.discard(str(self.path.resolve()))
        info = self._read(wait=0)
        if info and info.get("pid") == os.getpid() and info.get("host") == self.host:
            self.path.unlink(missing_ok=True)
