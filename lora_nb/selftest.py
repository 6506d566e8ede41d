"""Setup self-test: are the libraries the right versions, is torch still the one the runtime
shipped, and can this environment really train?

Colab updates its images without notice and a careless `pip install` can swap its CUDA torch for
a CPU build; both surface hours later as a puzzling error in the middle of training. 00_setup
runs `run_selftest()` first: version checks against the kit's own requirements, then two real
training steps on the tiny offline model (the same code path as a real run), so a broken
environment shows at once, with what to do about it.
"""

from __future__ import annotations

import html
import importlib.metadata as md
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CORE = ("torch", "diffusers", "transformers", "peft", "accelerate", "safetensors")
# optional package -> what needs it (a missing one is a warning, not a failure)
OPTIONAL = {
    "bitsandbytes": "the adamw8bit optimizer (the default; use optimizer='adamw' without it)",
    "ipywidgets": "the notebook widgets",
    "imagehash": "duplicate detection in 01_collect",
    "rembg": "background removal in 02_crop",
    "onnxruntime": "the WD14 tagger in 03_caption",
}
# Floors used when the kit's own metadata cannot be read (run from a source folder without pip install).
FALLBACK_REQUIREMENTS = {"torch": ">=2.4", "diffusers": ">=0.35", "transformers": ">=4.50", "peft": ">=0.17",
                         "accelerate": ">=1.0", "safetensors": ">=0.4"}
# 00_setup's install cell writes the runtime's torch version here before pip runs (and pins it).
TORCH_PIN_FILE = Path(tempfile.gettempdir()) / "lora-nb-torch-pin.txt"
TORCH_PIN_ENV = "LORA_NB_TORCH_PIN"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    warning: bool = False  # informational: does not fail the self-test

    @property
    def mark(self) -> str:
        return "✓" if self.ok else ("⚠" if self.warning else "✗")


@dataclass
class SelftestReport:
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(c.ok or c.warning for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok and not c.warning]

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def summary(self, lang: str | None = None) -> str:
        from .i18n import t

        lines = [t("selftest.ok" if self.ok else "selftest.failed", lang) + f" ({self.seconds:.0f} s)"]
        for c in self.checks:
            lines.append(f"  {c.mark} {c.name}: {c.detail}" + (f"\n      -> {c.fix}" if c.fix and not c.ok else ""))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from .i18n import t

        color = "#1b7f3b" if self.ok else "#b00020"
        rows = "".join(
            f"<tr><td>{c.mark}</td><td><b>{html.escape(c.name)}</b></td><td>{html.escape(c.detail)}</td>"
            f"<td>{html.escape(c.fix) if not c.ok else ''}</td></tr>" for c in self.checks)
        head = t("selftest.ok" if self.ok else "selftest.failed") + f" ({self.seconds:.0f} s)"
        return (f"<div style='color:{color};font-weight:bold'>{html.escape(head)}</div>"
                f"<table>{rows}</table>")

    def raise_if_failed(self) -> "SelftestReport":
        from .errors import LoraNbError

        if not self.ok:
            raise LoraNbError("self-test failed: " + "; ".join(f"{c.name}: {c.detail} -> {c.fix}"
                                                               for c in self.failures))
        return self


# --- versions ------------------------------------------------------------------------------------
def installed_version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def requirements() -> dict[str, str]:
    """{package: specifier} of the kit's core dependencies, from its installed metadata."""
    from packaging.requirements import Requirement

    try:
        reqs = md.requires("lora-nb") or []
    except md.PackageNotFoundError:
        return dict(FALLBACK_REQUIREMENTS)
    out = {}
    for r in map(Requirement, reqs):
        if r.marker is None and r.name in CORE:  # no `extra == ...` marker: a core dependency
            out[r.name] = str(r.specifier)
    return out or dict(FALLBACK_REQUIREMENTS)


