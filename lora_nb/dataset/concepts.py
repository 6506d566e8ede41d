"""Dataset folder layout: kohya `N_name` concept folders, images and their caption sidecars.

One place that knows how a dataset folder is laid out, shared by the audit (collect), the plan
and the trainer:

    dataset/
      10_uehxbfklaq cat/      <- 10 repeats, concept "uehxbfklaq cat"
        001.png  001.txt
      img.png img.txt         <- images at the top level get `default_repeats`, concept = folder name
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..fscheck import file_problem
from ..images import is_image
from ..textio import CAPTION_EXT

_CONCEPT_RE = re.compile(r"^(\d+)_(.+)$")


def parse_concept_folder(name: str) -> tuple[int, str] | None:
    """'10_my cat' -> (10, 'my cat'); None when the name is not in kohya's N_name form."""
    m = _CONCEPT_RE.match(name)
    if not m or int(m.group(1)) < 1:
        return None
    return int(m.group(1)), m.group(2)


def concept_folder_name(name: str, repeats: int) -> str:
    return f"{int(repeats)}_{name}"


def list_images(folder: Path, skipped: list[tuple[Path, str]] | None = None) -> list[Path]:
    """Images directly inside `folder`, sorted by name for a stable order. Entries named like images
    that are not regular files (a FIFO blocks every reader, /dev/zero never ends) are left out and,
    with `skipped`, added to it with the reason."""
    found = []
    for p in sorted((p for p in folder.iterdir() if is_image(p) and not p.is_dir()), key=lambda p: p.name):
        problem = file_problem(p)
        if problem is None:
            found.append(p)
        elif skipped is not None:
            skipped.append((p, problem))
    return found


def caption_path(image: Path, ext: str = CAPTION_EXT) -> Path:
    return image.with_suffix(ext)


@dataclass
class Concept:
    name: str
    folder: Path
    repeats: int
    images: list[Path] = field(default_factory=list)

    @property
    def effective_samples(self) -> int:
        """Samples per epoch: images x repeats (LoRA explainer's 'one epoch = images x repeat')."""
        return len(self.images) * self.repeats


def scan_concepts(root: str | os.PathLike, default_repeats: int = 1,
                  skipped: list[tuple[Path, str]] | None = None) -> list[Concept]:
    """All concepts under `root`: each `N_name` subfolder, plus loose top-level images. Entries
    named like images that are not regular files go to `skipped` (when given) with the reason.

    Raises FileNotFoundError/NotADirectoryError for a missing root; returns [] if there are no images.
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(root)
    if not root.is_dir():
        raise NotADirectoryError(root)
    concepts = []
    loose = list_images(root, skipped)
    if loose:
        concepts.append(Concept(root.name or "dataset", root, default_repeats, loose))
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        parsed = parse_concept_folder(sub.name)
        imgs = list_images(sub, skipped)
        if not imgs:
            continue
        repeats, name = parsed if parsed else (default_repeats, sub.name)
        concepts.append(Concept(name, sub, repeats, imgs))
    return concepts
