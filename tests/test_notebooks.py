"""The course notebooks: committed clean (no outputs, a parameters cell, Colab badge, short cells), and
executed top to bottom in a real kernel in smoke mode (tiny model, sample dataset, two steps), one
project shared by all seven, with assertions on the files each one wrote and the pictures it showed."""

import ast
import importlib.util
import json
from pathlib import Path

import pytest

from lora_nb.toy.builtin import builtin_model_dir

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("sync_source", ROOT / "scripts" / "sync_source.py")
sync_source = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sync_source)
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = ["00_setup", "01_collect", "02_crop", "03_caption", "04_clean_tags", "05_train", "06_evaluate"]
COLAB = "https://colab.research.google.com/github/{}/blob/main/notebooks/{}.ipynb"
WIDGET = "application/vnd.jupyter.widget-view+json"


def _read(name):
    return nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)


def _is_install(cell):
    return "%pip install" in cell.source


# --- the committed files -------------------------------------------------------------------------
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_clean_and_follows_the_conventions(name):
    raw = json.loads((NB_DIR / f"{name}.ipynb").read_text(encoding="utf-8"))
    assert raw["nbformat"] == 4
    nb = _read(name)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "strip outputs before committing"
    intro = nb.cells[0]
    assert intro.cell_type == "markdown" and COLAB.format(sync_source.source().removeprefix("https://github.com/"),
                                                          name) in intro.source
    for heading in ("What you will learn", "Prerequisites", "docs/sources.md"):
        assert heading in intro.source, heading
    prose = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert "rules of thumb" in intro.source.lower() and "中文说明" in "".join(prose[:2])
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged 'parameters' (papermill)"
    tree = ast.parse(params[0].source)
    assert tree.body and all(isinstance(s, ast.Assign) for s in tree.body), "plain assignments only"
    for s in tree.body:
        ast.literal_eval(s.value)  # plain values, no code
    install = [c for c in code if _is_install(c)]
    assert len(install) == 1 and code.index(install[0]) < code.index(params[0])
    src = install[0].source
    assert '"google.colab" in sys.modules' in src  # the install cell's safety: tests/test_source.py
    for c in code:
        if c is params[0] or c is install[0]:
            continue
        lines = [ln for ln in c.source.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        assert 1 <= len(lines) <= 5, f"cells are 1-5 lines calling lora_nb:\n{c.source}"


# --- executed in a real kernel -------------------------------------------------------------------
@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """Environment the kernels inherit: smoke mode (the built-in tiny-shapes model), offline, projects in tmp."""
    root = tmp_path_factory.mktemp("nb")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LORA_NB_SMOKE", "1")
        mp.setenv("LORA_NB_PROJECTS", str(root / "projects"))
        mp.delenv("LORA_NB_LANG", raising=False)
        mp.delenv("LORA_NB_PROJECT", raising=False)
        for k, v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1",
                     "MPLBACKEND": "Agg", "TOKENIZERS_PARALLELISM": "false"}.items():
            mp.setenv(k, v)
        yield {"root": root, "project": root / "projects" / "my_lora", "done": {}}


def _execute(name, timeout=600):
    nb = _read(name)
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(NB_DIR)}})
    client.execute()
    return nb


def _run_in_order(smoke, name):
    i = NOTEBOOKS.index(name)
    failed = [n for n in NOTEBOOKS[:i] if smoke["done"].get(n) is not True]
    if failed:
        pytest.skip(f"needs {failed[0]} to have run successfully first")
    smoke["done"][name] = False
    nb = _execute(name)
    smoke["done"][name] = True
    # quiet runs: nothing on stderr (library warnings, stray progress bars) that the learner cannot act on
    noise = [(c.source.splitlines()[0], o.text[:300]) for c in nb.cells if c.cell_type == "code" for o in c.outputs
             if o.output_type == "stream" and o.name == "stderr"]
    assert not noise, f"{name} wrote to stderr: {noise}"
    return nb


def _outputs(cell_or_nb, mime=None):
    cells = cell_or_nb.cells if hasattr(cell_or_nb, "cells") else [cell_or_nb]
    outs = [o for c in cells if c.cell_type == "code" for o in c.outputs]
    if mime is None:
        return outs
    return [o for o in outs if mime in o.get("data", {})]


