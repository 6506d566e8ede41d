"""The install source is set in one place (pyproject.toml [project.urls] Repository): the notebooks'
install cells and Colab badges and the README's badges are generated from it; and every install cell
installs the kit from that source only, without being able to replace a package Colab preinstalled."""

import importlib.util
import json
import re
import shlex
from pathlib import Path

import pytest

from lora_nb.notebook import doctor

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("sync_source", ROOT / "scripts" / "sync_source.py")
sync_source = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sync_source)
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# pip options that let an install replace what is there, or fetch from elsewhere than the index + the source
FORBIDDEN = {"-U", "--upgrade", "--force-reinstall", "-I", "--ignore-installed", "--no-deps", "-i", "--index-url",
             "--extra-index-url", "-f", "--find-links", "--pre", "--upgrade-strategy", "--no-index", "--user"}


def test_generated_places_match_the_source():
    assert sync_source.sync(check=True) == [], "run `make sync-source` after changing the Repository URL"
    url = sync_source.source()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.count(url.removeprefix("https://github.com/")) >= len(NOTEBOOKS)
    text = "".join(p.read_text(encoding="utf-8") for p in NOTEBOOKS) + readme
    # no other repository address for the kit anywhere (a stale or second source)
    kits = set(re.findall(r"github(?:\.com)?/([\w.-]+/lora-nb)\b", text))
    assert kits == {url.removeprefix("https://github.com/")}


def _install_cells():
    for path in NOTEBOOKS:
        cells = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
                 if c["cell_type"] == "code" and "pip install" in "".join(c["source"])]
        assert len(cells) == 1, f"{path.name}: one install cell"
        yield path.name, "".join(cells[0]["source"])


@pytest.mark.parametrize("name, cell", list(_install_cells()))
def test_install_cell_cannot_replace_preinstalled_packages_or_use_another_source(name, cell):
    url = sync_source.source()
    pre = sync_source.PREINSTALLED
    # the doctor reads it
    assert pre == "/tmp/lora-nb-preinstalled.txt" and Path(pre).name == doctor.PREINSTALLED_FILE.name
    lines = [ln.strip() for ln in cell.splitlines()]
    shell = [ln for ln in lines if ln.startswith(("!", "%pip"))]
    freeze = [i for i, ln in enumerate(shell) if "pip list --format=freeze" in ln and ln.endswith(f"> {pre}")]
    installs = [i for i, ln in enumerate(shell) if "pip install" in ln]
    assert freeze and installs and freeze[0] < min(installs), "the preinstalled list is written before pip runs"
    for i in installs:
        args = shlex.split(shell[i].split("pip install", 1)[1])
        assert not FORBIDDEN & {a.split("=")[0] for a in args}, shell[i]
        assert args[args.index("-c") + 1] == pre, "every pip install is constrained by everything preinstalled"
        targets = [a for a in args if not a.startswith("-") and a != pre]
        assert targets == [f"{sync_source.CLONE_DIR}[{sync_source.EXTRAS}]"], "only the kit, from its clone"
        assert not any(re.match(r"(torch|numpy|pillow|scipy)\b", t) for t in targets)
    clones = [ln for ln in shell if "git clone" in ln]
    assert len(clones) == 1 and shlex.split(clones[0])[-2:] == [url, sync_source.CLONE_DIR]
    assert set(re.findall(r"https?://\S+", cell)) == {url}, "no address but the kit's source"
