"""Step 1: collect images from folders, zips, URL lists or Google Drive into a dataset folder.

Every file (read by `sources.iter_source`) is checked and normalised by `images.decode_image`
(EXIF orientation, RGB, alpha flattened) and copied into a kohya concept folder `N_name` under the
dataset folder; the user's originals are only ever read. What cannot be used is not a crash but a
line in the report with its reason: not an image, corrupt or truncated, empty, too small, a
decompression bomb, an unsafe zip entry, a failed download. `manifest.json` in the dataset folder
maps each output file to its source, so every training image can be traced back.

Near-duplicates (`duplicates`: 256-bit perceptual hash, Hamming distance <= `hash_distance`) are
reported and, with `dedupe="remove"`, removed keeping the larger image: repeated images weigh more
in training and make the LoRA copy them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import unicodedata
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import ConfigError, DatasetError
from ..fileio import atomic_write_bytes, atomic_write_text
from ..fscheck import writable_folder
from ..i18n import reason, t
from ..images import (
    DEFAULT_MAX_PIXELS,
    WHITE,
    ImageRejected,
    decode_image,
    encode_image,
    image_size,
    output_suffix,
    parse_color,
    read_image,
)
from ..options import Options, option
from ..textio import CAPTION_EXT, decode_caption, write_caption
from .concepts import concept_folder_name, parse_concept_folder, scan_concepts
from .duplicates import HASH_DISTANCE, find_duplicates, hamming, phash
from .sources import Rejected, SourceItem, iter_source, local_path

MANIFEST_NAME = "manifest.json"


# --- settings --------------------------------------------------------------------------------------
@dataclass
class CollectOptions(Options):
    """The settings of `collect`: the function, `lora-nb collect` flags and notebook 01's form read them here."""

    concept: str | None = option(None, "Put every image into one concept folder N_name with this name (e.g. the "
                                       "trigger word and class: 'uehxbfklaq cat'); empty: keep the N_name folders "
                                       "of the sources, else name the concept after its source.")
    repeats: int | None = option(None, "Repeats N of the concept folder N_name: how often each image is shown per "
                                       "epoch; empty: 1, or what an existing N_name folder says.", min=1)
    min_side: int = option(256, "Reject images whose shorter side is below this many pixels: smaller than the "
                                "smallest training bucket, they only add blur.", min=1)
    max_pixels: int = option(DEFAULT_MAX_PIXELS, "Reject images claiming more pixels than this (decompression "
                                                 "bombs; PIL's own limit by default).", min=1)
    max_mb: float = option(50.0, "Reject files and downloads larger than this many MB.", min=0.01)
    timeout: float = option(30.0, "Seconds allowed for each URL download.", min=0.1)
    background: str = option("white", "Colour transparent images are flattened onto: a name, #rrggbb or r,g,b.")
    dedupe: str = option("report", "Near-duplicate images: report them, remove them (keeping the larger image) "
                                   "or off.", choices=("report", "remove", "off"))
    hash_distance: int = option(HASH_DISTANCE, "Largest perceptual-hash distance (of 256 bits) counted as a "
                                               "near-duplicate: lower it if different shots get flagged, raise it "
                                               "to catch edited copies.", min=0, max=256)

    def problems(self) -> list[str]:
        out = super().problems()
        if isinstance(self.concept, str) and not _concept_name(self.concept):
            out.append(f"concept: {self.concept!r} cannot be a folder name -> use letters, digits, spaces, '-' or "
                       f"'_' (e.g. the trigger word, 'uehxbfklaq cat')")
        if isinstance(self.background, str):
            try:
                parse_color(self.background)
            except ValueError as e:
                out.append(f"background: {e}")
        return out


# --- report ----------------------------------------------------------------------------------------
@dataclass
class Imported:
    output: str  # path relative to the dataset folder, e.g. "1_cat/img_001.jpg"
    source: str  # file path, "archive.zip!inner/path.png" or URL
    size: tuple[int, int]
    format: str
    changes: list[str] = field(default_factory=list)
    caption: bool = False
    phash: str = ""
    sha256: str = ""


@dataclass
class DuplicateGroup:
    kept: str  # output path (relative) of the largest image
    duplicates: list[tuple[str, int]]  # (output path, Hamming distance to the kept image)
    removed: bool = False


@dataclass
class CollectReport:
    out_dir: Path
    sources: list[str]
    imported: list[Imported] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    duplicates: list[DuplicateGroup] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # outputs deleted as duplicates
    caption_notes: list[Rejected] = field(default_factory=list)  # (caption file, why): not read, or copied as is

    @property
    def concept_folders(self) -> list[str]:
        return sorted({Path(i.output).parts[0] for i in self.imported if len(Path(i.output).parts) > 1})

    def summary(self) -> str:
        lines = [t("collect.head", n=len(self.imported), out=self.out_dir,
                   folders=", ".join(self.concept_folders) or t("collect.no_folder"), rejected=len(self.rejected),
                   dups=len(self.duplicates))]
        lines += [t("collect.rejected", source=r.source, reason=reason(r.reason)) for r in self.rejected]
        lines += [t("collect.caption", source=r.source, reason=reason(r.reason)) for r in self.caption_notes]
        for g in self.duplicates:
            items = ", ".join(t("collect.distance", path=p, d=d) for p, d in g.duplicates)
            lines.append(t("collect.removed" if g.removed else "collect.near", kept=g.kept, items=items))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["out_dir"] = str(self.out_dir)
        return d


