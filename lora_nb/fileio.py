"""Atomic file writes: a crash or Colab disconnect never leaves a half-written output.

Write to a temporary file in the same folder, fsync, then `os.replace` (atomic on POSIX and
Windows), so readers see either the old file or the complete new one. The temporary file and
folder are created with the modes of ordinary ones (0666/0777 less the umask, so 0644/0755 under
umask 022): `tempfile.mkstemp`/`mkdtemp` make them 0600/0700, and after the rename a LoRA that a
ComfyUI service account or a lab-mate must read would be private to its writer. A write that fails
because the disk is full or read-only raises one `StorageError` naming the folder (`fscheck`).
"""

from __future__ import annotations

import os
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path

from .errors import StorageError
from .fscheck import special_kind, storage_errors


def _fresh(parent: Path, prefix: str, suffix: str, make) -> Path:
    """A new, unused path in `parent`, created by `make` (which fails if it exists), like mkstemp."""
    for _ in range(100):
        p = parent / f"{prefix}{secrets.token_hex(4)}{suffix}"
        try:
            make(p)
            return p
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {parent}")


def _new_file(p: Path) -> None:
    os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666))


def _refuse_special(path: Path) -> None:
    """Never rename over a device, FIFO or socket (as root, `--out /dev/null` would replace the device)."""
    kind = special_kind(path)
    if kind:
        raise StorageError(f"{path} is {kind}, not a file -> write to a file path in a folder")


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None):
    """Yield a temporary path next to `path`; on success it replaces `path` atomically."""
    path = Path(path)
    _refuse_special(path)
    with storage_errors(path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _fresh(path.parent, f".{path.name}.", suffix or path.suffix + ".tmp", _new_file)
    try:
        with storage_errors(path.parent):
            yield tmp
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


@contextmanager
def atomic_dir(path: str | os.PathLike):
    """Yield a temporary folder next to `path`; on success it becomes `path` (replacing an old one)."""
    path = Path(path)
    with storage_errors(path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _fresh(path.parent, f".{path.name}.", "", lambda p: os.mkdir(p, 0o777))
    try:
        with storage_errors(path.parent):
            yield tmp
            if path.exists():
                old = path.with_name(f".{path.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(path, old)
                os.replace(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
