"""Write requirements/colab-<DATE>.txt: the versions Colab's GPU runtime ships of every package in the
kit's locked stack, from Colab's published `pip-freeze.gpu.txt` (googlecolab/backend-info).

    python scripts/colab_constraints.py FREEZE --date 2026-08 --source "googlecolab/backend-info ..."

The file is what `make test-colab` preinstalls before installing the kit as notebook 00 does, and what
lora_nb.notebook.doctor.TESTED's oldest versions are checked against. Refresh it when Colab updates its image.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
ALWAYS = ("pip", "setuptools", "torch", "torchvision", "torchaudio")  # how pip behaves; what must never change


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, tuple[str, str]]:
    """{normalised name: (name as written, version)} of a freeze or lock file's `name==version` lines."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = LINE.match(line)
        if m:
            out[norm(m.group(1))] = (m.group(1), m.group(2))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("freeze", type=Path, help="Colab's pip-freeze.gpu.txt")
    ap.add_argument("--date", required=True, help="the snapshot's date, e.g. 2026-08")
    ap.add_argument("--source", required=True, help="where the freeze was read (repository, path, revision)")
    ap.add_argument("--python", default="3.13", help="the runtime's Python (os-info-gpu.txt)")
    args = ap.parse_args()
    colab = pins(args.freeze)
    locked = set(pins(ROOT / "requirements" / "lock.txt"))
    keep = sorted((n for n in colab if n in locked or n in ALWAYS), key=str)
    out = ROOT / "requirements" / f"colab-{args.date}.txt"
    header = [
        f"# Colab's GPU runtime, snapshot of {args.date}: Python {args.python}; "
        "the versions it ships of every package",
        "# in the kit's locked stack (requirements/lock.txt), plus pip, setuptools and torch.",
        f"# Source: {args.source}",
        f"# Written by: python scripts/colab_constraints.py FREEZE --date {args.date} (never edited by hand).",
        "# `make test-colab` installs these as the runtime's preinstalled packages (torch's line is replaced by the",
        "# CPU build of the lock: the only CPU wheel on this index), then the kit exactly as notebook 00 does.",
    ]
    out.write_text("\n".join(header + [f"{colab[n][0]}=={colab[n][1]}" for n in keep]) + "\n", encoding="utf-8")
    print(f"wrote {out.relative_to(ROOT)}: {len(keep)} packages")


if __name__ == "__main__":
    main()
