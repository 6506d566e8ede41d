"""Reading and writing caption sidecars, whatever editor wrote them.

Learners' captions come from Windows Notepad (UTF-8 with a BOM, or UTF-16), from Chinese
tools that save GBK/GB18030, with CRLF line ends, sometimes on several lines. kohya reads only
the first line of a caption as strict UTF-8, so a BOM ends up inside the first tag and a GBK file
stops the run. Here every caption is decoded the same way by the trainer, the tag cleaner, the
statistics and the editor, and written back as plain UTF-8 on one line, atomically.
"""

from __future__ import annotations

import codecs
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import DatasetError
from .fscheck import file_problem

CAPTION_EXT = ".txt"  # kohya's caption sidecar: image.png -> image.txt

# Tried in order after the BOM checks. GB18030 is a superset of GBK and GB2312, so one fallback
# covers every Chinese Windows code page; plain UTF-8 goes first because valid UTF-8 multibyte
# text almost never decodes as something else by accident, while the reverse is common.
_FALLBACK_ENCODINGS = ("utf-8", "gb18030")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# A line ending in one of these continues the sentence/tag list; otherwise lines are tags.
_CONTINUES = tuple(",.;:!?，。；：！？、")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff]")


@dataclass(frozen=True)
class CaptionText:
    """A decoded caption and how it was stored, so reports can say what was fixed."""

    text: str
    encoding: str  # "utf-8", "utf-8-sig", "utf-16", "gb18030" or "empty"
    crlf: bool  # had Windows line ends
    lines: int  # non-empty lines joined into one

    @property
    def clean_utf8(self) -> bool:
        """True when the file is already plain UTF-8 on one line (no BOM, no CRLF)."""
        return self.encoding in ("utf-8", "empty") and not self.crlf and self.lines <= 1


def decode_text(data: bytes, source: str = "caption") -> tuple[str, str]:
    """(text, encoding): BOM-marked UTF-8/UTF-16, else UTF-8, else GB18030 (GBK); else DatasetError."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:  # a BOM is a promise: a file that breaks it is reported, not guessed at
                return data.decode(enc), enc
            except UnicodeDecodeError as e:
                raise DatasetError(f"{source}: starts with a {enc} byte-order mark but is not valid {enc} "
                                   f"({e.reason} at byte {e.start}) -> re-save it as UTF-8") from None
    for enc in _FALLBACK_ENCODINGS:
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError:
            continue
    raise DatasetError(f"{source}: the text is neither UTF-8 nor GBK/GB18030 -> open it in a text editor and "
                       f"save it as UTF-8")


def decode_caption(data: bytes, source: str = "caption") -> CaptionText:
    """Decode caption bytes (see `decode_text`), normalise line ends and join several non-empty
    lines into one caption (kohya would keep only the first and drop the rest without a word)."""
    if not data.strip():
        return CaptionText("", "empty", False, 0)
    text, encoding = decode_text(data, source)
    crlf = "\r" in text
    lines = [_CONTROL.sub("", ln).strip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [ln for ln in lines if ln]
    return CaptionText(join_lines(lines), encoding, crlf, len(lines))


def join_lines(lines: list[str]) -> str:
    """One caption from several lines: sentences join with a space, bare tag lines with ', '."""
    out = ""
    for ln in lines:
        if not out:
            out = ln
        elif out.endswith(_CONTINUES):
            out = f"{out} {ln}"
        else:
            out = f"{out}, {ln}"
    return out


def _read_bytes(path: Path) -> bytes:
    problem = file_problem(path) if path.exists() else None
    if problem:  # a FIFO blocks forever, /dev/zero never ends
        raise DatasetError(f"{path}: {problem} -> replace it with a text file")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found -> check the path (for a caption: write one with "
                           f"lora-nb caption, or remove the image)") from None
    except OSError as e:
        raise DatasetError(f"{path}: cannot read it ({e.strerror}) -> check the file permissions") from None


def read_caption_info(path: str | os.PathLike) -> CaptionText:
    """Read and decode one caption file; a missing or undecodable file raises DatasetError."""
    path = Path(path)
    return decode_caption(_read_bytes(path), str(path))


def read_text(path: str | os.PathLike) -> str:
    """A whole text file (tag lists, blacklists) decoded like a caption, lines kept, LF line ends."""
    path = Path(path)
    text, _ = decode_text(_read_bytes(path), str(path))
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_caption(path: Path) -> str:
    """The caption text of one sidecar file, as the trainer sees it.

    Handles a UTF-8 BOM, UTF-16 with BOM, GBK/GB18030, CRLF or CR line ends and several lines;
    surrounding whitespace is stripped and an empty file gives "". Text in no known encoding
    raises DatasetError naming the file.
    """
    return read_caption_info(path).text


def write_caption(path: str | os.PathLike, text: str) -> Path:
    """Write a caption as UTF-8 without BOM on one line, atomically (temp file + rename)."""
    from .fileio import atomic_write_text

    clean = join_lines([ln.strip() for ln in _CONTROL.sub("", text).splitlines() if ln.strip()])
    return atomic_write_text(path, clean + "\n" if clean else "")


def backup_files(root: str | os.PathLike, files: list[Path], label: str = "captions") -> Path | None:
    """Copy `files` (inside `root`) to `root/.lora_nb_backup/<label>-<time>/`, keeping their
    relative paths, before they are changed in place. Returns the backup folder (None if no files).

    The folder starts with a dot, so dataset scans skip it; restoring is a plain copy back.
    """
    if not files:
        return None
    root = Path(root)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest = root / ".lora_nb_backup" / f"{label}-{stamp}"
    n = 1
    while dest.exists():
        n += 1
        dest = root / ".lora_nb_backup" / f"{label}-{stamp}-{n}"
    for f in files:
        target = dest / Path(f).resolve().relative_to(root.resolve())
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, target)
    return dest
