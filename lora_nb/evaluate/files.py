"""LoRA files to compare: discovery in run folders, checkpoint step, checkpoint order and grid labels."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ModelLoadError


@dataclass
class LoraFile:
    """One LoRA file to compare: where it is, its checkpoint step, a label for the grid, its metadata."""

    path: Path
    label: str
    step: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    adapter: str = ""  # the adapter name while loaded into a pipeline

    @property
    def base_model_version(self) -> str:
        return self.metadata.get("ss_base_model_version", "")


_STEP_RE = re.compile(r"step[-_]?0*(\d+)", re.IGNORECASE)
_TRAILING_NUM_RE = re.compile(r"[-_]0*(\d+)$")
_GENERIC_STEMS = {"pytorch_lora_weights", "adapter_model", "lora_weights", "model"}


def read_lora_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The string metadata of a .safetensors file (kohya's ss_* fields); {} when it has none."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except Exception as e:  # not a safetensors file, truncated download, ...
        raise ModelLoadError(f"{path}: not a readable .safetensors file ({e}) "
                             "-> re-download or re-export it") from None


def checkpoint_step(path: str | os.PathLike, metadata: Mapping[str, str] | None = None) -> int | None:
    """The training step a LoRA file was saved at, or None for a file without one (the final file).

    Order of evidence: kohya's `ss_steps` metadata (the global step at save time), then the file
    name (`lora-step00000500`, `lora-000500`), then the folder name for diffusers' generic
    `checkpoint-500/pytorch_lora_weights.safetensors`.
    """
    if metadata and str(metadata.get("ss_steps", "")).strip().isdigit():
        return int(metadata["ss_steps"])
    p = Path(path)
    names = [p.stem] + ([p.parent.name] if p.stem in _GENERIC_STEMS else [])
    for name in names:
        m = _STEP_RE.search(name) or _TRAILING_NUM_RE.search(name)
        if m:
            return int(m.group(1))
    return None


def find_lora_files(paths: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    """Expand folders: a diffusers save folder gives its pytorch_lora_weights.safetensors, any other
    folder (a run's output_dir) all the .safetensors files directly inside it."""
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            if (p / "pytorch_lora_weights.safetensors").is_file():
                out.append(p / "pytorch_lora_weights.safetensors")
                continue
            found = sorted(q for q in p.glob("*.safetensors") if q.is_file())
            if not found:
                raise ModelLoadError(f"{p}: no .safetensors LoRA files in this folder -> pass the LoRA files "
                                     f"themselves or the run folder that holds them")
            out.extend(found)
        elif p.is_file():
            if p.suffix.lower() != ".safetensors":
                raise ModelLoadError(f"{p}: only .safetensors LoRA files are loaded (pickle .ckpt/.pt/.bin files "
                                     f"can run code when opened) -> convert it to safetensors first")
            out.append(p)
        else:
            raise ModelLoadError(f"LoRA file not found: {p} -> check the path (a run's checkpoints are in its "
                                 f"output_dir)")
    return out


def lora_files(paths: str | os.PathLike | Sequence[str | os.PathLike], sort: bool = True) -> list[LoraFile]:
    """LoraFile records for `paths` (files or folders), in checkpoint order when `sort`.

    Numbered checkpoints come first by step; files without a step (the final `lora.safetensors`)
    come last, in the order given. Labels read "step 500"; a label used twice gets the file name.
    """
    files = []
    for p in find_lora_files(paths):
        meta = read_lora_metadata(p)
        step = checkpoint_step(p, meta)
        stem = p.parent.name if p.stem in _GENERIC_STEMS else p.stem
        files.append(LoraFile(p, f"step {step}" if step is not None else stem, step, meta))
    if sort:
        files = [f for _, f in sorted(enumerate(files), key=lambda t: (t[1].step is None, t[1].step or 0, t[0]))]
    seen: dict[str, int] = {}
    for f in files:
        seen[f.label] = seen.get(f.label, 0) + 1
    for f in files:
        if seen[f.label] > 1:
            f.label = f"{f.label} ({f.path.name})"
    return files
