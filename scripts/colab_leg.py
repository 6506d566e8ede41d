"""`make test-colab`: the kit on Colab's runtime, as a learner gets it.

1. A fresh venv with the package versions Colab's GPU runtime ships (requirements/colab-*.txt, from
   Colab's published pip freeze), with one substitution: torch is the lock's CPU build, because Colab's
   torch (a CUDA build for Python 3.13) has no CPU wheel here and the only CPU torch wheel on this index
   is for Python 3.11 — so the venv runs Python 3.11, not Colab's 3.13.
2. Notebook 00's install cell, run line by line exactly as written (same pip command, same constraints),
   with three substitutions that make it run off Colab: the source URL -> this checkout's git HEAD,
   /content/lora-nb -> a folder under build/, /tmp/lora-nb-preinstalled.txt -> a file under build/.
3. Nothing preinstalled may change: every `name==version` before the install must be there after it.
4. The notebooks in smoke mode and the core trainer/export/doctor tests, run from the installed clone.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import sync_source  # noqa: E402  (the install cell's constants: source, clone folder, constraints file)
from latest_leg import cpu_torch  # noqa: E402  (requirements/lock.in's torch: Colab's CUDA torch cannot run here)

CPU_TORCH = cpu_torch()
TESTS = ["tests/test_notebooks.py", "tests/test_trainer.py", "tests/test_export.py", "tests/test_adapters.py",
         "tests/test_families.py", "tests/test_evaluate.py", "tests/test_quantize.py", "tests/test_selftest.py",
         "tests/test_doctor.py", "tests/test_source.py"]


def sh(cmd: list[str] | str, **kw) -> None:
    print("+", cmd if isinstance(cmd, str) else " ".join(map(str, cmd)), flush=True)
    subprocess.run(cmd, check=True, shell=isinstance(cmd, str), **kw)


def freeze(py: Path) -> set[str]:
    out = subprocess.run([str(py), "-m", "pip", "list", "--format=freeze"], check=True, capture_output=True,
                         text=True).stdout
    return {ln.strip() for ln in out.splitlines() if "==" in ln}


def install_runtime(py: Path, pins: list[str], path: Path, keep: Path) -> list[str]:
    """Install Colab's `name==version` set. A release built only for Colab's newer Python (e.g. tifffile
    2026.8.16 needs >= 3.12) becomes `name<=version`, the newest this Python has; the substitutions
    are returned and printed, never silent."""
    pins, substituted = list(pins), []
    for _ in range(20):
        path.write_text("\n".join(pins) + "\n", encoding="utf-8")
        print("+ pip install -r", path, flush=True)
        run = subprocess.run([str(py), "-m", "pip", "install", "-q", "-c", str(keep), "-r", str(path)],
                             capture_output=True, text=True)
        if run.returncode == 0:
            break
        missing = re.search(r"No matching distribution found for ([A-Za-z0-9._-]+)==(\S+)", run.stderr)
        if not missing:
            sys.exit(run.stderr[-3000:])
        line = f"{missing.group(1)}=={missing.group(2)}"
        pins[pins.index(line)] = f"{missing.group(1)}<={missing.group(2)}"
        substituted.append(line)
    else:
        sys.exit("Colab's set does not install on this Python: " + ", ".join(substituted))
    if substituted:
        print(f"not installable on Python {sys.version.split()[0]}, replaced by the newest older release: "
              + ", ".join(substituted), flush=True)
    return substituted


def install_cell_commands() -> list[str]:
    """The shell lines of notebook 00's install cell (`!cmd` and `%pip args`), in order."""
    nb = json.loads((ROOT / "notebooks" / "00_setup.ipynb").read_text(encoding="utf-8"))
    (cell,) = [c for c in nb["cells"] if c["cell_type"] == "code" and "pip install" in "".join(c["source"])]
    lines = [ln.strip() for ln in "".join(cell["source"]).splitlines()]
    return [ln for ln in lines if ln.startswith(("!", "%pip"))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--venv", default=".venv-colab")
    ap.add_argument("--python", default=sys.executable, help="the interpreter for the venv (3.11: CPU torch)")
    args = ap.parse_args()
    t0 = time.time()
    venv, work = ROOT / args.venv, ROOT / "build" / "colab"
    shutil.rmtree(venv, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (constraints,) = sorted((ROOT / "requirements").glob("colab-*.txt"))[-1:]
    runtime = [ln for ln in constraints.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
    pip_pin = next(ln for ln in runtime if ln.startswith("pip=="))
    # torch's own lines give way to the CPU stand-in, and so does setuptools: torch 2.13 requires >= 77.0.3
    # where Colab's torch 2.11 ships beside 75.2.0 (pip resolves the kit's build backend apart anyway)
    skip = ("torch==", "torchvision==", "torchaudio==", "pip==", "setuptools==")
    preinstalled = [ln for ln in runtime if not ln.startswith(skip)]
    print("Colab lines not reproduced here:", ", ".join(ln for ln in runtime if ln.startswith(skip)), flush=True)
    (work / "runtime.txt").write_text("\n".join(preinstalled) + "\n", encoding="utf-8")

    # 1. the runtime: Colab's pip, the CPU torch, then Colab's versions of everything else
    sh([args.python, "-m", "venv", str(venv)])
    py = venv / "bin" / "python"
    sh([py, "-m", "pip", "install", "-q", pip_pin])
    sh([py, "-m", "pip", "install", "-q", CPU_TORCH])
    # the stand-in torch stays: a pin that conflicts with it fails here instead of fetching a CUDA torch
    torch_pin = next(ln for ln in freeze(py) if ln.startswith("torch=="))
    (work / "torch.txt").write_text(torch_pin + "\n", encoding="utf-8")
    substituted = install_runtime(py, preinstalled, work / "runtime.txt", work / "torch.txt")
    before = freeze(py)

    # 2. notebook 00's install cell, line by line
    clone, pre = work / "content" / "lora-nb", work / "lora-nb-preinstalled.txt"
    subs = {sync_source.source(): ROOT.as_uri(), sync_source.CLONE_DIR: str(clone), sync_source.PREINSTALLED: str(pre),
            "{sys.executable}": str(py)}
    env = dict(os.environ, PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}")
    for line in install_cell_commands():
        for old, new in subs.items():
            line = line.replace(old, new)
        line = f"{py} -m pip {line.removeprefix('%pip ')}" if line.startswith("%pip") else line[1:]
        sh(line, env=env)

    # 3. nothing preinstalled replaced
    after = freeze(py)
    changed = sorted(before - after)
    if changed:
        print("FAILED: the install cell replaced preinstalled packages:", ", ".join(changed))
        return 1
    added = sorted(after - before)
    print(f"install cell: nothing preinstalled changed ({len(before)} packages); added {len(added)}: "
          + ", ".join(added), flush=True)
    subprocess.run([py, "-m", "pip", "check"])  # reported: Colab's own set is not always consistent

    # 4. the notebooks and the core tests, from the installed clone, with the runtime's torch recorded
    torch_line = next(ln for ln in pre.read_text(encoding="utf-8").splitlines() if ln.startswith("torch=="))
    test_env = dict(env, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", LORA_NB_TORCH_PIN=torch_line.split("==")[1])
    rc = subprocess.run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS],
                        cwd=clone, env=test_env).returncode
    print(f"colab leg: {'passed' if rc == 0 else 'FAILED'} in {time.time() - t0:.0f} s "
          f"(runtime {constraints.name}, Python {sys.version.split()[0]}, {CPU_TORCH} CPU; older than Colab's "
          f"for want of a Python {sys.version.split()[0]} release: {', '.join(substituted) or 'none'})")
    return rc


if __name__ == "__main__":
    sys.exit(main())
