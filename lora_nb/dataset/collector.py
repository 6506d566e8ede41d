"""Step 1: collect images from folders, zips, URL lists or Google Drive into a dataset folder.

Every file is checked and normalised by `images.decode_image` (EXIF orientation, RGB, alpha
flattened) and copied into a kohya concept folder `N_name` under the dataset folder; the user's
originals are only ever read. What cannot be used is not a crash but a line in the report with
its reason: not an image, corrupt or truncated, empty, too small, a decompression bomb, an
unsafe zip entry, a failed download. `manifest.json` in the dataset folder maps each output file
to its source, so every training image can be traced back.

Near-duplicates (256-bit perceptual hash, Hamming distance <= `hash_distance`) are reported and, with
`dedupe="remove"`, removed keeping the larger image: repeated images weigh more in training
and make the LoRA copy them.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from ..images import IMAGE_EXTS
from .concepts import concept_folder_name, parse_concept_folder
from ..errors import ConfigError, DatasetError
from ..images import DEFAULT_MAX_PIXELS, WHITE, ImageRejected, decode_image, encode_image, output_suffix

MIN_SIDE = 256  # the smallest bucket side (Config.min_bucket_reso); smaller images only add blur
MAX_MB = 50.0
TIMEOUT = 30.0
# Perceptual hash: DCT hash (imagehash.phash) of 16x16 = 256 bits. The common 64-bit hash cannot
# separate a dataset's own similar shots from copies: for one subject centred on a plain background
# two different images were 6 bits apart while a resized JPEG copy of a photo was 12. At 256 bits,
# resized/re-encoded/brightened copies measured <= 51, different shots and framings >= 70.
HASH_SIZE = 16
HASH_DISTANCE = 56  # of 256 bits
DEDUPE_CHOICES = ("report", "remove", "off")
URL_LIST_SUFFIXES = (".txt", ".urls", ".list", ".lst")
DRIVE_ROOT = Path("/content/drive")
MANIFEST_NAME = "manifest.json"
CAPTION_EXT = ".txt"
_CONTENT_TYPES_OK = ("application/octet-stream", "binary/octet-stream")  # some hosts label images so


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
class Rejected:
    source: str
    reason: str


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

    @property
    def concept_folders(self) -> list[str]:
        return sorted({Path(i.output).parts[0] for i in self.imported if len(Path(i.output).parts) > 1})

    def summary(self) -> str:
        lines = [f"Collected {len(self.imported)} images into {self.out_dir} "
                 f"({', '.join(self.concept_folders) or 'no concept folder'}); rejected {len(self.rejected)}; "
                 f"duplicate groups {len(self.duplicates)}"]
        lines += [f"  rejected {r.source}: {r.reason}" for r in self.rejected]
        for g in self.duplicates:
            what = "removed" if g.removed else "near-duplicates"
            lines.append(f"  {what} of {g.kept}: " + ", ".join(f"{p} (distance {d})" for p, d in g.duplicates))
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


def _check_concept_name(name: str) -> str:
    name = unicodedata.normalize("NFC", str(name)).strip()
    if not name or name in (".", "..") or name.startswith(".") or re.search(r"[/\\\x00-\x1f]", name):
        raise ConfigError(f"concept name {name!r} cannot be a folder name: use letters, digits, spaces, '-' or '_' "
                          f"(e.g. the trigger word, 'uehxbfklaq cat')")
    return name


# --- sources ---------------------------------------------------------------------------------------
@dataclass
class _Item:
    source: str
    name: str  # file name used for the output name
    read: Callable[[], bytes]
    caption: Callable[[], str | None] = lambda: None
    concept: tuple[int, str] | None = None  # from an N_name folder inside the source
    group: str = "images"  # default concept name: the source folder/zip/list name


def _limit_bytes(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise ImageRejected(f"file too large: {size / 2**20:.1f} MB > max_mb={max_bytes / 2**20:.0f} "
                            f"(raise max_mb / --max-mb to allow it)")


def _read_file(path: Path, max_bytes: int) -> bytes:
    try:
        _limit_bytes(path.stat().st_size, max_bytes)
        return path.read_bytes()
    except OSError as e:
        raise ImageRejected(f"cannot read file: {e.strerror or e}") from None


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8-sig").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _concept_from_parts(parts) -> tuple[int, str] | None:
    """The nearest enclosing `N_name` folder (kohya layout inside a folder or zip, or the source itself)."""
    for part in reversed(parts):
        parsed = parse_concept_folder(part)
        if parsed:
            return parsed
    return None


def is_drive_path(path: str) -> bool:
    p = str(path).replace("\\", "/")
    return p == str(DRIVE_ROOT) or p.startswith(str(DRIVE_ROOT) + "/") or p.startswith(("MyDrive/", "drive/MyDrive/"))


def resolve_drive_path(path: str) -> Path:
    """'/content/drive/MyDrive/x', 'MyDrive/x' or 'drive/MyDrive/x' -> the mounted folder, with a clear
    error when Google Drive is not mounted (or we are not on Colab)."""
    from ..env import in_colab

    p = str(path).replace("\\", "/")
    if p.startswith("drive/"):
        p = p[len("drive/"):]
    full = Path(p) if p.startswith(str(DRIVE_ROOT)) else DRIVE_ROOT / p
    if not (DRIVE_ROOT / "MyDrive").is_dir():
        if in_colab():
            raise DatasetError(f"{path} is on Google Drive, but Drive is not mounted: run "
                               f"`from google.colab import drive; drive.mount('{DRIVE_ROOT}')` and try again")
        raise DatasetError(f"{path} is a Google Drive path, which works only in Colab with Drive mounted: "
                           f"download the folder and pass its local path")
    return full


def _walk_folder(root: Path, max_bytes: int) -> Iterator[_Item | Rejected]:
    """Every file under `root`, recursively, following symlinks but never into a loop."""
    seen: set[tuple[int, int]] = set()
    group = safe_name(root.resolve().name, "images")

    def visit(folder: Path, parts: tuple[str, ...]):
        st = os.stat(folder)
        if (st.st_dev, st.st_ino) in seen:
            yield Rejected(str(folder), "symlink loop: this folder was already visited, skipped")
            return
        seen.add((st.st_dev, st.st_ino))
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            yield Rejected(str(folder), f"cannot list folder: {e.strerror or e}")
            return
        names = {e.name for e in entries}
        sidecars = {Path(n).stem + CAPTION_EXT for n in names if Path(n).suffix.lower() in IMAGE_EXTS}
        for e in entries:
            p = Path(e.path)
            if e.is_symlink():
                try:
                    os.stat(p)
                except OSError as err:
                    why = "symlink loop" if err.errno == errno.ELOOP else "broken symlink (its target is missing)"
                    yield Rejected(str(p), why)
                    continue
            if e.name.startswith("."):
                yield Rejected(str(p), "hidden file or folder, skipped")
            elif e.is_dir():
                yield from visit(p, parts + (e.name,))
            elif not e.is_file():
                yield Rejected(str(p), "not a regular file")
            elif e.name in sidecars:
                continue  # a caption, carried with its image
            else:
                cap = p.with_suffix(CAPTION_EXT)
                yield _Item(str(p), e.name, lambda p=p: _read_file(p, max_bytes),
                            (lambda c=cap: _read_text(c)) if cap.name in names and cap != p else (lambda: None),
                            _concept_from_parts(parts), group)

    # the source folder's own name counts: collecting `20_star/` keeps the concept folder 20_star
    yield from visit(root, (root.resolve().name,))


def _unsafe_zip_name(name: str) -> bool:
    n = name.replace("\\", "/")
    return n.startswith("/") or bool(re.match(r"^[A-Za-z]:", n)) or ".." in n.split("/")


def _walk_zip(path: Path, zf: zipfile.ZipFile, max_bytes: int) -> Iterator[_Item | Rejected]:
    """Entries are read into memory and written under our own names: an entry's path is never
    used as a destination, and entries with absolute or '..' paths are refused outright."""
    infos = [i for i in zf.infolist() if not i.is_dir()]
    names = {i.filename for i in infos}
    group = safe_name(path.stem, "images")
    sidecars = {str(Path(n).with_suffix(CAPTION_EXT).as_posix()) for n in names
                if Path(n).suffix.lower() in IMAGE_EXTS}

    def read(info):
        if info.flag_bits & 0x1:
            raise ImageRejected("encrypted zip entry: extract it with its password and collect the folder")
        _limit_bytes(info.file_size, max_bytes)
        with zf.open(info) as fh:  # the header's size can lie: read at most max_bytes + 1
            data = fh.read(max_bytes + 1)
        _limit_bytes(len(data), max_bytes)
        return data

    def caption(name):
        cap = Path(name).with_suffix(CAPTION_EXT).as_posix()
        if cap == name or cap not in names:
            return None
        try:
            return read(zf.getinfo(cap)).decode("utf-8-sig").strip()
        except (ImageRejected, UnicodeDecodeError, zipfile.BadZipFile, OSError):
            return None

    for info in infos:
        src = f"{path}!{info.filename}"
        parts = info.filename.replace("\\", "/").split("/")
        if _unsafe_zip_name(info.filename):
            yield Rejected(src, "unsafe path in zip (absolute or containing '..'): refused, nothing written")
        elif parts[0] == "__MACOSX" or parts[-1].startswith("."):
            yield Rejected(src, "hidden or macOS metadata entry, skipped")
        elif info.filename in sidecars:
            continue
        else:
            yield _Item(src, parts[-1], lambda i=info: read(i), lambda n=info.filename: caption(n),
                        _concept_from_parts([path.stem] + parts[:-1]), group)


def download(url: str, *, timeout: float = TIMEOUT, max_bytes: int = int(MAX_MB * 2**20)) -> bytes:
    """GET an image over http(s): refuses non-image content types (HTML error/login pages), more
    than `max_bytes`, and downloads slower than `timeout` seconds in total. Raises ImageRejected."""
    from .. import __version__

    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ImageRejected("not an http(s) URL")
    req = urllib.request.Request(url, headers={"User-Agent": f"lora-nb/{__version__} (dataset collect)"})
    start = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            ctype = resp.headers.get_content_type()
            if not ctype.startswith("image/") and ctype not in _CONTENT_TYPES_OK:
                raise ImageRejected(f"not an image: the server sent content-type {ctype}")
            length = resp.headers.get("Content-Length")
            if length and length.isdigit():
                _limit_bytes(int(length), max_bytes)
            chunks, total = [], 0
            while chunk := resp.read(1 << 16):
                total += len(chunk)
                _limit_bytes(total, max_bytes)
                if time.monotonic() - start > timeout:
                    raise ImageRejected(f"download timed out after {timeout:g} s (raise timeout / --timeout)")
                chunks.append(chunk)
            return b"".join(chunks)
    except urllib.error.HTTPError as e:
        raise ImageRejected(f"download failed: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            raise ImageRejected(f"download timed out after {timeout:g} s (raise timeout / --timeout)") from None
        raise ImageRejected(f"download failed: {reason}") from None
    except (TimeoutError, OSError) as e:  # socket timeout while reading, connection reset
        if isinstance(e, TimeoutError) or "timed out" in str(e):
            raise ImageRejected(f"download timed out after {timeout:g} s (raise timeout / --timeout)") from None
        raise ImageRejected(f"download failed: {e}") from None


def _url_name(url: str) -> str:
    name = urllib.parse.unquote(Path(urllib.parse.urlsplit(url).path).name)
    return name or "image"


def _url_item(url: str, timeout: float, max_bytes: int, group: str) -> _Item:
    return _Item(url, _url_name(url), lambda: download(url, timeout=timeout, max_bytes=max_bytes), group=group)


def _walk_url_list(path: Path, timeout: float, max_bytes: int) -> Iterator[_Item | Rejected]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"cannot read the URL list {path}: {e}; save it as UTF-8 text, one URL per line") from None
    group = safe_name(path.stem, "images")
    found = False
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if re.match(r"^https?://\S+$", line, re.I):
            found = True
            yield _url_item(line, timeout, max_bytes, group)
        else:
            yield Rejected(f"{path}:{n}", f"not an http(s) URL: {line[:80]!r}")
    if not found:
        yield Rejected(str(path), "no http(s) URLs in this text file (one URL per line expected)")


def _local_path(source: str) -> Path:
    return resolve_drive_path(source) if is_drive_path(source) else Path(source).expanduser()


def iter_source(source: str | os.PathLike, stack: ExitStack, *, timeout: float = TIMEOUT,
                max_bytes: int = int(MAX_MB * 2**20)) -> Iterator[_Item | Rejected]:
    """The files of one SOURCE: a folder (recursive), a .zip, a text file of URLs, one image file,
    one http(s) URL, or a Google Drive path on Colab. Raises DatasetError for a missing source."""
    s = os.fspath(source)
    if re.match(r"^https?://", s, re.I):
        return iter([_url_item(s, timeout, max_bytes, "images")])
    path = _local_path(s)
    if not path.exists():
        raise DatasetError(f"source {s} not found: check the path (a folder, .zip, URL list or image file)")
    if path.is_dir():
        return _walk_folder(path, max_bytes)
    if path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
        try:
            zf = stack.enter_context(zipfile.ZipFile(path))
        except (zipfile.BadZipFile, OSError) as e:
            return iter([Rejected(str(path), f"not a readable zip archive: {e}")])
        return _walk_zip(path, zf, max_bytes)
    if path.suffix.lower() in URL_LIST_SUFFIXES:
        return _walk_url_list(path, timeout, max_bytes)
    cap = path.with_suffix(CAPTION_EXT)
    caption = (lambda: _read_text(cap)) if cap.is_file() and cap != path else (lambda: None)
    return iter([_Item(str(path), path.name, lambda: _read_file(path, max_bytes), caption, group="images")])


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


# --- duplicates ------------------------------------------------------------------------------------
def phash(img) -> str:
    import imagehash

    return str(imagehash.phash(img, hash_size=HASH_SIZE))


def _hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def find_duplicates(hashes: dict[str, str], max_distance: int = HASH_DISTANCE) -> list[list[tuple[str, int]]]:
    """Groups of keys whose perceptual hashes are within `max_distance` bits (single linkage).
    Each group lists (key, distance to the group's first key)."""
    keys = list(hashes)
    parent = list(range(len(keys)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    ints = [int(hashes[k], 16) for k in keys]
    for i in range(len(keys)):
        for j in range(i + 1, len(keys)):
            if (ints[i] ^ ints[j]).bit_count() <= max_distance:
                parent[find(j)] = find(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(keys)):
        groups.setdefault(find(i), []).append(i)
    return [[(keys[i], (ints[g[0]] ^ ints[i]).bit_count()) for i in g] for g in groups.values() if len(g) > 1]


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


def collect(sources, out_dir: str | os.PathLike, *, concept: str | None = None, repeats: int | None = None,
            min_side: int = MIN_SIDE, max_pixels: int = DEFAULT_MAX_PIXELS, max_mb: float = MAX_MB,
            timeout: float = TIMEOUT, background=WHITE, dedupe: str = "report", hash_distance: int = HASH_DISTANCE,
            progress: bool = True) -> CollectReport:
    """Copy the images of `sources` into the dataset folder `out_dir`, normalised, in concept folders.

    sources: one SOURCE or a list (folder, .zip, text file of URLs, image file, URL, Drive path).
    concept/repeats: put everything into `out_dir/<repeats>_<concept>`. Without `concept`, images
        inside kohya `N_name` folders of a source keep that folder; others go to a concept named
        after their source (folder, zip or list name). Repeats default to 1 (or an existing
        folder's). Calling again adds to the same dataset.
    min_side: reject images whose shorter side is smaller (pixels).
    max_pixels / max_mb: refuse decompression bombs and oversized files or downloads.
    background: colour transparent images are flattened onto (white by default).
    dedupe: 'report' near-duplicates, 'remove' them (keeping the larger image), or 'off'.
    hash_distance: the largest perceptual-hash distance (of 256 bits) counted as a near-duplicate;
        lower it if different shots get flagged, raise it to catch edited copies.
    """
    from tqdm.auto import tqdm

    from ..fileio import atomic_write_bytes, atomic_write_text

    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    sources = [os.fspath(s) for s in sources]
    if not sources:
        raise ConfigError("no SOURCE given: pass a folder, .zip, text file of URLs, image file or URL")
    if dedupe not in DEDUPE_CHOICES:
        raise ConfigError(f"dedupe {dedupe!r} is not one of {', '.join(DEDUPE_CHOICES)}")
    if repeats is not None and (not isinstance(repeats, int) or repeats < 1):
        raise ConfigError(f"repeats must be a whole number >= 1, got {repeats!r}")
    if concept is not None:
        concept = _check_concept_name(concept)
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise DatasetError(f"dataset folder {out} is a file: choose a folder path for --out")
    for s in sources:
        if not re.match(r"^https?://", s, re.I) and _local_path(s).is_dir():
            sp, op = _local_path(s).resolve(), out.resolve()
            if sp == op or sp in op.parents:
                raise DatasetError(f"--out {out} lies inside the source {s}: choose a dataset folder outside it "
                                   f"(originals are never modified)")
    max_bytes = int(max_mb * 2**20)
    report = CollectReport(out, sources)
    manifest = load_manifest(out)
    new_hashes: dict[str, str] = {}
    with ExitStack() as stack:
        items: list[_Item | Rejected] = []
        for s in sources:
            items.extend(iter_source(s, stack, timeout=timeout, max_bytes=max_bytes))
        taken: set[Path] = set()
        fixed = _concept_dir(out, concept, repeats) if concept is not None else None  # conflicts fail early
        for it in tqdm(items, desc="collect", unit="file", disable=not progress):
            if isinstance(it, Rejected):
                report.rejected.append(it)
                continue
            try:
                data = it.read()
                dec = decode_image(data, max_pixels=max_pixels, background=background)
                w, h = dec.size
                if min(w, h) < min_side:
                    raise ImageRejected(f"too small: {w}x{h} px, shorter side below min_side={min_side} "
                                        f"(lower min_side / --min-side to keep it)")
                if fixed is not None:
                    folder = fixed
                elif it.concept is not None:
                    folder = _concept_dir(out, it.concept[1], repeats if repeats is not None else it.concept[0])
                else:
                    folder = _concept_dir(out, it.group, repeats)
            except (ImageRejected, DatasetError) as e:  # DatasetError: its concept folder has other repeats
                report.rejected.append(Rejected(it.source, str(e)))
                continue
            suffix = (".jpg" if dec.format == "JPEG" else ".png") if dec.verbatim else output_suffix(dec)
            dest = _unique_file(folder, safe_name(Path(it.name).stem), suffix, taken)
            atomic_write_bytes(dest, data if dec.verbatim else encode_image(dec.image, suffix))
            cap = it.caption()
            if cap:
                atomic_write_text(dest.with_suffix(CAPTION_EXT), cap + "\n")
            rel = dest.relative_to(out).as_posix()
            rec = Imported(rel, it.source, (w, h), dec.format, dec.changes, bool(cap), phash(dec.image),
                           hashlib.sha256(data).hexdigest())
            report.imported.append(rec)
            new_hashes[rel] = rec.phash
            manifest["images"][rel] = {k: v for k, v in asdict(rec).items() if k != "output"}
    if dedupe != "off":
        _dedupe(out, manifest, new_hashes, hash_distance, dedupe == "remove", report)
    manifest["images"] = {k: v for k, v in manifest["images"].items() if (out / k).is_file()}
    manifest["runs"].append({
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "sources": sources, "imported": len(report.imported),
        "rejected": [asdict(r) for r in report.rejected], "removed_duplicates": report.removed,
    })
    if report.imported or out.is_dir():
        atomic_write_text(out / MANIFEST_NAME, json.dumps(manifest, indent=1, ensure_ascii=False))
    return report


def _dedupe(out: Path, manifest: dict, new_hashes: dict[str, str], max_distance: int, remove: bool,
            report: CollectReport) -> None:
    """Near-duplicates among the new images and those already in the dataset; keep the largest."""
    from .concepts import scan_concepts
    from ..images import image_size, read_image

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
        dups = [(k, _hamming(hashes[k], hashes[keep])) for k, _ in group if k != keep]
        report.duplicates.append(DuplicateGroup(keep, dups, remove))
        if remove:
            for k, _ in dups:
                p = out / k
                p.unlink(missing_ok=True)
                p.with_suffix(CAPTION_EXT).unlink(missing_ok=True)
                report.removed.append(k)
                manifest["images"].pop(k, None)
