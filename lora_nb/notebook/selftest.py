"""Setup self-test: can this environment really train?

Colab updates its images without notice and a careless `pip install` can swap its CUDA torch for
a CPU build; both surface hours later as a puzzling error in the middle of training. 00_setup
runs `run_selftest()` first: `lora_nb.notebook.doctor`'s checks (the library stack against the tested and
known-bad sets, torch kept, GPU, disk, RAM, Drive), then two real training steps on the built-in
tiny model (the same code path as a real run), so a broken environment shows at once, with what
to do about it.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from ..env import gpu_info, in_colab, resolve_mixed_precision
from ..errors import LoraNbError
from ..i18n import t
from ..toy.builtin import builtin_model_dir
from .doctor import Check, SelftestReport, diagnose
from .project import drive_mounted, mount_drive, smoke_mode, smoke_overrides


# --- where are we running ------------------------------------------------------------------------
@dataclass
class Environment:
    colab: bool
    drive: bool  # Google Drive mounted (projects survive the Colab runtime)
    gpu: object  # env.GPUInfo or None
    precision: str  # what mixed_precision='auto' resolves to here
    smoke: bool

    def summary(self, lang: str | None = None) -> str:
        lines = [t("env.colab" if self.colab else "env.local", lang)]
        if self.colab:
            lines.append(t("env.drive" if self.drive else "env.no_drive", lang))
        lines.append(t("env.gpu", lang, name=self.gpu.name, gb=self.gpu.total_gb, precision=self.precision)
                     if self.gpu else t("env.no_gpu", lang))
        if self.smoke:
            lines.append(t("env.smoke", lang))
        return "\n".join(lines)


def environment(use_drive: bool = True) -> Environment:
    """Colab or local, Drive (mounted on Colab when `use_drive`), GPU and its precision."""
    colab = in_colab()
    drive = mount_drive() if (colab and use_drive) else drive_mounted()
    g = gpu_info()
    return Environment(colab, drive, g, resolve_mixed_precision("auto", g), smoke_mode())


# --- two real training steps ---------------------------------------------------------------------
def check_training(steps: int = 2, model_dir: str | os.PathLike | None = None,
                   workdir: str | os.PathLike | None = None) -> Check:
    """Train `steps` steps on the built-in tiny-shapes model (or `model_dir`) and load the LoRA file back."""
    own = workdir is None
    work = Path(workdir or tempfile.mkdtemp(prefix="lora-nb-selftest-"))
    t0 = time.perf_counter()
    try:
        from ..toy.testing import make_toy_dataset  # lazy, as the trainer below: both import torch

        model = model_dir or builtin_model_dir()
        data = make_toy_dataset(work / "data", {"selftest": (1, 2)})
        cfg = Config.from_dict({**smoke_overrides(model), "train_data_dir": str(data), "max_train_steps": steps,
                                "save_every_n_steps": steps, "output_dir": str(work / "run"),
                                "save_formats": ["kohya"], "save_state": False})
        from ..training.trainer import train

        with open(os.devnull, "w") as null, redirect_stdout(null):  # the run's chatter is not the report
            result = train(cfg)
        from safetensors.torch import load_file

        sd = load_file(str(result.files["kohya"]))
        if result.steps != steps or not math.isfinite(result.last_loss):
            return Check("training", False, f"ran {result.steps} of {steps} steps, last loss {result.last_loss}",
                         "report this with the versions above")
        if not any(k.startswith("lora_unet_") for k in sd):
            return Check("training", False, "the saved LoRA has no lora_unet_* weights",
                         "report this with the versions above")
        return Check("training", True, f"{steps} steps on the tiny model in {time.perf_counter() - t0:.1f} s, "
                                       f"loss {result.last_loss:.4f}, LoRA file loads ({len(sd)} tensors)")
    except Exception as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        fix = ("" if isinstance(e, LoraNbError) else
               "a library does not work with the others: compare the versions above with pyproject.toml, "
               "reinstall the kit (00_setup), and report it if it persists")
        return Check("training", False, f"{type(e).__name__}: {msg}", fix)
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


def run_selftest(steps: int = 2, model_dir: str | os.PathLike | None = None, train: bool = True,
                 reqs: dict[str, str] | None = None) -> SelftestReport:
    """`lora_nb.notebook.doctor.diagnose()` (stack, torch, GPU, disk, RAM, Drive) and, if `train` and torch
    works, two real training steps; never raises for a failed check, it reports it.
    `report.raise_if_failed()` turns failures into an error."""
    t0 = time.perf_counter()
    report = diagnose(reqs=reqs)
    report.heading = "selftest"
    if train and report.check("torch runtime").ok:
        report.checks.append(check_training(steps, model_dir))
    report.seconds = time.perf_counter() - t0
    return report
