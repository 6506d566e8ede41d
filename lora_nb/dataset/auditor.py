"""Audit a dataset folder before training: concept balance, dataset size and per-image problems.

The rules come from the tutorials:
- Flux LoRA guide: one LoRA suits one concept, or about 3 similar ones at most; and the samples per
  concept must be balanced: with 20 images of one concept and 80 of another, the small concept
  vanishes from the trained LoRA. Split into separate LoRAs or balance with repeats.
- FluxTrainer walkthrough: ~30 images for a concrete subject (object, person, character), 50+ for a style or
  scene; Kohya practice guide: never fewer than 10-15.
"Effective samples" are images x repeats, what one epoch actually shows the model (LoRA explainer).
`render_audit` draws the images with their notes; `plot_balance` the concept shares.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..config import Config
from ..errors import ConfigError, DatasetError
from ..fonts import new_figure
from ..grids import Tile, image_grid
from ..i18n import get_language, t
from ..i18n.reports import KINDS_ZH
from ..images import ImageRejected, read_image
from ..options import default
from ..textio import CAPTION_EXT, read_caption
from .concepts import caption_path, concept_folder_name, scan_concepts
from .duplicates import HASH_DISTANCE, find_duplicates, phash

# FluxTrainer walkthrough: concrete subjects ~30 images, general ones (style, scene) 50+
RECOMMENDED_IMAGES = {"object": 30, "person": 30, "character": 30, "concept": 30, "style": 50, "scene": 50}
MIN_IMAGES = 10  # Kohya practice guide: "15 or more (generally not fewer than 10)"
MAX_CONCEPTS = 3  # Flux LoRA guide: about 3 similar concepts in one LoRA at most
BALANCE_RATIO = 0.5  # warn when a concept gets less than half the samples of the largest
EXTREME_ASPECT = 2.5
_THUMB = 192


@dataclass
class ImageNote:
    path: Path
    concept: str
    size: tuple[int, int] | None
    caption: bool
    problems: list[str] = field(default_factory=list)
    thumb: object = field(default=None, repr=False, compare=False)  # small PIL image for the grid


@dataclass
class ConceptStats:
    name: str
    folder: str
    images: int
    repeats: int
    effective: int  # images x repeats: samples per epoch
    share: float  # of all effective samples
    captions: int
    kind: str = "object"


@dataclass
class AuditWarning:
    code: str  # imbalance, too_many_concepts, too_few_images, few_images, missing_captions, duplicates, ...
    message: str


@dataclass
class Audit:
    root: Path
    resolution: int
    concepts: list[ConceptStats]
    images: list[ImageNote]
    warnings: list[AuditWarning] = field(default_factory=list)

    @property
    def total_effective(self) -> int:
        return sum(c.effective for c in self.concepts)

    def suggested_repeats(self) -> dict[str, int]:
        """Repeats that give every concept about the effective samples of the largest one."""
        if not self.concepts:
            return {}
        top = max(self.concepts, key=lambda c: c.effective)
        return {c.name: max(1, round(top.effective / c.images)) if c.images else c.repeats for c in self.concepts}

    def summary(self) -> str:
        lines = [t("audit.head", root=self.root, images=sum(c.images for c in self.concepts),
                   samples=self.total_effective)]
        for c in self.concepts:
            lines.append(t("audit.concept", folder=c.folder, images=c.images, repeats=c.repeats,
                           effective=c.effective, share=c.share, captions=c.captions))
        lines += [f"  ! {w.message}" for w in self.warnings]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["root"] = str(self.root)
        for im in d["images"]:
            im["path"] = str(im["path"])
            im.pop("thumb", None)
        return d


def audit(root: str | os.PathLike, kind: str | dict[str, str] = "object", *, resolution: int | None = None,
          default_repeats: int = 1, check_duplicates: bool = True, hash_distance: int | None = None,
          caption_ext: str = CAPTION_EXT) -> Audit:
    """Check a kohya dataset folder (`N_name` concept folders and/or loose images).

    kind: what the LoRA learns, for the size advice: object, person, character, concept (~30
        images) or style, scene (50+); one kind for all concepts or {concept name: kind}.
    resolution: the training resolution (None: Config's default); smaller images are noted.
    """
    resolution = resolution or default(Config, "resolution")
    kinds = kind if isinstance(kind, dict) else {}
    for k in [kind] if isinstance(kind, str) else list(kind.values()):
        if k not in RECOMMENDED_IMAGES:
            raise ConfigError(f"kind {k!r} is not one of {', '.join(RECOMMENDED_IMAGES)}")
    root = Path(root)
    try:
        skipped: list[tuple[Path, str]] = []
        found = scan_concepts(root, default_repeats, skipped)
    except (FileNotFoundError, NotADirectoryError):
        raise DatasetError(f"dataset folder {root} does not exist: run the collect step first or fix the "
                           f"path") from None
    if not found:
        raise DatasetError(f"no images in {root}: put images in concept folders named N_name (e.g. 10_mycat) "
                           f"or run the collect step")
    total = sum(c.effective_samples for c in found) or 1
    notes: list[ImageNote] = []
    hashes: dict[str, str] = {}
    stats = []
    for c in found:
        n_caps = 0
        for p in c.images:
            cap = caption_path(p, caption_ext)
            has_cap = cap.is_file()
            note = ImageNote(p, c.name, None, has_cap)
            if has_cap:
                n_caps += 1
                try:  # decoded as the trainer decodes it
                    if not read_caption(cap):
                        note.problems.append(t("audit.p.empty_caption", "en"))
                except DatasetError:
                    note.problems.append(t("audit.p.encoding", "en"))
            else:
                note.problems.append(t("audit.p.no_caption", "en"))
            try:
                dec = read_image(p)
            except ImageRejected as e:
                note.problems.insert(0, t("audit.p.unreadable", "en", why=e))
                notes.append(note)
                continue
            w, h = note.size = dec.size
            if dec.changes:
                note.problems.append(t("audit.p.normalise", "en", what=", ".join(dec.changes)))
            if min(w, h) < resolution:
                note.problems.append(t("audit.p.small", "en", side=min(w, h), resolution=resolution))
            if max(w, h) / min(w, h) > EXTREME_ASPECT:
                note.problems.append(t("audit.p.aspect", "en", ratio=f"{max(w, h) / min(w, h):.1f}"))
            if check_duplicates:
                hashes[str(p)] = phash(dec.image)
            thumb = dec.image
            thumb.thumbnail((_THUMB, _THUMB))
            note.thumb = thumb
            notes.append(note)
        stats.append(ConceptStats(c.name, c.folder.name if c.folder != root else ".", len(c.images), c.repeats,
                                  c.effective_samples, c.effective_samples / total, n_caps,
                                  kinds.get(c.name, kind if isinstance(kind, str) else "object")))
    result = Audit(root, resolution, stats, notes)
    if check_duplicates:
        by_path = {str(n.path): n for n in notes}
        for group in find_duplicates(hashes, HASH_DISTANCE if hash_distance is None else hash_distance):
            first = Path(group[0][0])
            for p, d in group[1:]:
                other = f"{first.parent.name}/{first.name}"
                by_path[p].problems.append(t("audit.p.duplicate", "en", other=other, d=d))
        n_dup = sum(any(pr.startswith("near-duplicate") for pr in n.problems) for n in notes)
        if n_dup:
            result.warnings.append(AuditWarning("duplicates", t("audit.duplicates", n=n_dup)))
    result.warnings[:0] = _concept_warnings(result)
    if skipped:
        result.warnings.append(AuditWarning("not_regular", t("audit.not_regular", n=len(skipped), items="; ".join(
            f"{p.name} ({why})" for p, why in skipped[:5]))))
    missing = sum(not n.caption for n in notes)
    if missing:
        result.warnings.append(AuditWarning("missing_captions", t("audit.missing_captions", n=missing)))
    small = sum(any(pr.startswith("small") for pr in n.problems) for n in notes)
    if small:
        result.warnings.append(AuditWarning("small_images", t("audit.small_images", n=small, resolution=resolution)))
    bad = sum(any(pr.startswith("unreadable") for pr in n.problems) for n in notes)
    if bad:
        result.warnings.append(AuditWarning("unreadable", t("audit.unreadable", n=bad)))
    return result


def _concept_warnings(a: Audit) -> list[AuditWarning]:
    out = []
    cs = a.concepts
    if len(cs) > MAX_CONCEPTS:
        out.append(AuditWarning("too_many_concepts", t("audit.too_many_concepts", n=len(cs), max=MAX_CONCEPTS)))
    if len(cs) > 1:
        top = max(cs, key=lambda c: c.effective)
        weak = [c for c in cs if c.effective < BALANCE_RATIO * top.effective]
        if weak:
            sugg = a.suggested_repeats()
            renames = ", ".join(f"{c.folder} -> {concept_folder_name(c.name, sugg[c.name])}" for c in weak)
            listing = ", ".join(f"'{c.name}' {c.effective} ({c.share:.0%})" for c in weak)
            out.append(AuditWarning("imbalance", t("audit.imbalance", listing=listing, top=top.name,
                                                   effective=top.effective, share=top.share, renames=renames)))
    for c in cs:
        rec = RECOMMENDED_IMAGES[c.kind]
        if c.images < MIN_IMAGES:
            out.append(AuditWarning("too_few_images", t("audit.too_few_images", name=c.name, n=c.images, rec=rec,
                                                         kind=_kind(c.kind))))
        elif c.images < rec:
            out.append(AuditWarning("few_images", t("audit.few_images", name=c.name, n=c.images,
                                                    rec=f"{rec}{'+' if rec >= 50 else ''}", kind=_kind(c.kind))))
    return out


def _kind(word: str) -> str:
    """'an object' in English, '物体' in Chinese."""
    if get_language() == "zh":
        return KINDS_ZH.get(word, word)
    return ("an " if word[0] in "aeiou" else "a ") + word


def problem_label(problem: str) -> str:
    """An image's problem (kept in English in the Audit, which code and JSON read) in the current language."""
    if get_language() == "en":
        return problem
    for key in _PROBLEMS:
        found = _PROBLEMS[key].fullmatch(problem)
        if found:
            return t(key, **found.groupdict())
    return problem


def _pattern(key: str) -> re.Pattern:
    """The English text of `key` as a regex whose groups are its placeholders."""
    parts = re.split(r"\{(\w+)[^}]*\}", t(key, "en"))
    return re.compile("".join(re.escape(s) if i % 2 == 0 else f"(?P<{s}>.+)" for i, s in enumerate(parts)), re.S)


_PROBLEMS = {k: _pattern(k) for k in ("audit.p.no_caption", "audit.p.empty_caption", "audit.p.encoding",
                                      "audit.p.unreadable", "audit.p.normalise", "audit.p.small", "audit.p.aspect",
                                      "audit.p.duplicate")}


def render_audit(a: Audit, tile_size: int = 128, cols: int = 8, max_images: int | None = None):
    """The dataset as a PIL grid: each image with its concept/name, size and problems (in red);
    the concept table and warnings on top."""
    from PIL import Image

    title = a.summary().splitlines()
    tiles = []
    for n in a.images[:max_images]:
        lines = [n.path.name, f"{n.size[0]}x{n.size[1]}" if n.size else "?"]
        colors = [(0, 0, 0), (60, 60, 60)]
        problems = [problem_label(pr) for pr in n.problems[:3]]
        lines += problems or [t("audit.p.ok")]
        colors += [(200, 0, 0)] * len(problems) if problems else [(0, 130, 0)]
        thumb = n.thumb if n.thumb is not None else Image.new("RGB", (tile_size, tile_size), (230, 230, 230))
        tiles.append(Tile(thumb, lines, colors))
    return image_grid(tiles, cols=cols, tile_size=tile_size, title=title)


def plot_balance(a: Audit):
    """Bar chart of effective samples per concept (matplotlib Figure, not displayed)."""
    fig = new_figure([c.folder for c in a.concepts], figsize=(max(4, 1.2 * len(a.concepts) + 2), 3),
                     layout="constrained")
    ax = fig.add_subplot()
    names = [c.folder for c in a.concepts]
    bars = ax.bar(names, [c.effective for c in a.concepts],
                  color=["tab:red" if c.effective < BALANCE_RATIO * max(x.effective for x in a.concepts)
                         else "tab:blue" for c in a.concepts])
    for b, c in zip(bars, a.concepts, strict=True):
        ax.annotate(f"{c.images}x{c.repeats}\n{c.share:.0%}", (b.get_x() + b.get_width() / 2, b.get_height()),
                    ha="center", va="bottom", fontsize=8)
    ax.set_ylabel(t("plot.balance_y"))
    ax.set_title(t("plot.balance_title"))
    ax.margins(y=0.25)
    return fig


__all__ = ["Audit", "AuditWarning", "ConceptStats", "ImageNote", "audit", "render_audit", "plot_balance",
           "RECOMMENDED_IMAGES", "MIN_IMAGES", "MAX_CONCEPTS"]