def _text(nb):
    return "".join(o.get("text", "") for o in _outputs(nb) if o.output_type == "stream") + "".join(
        o["data"].get("text/html", "") + o["data"].get("text/markdown", "") for o in _outputs(nb) if "data" in o)


def _cell(nb, needle):
    return next(c for c in nb.cells if c.cell_type == "code" and needle in c.source)


@pytest.mark.slow
def test_00_setup(smoke):
    nb = _run_in_order(smoke, "00_setup")
    proj = smoke["project"]
    data = json.loads((proj / "project.json").read_text(encoding="utf-8"))
    assert data["family"] == "sd15" and "setup" in data["steps"]
    cfg = (proj / "config.toml").read_text(encoding="utf-8")
    assert f'pretrained_model = "{builtin_model_dir()}"' in cfg and "resolution = 64" in cfg
    report_html = _outputs(_cell(nb, "run_selftest"), "text/html")[0]["data"]["text/html"]
    assert "Self-test passed" in report_html and "2 steps on the tiny model" in report_html
    assert "Smoke mode" in _text(nb)


@pytest.mark.slow
def test_00_setup_keeps_lora_nb_lang(tmp_path, monkeypatch):
    """LORA_NB_LANG=zh and 00_setup as shipped (LANGUAGE = ""): Chinese from the first output on, saved as zh."""
    for k, v in {"LORA_NB_SMOKE": "1", "LORA_NB_PROJECTS": str(tmp_path / "projects"), "LORA_NB_LANG": "zh",
                 "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg",
                 "TOKENIZERS_PARALLELISM": "false"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("LORA_NB_PROJECT", raising=False)
    nb = _execute("00_setup")
    first = next(o for o in _outputs(nb) if o.output_type == "stream")["text"]
    assert first.startswith(("在本地运行", "运行在 Google Colab 上")), first
    data = json.loads((tmp_path / "projects" / "my_lora" / "project.json").read_text(encoding="utf-8"))
    assert data["language"] == "zh"


@pytest.mark.slow
def test_01_collect(smoke):
    nb = _run_in_order(smoke, "01_collect")
    ds = smoke["project"] / "dataset"
    assert sorted(p.name for p in ds.iterdir() if p.is_dir()) == ["20_dotted_ring", "20_zigzag_star"]
    # the raw sample: 24 good pictures, 3 without a caption, the truncated star_21.png rejected by name
    assert len(list(ds.glob("*/*.png"))) == 24 and len(list(ds.glob("*/*.txt"))) == 21
    assert (ds / "manifest.json").is_file()
    assert "20_zigzag_star/star_21.png: corrupt or truncated" in _text(nb)
    assert "unbalanced concepts" in _text(nb)  # the audit's seed-000 warning on the sample
    assert "small on purpose" in _text(nb)
    assert len(_outputs(nb, "image/png")) >= 2  # balance chart + audit grid


@pytest.mark.slow
def test_02_crop(smoke):
    from PIL import Image

    nb = _run_in_order(smoke, "02_crop")
    crops = sorted((smoke["project"] / "cropped").glob("*/*.png"))
    assert len(crops) == 24 and all(Image.open(p).size == (64, 64) for p in crops)
    assert len(list((smoke["project"] / "cropped").glob("*/*.txt"))) == 21  # captions travel along
    report = json.loads((smoke["project"] / "cropped" / "crop_report.json").read_text(encoding="utf-8"))
    wide = [i for i in report["items"] if i["source_size"][0] != i["source_size"][1]]
    assert len(wide) >= 15 and all(tuple(i["box"]) != (0, 0, *i["source_size"]) for i in wide)  # the raw set
    assert _outputs(nb, "image/png")  # before/after preview


@pytest.mark.slow
def test_03_caption(smoke):
    nb = _run_in_order(smoke, "03_caption")
    data = json.loads((smoke["project"] / "project.json").read_text(encoding="utf-8"))
    assert data["steps"]["caption"]["output"] == "cropped"  # stored relative: the project can move
    assert "toy: wrote 3 caption(s), skipped 21 already captioned" in _text(nb)  # the toy captioner fills the gaps
    assert _outputs(_cell(nb, "caption_editor("), WIDGET)  # the editor widget is shown
    assert _outputs(nb, "image/png")


@pytest.mark.slow
def test_04_clean_tags(smoke):
    nb = _run_in_order(smoke, "04_clean_tags")
    clean = smoke["project"] / "clean"
    caps = sorted(clean.glob("*/*.txt"))
    assert len(caps) == 24
    assert all(c.read_text(encoding="utf-8").startswith("This image is labeled as ") for c in caps)
    assert "CLIP tokens" in _text(nb) and "watermark" not in "".join(c.read_text(encoding="utf-8") for c in caps)
    assert "-This image is labeled as donpzishnk. a toy star" in _text(nb) and "(no changes)" not in _text(nb)
    assert "+This image is labeled as donpzishnk. a toy star" in _text(nb)  # the diff: ids added, tags removed
    assert _outputs(nb, "image/png")  # tag frequency chart


@pytest.mark.slow
def test_05_train(smoke):
    from safetensors.torch import load_file

    nb = _run_in_order(smoke, "05_train")
    run = smoke["project"] / "runs" / "lora"
    assert any(k.startswith("lora_unet_") for k in load_file(str(run / "lora.safetensors")))
    assert (run / "lora_diffusers" / "pytorch_lora_weights.safetensors").is_file()
    log = [json.loads(ln) for ln in (run / "logs" / "train_log.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["step"] for r in log if "loss" in r] == [1, 2]
    samples = sorted((run / "samples").glob("*.png"))
    assert len(samples) == 3  # one caption per concept + one unrelated prompt (Flux LoRA guide)
    live = _cell(nb, "LiveTrainDisplay")
    assert _outputs(live, WIDGET)  # progress bar + stop button
    assert len(_outputs(live, "image/png")) >= 2  # the live loss plot and the latest validation images
    assert "Training plan" in _text(nb)  # the plan summary before launch
    assert "From the advisor" in _text(nb)  # the fields smoke mode leaves unset (rank, alpha) come from the advisor
    assert _outputs(_cell(nb, "ui.config_form("), WIDGET)  # the settings form
    data = json.loads((smoke["project"] / "project.json").read_text(encoding="utf-8"))
    assert data["steps"]["train"]["files"]["kohya"].endswith("lora.safetensors")
    assert "sample_prompts" in (smoke["project"] / "config.toml").read_text(encoding="utf-8")


@pytest.mark.slow
def test_06_evaluate(smoke):
    from PIL import Image

    nb = _run_in_order(smoke, "06_evaluate")
    grid = smoke["project"] / "evaluate" / "xy_grid.png"
    assert grid.is_file() and Image.open(grid).size[0] > 2 * 64
    assert len(_outputs(nb, "image/png")) >= 3  # measures plot + XY grid + forgetting check
    text = (smoke["project"] / "evaluate" / "report.md").read_text(encoding="utf-8")
    assert "Take step" in _text(nb) and "| checkpoint | step | strength |" in text  # the recommendation
    assert (smoke["project"] / "evaluate" / "measures.png").is_file()
    assert _outputs(_cell(nb, "ui.options_form("), WIDGET)  # the sample settings form
    assert "change with/without LoRA" in _text(nb)
    files_md = _outputs(_cell(nb, '"files.md"'), "text/markdown")  # which tool takes which file
    assert files_md and "ComfyUI" in files_md[0]["data"]["text/markdown"]


@pytest.mark.slow
def test_a_notebook_opened_too_early_says_which_step_to_run(tmp_path, monkeypatch):
    from lora_nb.notebook.project import Project

    monkeypatch.setenv("LORA_NB_PROJECTS", str(tmp_path))
    monkeypatch.setenv("LORA_NB_SMOKE", "1")
    Project.create(tmp_path / "my_lora")  # set up, but nothing collected
    with pytest.raises(nbclient.exceptions.CellExecutionError) as err:
        _execute("02_crop", timeout=120)
    msg = str(err.value)
    assert "LoraNbError" in msg and "run 01_collect first: no dataset in" in msg
    assert "Traceback" not in msg  # the message, not a traceback wall
