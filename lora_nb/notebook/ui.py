"""The notebooks' helper surface: each notebook does `from lora_nb import ui` and calls the names
below (`ui.notebook_start`, `ui.config_form`, `ui.figure`, ...). They are defined in the modules
named for what they do; this module only gathers the ones the notebooks call."""

from ..training.data import suggest_prompts
from .display import config_table, dataset_grid, figure, markdown
from .form import config_form, options_form
from .jobs import start_training
from .params import apply_params, start_config
from .since_plan import plan_config, train_config
from .start import friendly_errors, notebook_start
from .summaries import step_summary

__all__ = ["apply_params", "config_form", "config_table", "dataset_grid", "figure", "friendly_errors", "markdown",
           "notebook_start", "options_form", "plan_config", "start_config", "start_training", "step_summary",
           "suggest_prompts", "train_config",
           "LiveTrainDisplay"]  # noqa: F822  (LiveTrainDisplay: from __getattr__ below)


def __getattr__(name: str):
    """`LiveTrainDisplay` subclasses the trainer's TrainCallback, and the trainer imports torch: it is
    imported on first use, so the data-preparation notebooks' `from lora_nb import ui` stays light."""
    if name == "LiveTrainDisplay":
        from .live import LiveTrainDisplay

        return LiveTrainDisplay
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
