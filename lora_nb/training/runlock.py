"""One owner per run folder: a lock file, taken atomically before a run writes anything.

Two runs into one folder (a double-run Train cell, a reopened Colab tab, two terminals) would
interleave their loss logs and overwrite each other's checkpoints. The lock file records who owns
the folder (pid, host, start time, the process's own start time so a reused pid is not mistaken for
the owner); a second run is refused with that information. A lock whose process is gone (same host)
is taken over; one from another host cannot be checked from here, so the message says how to remove it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import psutil

from ..errors import LoraNbError
from ..i18n import t

LOCK_NAME = "lora-nb.lock"
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

    def _alive(self, info: dict) -> bool:
        if info.get("host") != self.host:
            return True  # cannot be checked from this machine
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
                if info == {}:
                    continue  # released meanwhile
                if info is not None and self._alive(info):
                    raise LoraNbError(self._refusal(info))
                note = (t("run.lock_taken", who=t("run.lock_who", pid=info["pid"], host=info.get("host", "?"),
                                                  when=_when(float(info.get("started", 0)))), folder=self.path.parent)
                        if info else t("run.lock_unreadable", folder=self.path.parent))
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
            return note
        raise LoraNbError(f"output_dir {self.path.parent}: another run keeps taking its lock -> start one run at a "
                          f"time, or set output_dir to another folder")

    def _refusal(self, info: dict) -> str:
        out = self.path.parent
        fix = f"wait for it to finish, stop it (kill {info['pid']}, or its notebook's Stop button), or set " \
              f"output_dir to another folder"
        if info.get("host") != self.host:
            fix += f"; if that run is gone (e.g. a closed Colab runtime), delete {self.path}"
        return f"output_dir {out} is in use by another training run ({self._describe(info)}) -> {fix}"

    def release(self) -> None:
        if not self.owned:
            return
        self.owned = False
        _held.discard(str(self.path.resolve()))
        info = self._read(wait=0)
        if info and info.get("pid") == os.getpid() and info.get("host") == self.host:
            self.path.unlink(missing_ok=True)