def check_versions(reqs: dict[str, str] | None = None) -> list[Check]:
    """Each core package installed and inside the kit's range; optional ones reported."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    reqs = requirements() if reqs is None else reqs
    checks = []
    for name, spec in reqs.items():
        v = installed_version(name)
        if v is None:
            checks.append(Check(name, False, "not installed", f"pip install '{name}{spec}'"))
            continue
        try:
            ok = Version(v) in SpecifierSet(spec, prereleases=True)
        except InvalidVersion:
            ok = False
        fix = "" if ok else (f"pip install '{name}{spec}'" + (" (keep the runtime's torch: on Colab use "
                                                             "Runtime > Disconnect and delete runtime)"
                                                             if name == "torch" else ""))
        checks.append(Check(name, ok, f"{v} (needs {spec or 'any'})", fix))
    for name, why in OPTIONAL.items():
        v = installed_version(name)
        checks.append(Check(name, v is not None, v or f"not installed: needed for {why}",
                            f"pip install {name}", warning=v is None))
    return checks


def expected_torch() -> str | None:
    """The torch version the runtime had before the kit was installed (00_setup records it)."""
    if os.environ.get(TORCH_PIN_ENV):
        return os.environ[TORCH_PIN_ENV].strip()
    if TORCH_PIN_FILE.is_file():
        text = TORCH_PIN_FILE.read_text(encoding="utf-8").strip()
        return text.split("==", 1)[-1] if text else None
    return None


def check_torch(expected: str | None = None) -> Check:
    """torch imports, is the version the runtime shipped, and sees the GPU the machine has."""
    try:
        import torch
    except Exception as e:  # a broken install raises anything from OSError to AttributeError
        return Check("torch runtime", False, f"cannot import torch: {type(e).__name__}: {e}",
                     "reinstall the runtime's torch (on Colab: Runtime > Disconnect and delete runtime)")
    loaded, on_disk = torch.__version__, installed_version("torch")
    expected = expected or expected_torch()
    if on_disk and on_disk.split("+")[0] != loaded.split("+")[0]:
        return Check("torch runtime", False, f"torch {loaded} is loaded but {on_disk} is installed",
                     "restart the runtime (Colab: Runtime > Restart session) so the installed version loads")
    if expected and expected != loaded:
        return Check("torch runtime", False, f"torch was replaced during installation: {expected} -> {loaded}",
                     "the runtime's torch must stay: Runtime > Disconnect and delete runtime, then run 00_setup "
                     "again (its install cell pins torch)")
    has_gpu_hw = shutil.which("nvidia-smi") is not None and os.path.exists("/dev/nvidia0")
    cuda = torch.cuda.is_available()
    if has_gpu_hw and not cuda:
        return Check("torch runtime", False, f"torch {loaded} cannot use the GPU of this machine "
                                             f"(CUDA build: {torch.version.cuda or 'none - a CPU build'})",
                     "a CPU-only torch replaced the runtime's: Runtime > Disconnect and delete runtime, then run "
                     "00_setup again")
    where = f"CUDA {torch.version.cuda}, GPU {torch.cuda.get_device_name(0)}" if cuda else "CPU only"
    return Check("torch runtime", True, f"torch {loaded} ({where})" + (" = the runtime's version" if expected else ""))


def check_gpu() -> Check:
    from .env import gpu_info, resolve_mixed_precision

    g = gpu_info()
    if g is None:
        return Check("GPU", False, "no CUDA GPU: training runs on the CPU (smoke tests only)",
                     "on Colab: Runtime > Change runtime type > T4 GPU", warning=True)
    return Check("GPU", True, f"{g.name}, {g.total_gb:.1f} GB, compute {g.capability[0]}.{g.capability[1]}, "
                              f"mixed precision {resolve_mixed_precision('auto', g)}")


# --- where are we running ------------------------------------------------------------------------
@dataclass
class Environment:
    colab: bool
    drive: bool  # Google Drive mounted (projects survive the Colab runtime)
    gpu: object  # env.GPUInfo or None
    precision: str  # what mixed_precision='auto' resolves to here
    smoke: bool

    def summary(self, lang: str | None = None) -> str:
        from .i18n import t

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
    from .env import gpu_info, in_colab, resolve_mixed_precision
    from .project import drive_mounted, mount_drive, smoke_mode

    colab = in_colab()
    drive = mount_drive() if (colab and use_drive) else drive_mounted()
    g = gpu_info()
    return Environment(colab, drive, g, resolve_mixed_precision("auto", g), smoke_mode())


# --- two real training steps ---------------------------------------------------------------------
def check_training(steps: int = 2, model_dir: str | os.PathLike | None = None,
                   workdir: str | os.PathLike | None = None) -> Check:
    """Train `steps` steps on the built-in tiny-shapes model (or `model_dir`) and load the LoRA file back."""
    from .builtin import builtin_model_dir
    from .config import Config
    from .testing import make_toy_dataset

    own = workdir is None
    work = Path(workdir or tempfile.mkdtemp(prefix="lora-nb-selftest-"))
    t0 = time.perf_counter()
    try:
        model = model_dir or builtin_model_dir()
        data = make_toy_dataset(work / "data", {"selftest": (1, 2)})
        cfg = Config(pretrained_model=str(model), train_data_dir=str(data), resolution=64, min_bucket_reso=64,
                     max_bucket_reso=64, optimizer="adamw", learning_rate=1e-3, max_train_steps=steps,
                     output_dir=str(work / "run"), save_formats=["kohya"], save_state=False)
        from contextlib import redirect_stdout

        from .trainer import train

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
        from .errors import LoraNbError

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
    """Versions, torch, GPU and (if `train`) two real training steps; never raises for a failed
    check, it reports it. `report.raise_if_failed()` turns failures into an error."""
    t0 = time.perf_counter()
    report = SelftestReport()
    report.checks.append(Check("python", sys.version_info >= (3, 10), sys.version.split()[0],
                               "use Python 3.10 or newer"))
    report.checks += check_versions(reqs)
    torch_check = check_torch()
    report.checks.append(torch_check)
    if torch_check.ok:
        report.checks.append(check_gpu())
        if train:
            report.checks.append(check_training(steps, model_dir))
    report.seconds = time.perf_counter() - t0
    return report
