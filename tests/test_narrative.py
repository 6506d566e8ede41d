"""The notebooks' narrative beside the code, and the workshop teacher's guide (issue 16).

Notebooks (read as files, not executed): a short first cell, one 中文说明 detail cell that carries the
narrative in Chinese, short prose cells before the code they explain, a "What you should see" cell after
every cell that shows a result; 06's "if it looks like this, do that" table names the kit's own warnings.
docs/teaching.md and teaching.zh.md: every notebook named, the CPU-course timings those of a run recorded
in bench/README.md, the T4 figure the planner's, the kit's messages quoted as the kit writes them."""

import ast
import json
import re
from pathlib import Path

import pytest
from test_citations import defined_sources  # tests/ is on sys.path (pytest's rootdir-relative import)

from lora_nb.i18n import t

ROOT = Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(p.stem for p in NB_DIR.glob("*.ipynb"))
ZH_CELL = "<details><summary><b>中文说明</b></summary>"
SEE = "**What you should see:**"
# cells that show something although their last statement is an assignment
SHOWS = ("notebook_start(", "start_training(")
MAX_PROSE = 1100  # characters of a prose cell, tables and the zh detail cell not counted
MAX_INTRO_SHARE = 0.3  # the first cell's share of the English prose
DOCS = {"en": ROOT / "docs" / "teaching.md", "zh": ROOT / "docs" / "teaching.zh.md"}