# --- names -----------------------------------------------------------------------------------------
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


def safe_name(text: str, default: str = "image", max_len: int = 60) -> str:
    """A file-name stem that is safe everywhere and still readable: unicode letters and digits
    (Chinese names stay Chinese), '-' and '_'; no separators, spaces, dots or control characters."""
    text = unicodedata.normalize("NFC", text)
    out = re.sub(r"[^\w\-]+", "_", text, flags=re.UNICODE).strip("_-")[:max_len].strip("_-")
    if not out:
        return default
    return out + "_" if out.lower() in _RESERVED else out


def _concept_name(name: str) -> str:
    """The concept name as its folder will spell it (NFC, stripped), or '' if it cannot be a folder name."""
    name = unicodedata.normalize("NFC", name).strip()
    if not name or name in (".", "..") or name.startswith(".") or re.search(r"[/\\\x00-\x1f]", name):
        return ""
    return name


# --- the manifest -------------------------------------------------------------------------------------
def load_manifest(out_dir: str | os.PathLike) -> dict:
    path = Path(out_dir) / MANIFEST_NAME
    if not path.is_file():
        return {"images": {}, "runs": []}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        data.setdefault("images", {})
        data.setdefault("runs", [])
        return data
    except (OSError, ValueError) as e:
        raise DatasetError(f"{path} is not readable JSON ({e}): fix it, or move it away to start a new "
                           f"manifest") from None


# --- collect -----------------------------------------------------------------------------------------
def _concept_dir(out: Path, name: str, repeats: int | None) -> Path:
    """`out/N_name`, reusing an existing folder for the same concept name."""
    existing = [(parse_concept_folder(p.name), p) for p in out.iterdir() if p.is_dir()] if out.is_dir() else []
    for parsed, p in existing:
        if parsed and parsed[1] == name:
            if repeats is not None and parsed[0] != repeats:
                raise DatasetError(f"concept '{name}' already exists as {p.name}: pass repeats={parsed[0]} "
                                   f"(--repeats {parsed[0]}), or rename the folder to "
                                   f"{concept_folder_name(name, repeats)} to change its repeats")
            return p
    return out / concept_folder_name(name, repeats or 1)


def _unique_file(folder: Path, stem: str, suffix: str, taken: set[Path]) -> Path:
    cand, n = folder / f"{stem}{suffix}", 2
    while cand in taken or cand.exists() or cand.with_suffix(CAPTION_EXT).exists():
        cand = folder / f"{stem}_{n}{suffix}"
        n += 1
    taken.add(cand)
    return cand


