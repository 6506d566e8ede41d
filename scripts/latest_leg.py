"""`make test-latest`: the newest release of everything pyproject.toml allows, without the lock — what a
new user's `pip install` resolves today (torch excepted: the lock's CPU build, the only one here). Run it before
every change to the lock and whenever upstream releases; it prints the row for README.md's compatibility table
(date, versions, result).
"""

from __future__ import annotations

import argparse
import datetime
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cpu_torch() -> str:
    """The lock's torch line in requirements/lock.in: the CPU build the tests run on (on this index the only
    CPU wheel, for Python 3.11; any newer torch would be a CUDA build of gigabytes)."""
    lines = (ROOT / "requirements" / "lock.in").read_text(encoding="utf-8").splitlines()
    return next(ln.strip() for ln in lines if ln.startswith("torch=="))
COLUMNS = ("torch", "diffusers", "transformers", "peft", "accelerate", "bitsandbytes")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--venv", default=".venv-latest")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("pytest_args", nargs="*", help="extra pytest arguments (default: the whole suite)")
    args = ap.parse_args()
    t0 = time.time()
    venv = ROOT / args.venv
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([args.python, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    subprocess.run([py, "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([py, "-m", "pip", "install", "-q", cpu_torch()], check=True)
    # everything newest but torch: the CPU build stays (a newer torch here is a CUDA build of gigabytes)
    keep = venv / "torch-constraint.txt"
    keep.write_text(cpu_torch() + "\n", encoding="utf-8")
    subprocess.run([py, "-m", "pip", "install", "-q", "--upgrade", "--upgrade-strategy", "eager", "-c", str(keep),
                    "-e", ".[dev]"], check=True, cwd=ROOT)
    frozen = subprocess.run([py, "-m", "pip", "list", "--format=freeze"], check=True, capture_output=True,
                            text=True).stdout
    versions = {re.sub(r"[-_.]+", "-", n).lower(): v for n, _, v in
                (ln.partition("==") for ln in frozen.splitlines() if "==" in ln)}
    rc = subprocess.run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args.pytest_args], cwd=ROOT).returncode
    result = "passed" if rc == 0 else "FAILED"
    row = (f"| latest (`make test-latest`, no lock) | {datetime.date.today():%Y-%m-%d} | "
           f"{sys.version_info.major}.{sys.version_info.minor} | "
           + " | ".join(versions.get(c, "-") for c in COLUMNS) + f" | {result} |")
    print(f"test-latest: {result} in {time.time() - t0:.0f} s\nREADME row:\n{row}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
