"""Check the installed library stack and this machine before training: each core package against the
kit's ranges and the versions the tests passed with, known-bad combinations with the command that fixes
them, torch kept as the runtime shipped it, GPU (name, VRAM, bf16), disk, RAM and Google Drive.
Exits 1 when a blocking problem is found.

    lora-nb doctor
    lora-nb doctor --train        # and two real training steps on the built-in tiny model
    lora-nb doctor --json
"""

from __future__ import annotations

import json

from ..notebook.doctor import diagnose
from ..notebook.selftest import run_selftest


def add_arguments(p):
    p.add_argument("--train", action="store_true", help="also train two steps on the built-in tiny model (~30 s)")
    p.add_argument("--json", action="store_true", help="print the checks as JSON (for scripts)")
    p.add_argument("--lang", choices=["en", "zh"], help="language of the verdict line (default: LORA_NB_LANG or en)")


def run(args) -> int:
    report = run_selftest() if args.train else diagnose()
    if args.json:
        print(json.dumps({"ok": report.ok, "checks": [
            {"name": c.name, "ok": c.ok, "warning": c.warning, "detail": c.detail, "fix": c.fix}
            for c in report.checks]}, ensure_ascii=False, indent=1))
    else:
        print(report.summary(args.lang))
    return 0 if report.ok else 1