def collect(sources, out_dir: str | os.PathLike, options: CollectOptions | None = None, *, progress: bool = True,
            **overrides) -> CollectReport:
    """Copy the images of `sources` into the dataset folder `out_dir`, normalised, in concept folders.

    sources: one SOURCE or a list (folder, .zip, text file of URLs, image file, URL, Drive path).
    options: a `CollectOptions` (each field's help says what it does); keyword arguments such as
        `concept="uehxbfklaq cat", repeats=10, min_side=512, dedupe="remove"` change single settings.
        Without `concept`, images inside kohya `N_name` folders of a source keep that folder; others go
        to a concept named after their source (folder, zip or list name). Calling again adds to the
        same dataset.
    """
    from tqdm.auto import tqdm

    opts = CollectOptions.resolve(options, overrides, "collect")
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    sources = [os.fspath(s) for s in sources]
    if not sources:
        raise ConfigError("no SOURCE given: pass a folder, .zip, text file of URLs, image file or URL")
    concept = _concept_name(opts.concept) if opts.concept is not None else None
    repeats = opts.repeats
    background = parse_color(opts.background) or WHITE
    out = Path(out_dir).expanduser()
    writable_folder(out, "dataset folder (--out)")
    for s in sources:
        if not re.match(r"^https?://", s, re.I) and local_path(s).is_dir():
            sp, op = local_path(s).resolve(), out.resolve()
            if sp == op or sp in op.parents:
                raise DatasetError(f"--out {out} lies inside the source {s}: choose a dataset folder outside it "
                                   f"(originals are never modified)")
    max_bytes = int(opts.max_mb * 2**20)
    report = CollectReport(out, sources)
    manifest = load_manifest(out)
    new_hashes: dict[str, str] = {}
    with ExitStack() as stack:
        items: list[SourceItem | Rejected] = []
        for s in sources:
            items.extend(iter_source(s, stack, timeout=opts.timeout, max_bytes=max_bytes))
        taken: set[Path] = set()
        fixed = _concept_dir(out, concept, repeats) if concept is not None else None  # conflicts fail early
        for it in tqdm(items, desc="collect", unit="file", disable=not progress):
            if isinstance(it, Rejected):
                report.rejected.append(it)
                continue
            try:
                data = it.read()
                dec = decode_image(data, max_pixels=opts.max_pixels, background=background)
                w, h = dec.size
                if min(w, h) < opts.min_side:
                    raise ImageRejected(f"too small: {w}x{h} px, shorter side below min_side={opts.min_side} "
                                        f"(lower min_side / --min-side to keep it)")
                if fixed is not None:
                    folder = fixed
                elif it.concept is not None:
                    folder = _concept_dir(out, it.concept[1], repeats if repeats is not None else it.concept[0])
                else:
                    folder = _concept_dir(out, safe_name(it.group, "images"), repeats)
            except (ImageRejected, DatasetError) as e:  # DatasetError: its concept folder has other repeats
                report.rejected.append(Rejected(it.source, str(e)))
                continue
            suffix = (".jpg" if dec.format == "JPEG" else ".png") if dec.verbatim else output_suffix(dec)
            dest = _unique_file(folder, safe_name(Path(it.name).stem), suffix, taken)
            atomic_write_bytes(dest, data if dec.verbatim else encode_image(dec.image, suffix))
            cap = _copy_caption(it, dest, out, report)
            rel = dest.relative_to(out).as_posix()
            rec = Imported(rel, it.source, (w, h), dec.format, dec.changes, cap, phash(dec.image),
                           hashlib.sha256(data).hexdigest())
            report.imported.append(rec)
            new_hashes[rel] = rec.phash
            manifest["images"][rel] = {k: v for k, v in asdict(rec).items() if k != "output"}
    if opts.dedupe != "off":
        _dedupe(out, manifest, new_hashes, opts.hash_distance, opts.dedupe == "remove", report)
    manifest["images"] = {k: v for k, v in manifest["images"].items() if (out / k).is_file()}
    manifest["runs"].append({
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "sources": sources, "imported": len(report.imported),
        "rejected": [asdict(r) for r in report.rejected], "removed_duplicates": report.removed,
    })
    if report.imported or out.is_dir():
        atomic_write_text(out / MANIFEST_NAME, json.dumps(manifest, indent=1, ensure_ascii=False))
    return report


def _copy_caption(it: SourceItem, dest: Path, out: Path, report: CollectReport) -> bool:
    """Write the caption of `it` beside `dest`, decoded as tags and the trainer decode it (`textio`:
    BOM, UTF-16, GBK, ...) and saved as UTF-8. Text in no known encoding is copied byte for byte and
    reported: it is still the user's caption, and nothing may suggest captioning over it."""
    src = it.caption_source

    def why(e: DatasetError) -> str:  # the messages start with the file, which the report line names
        return str(e).removeprefix(f"{src}: ")

    try:
        data = it.caption()
    except DatasetError as e:  # not a regular file, unreadable
        report.caption_notes.append(Rejected(src, f"not imported: {why(e)}"))
        return False
    if data is None:
        return False
    target = dest.with_suffix(CAPTION_EXT)
    try:
        text = decode_caption(data, src).text
    except DatasetError as e:
        atomic_write_bytes(target, data)
        report.caption_notes.append(Rejected(src, f"{why(e)} (copied unchanged to {target.relative_to(out)}; "
                                                  f"tags and train stop on it until it is re-saved)"))
        return True
    write_caption(target, text)
    return True


def _dedupe(out: Path, manifest: dict, new_hashes: dict[str, str], max_distance: int, remove: bool,
            report: CollectReport) -> None:
    """Near-duplicates among the new images and those already in the dataset; keep the largest."""
    hashes, areas = {}, {}
    if out.is_dir():
        for c in scan_concepts(out):
            for p in c.images:
                rel = p.relative_to(out).as_posix()
                info = manifest["images"].get(rel, {})
                h = new_hashes.get(rel) or info.get("phash")
                if not h:
                    try:
                        h = phash(read_image(p).image)
                    except ImageRejected:
                        continue
                hashes[rel] = h
                w, hh = info.get("size") or image_size(p) or (0, 0)
                areas[rel] = (w * hh, p.stat().st_size)
    for group in find_duplicates(hashes, max_distance):
        if not any(k in new_hashes for k, _ in group):
            continue  # only report groups this run touched
        keep = max(group, key=lambda kd: areas.get(kd[0], (0, 0)))[0]
        dups = [(k, hamming(hashes[k], hashes[keep])) for k, _ in group if k != keep]
        report.duplicates.append(DuplicateGroup(keep, dups, remove))
        if remove:
            for k, _ in dups:
                p = out / k
                p.unlink(missing_ok=True)
                p.with_suffix(CAPTION_EXT).unlink(missing_ok=True)
                report.removed.append(k)
                manifest["images"].pop(k, None)

