"""lora-nb: the helper package behind the LoRA course notebooks.

The verbs a notebook calls are imported lazily, so `import lora_nb` is fast and does not pull
torch/diffusers until a step actually needs them.
"""

from __future__ import annotations

import importlib
import sys

__version__ = "0.1.0"

from . import quiet  # noqa: E402
from .config import Config  # noqa: E402  (light: stdlib only)
from .errors import LoraNbError  # noqa: E402

quiet.install()  # library warnings a learner cannot act on (lora_nb/quiet.py), before any library is imported
if "IPython" in sys.modules:  # in a kernel: a notebook cell run too early names the cell to run first
    from .notebook import cellhints  # noqa: E402  (light: i18n and errors only)

    cellhints.install()

# verb -> module that defines it. A verb never shares its name with a module: importing the module
# would otherwise replace the function on the package (lora_nb.train must stay callable).
_VERBS = {
    # step 1-2: dataset
    "CollectOptions": "dataset.collector",
    "collect": "dataset.collector", "audit": "dataset.auditor", "render_audit": "dataset.auditor",
    "plot_balance": "dataset.auditor",
    "CropOptions": "dataset.crop", "crop_folder": "dataset.crop", "render_crop_preview": "dataset.crop",
    "remove_background": "dataset.background", "load_remover": "dataset.background",
    # step 3-4: captions and tags
    "caption_folder": "dataset.caption", "CleanOptions": "dataset.clean", "clean_folder": "dataset.clean",
    "CaptionOptions": "dataset.caption",
    "caption_stats": "dataset.tag_stats", "plot_tag_frequency": "dataset.tag_stats",
    "tag_frequency": "dataset.tag_stats", "caption_editor": "notebook.caption_widget",
    "unique_identifiers": "dataset.identifiers", "assign_identifiers": "dataset.identifiers",
    # before training: the plan
    "plan": "planning.planner", "render_markdown": "planning.planner", "render_figures": "planning.planner",
    "recommend": "planning.advice.recipe",
    "memory_fit": "planning.memory.fit", "measure_peak": "planning.memory.measure",
    "choose_preset": "training.presets", "preset_table": "training.presets",
    # step 5: train
    "train": "training.trainer", "TrainCallback": "training.trainer",
    "save_lora_files": "training.export.files", "read_lora_file": "families.lorafiles",
    # step 6: evaluate
    "lora_files": "evaluate.files", "xy_grid": "evaluate.xy", "mix_grid": "evaluate.xy",
    "forgetting_check": "evaluate.forgetting", "SampleSettings": "evaluate.settings",
    "loss_figure": "evaluate.lossplot", "read_train_log": "evaluate.lossplot", "samples_grid": "evaluate.lossplot",
    "load_pipeline": "evaluate.pipeline",
    "evaluate_run": "evaluate.report", "recommend_checkpoint": "evaluate.recommend",
    # notebooks
    "open_project": "notebook.project", "smoke_mode": "notebook.project", "smoke_overrides": "notebook.project",
    "sample_sources": "notebook.project", "mode_overrides": "notebook.modes", "train_settings": "notebook.modes",
    "evaluate_settings": "notebook.modes", "course_mode": "notebook.modes", "mode_sources": "notebook.modes",
    "mode_captioner": "notebook.modes", "sample_clean_settings": "notebook.modes",
    "sample_audit_note": "notebook.modes",
    "run_selftest": "notebook.selftest", "config_form": "notebook.form",
    "LiveTrainDisplay": "notebook.live", "start_training": "notebook.jobs",
    # whole course / tests
    "run_demo": "toy.demo", "build_tiny_model": "toy.testing",
}

# the notebooks' helper modules, reachable from the facade: `from lora_nb import ui`
_MODULES = {"ui": "notebook.ui", "selftest": "notebook.selftest"}


def __getattr__(name):
    if name in _VERBS:
        return getattr(importlib.import_module(f".{_VERBS[name]}", __name__), name)
    if name in _MODULES:
        return importlib.import_module(f".{_MODULES[name]}", __name__)
    raise AttributeError(f"module 'lora_nb' has no attribute {name!r}")


__all__ = ["Config", "LoraNbError", "__version__", *_VERBS, *_MODULES]
