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
