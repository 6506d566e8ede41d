"""Atomic file writes: a crash or Colab disconnect never leaves a half-written output (and `file_sha256`,
the one way the kit hashes a file's contents).

Write to a temporary file in the same folder, fsync, then `os.replace` (atomic on POSIX and
Windows), so readers see either the old file or the complete new one. The temporary file and
folder are created with the modes of ordinary ones (0666/0777 less the umask, so 0644/0755 under
umask 022): `tempfile.mkstemp`/`mkdtemp` make them 0600/0700, and after the rename a LoRA that a
ComfyUI service account or a lab-mate must read would be private to its writer. A write that fails
because the disk is full or read-only raises one `StorageError` naming the folder (`fscheck`).
"""

from __future__ import annotations

import hashlib
import os
import re
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


TMP_SUFFIX = ".tmp"  # ends every temporary file name
OLD_SUFFIX = ".old"  # the replaced folder during `atomic_dir`'s swap
# What a kill inside a write leaves: `.NAME.<8 random chars>SUFFIX.tmp` files (`_fresh`),
# `.NAME.<8 random chars>` and `.NAME.old` folders (`atomic_dir` and its swap).
_LEFTOVER_FILE = re.compile(r"^\..+\.[a-z0-9_]{8}.*" + re.escape(TMP_SUFFIX) + "$")
_LEFTOVER_DIR = re.compile(r"^\..+\.([a-z0-9_]{8}|" + re.escape(OLD_SUFFIX[1:]) + ")$")


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None):
    """Yield a temporary path next to `path`; on success it replaces `path` atomically."""
    path = Path(path)
    _refuse_special(path)
    with storage_errors(path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _fresh(path.parent, f".{path.name}.", suffix or path.suffix + TMP_SUFFIX, _new_file)
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
                old = path.with_name(f".{path.name}{OLD_SUFFIX}")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(path, old)
                os.replace(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def leftovers(folder: str | os.PathLike) -> list[Path]:
    """The temporary files and folders that the writers above leave under `folder` when the process is
    killed inside a write (their `finally` never ran); nothing else matches."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        for d in list(dirs):
            if _LEFTOVER_DIR.match(d):
                found.append(Path(root) / d)
                dirs.remove(d)  # its content goes with it
        found += [Path(root) / f for f in files if _LEFTOVER_FILE.match(f)]
    return found


def remove_leftovers(folder: str | os.PathLike) -> int:
    """Delete `leftovers(folder)`; returns how many were removed. A `.NAME.old` folder whose NAME is
    missing (killed between `atomic_dir`'s two renames) is the last complete copy: it is put back."""
    found = leftovers(folder)
    for p in found:
        target = p.with_name(p.name[1:-len(OLD_SUFFIX)])
        if p.name.endswith(OLD_SUFFIX) and p.is_dir() and not target.exists():
            os.replace(p, target)
        elif p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    return len(found)


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 hex digest of a file's contents, read 1 MiB at a time (a base model's file is GBs)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_name_problems(name: str, field: str, example: str) -> list[str]:
    """['field: what is wrong -> fix'] when `name` cannot be a file name on every system (a LoRA goes from
    Colab to Windows): empty, a path, '.'/'..', a leading dot (hidden), reserved characters, too long."""
    bad = sorted({c for c in name if c in '<>:"/\\|?*' or ord(c) < 32})
    what = ("is empty" if not name.strip() else
            f"contains {' '.join(repr(c) for c in bad)}, not allowed in file names" if bad else
            "is not a file name" if name.strip(".") == "" else
            "starts with '.', which hides the files" if name.startswith(".") else
            "ends with a space or '.', which Windows drops" if name[-1] in " ." else
            "is longer than 200 characters" if len(name.encode()) > 200 else "")
    return [f"{field}: {name!r} {what} -> use a plain file name such as {example!r}"] if what else []
