"""Read the files of a collect SOURCE: a folder, a .zip, a text file of URLs, an image file, a URL
or a Google Drive path on Colab.

`iter_source` yields one `SourceItem` per usable entry (its bytes and caption sidecar read only on
demand, with size limits and download timeouts) and a `Rejected` with its reason for everything
else: hidden files, symlink loops, FIFOs and devices (reading them would block or never end), unsafe
zip paths, lines that are not URLs. Caption sidecars come back as raw bytes: `collector` decodes
them with `textio`, like tags and the trainer. The originals are only ever read; naming and
writing the outputs is `collector`'s job.
"""

from __future__ import annotations

import errno
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from .. import __version__, env
from ..errors import DatasetError
from ..fscheck import file_problem
from ..images import IMAGE_EXTS, ImageRejected
from ..textio import CAPTION_EXT
from .concepts import parse_concept_folder

URL_LIST_SUFFIXES = (".txt", ".urls", ".list", ".lst")
DRIVE_ROOT = Path("/content/drive")
_CONTENT_TYPES_OK = ("application/octet-stream", "binary/octet-stream")  # some hosts label images so


@dataclass
class Rejected:
    source: str
    reason: str


@dataclass
class SourceItem:
    source: str
    name: str  # file name used for the output name
    read: Callable[[], bytes]
    caption: Callable[[], bytes | None] = lambda: None  # the sidecar's raw bytes; DatasetError if unreadable
    concept: tuple[int, str] | None = None  # from an N_name folder inside the source
    group: str = "images"  # default concept name: the source folder/zip/list name (not yet a safe name)
    caption_source: str = ""  # where the caption sidecar is, for reports: a path or "archive.zip!inner.txt"


def _limit_bytes(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise ImageRejected(f"file too large: {size / 2**20:.1f} MB > max_mb={max_bytes / 2**20:.0f} "
                            f"(raise max_mb / --max-mb to allow it)")


def _read_file(path: Path, max_bytes: int) -> bytes:
    problem = file_problem(path)
    if problem:
        raise ImageRejected(problem)
    try:
        _limit_bytes(path.stat().st_size, max_bytes)
        return path.read_bytes()
    except OSError as e:
        raise ImageRejected(f"cannot read file: {e.strerror or e}") from None


def _read_sidecar(path: Path, max_bytes: int) -> bytes:
    """A caption file's bytes; DatasetError naming it when it is not a readable regular file."""
    try:
        return _read_file(path, max_bytes)
    except ImageRejected as e:
        raise DatasetError(f"{path}: {e}") from None


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
    p = str(path).replace("\\", "/")
    if p.startswith("drive/"):
        p = p[len("drive/"):]
    full = Path(p) if p.startswith(str(DRIVE_ROOT)) else DRIVE_ROOT / p
    if not (DRIVE_ROOT / "MyDrive").is_dir():
        if env.in_colab():
            raise DatasetError(f"{path} is on Google Drive, but Drive is not mounted: run "
                               f"`from google.colab import drive; drive.mount('{DRIVE_ROOT}')` and try again")
        raise DatasetError(f"{path} is a Google Drive path, which works only in Colab with Drive mounted: "
                           f"download the folder and pass its local path")
    return full


def _walk_folder(root: Path, max_bytes: int) -> Iterator[SourceItem | Rejected]:
    """Every file under `root`, recursively, following symlinks but never into a loop."""
    seen: set[tuple[int, int]] = set()
    group = root.resolve().name

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
            elif e.name in sidecars:
                continue  # a caption, carried with its image (a FIFO one is reported when read)
            elif file_problem(p):
                yield Rejected(str(p), file_problem(p))
            else:
                cap = p.with_suffix(CAPTION_EXT)
                yield SourceItem(str(p), e.name, lambda p=p: _read_file(p, max_bytes),
                            (lambda c=cap: _read_sidecar(c, max_bytes)) if cap.name in names and cap != p
                            else (lambda: None), _concept_from_parts(parts), group, str(cap))

    # the source folder's own name counts: collecting `20_star/` keeps the concept folder 20_star
    yield from visit(root, (root.resolve().name,))


def _unsafe_zip_name(name: str) -> bool:
    n = name.replace("\\", "/")
    return n.startswith("/") or bool(re.match(r"^[A-Za-z]:", n)) or ".." in n.split("/")


def _walk_zip(path: Path, zf: zipfile.ZipFile, max_bytes: int) -> Iterator[SourceItem | Rejected]:
    """Entries are read into memory and written under our own names: an entry's path is never
    used as a destination, and entries with absolute or '..' paths are refused outright."""
    infos = [i for i in zf.infolist() if not i.is_dir()]
    names = {i.filename for i in infos}
    group = path.stem
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
            return read(zf.getinfo(cap))
        except (ImageRejected, zipfile.BadZipFile, OSError) as e:
            raise DatasetError(f"{path}!{cap}: cannot read it ({e})") from None

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
            yield SourceItem(src, parts[-1], lambda i=info: read(i), lambda n=info.filename: caption(n),
                        _concept_from_parts([path.stem] + parts[:-1]), group,
                        f"{path}!{Path(info.filename).with_suffix(CAPTION_EXT).as_posix()}")


def download(url: str, *, timeout: float, max_bytes: int) -> bytes:
    """GET an image over http(s): refuses non-image content types (HTML error/login pages), more
    than `max_bytes`, and downloads slower than `timeout` seconds in total. Raises ImageRejected."""
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


def _url_item(url: str, timeout: float, max_bytes: int, group: str) -> SourceItem:
    return SourceItem(url, _url_name(url), lambda: download(url, timeout=timeout, max_bytes=max_bytes), group=group)


def _walk_url_list(path: Path, timeout: float, max_bytes: int) -> Iterator[SourceItem | Rejected]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"cannot read the URL list {path}: {e}; save it as UTF-8 text, one URL per line") from None
    group = path.stem
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


def local_path(source: str) -> Path:
    return resolve_drive_path(source) if is_drive_path(source) else Path(source).expanduser()


def iter_source(source: str | os.PathLike, stack: ExitStack, *, timeout: float,
                max_bytes: int) -> Iterator[SourceItem | Rejected]:
    """The files of one SOURCE: a folder (recursive), a .zip, a text file of URLs, one image file,
    one http(s) URL, or a Google Drive path on Colab. Raises DatasetError for a missing source."""
    s = os.fspath(source)
    if re.match(r"^https?://", s, re.I):
        return iter([_url_item(s, timeout, max_bytes, "images")])
    path = local_path(s)
    if not path.exists():
        raise DatasetError(f"source {s} not found: check the path (a folder, .zip, URL list or image file)")
    if path.is_dir():
        return _walk_folder(path, max_bytes)
    if file_problem(path):  # a FIFO would block the zip check below, /dev/zero never ends
        return iter([Rejected(str(path), file_problem(path))])
    if path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
        try:
            zf = stack.enter_context(zipfile.ZipFile(path))
        except (zipfile.BadZipFile, OSError) as e:
            return iter([Rejected(str(path), f"not a readable zip archive: {e}")])
        return _walk_zip(path, zf, max_bytes)
    if path.suffix.lower() in URL_LIST_SUFFIXES:
        return _walk_url_list(path, timeout, max_bytes)
    cap = path.with_suffix(CAPTION_EXT)
    caption = (lambda: _read_sidecar(cap, max_bytes)) if cap.exists() and cap != path else (lambda: None)
    return iter([SourceItem(str(path), path.name, lambda: _read_file(path, max_bytes), caption, group="images",
                            caption_source=str(cap))])
