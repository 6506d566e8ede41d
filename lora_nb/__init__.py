"""lora-nb: the helper package behind the LoRA course notebooks.

The verbs a notebook calls are imported lazily, so `import lora_nb` is fast and does not pull
torch/diffusers until a step actually needs them.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

from .config import Config  # noqa: E402  (light: stdlib only)
from .errors import LoraNbError  # noqa: E402

# verb -> module that defines it. A verb never shares its name with a module: importing the module
# would otherwise replace the function on the package (lora_nb.train must stay callable).
_VERBS = {
    # step 1-2: dataset
    "collect": "collector", "audit": "auditor", "render_audit": "auditor",
    "crop_folder": "crop", "render_crop_preview": "crop",
    "remove_background": "background", "load_remover": "background",
    # step 3-4: captions and tags
    "caption_folder": "caption", "clean_folder": "tags", "caption_stats": "tags",
    "plot_tag_frequency": "tags", "tag_frequency": "tags", "caption_editor": "caption_widget",
    "unique_identifiers": "identifiers", "assign_identifiers": "identifiers",
    # before training: the plan
    "plan": "planner", "render_markdown": "planner", "render_figures": "planner", "recommend": "advice",
    "memory_fit": "memory", "measure_peak": "memory",
    "choose_preset": "presets", "preset_table": "presets",
    # step 5: train
    "train": "trainer", "TrainCallback": "trainer",
    "save_lora_files": "export", "read_lora_file": "export",
    # step 6: evaluate
    "xy_grid": "evaluate", "mix_grid": "evaluate", "forgetting_check": "evaluate",
    "loss_figure": "lossplot", "read_train_log": "lossplot", "samples_grid": "lossplot",
    "load_pipeline": "evaluate",
    # notebooks
    "open_project": "project", "run_selftest": "selftest", "config_form": "ui",
    "LiveTrainDisplay": "ui", "start_training": "ui",
    # whole course / tests
    "run_demo": "demo", "build_tiny_model": "testing",
}


def __getattr__(name):
    if name in _VERBS:
        return getattr(importlib.import_module(f".{_VERBS[name]}", __name__), name)
    raise AttributeError(f"module 'lora_nb' has no attribute {name!r}")


__all__ = ["Config", "LoraNbError", "__version__", *_VERBS]