def _cells(name):
    return [(c["cell_type"], "".join(c["source"])) for c in
            json.loads((NB_DIR / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]]


def _prose(cells):
    return [src for kind, src in cells if kind == "markdown" and not src.startswith("<details>")]


def _shows_a_result(src):
    """The cell's last statement is an expression (Jupyter displays it), or it calls a displaying helper."""
    code = "\n".join(ln[:len(ln) - len(ln.lstrip())] + "pass" if ln.lstrip().startswith(("!", "%")) else ln
                     for ln in src.splitlines())
    body = ast.parse(code).body
    return bool(body) and isinstance(body[-1], ast.Expr) or any(s in src for s in SHOWS)


def _flat(text):
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_prose_is_short_and_sits_beside_the_code(name):
    cells = _cells(name)
    prose = _prose(cells)
    assert len(cells[0][1]) / sum(map(len, prose)) <= MAX_INTRO_SHARE, "the first cell holds too much of the prose"
    details = [i for i, (kind, src) in enumerate(cells) if src.startswith("<details>")]
    assert details == [1] and cells[1][1].startswith(ZH_CELL) and cells[1][1].rstrip().endswith("</details>")
    for src in prose:
        text = "\n".join(ln for ln in src.splitlines() if not ln.startswith("|"))
        assert len(text) <= MAX_PROSE, f"split this markdown cell (one point per cell):\n{src[:200]}"
    run = 0
    for i, (kind, src) in enumerate(cells):
        run = run + 1 if kind == "code" else 0
        assert run <= 2, f"three code cells in a row without a word between them, the third:\n{src[:200]}"
        if kind == "code" and _shows_a_result(src):
            nxt = cells[i + 1] if i + 1 < len(cells) else ("", "")
            assert nxt[0] == "markdown" and nxt[1].startswith(SEE), f"say what this cell shows ({SEE}):\n{src[:200]}"


def _citations(text, sources):
    """{(English short title, section or '')} cited in `text`, Chinese titles mapped to the English ones."""
    names = {en: en for en in sources} | {f"《{s['zh']}》": en for en, s in sources.items()}
    pattern = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    found = set()
    for m in re.finditer(rf"({pattern})\s*((?:§[\d.]+(?:[、,，]\s*)?)*)", text):
        sections = re.findall(r"§(\d+(?:\.\d+)*)", m.group(2)) or [""]
        found |= {(names[m.group(1)], s) for s in sections}
    return found


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_zh_cell_carries_the_same_narrative(name):
    """The fastai-style short cells stay English; the zh detail cell carries their rules (with the same
    citations) and what each result cell shows."""
    cells = _cells(name)
    zh, prose = cells[1][1], _prose(cells)
    sources = defined_sources()
    english = set().union(*(_citations(p, sources) for p in prose))
    assert english and _citations(zh, sources) >= english, "cite in Chinese what the English cells cite"
    sees = sum(p.startswith(SEE) for p in prose)
    assert "你应该看到" in zh and sum(ln.startswith("- ") for ln in zh.splitlines()) >= sees


def test_06_says_what_to_do_for_each_warning_the_kit_gives():
    cells = _cells("06_evaluate")
    table = next((src for src in _prose(cells) if "If it looks like this, do that" in src), "")
    assert table, "06 needs its 'If it looks like this, do that' table"
    rows = [ln for ln in table.splitlines() if ln.startswith("|")]
    assert len(rows) >= 5, "a table: what the grid and the report show | what it is | what to do"
    zh = cells[1][1]
    for key in ("rec.underfit", "rec.not_learned", "rec.overfit", "rec.leak"):
        assert t(key, "en").split(":")[0] in table, key  # the warning as the report prints it
        assert t(key, "zh").split("：")[0] in zh, key
    assert t("rec.forgetting_bad", "en").split(",")[0] in table and t("rec.forgetting_bad", "zh").split("，")[0] in zh
    for fix in ("earlier checkpoint", "lower strength", "train longer", "learning rate", "captions", "trigger"):
        assert fix in table, fix
    for source in ("LoRA explainer (过拟合 / 欠拟合)", "FluxTrainer walkthrough §8"):
        assert source in table, source
    # the messages the "What you should see" cells quote are the kit's
    text = "".join(src for _, src in cells)
    for key in ("rec.none", "rec.forgetting_ok"):
        assert t(key, "en").rstrip(".") in text, key
    assert t("form.valid", "en").strip("✓ .") in "".join(src for _, src in _cells("05_train"))


# --- the teacher's guide -----------------------------------------------------------------------------
def _course_runs():
    """bench/README.md's table of the CPU course's notebook timings: [(run, [seconds for 00..06], total)]."""
    text = (ROOT / "bench" / "README.md").read_text(encoding="utf-8")
    lines = text[text.index("| run | 00 | 01 |"):].splitlines()
    runs = []
    for ln in lines[2:]:
        if not ln.startswith("|"):
            break
        cols = [c.strip() for c in ln.strip("|").split("|")]
        seconds = [int(c.removesuffix(" s")) if c.endswith(" s") else None for c in cols[1:8]]
        total = re.match(r"\**(\d+) s", cols[8])
        runs.append((cols[0], seconds, int(total[1]) if total else None))
    return runs


def _guide_timings(text):
    """{notebook: seconds} and the total from the guide's timing table."""
    rows = {m[1]: int(m[2]) for m in re.finditer(r"^\| `(\d\d_\w+)` \|[^|]*\| (\d+) s \|", text, re.MULTILINE)}
    total = re.search(r"^\|[^|`]*\| *\| (\d+) s", text, re.MULTILINE)
    return rows, int(total[1]) if total else None


@pytest.mark.parametrize("lang", list(DOCS))
def test_teaching_guide_names_every_notebook_and_its_measured_time(lang):
    text = DOCS[lang].read_text(encoding="utf-8")
    for name in NOTEBOOKS:
        assert f"### {name}" in text, f"{DOCS[lang].name}: no section for {name}"
    rows, total = _guide_timings(text)
    assert sorted(rows) == NOTEBOOKS, f"{DOCS[lang].name}: the timing table should have a row per notebook"
    recorded = [(run, total_s) for run, secs, total_s in _course_runs() if secs == [rows[n] for n in NOTEBOOKS]]
    assert recorded, f"{DOCS[lang].name}: its CPU-course timings are not a run recorded in bench/README.md"
    run, total_s = recorded[0]
    assert total == total_s and run[:10] in text, "the total and the run's date as bench/README.md records them"
    assert "OMP_NUM_THREADS=1" in text and "bench/course_notebooks.py" in text and "LORA_NB_COURSE=cpu" in text
    assert "HF_HUB_OFFLINE=1" in text


def test_teaching_guide_t4_figure_is_the_planners():
    """The SD1.5 starting config on the sample dataset (as 05_train plans it: the advisor's recipe for
    what the learner left unset), on a T4: steps, time and peak."""
    from lora_nb.config import Config
    from lora_nb.planning.planner import plan
    from lora_nb.planning.starting import starting_config
    from lora_nb.training.data import suggest_prompts

    config = Config(family="sd15", train_data_dir=str(ROOT / "datasets_sample"), upscale_small=True)
    config = config.replace(sample_prompts=suggest_prompts(config.train_data_dir))
    p = plan(starting_config(config, purpose="object").config, purpose="object", gpu="T4")
    steps, minutes, peak = p.steps.total_steps, round(p.time.total_seconds / 60), f"{p.memory.estimate.total_gb:.1f}"
    assert p.memory.fits
    en, zh = (DOCS[k].read_text(encoding="utf-8") for k in ("en", "zh"))
    assert f"{steps} steps × {p.time.seconds_per_step:g} s = about {minutes} min, {peak} GiB peak (fits)" in en
    assert f"{steps} 步 × {p.time.seconds_per_step:g} s = 约 {minutes} 分钟，显存峰值 {peak} GiB（放得下）" in zh
    assert "predicted by the kit's planner, not measured" in en and "工具包规划器预测，未实测" in zh


# the kit's one-line messages the guide quotes: (message id, its placeholders)
QUOTED = [("env.no_gpu", {}), ("selftest.failed", {}), ("env.no_drive", {}), ("nb.since_plan", {"fields": "…"}),
          ("train.new_run", {"old": "…", "new": "…"}), ("nb.run_first", {"name": "form", "cell": "…"}),
          ("project.missing", {"path": "…"})]


def _head(message):
    """A message up to its first aside: ' (', '（', ' — ' or '——'."""
    return re.split(r" \(|（| — |——", message)[0].rstrip(".。")


@pytest.mark.parametrize("lang", list(DOCS))
def test_teaching_guide_quotes_the_kits_messages_as_the_kit_writes_them(lang):
    text = _flat(DOCS[lang].read_text(encoding="utf-8"))
    for key, kwargs in QUOTED:
        assert _head(t(key, lang, **kwargs)) in text, f"{DOCS[lang].name}: {key} is not quoted as the kit says it"
    need = t("project.need_step", lang, notebook="03_caption", what=t("what.captions", lang), path="…")
    assert need in text
    for key in ("rec.underfit", "rec.overfit", "rec.leak"):
        assert t(key, lang).split(":" if lang == "en" else "：")[0] in text, key
