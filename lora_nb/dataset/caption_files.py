"""The caption files of a dataset, shared by the cleaning driver, the statistics and the captioner.

`scan_captions` pairs every image of a dataset (laid out as `concepts.scan_concepts` reads it) with
its caption file and finds orphan and shared captions; `load_triggers` reads the triggers.json that
the cleaning saves beside the captions; `rel_path` / `path_listing` name files in one-line warnings.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import DatasetError
from ..textio import CAPTION_EXT
from .concepts import scan_concepts

TRIGGERS_FILE = "triggers.json"  # concept folder -> trigger, kept beside the captions


@dataclass
class CaptionFile:
    image: Path
    caption: Path
    concept: str  # concept folder name, the key of ss_tag_frequency


def scan_captions(root: str | os.PathLike, ext: str = CAPTION_EXT, skipped: list[tuple[Path, str]] | None = None
                  ) -> tuple[list[CaptionFile], list[Path], dict[Path, list[Path]]]:
    """(image/caption pairs, orphan caption files without an image, captions shared by several
    images such as a.png + a.jpg -> a.txt) for a dataset laid out as `concepts.scan_concepts` reads it;
    image-named entries that are not regular files go to `skipped` with the reason."""
    root = Path(root)
    try:
        concepts = scan_concepts(root, skipped=skipped)
    except (FileNotFoundError, NotADirectoryError):
        raise DatasetError(f"{root}: not a folder -> pass the dataset folder (the one with the images or the "
                           f"N_name concept folders)") from None
    files, claimed = [], {}
    for c in concepts:
        for img in c.images:
            cap = img.with_suffix(ext)
            files.append(CaptionFile(img, cap, c.folder.name))
            claimed.setdefault(cap, []).append(img)
    folders = [root] + sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    orphans = sorted(p for d in folders for p in d.glob(f"*{ext}")
                     if p.is_file() and not p.name.startswith(".") and p not in claimed)
    shared = {cap: imgs for cap, imgs in claimed.items() if len(imgs) > 1 and cap.exists()}
    return files, orphans, shared


def rel_path(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def path_listing(paths: list[Path], root: Path, n: int = 5) -> str:
    """The first `n` paths (relative to the dataset) for a one-line warning."""
    return ", ".join(rel_path(p, root) for p in paths[:n]) + (" ..." if len(paths) > n else "")


def load_triggers(folder: str | os.PathLike) -> dict[str, str]:
    """The {concept folder: trigger} map saved by an earlier run ({} if none)."""
    p = Path(folder) / TRIGGERS_FILE
    if not p.is_file():
        return {}
    try:
        data = json.loads(p.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as e:
        raise DatasetError(f"{p}: not valid JSON ({e}) -> fix it or delete it to generate new ids") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise DatasetError(f"{p}: expected {{\"concept folder\": \"trigger\"}} -> fix it or delete it")
    return data
