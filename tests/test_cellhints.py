"""Out-of-order notebook cells: a NameError names the cell to run first (lora_nb/notebook/cellhints.py).

The table of which cell defines which name is checked against the notebooks themselves, the handler
is run in a real IPython shell, and one notebook is executed with a cell run before its project cell."""

import ast
import builtins as builtins_module
import json
import re
from pathlib import Path

import pytest

from lora_nb import i18n
from lora_nb.notebook import cellhints

ROOT = Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(p.stem for p in NB_DIR.glob("*.ipynb"))
HEADING = re.compile(r"^## (.+)$", re.MULTILINE)

pytestmark = pytest.mark.usefixtures("default_language")


def _defined(source: str) -> list[tuple[str, str]]:
    """(name, the statement that defines it) for each top-level name a cell defines, in order."""
    code = "\n".join("pass" if ln.lstrip().startswith(("!", "%")) else ln for ln in source.splitlines())
    tree = ast.parse(code)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [(a.asname or a.name).split(".")[0] for a in node.names]
        else:
            continue
        line = ast.get_source_segment(code, node).splitlines()[0]
        out += [(n, line if len(line) <= 45 else line[:44] + "…") for n in names]
    return out


def derive(path: Path) -> dict[str, str]:
    """name -> "section · `statement`" for the first cell of the notebook that defines it (the install
    cell's names excluded: Colab-only plumbing)."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    section, table = "0", {}
    for c in cells:
        src = "".join(c["source"])
        if c["cell_type"] == "markdown":
            if m := HEADING.search(src):
                section = m.group(1).strip()
            continue
        if "%pip install" in src:
            continue
        for name, stmt in _defined(src):
            table.setdefault(name, f"{section} · `{stmt}`")
    return table


def test_the_table_matches_the_notebooks():
    """Regenerate with: python -c 'from tests.test_cellhints import dump; dump()' (then paste)."""
    assert set(cellhints.CELLS) == set(NOTEBOOKS)
    for name in NOTEBOOKS:
        assert cellhints.CELLS[name] == derive(NB_DIR / f"{name}.ipynb"), name


def test_every_name_a_cell_uses_is_defined_by_an_earlier_cell_or_its_own():
    """So running the notebook top to bottom never hits a NameError, and every earlier-cell name has a hint."""
    builtins = set(dir(builtins_module)) | {"display", "get_ipython"}
    for name in NOTEBOOKS:
        seen = set()
        for c in json.loads((NB_DIR / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]:
            src = "".join(c["source"])
            if c["cell_type"] != "code" or "%pip install" in src:
                continue
            own = {n for n, _ in _defined(src)}
            nodes = [n for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Name)]
            local = {n.id for n in nodes if isinstance(n.ctx, ast.Store)}  # comprehension variables too
            used = {n.id for n in nodes if isinstance(n.ctx, ast.Load)} - own - local - builtins
            assert not used - seen, f"{name}: {sorted(used - seen)} used before any cell defines it:\n{src}"
            assert used <= set(cellhints.CELLS[name]), name
            seen |= own


def test_hint_names_the_cell_of_the_running_notebook():
    ns_05 = {"PROJECT": "p", "USE_DRIVE": True, "RANK": None, "PURPOSE": "object", "LIVE_EVERY": 10}
    text = cellhints.hint(NameError("name 'form' is not defined", name="form"), ns_05)
    assert text == i18n.t("nb.run_first", name="form", cell=cellhints.CELLS["05_train"]["form"])
    assert text.startswith("`form` is not defined yet -> run this cell first: 1. Settings · `form = ui.config_form(")
    ns_01 = {"PROJECT": "p", "SOURCES": [], "KIND": "object", "DEDUPE": "report"}
    assert "CollectOptions" in cellhints.hint(NameError("name 'form' is not defined"), ns_01)
    # nothing run yet: `project` is made by the same cell in every notebook
    assert "ui.notebook_start" in cellhints.hint(NameError("name 'project' is not defined"), {})
    assert "还没有定义" in cellhints.hint(NameError("name 'project' is not defined"), {}, lang="zh")
    assert cellhints.hint(NameError("name 'my_own_thing' is not defined"), ns_05) is None


def test_handler_in_a_real_shell_prints_one_line_instead_of_a_traceback(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    try:
        assert cellhints.install()
        ip.user_ns.update(PROJECT="p", USE_DRIVE=True, MODE="focus", UPSCALE=False, FOCUS="auto")  # 02's parameters
        res = ip.run_cell("report = crop_folder(project.require('collect'), None, form.options)")
        assert isinstance(res.error_in_exec, NameError)  # still an error: Run all stops there
        out = capsys.readouterr()
        text = out.out + out.err
        assert "`crop_folder` is not defined yet -> run this cell first: 1. Crop · `from lora_nb import" in text
        assert "Traceback" not in text
        ip.run_cell("undefined_by_the_course + 1")  # not a course name: the usual traceback
        assert "NameError" in capsys.readouterr().out
        res = ip.run_cell("from lora_nb.errors import LoraNbError\nraise LoraNbError('run 01_collect first')")
        out = capsys.readouterr()
        assert "run 01_collect first" in out.out + out.err and "Traceback" not in out.out + out.err
    finally:
        cellhints.install(False)
        InteractiveShell.clear_instance()


def dump():
    """Print the CELLS table for lora_nb/notebook/cellhints.py from the notebooks."""
    print("CELLS: dict[str, dict[str, str]] = {")
    for name in NOTEBOOKS:
        print(f"    {name!r}: {{")
        for k, v in derive(NB_DIR / f"{name}.ipynb").items():
            print(f"        {k!r}: {v!r},")
        print("    },")
    print("}")


@pytest.mark.slow
def test_a_notebook_cell_run_before_the_project_cell_names_it(tmp_path, monkeypatch):
    """01_collect in a real kernel: the parameters cell, then the import cell without the cells between."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("LORA_NB_PROJECTS", str(tmp_path))
    nb = nbformat.read(NB_DIR / "01_collect.ipynb", as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    skipped_to = next(c for c in nb.cells if c.cell_type == "code" and "report = collect(" in c.source)
    nb.cells = [params, skipped_to]
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(NB_DIR)}})
    with pytest.raises(nbclient.exceptions.CellExecutionError) as err:
        client.execute()
    msg = str(err.value)
    cell = cellhints.CELLS["01_collect"]["project"]
    assert cell.startswith("0. Install and parameters · `project = ui.notebook_start(")
    assert f"`project` is not defined yet -> run this cell first: {cell} (or Run All Above)." in msg
    assert "Traceback" not in msg
