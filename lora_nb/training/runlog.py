"""The run's log: per-step loss and lr plus checkpoint/sample events as JSON lines.

Written by the trainer to <output_dir>/logs/train_log.jsonl and read back with
`lora_nb.evaluate.lossplot.read_train_log` (the notebooks plot it).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..fileio import atomic_write_text
from ..jsonlines import TRAIN_LOG, bad_lines_note, read_json_lines


class RunLog:
    """Appends one JSON object per line; only the main process writes."""

    def __init__(self, out: Path, enabled: bool = True):
        self.path = out / TRAIN_LOG
        self.enabled = enabled
        if enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, obj: dict) -> None:
        if self.enabled:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(obj) + "\n")

    def event(self, name: str, step: int, **kw) -> None:
        self.write({"event": name, "step": step, **kw})

    def truncate_after(self, step: int) -> str:
        """On resume, drop lines logged after the state we resume from (they will be redone) and any
        unreadable line (a torn last line would otherwise glue onto the next record). Returns a one-line
        note about dropped unreadable lines, or ''."""
        if not (self.enabled and self.path.is_file()):
            return ""
        records, bad = read_json_lines(self.path)
        keep = [r for r in records if _step(r) <= step]
        atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in keep))
        return bad_lines_note(self.path, bad, action="dropped")


def _step(rec: dict) -> float:
    try:
        return float(rec.get("step", 0))
    except (TypeError, ValueError):
        return float("inf")  # a record with a garbled step cannot be placed: drop it with the redone steps
