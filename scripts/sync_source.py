"""Write the kit's install source into the notebooks' install cells and Colab badges and the README's badges.

The source is set in one place, pyproject.toml's `[project.urls] Repository` (a GitHub repository);
everything else is generated from it here. `--check` changes nothing and exits 1 listing what differs
(tests/test_source.py runs it).

    python scripts/sync_source.py            # after changing the Repository URL
    python scripts/sync_source.py --check
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
CLONE_DIR = "/content/lora-nb"  # where the install cell clones the kit on Colab
PREINSTALLED = "/tmp/lora-nb-preinstalled.txt"  # lora_nb.notebook.doctor.PREINSTALLED_FILE on Colab
EXTRAS = "optimizers,dataset,captioning,rembg"
INSTALL_MARKER = "# Colab: install the kit"
BADGE_RE = re.compile(r"\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]"
                      r"\(https://colab\.research\.google\.com/github/[^)]*/notebooks/(\w+)\.ipynb\)")


def source() -> str:
    """The install source: pyproject.toml [project.urls] Repository."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    url = data["project"]["urls"]["Repository"].rstrip("/")
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url):
        sys.exit(f"pyproject.toml [project.urls] Repository: {url!r} is not https://github.com/OWNER/REPO "
                 f"-> Colab opens notebooks from GitHub; set the kit's GitHub repository there")
    return url


def badge(url: str, notebook: str) -> str:
    repo = url.removeprefix("https://github.com/")
    return ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{repo}/blob/main/notebooks/{notebook}.ipynb)")


def install_cell(url: str) -> str:
    """The install cell every notebook starts with. Colab's own packages are written out first and used
    as constraints, so pip can add the kit's missing packages but never replace one Colab ships
    (torch above all); the kit comes from `url` and nowhere else."""
    return "\n".join([
        f"{INSTALL_MARKER} without replacing any package Colab ships (torch above all). Locally: nothing to do.",
        "import os, sys",
        f'if "google.colab" in sys.modules and not os.path.isdir("{CLONE_DIR}"):',
        f"    !{{sys.executable}} -m pip list --format=freeze > {PREINSTALLED}",
        f"    !git clone -q --depth 1 {url} {CLONE_DIR}",
        f'    %pip install -q -c {PREINSTALLED} -e "{CLONE_DIR}[{EXTRAS}]"',
        f'    sys.path.insert(0, "{CLONE_DIR}")',
    ])


def _sync_notebook(path: Path, url: str, check: bool) -> bool:
    raw = path.read_text(encoding="utf-8")
    nb = json.loads(raw)
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            text = BADGE_RE.sub(lambda m: badge(url, m.group(1)), text)
        elif cell["cell_type"] == "code" and "pip install" in text:
            text = install_cell(url)
        cell["source"] = text.splitlines(keepends=True)
    new = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    return _write(path, raw, new, check)


def _write(path: Path, old: str, new: str, check: bool) -> bool:
    if old == new:
        return False
    if not check:
        path.write_text(new, encoding="utf-8")
    return True


def sync(check: bool = False) -> list[Path]:
    """Bring every generated place in line with the source; the files that were (or would be) changed."""
    url = source()
    changed = [p for p in sorted(NOTEBOOKS.glob("*.ipynb")) if _sync_notebook(p, url, check)]
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    if _write(readme, text, BADGE_RE.sub(lambda m: badge(url, m.group(1)), text), check):
        changed.append(readme)
    return changed


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file differs")
    args = ap.parse_args()
    changed = sync(args.check)
    for p in changed:
        print(("differs from the source: " if args.check else "updated: ") + str(p.relative_to(ROOT)))
    sys.exit(1 if (args.check and changed) else 0)
