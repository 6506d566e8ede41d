"""`lora_nb.toy.builtin`: where the shipped tiny-shapes model lives, and a clear error when it is missing."""

import json

import pytest

from lora_nb.errors import ModelLoadError
from lora_nb.toy import builtin


def test_tiny_shapes_is_found_inside_the_package():
    path = builtin.builtin_model_dir()
    assert path == builtin.MODELS_DIR / "tiny-shapes" and path.parent.parent.name == "lora_nb"
    index = json.loads((path / "model_index.json").read_text(encoding="utf-8"))
    assert index["_class_name"] == "StableDiffusionPipeline"


def test_missing_model_says_what_exists_and_how_to_rebuild(tmp_path, monkeypatch):
    with pytest.raises(ModelLoadError, match=r"'no-such-model' not found.*tiny-shapes.*train_tiny_base\.py"):
        builtin.builtin_model_dir("no-such-model")
    monkeypatch.setattr(builtin, "MODELS_DIR", tmp_path / "gone")
    with pytest.raises(ModelLoadError, match="use one of none.*reinstall lora-nb"):
        builtin.builtin_model_dir()


def test_the_wheel_ships_the_weights():
    """pyproject's package-data covers every file of the model folder (a non-editable install,
    e.g. `pip install git+...` on Colab, copies only what it lists)."""
    from pathlib import Path, PurePosixPath

    from lora_nb.config import tomllib

    root = Path(builtin.__file__).resolve().parents[1]
    patterns = tomllib.loads((root.parent / "pyproject.toml").read_text(encoding="utf-8"))[
        "tool"]["setuptools"]["package-data"]["lora_nb"]
    files = [PurePosixPath(p.relative_to(root).as_posix()) for p in (root / "models").rglob("*") if p.is_file()]
    unlisted = [str(f) for f in files if not any(f.match(pat) and len(f.parts) == len(PurePosixPath(pat).parts)
                                                 for pat in patterns)]
    assert files and not unlisted, unlisted
