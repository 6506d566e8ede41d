"""Can the kit read this file, can it write to that folder? Asked in one place, before the work.

Learners point the kit at folders that hold more than photos: a named pipe left by a tool, a
symlink to a device, a socket of a sync client. Reading a FIFO blocks forever and /dev/zero never
ends, so everything that reads user files takes regular files only (`file_problem`). Outputs are
checked before the long part (loading a model, rendering a grid) with `writable_folder` /
`output_file`, and a write that fails because the disk is full or read-only becomes one line
naming the folder (`storage_errors`): torch.save reports a full disk as "[enforce fail at
inline_container.cc] unexpected pos", which never says "disk".
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from contextlib import contextmanager
from pathlib import Path

from .errors import LoraNbError, StorageError

_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))
_FULL = (errno.ENOSPC, errno.EDQUOT)
_DENIED = (errno.EACCES, errno.EPERM)
# torch's zip writer loses the errno of a failed write ("unexpected pos"); when the folder has less
# free space than this at that moment, the disk filled up.
_NEARLY_FULL = 64 * 2**20
_TORCH_WRITE_FAILED = ("inline_container", "PytorchStreamWriter")


def _kind(st: os.stat_result) -> str:
    return next((kind for test, kind in _KINDS if test(st.st_mode)), "a special file")


def file_problem(path: str | os.PathLike) -> str | None:
    """None for a regular file (also through a symlink), else why it must not be read."""
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        return "broken symlink (its target is missing)" if p.is_symlink() else "file not found"
    except OSError as e:
        return "symlink loop" if e.errno == errno.ELOOP else f"cannot read it ({e.strerror or e})"
    if stat.S_ISREG(st.st_mode):
        return None
    via = " (through a symlink)" if p.is_symlink() else ""
    return f"{_kind(st)}{via}, not a regular file"


def special_kind(path: str | os.PathLike) -> str | None:
    """What `path` is when it exists but is neither a regular file nor a folder ("a device", ...), else None."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return None if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode) else _kind(st)


def _read_only(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _check_dir(p: Path, what: str, target: Path) -> None:
    """`p` exists: it must be a folder we may write into."""
    if not p.is_dir():
        st = os.stat(p)
        lead = f"{what} {target}" if p == target else f"{what} {target} cannot be created: {p}"
        raise StorageError(f"{lead} is {_kind(st) if not stat.S_ISREG(st.st_mode) else 'a file'}, not a folder "
                           f"-> choose a folder path")
    if _read_only(p):
        raise StorageError(f"{what} {target}: {p} is on a read-only file system -> choose a folder on a writable "
                           f"disk")
    if not os.access(p, os.W_OK | os.X_OK):
        raise StorageError(f"{what} {target}: no permission to write in {p} -> choose a folder you can write to, "
                           f"or fix its permissions")


def writable_folder(path: str | os.PathLike, what: str = "output folder") -> Path:
    """`path` as a folder the kit can write into: an existing writable folder, or one that can be
    created (its nearest existing parent is a writable folder). Creates nothing; raises StorageError."""
    target = Path(path).expanduser()
    p = target
    while not p.exists() and not p.is_symlink() and p != p.parent:
        p = p.parent
    if p.is_symlink() and not p.exists():
        raise StorageError(f"{what} {target}: {p} is a broken symlink -> fix the link or choose another folder")
    _check_dir(p, what, target)
    return target


def output_file(path: str | os.PathLike, what: str = "output file") -> Path:
    """`path` as a file the kit can (re)place atomically: not a folder or device, in a writable folder."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise StorageError(f"{what} {target} is a folder -> give a file name, e.g. {target / 'grid.png'}")
    if special_kind(target):
        raise StorageError(f"{what} {target} is {special_kind(target)}, not a file -> give a file name in a folder")
    writable_folder(target.parent, f"{what} {target.name}: folder")
    return target


def _free(folder: Path) -> int | None:
    p = folder
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return None


def _disk_full(folder: Path) -> StorageError:
    free = _free(folder)
    left = f" ({free / 2**20:.1f} MB left)" if free is not None else ""
    return StorageError(f"disk full: no space left in {folder}{left} -> free up space (old checkpoints, outputs) "
                        f"or choose a folder on another disk")


def storage_error(exc: BaseException, folder: str | os.PathLike) -> LoraNbError | None:
    """The one-line error for a failed write into `folder`, or None when `exc` is not a storage problem."""
    folder = Path(folder)
    if isinstance(exc, LoraNbError):
        return exc
    if isinstance(exc, OSError) and exc.errno is not None:
        where = exc.filename or folder
        if exc.errno in _FULL:
            return _disk_full(folder)
        if exc.errno == errno.EROFS:
            return StorageError(f"{where} is on a read-only file system -> choose a folder on a writable disk")
        if exc.errno in _DENIED:
            return StorageError(f"permission denied: {where} -> choose a folder you can write to, or fix its "
                                f"permissions")
        if exc.errno == errno.ENOTDIR:
            return StorageError(f"{where}: a part of this path is a file, not a folder -> choose a folder path")
        return None
    text = str(exc)
    if "No space left" in text or "os error 28" in text or "Disk quota" in text:
        return _disk_full(folder)
    if any(m in text for m in _TORCH_WRITE_FAILED):
        free = _free(folder)
        if free is not None and free < _NEARLY_FULL:
            return _disk_full(folder)
    return None


@contextmanager
def storage_errors(folder: str | os.PathLike):
    """Turn a write failure into `folder` that is a storage problem into one StorageError line."""
    try:
        yield
    except Exception as e:
        mapped = storage_error(e, folder)
        if mapped is None or mapped is e:
            raise
        raise mapped from e
