"""The package's one-way layer rule (issue: a package laid out by course step).

    shared (lora_nb/*.py) <- families <- dataset <- training <- planning <- toy <- notebook / commands
    evaluate (step 6) imports only the shared layer and families, so a LoRA file is all it needs.

Every import of a `lora_nb` module is checked, including those inside function bodies.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import lora_nb

PKG = Path(lora_nb.__file__).parent
RANK = {"families": 1, "dataset": 2, "training": 3, "planning": 4, "toy": 5, "notebook": 6, "commands": 6}
EVALUATE_MAY_IMPORT = {"shared", "families", "evaluate"}
SHARED_PACKAGES = {"i18n", "assets"}  # folders of the shared layer


def _layer(module: str) -> str:
    """'lora_nb.dataset.crop' -> 'dataset'; shared modules (and the facade) -> 'shared'."""
    parts = module.split(".")
    if (len(parts) > 2 or (len(parts) == 2 and (PKG / parts[1]).is_dir())) and parts[1] not in SHARED_PACKAGES:
        return parts[1]
    return "cli" if parts[-1] == "cli" else "shared"


def _imports(path: Path) -> list[tuple[int, str]]:
    module = ".".join(path.relative_to(PKG.parent).with_suffix("").parts).removesuffix(".__init__")
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
            found += [(node.lineno, f"{target}.{a.name}" if not node.module else target) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lora_nb"):
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("lora_nb")]
    return found


def _violations() -> list[str]:
    rank = {**RANK, "shared": 0, "evaluate": 2, "cli": 6}
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        if path.parent == PKG and path.name == "__init__.py":
            continue  # the facade maps verbs to every layer, lazily
        here = _layer(".".join(path.relative_to(PKG.parent).with_suffix("").parts))
        for line, target in _imports(path):
            there = _layer(target)
            if here == "evaluate" and there not in EVALUATE_MAY_IMPORT:
                bad.append(f"{path.relative_to(PKG.parent)}:{line}: evaluate imports {target}")
            elif there == "evaluate" and here not in ("evaluate", "toy", "notebook", "commands", "cli"):
                bad.append(f"{path.relative_to(PKG.parent)}:{line}: {here} imports step 6 ({target})")
            elif here != "evaluate" and rank[there] > rank[here]:
                bad.append(f"{path.relative_to(PKG.parent)}:{line}: {here} imports the higher layer {target}")
    return bad


def test_imports_go_one_way():
    assert _violations() == []


def test_the_rule_sees_an_upward_import(tmp_path, monkeypatch):
    """The checker itself: a shared module importing a step module is reported."""
    fake = tmp_path / "lora_nb"
    (fake / "dataset").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "dataset" / "__init__.py").write_text("")
    (fake / "dataset" / "crop.py").write_text("")
    (fake / "images.py").write_text("def f():\n    from .dataset.crop import x\n")
    monkeypatch.setattr(sys.modules[__name__], "PKG", fake)
    assert _violations() == ["lora_nb/images.py:2: shared imports the higher layer lora_nb.dataset.crop"]


def _family_literal_comparisons(root: Path) -> list[str]:
    """`x == "flux"`, `family in ("sdxl", "flux")`, ... in modules outside families/."""
    from lora_nb.families.facts import FACTS

    found = []
    for path in sorted(root.rglob("*.py")):
        if "families" in path.relative_to(root).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Compare):
                continue
            sides = [node.left, *node.comparators]
            consts = [c for s in sides for c in ([s] if isinstance(s, ast.Constant) else
                                                 s.elts if isinstance(s, (ast.Tuple, ast.List, ast.Set)) else [])]
            if any(isinstance(c, ast.Constant) and c.value in FACTS for c in consts):
                found.append(f"{path.relative_to(root.parent)}:{node.lineno}")
    return found


def test_per_family_facts_are_read_not_compared():
    """A per-family fact lives in families/ (facts.FACTS); elsewhere the code reads it instead of testing
    the family's name."""
    assert _family_literal_comparisons(PKG) == []


def test_the_family_check_sees_a_comparison(tmp_path):
    (tmp_path / "lora_nb" / "families").mkdir(parents=True)
    (tmp_path / "lora_nb" / "families" / "sd15.py").write_text('ok = name == "sd15"\n')
    (tmp_path / "lora_nb" / "plan.py").write_text('x = family in ("sdxl", "flux")\ny = family != "sd15"\n')
    assert _family_literal_comparisons(tmp_path / "lora_nb") == ["lora_nb/plan.py:1", "lora_nb/plan.py:2"]
