"""JSON-lines files that survive a torn write: the trainer's log and everything that reads it.

An append-only log cut off by a full disk, a power cut or a Colab disconnect ends in half a line.
Readers skip such lines (and any other line that is not a JSON object) and say so in one line,
instead of failing with a JSONDecodeError until the user edits the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .i18n import t

# the trainer's loss log inside a run folder: written by training.runlog, read by evaluate.lossplot
TRAIN_LOG = Path("logs") / "train_log.jsonl"


def read_json_lines(path: str | os.PathLike) -> tuple[list[dict], list[int]]:
    """(records, numbers of the lines that are not a JSON object), blank lines ignored."""
    records, bad = [], []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                bad.append(n)
                continue
            if isinstance(rec, dict):
                records.append(rec)
            else:
                bad.append(n)
    return records, bad


def bad_lines_note(path: str | os.PathLike, bad: list[int], action: str = "skipped") -> str:
    """One line naming the unreadable lines of `path` (empty when there are none)."""
    if not bad:
        return ""
    shown = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
    return t(f"log.bad_lines.{action}" + ("_one" if len(bad) == 1 else ""), name=Path(path).name, n=len(bad),
             shown=shown)
