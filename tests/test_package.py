import subprocess
import sys


def test_import_is_light():
    """`import lora_nb` in a notebook must not pull torch/diffusers until a step needs them."""
    code = "import sys, lora_nb; print(any(m in sys.modules for m in ('torch', 'diffusers', 'transformers')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_every_verb_resolves():
    import lora_nb

    for name in lora_nb._VERBS:
        assert callable(getattr(lora_nb, name)), name


def test_verbs_stay_callable_after_their_modules_are_imported():
    """`lora_nb.train(config)` works even after `lora_nb.training.trainer` (or anything using it) is imported."""
    import lora_nb
    import lora_nb.dataset.auditor  # noqa: F401
    import lora_nb.dataset.collector  # noqa: F401
    import lora_nb.planning.planner  # noqa: F401
    import lora_nb.training.trainer  # noqa: F401

    for name in ("train", "collect", "audit", "plan"):
        assert callable(getattr(lora_nb, name)) and not isinstance(getattr(lora_nb, name), type(lora_nb)), name


def test_no_verb_shares_its_name_with_a_module():
    from pathlib import Path

    import lora_nb

    pkg = Path(lora_nb.__file__).parent  # only the package's own children become its attributes
    modules = {p.stem for p in pkg.glob("*.py")} | {p.parent.name for p in pkg.glob("*/__init__.py")}
    assert not modules & set(lora_nb._VERBS)
