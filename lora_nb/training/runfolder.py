"""A run folder belongs to exactly one run: taken before anything is written, checked, released after.

`own_run_folder(config, main)` wraps `train()`: it creates the folder (one clear line when it cannot),
takes the lock (`runlock`), removes what killed atomic writes left behind (`fileio.leftovers`), and
refuses a new run (no `resume`) into a folder that already holds one, unless `overwrite` clears it.
Caches under cache/ are kept: their keys hash the inputs, so a new run reuses them safely.
`next_run_dir` is how the notebooks start a new run beside an old one instead of over it.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

from ..config import Config
from ..errors import LoraNbError
from ..fileio import remove_leftovers
from ..i18n import t
from ..jsonlines import TRAIN_LOG
from .runlock import LOCK_NAME, RunLock

RUN_CONFIG = "config.toml"


def run_files(out: str | os.PathLike, names: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """What a run writes into `out` (trainer.py, export/files.py) as (relative glob, what it is). LoRA files
    match by name only (`names` and the output_name in `out`'s config.toml): an output_dir of '.' may hold
    a base model's .safetensors that no overwrite may touch."""
    names = set(names)
    try:
        names.add(Config.load(Path(out) / RUN_CONFIG).output_name)
    except (LoraNbError, OSError, ValueError):
        pass  # none, or not readable: the given names
    found = [(TRAIN_LOG.as_posix(), "log"), ("state/step-*", "resume state"),
             ("samples/step*-p*.png", "validation images")]
    for n in sorted(names):
        for stem in (glob.escape(n), glob.escape(n) + "-step*"):
            found += [(f"{stem}.safetensors", "LoRA files"), (f"{stem}_diffusers", "LoRA files"),
                      (f"{stem}_peft", "LoRA files")]
    return found


def previous_run(out: str | os.PathLike, names: tuple[str, ...] = ()) -> list[str]:
    """What of an earlier run `out` holds, e.g. ['log', 'LoRA files']; [] for a new or empty folder."""
    out = Path(out)
    found: list[str] = []
    for pattern, what in run_files(out, names):
        if what not in found and next(out.glob(pattern), None) is not None:
            found.append(what)
    return found


def clear_previous_run(out: str | os.PathLike, names: tuple[str, ...] = ()) -> int:
    """Delete an earlier run's log, state, checkpoints, samples and config.toml (not cache/); returns the count."""
    out = Path(out)
    paths = [p for pattern, _ in run_files(out, names) for p in out.glob(pattern)] + [out / RUN_CONFIG]
    n = 0
    for p in paths:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        elif p.exists() or p.is_symlink():
            p.unlink()
        else:
            continue
        n += 1
    return n


def next_run_dir(out: str | os.PathLike) -> Path:
    """`runs/lora` -> the first of `runs/lora-2`, `runs/lora-3`, ... that holds no run (`runs/lora-2` -> `-3`)."""
    out = Path(out)
    m = re.fullmatch(r"(.+)-(\d+)", out.name)
    base = m.group(1) if m and (out.parent / m.group(1)).is_dir() else out.name
    n = 2
    while previous_run(out.parent / f"{base}-{n}") or (out.parent / f"{base}-{n}" / LOCK_NAME).exists():
        n += 1
    return out.parent / f"{base}-{n}"


def _created_dirs(out: Path) -> list[Path]:
    """The folders `out.mkdir(parents=True)` would create, outermost first."""
    missing = []
    for p in [out, *out.parents]:
        if p.exists():
            break
        missing.append(p)
    return missing[::-1]


@contextmanager
def own_run_folder(config: Config, main: bool = True):
    """Own `config.output_dir` for the duration of the block (main process only; other ranks just run)."""
    if not main:
        yield
        return
    out = Path(config.output_dir)
    created = _created_dirs(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise LoraNbError(f"output_dir: cannot create {out} ({e.strerror}) -> choose a folder you can write to "
                          f"(on Colab: under /content or your mounted Drive)") from None
    lock = RunLock(out)
    try:
        note = lock.acquire()
        if note:
            print(note)
        removed = remove_leftovers(out)
        if removed:
            print(t("run.leftovers", n=removed, out=out))
        names = (config.output_name,)
        found = [] if config.resume else previous_run(out, names)
        if found and not config.overwrite:
            raise LoraNbError(_refusal(out, found))
        if found:
            print(t("note.overwrite", found=", ".join(found), out=out))
            clear_previous_run(out, names)
        yield
    finally:
        lock.release()
        for d in reversed(created):  # a run that could not start leaves no empty folders behind
            try:
                d.rmdir()
            except OSError:
                break


def _refusal(out: Path, found: list[str]) -> str:
    resumable = "resume state" in found
    fix = ("set resume = 'latest' to continue it, overwrite = true to start over" if resumable
           else "it has no saved state to continue from: set overwrite = true to start over")
    return f"output_dir {out} already holds a previous run ({', '.join(found)}) -> {fix}, or set output_dir to " \
           f"another folder"

