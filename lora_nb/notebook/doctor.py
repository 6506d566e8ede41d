"""`lora-nb doctor`: is this library stack one the kit works with, and can this machine train?

Colab kits die of their dependencies (kohya-colab marked its trainers "no longer works"; about a
third of its commits are dependency fixes). The doctor says, before any model loads, what a learner
would otherwise meet as a traceback an hour later:

- each core package against pyproject.toml's range (too old, or a release excluded there: blocking),
  and against the versions the suite passed with (`TESTED`: the Colab runtime set and the lock;
  newer or older is reported, not blocking);
- known-bad combinations (`KNOWN_BAD`), each with the one command that fixes it, plus the peft
  minimum that the installed transformers and diffusers demand in their own adapter methods;
- torch still the runtime's own (00_setup records it before installing), the GPU (name, VRAM,
  bf16), free disk, RAM and, on Colab, Google Drive.

`diagnose()` returns the report; notebook 00's check cell runs it through
`lora_nb.notebook.selftest.run_selftest`, which adds two real training steps. The version sets are plain
dicts, so the rules are tested with fake sets (good, known-bad pair, too old).
"""

from __future__ import annotations

import html
import importlib
import importlib.metadata as md
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from ..env import gpu_info, in_colab, resolve_mixed_precision
from ..errors import LoraNbError
from ..families.lorafiles import DIFFUSERS_READS_FLAT_CLIP, TRANSFORMERS_FLAT_CLIP
from ..i18n import t
from .project import drive_mounted

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CORE = ("torch", "diffusers", "transformers", "peft", "accelerate", "safetensors")
# optional package -> what needs it (a missing one is a warning, not a failure)
OPTIONAL = {
    "bitsandbytes": "the adamw8bit optimizer (the default; use optimizer='adamw' without it)",
    "ipywidgets": "the notebook widgets",
    "imagehash": "duplicate detection in 01_collect",
    "rembg": "background removal in 02_crop",
    "onnxruntime": "the WD14 tagger in 03_caption",
}
# 00_setup's install cell writes the runtime's package list here (`pip list --format=freeze`) and installs
# the kit under it as constraints, so nothing preinstalled is replaced; torch's line is what must stay.
PREINSTALLED_FILE = Path(tempfile.gettempdir()) / "lora-nb-preinstalled.txt"
TORCH_PIN_ENV = "LORA_NB_TORCH_PIN"
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"  # a source checkout's


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
    heading: str = "selftest"  # i18n key prefix of the verdict line: "doctor" when no training step ran

    @property
    def ok(self) -> bool:
        return all(c.ok or c.warning for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok and not c.warning]

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def summary(self, lang: str | None = None) -> str:
        lines = [t(f"{self.heading}.ok" if self.ok else f"{self.heading}.failed", lang) + f" ({self.seconds:.0f} s)"]
        for c in self.checks:
            lines.append(f"  {c.mark} {c.name}: {c.detail}" + (f"\n      -> {c.fix}" if c.fix and not c.ok else ""))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        color = "#1b7f3b" if self.ok else "#b00020"
        rows = "".join(
            f"<tr><td>{c.mark}</td><td><b>{html.escape(c.name)}</b></td><td>{html.escape(c.detail)}</td>"
            f"<td>{html.escape(c.fix) if not c.ok else ''}</td></tr>" for c in self.checks)
        head = t(f"{self.heading}.ok" if self.ok else f"{self.heading}.failed") + f" ({self.seconds:.0f} s)"
        return (f"<div style='color:{color};font-weight:bold'>{html.escape(head)}</div>"
                f"<table>{rows}</table>")

    def raise_if_failed(self) -> SelftestReport:
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
    try:
        reqs = md.requires("lora-nb") or []
    except md.PackageNotFoundError:  # run from a source folder without pip install: read pyproject.toml
        reqs = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["dependencies"]
    out = {}
    for r in map(Requirement, reqs):
        if r.marker is None and r.name in CORE:  # no `extra == ...` marker: a core dependency
            out[r.name] = str(r.specifier)
    return out


def check_versions(reqs: dict[str, str] | None = None, versions: dict[str, str | None] | None = None) -> list[Check]:
    """Each core package installed and inside the kit's range (pyproject.toml), and where it lies against
    the tested versions (`TESTED`); optional ones reported. `versions` replaces the installed ones."""
    reqs = requirements() if reqs is None else reqs
    have = (lambda n: versions.get(n)) if versions is not None else installed_version
    checks = []
    for name, spec in reqs.items():
        v = have(name)
        if v is None:
            checks.append(Check(name, False, "not installed", f"pip install '{name}{spec}'"))
            continue
        try:
            ok = Version(v) in SpecifierSet(spec, prereleases=True)
        except InvalidVersion:
            ok = False
        if not ok:
            fix = (f'pip install "{name}=={TESTED[name][1]}"' if name in TESTED else f"pip install '{name}{spec}'")
            if name == "torch":
                fix += " (keep the runtime's torch: on Colab use Runtime > Disconnect and delete runtime)"
            checks.append(Check(name, False, f"{v} (needs {spec or 'any'})", fix))
        else:
            checks.append(_tested(name, v, spec))
    for name, why in OPTIONAL.items():
        v = have(name)
        checks.append(Check(name, v is not None, v or f"not installed: needed for {why}",
                            f"pip install {name}", warning=v is None))
    return checks


def expected_torch() -> str | None:
    """The torch version the runtime had before the kit was installed (00_setup records it)."""
    if os.environ.get(TORCH_PIN_ENV):
        return os.environ[TORCH_PIN_ENV].strip()
    if PREINSTALLED_FILE.is_file():
        for line in PREINSTALLED_FILE.read_text(encoding="utf-8").splitlines():
            name, _, version = line.strip().partition("==")
            if name.lower() == "torch" and version:
                return version
    return None


def _replaced(expected: str, loaded: str) -> bool:
    """Another torch than the runtime's: another release, or another build of it (+cu128 -> +cpu). pip may
    list a CUDA wheel without its build label (PyPI's `2.12.1` reports `2.12.1+cu130`): no label, no
    build to compare."""
    (e, _, e_build), (v, _, v_build) = expected.partition("+"), loaded.partition("+")
    return e != v or bool(e_build and v_build and e_build != v_build)


def check_torch(expected: str | None = None) -> Check:
    """torch imports, is the version the runtime shipped, and sees the GPU the machine has."""
    try:
        import torch  # here, not at the top: a broken torch is one of the things reported
    except Exception as e:  # a broken install raises anything from OSError to AttributeError
        return Check("torch runtime", False, f"cannot import torch: {type(e).__name__}: {e}",
                     "reinstall the runtime's torch (on Colab: Runtime > Disconnect and delete runtime)")
    loaded, on_disk = torch.__version__, installed_version("torch")
    expected = expected or expected_torch()
    if on_disk and on_disk.split("+")[0] != loaded.split("+")[0]:
        return Check("torch runtime", False, f"torch {loaded} is loaded but {on_disk} is installed",
                     "restart the runtime (Colab: Runtime > Restart session) so the installed version loads")
    if expected and _replaced(expected, loaded):
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
    g = gpu_info()
    if g is None:
        return Check("GPU", False, "no CUDA GPU: training runs on the CPU (the course's CPU mode and smoke tests)",
                     "on Colab: Runtime > Change runtime type > T4 GPU", warning=True)
    return Check("GPU", True, f"{g.name}, {g.total_gb:.1f} GB VRAM, compute {g.capability[0]}.{g.capability[1]}, "
                              f"bf16 {'yes' if g.supports_bf16 else 'no'}, mixed precision "
                              f"{resolve_mixed_precision('auto', g)}")

# The versions the suite passed with: (oldest, newest) = (the Colab runtime leg, the lock). tests/test_doctor.py
# checks these against requirements/colab-*.txt and requirements/lock.txt, so they cannot drift.
TESTED = {
    "diffusers": ("0.39.0", "0.42.1"),
    "transformers": ("5.15.0", "5.24.0"),
    "peft": ("0.20.0", "0.21.2"),
    "accelerate": ("1.14.0", "1.16.0"),
    "safetensors": ("0.8.0", "0.8.0"),
}


@dataclass(frozen=True)
class KnownBad:
    """A combination of releases that breaks something: every `when` specifier matches -> `why`, `fix`.
    `blocking`: the kit itself fails with it (the doctor exits 1); otherwise it is reported as a warning."""

    when: dict[str, str]
    why: str
    fix: str
    blocking: bool = True

    def matches(self, versions: dict[str, str | None]) -> bool:
        for name, spec in self.when.items():
            v = versions.get(name)
            try:
                if v is None or Version(v) not in SpecifierSet(spec, prereleases=True):
                    return False
            except InvalidVersion:
                return False
        return True


KNOWN_BAD = (
    # Seen 2026-12-02 on a fresh install (issue 14): transformers 5.24 gates its own adapter methods
    # (add_adapter, set_adapter, enable/disable_adapters, delete_adapter) on peft >= 0.22, which is not
    # published. The kit no longer calls them (adapters.inject uses peft directly; the suite passes on this
    # pair), so only code of the learner's own that follows transformers' adapter docs is hit.
    KnownBad({"transformers": ">=5.24", "peft": "<0.22"},
             "transformers' own adapter methods (model.add_adapter ...) refuse peft below 0.22; the kit does "
             "not use them, your own code would fail",
             'pip install "transformers==5.23.0"', blocking=False),
    # Seen 2026-12-02 on Colab's 2026-08 set (diffusers 0.39 + transformers 5.15): diffusers before 0.41 cannot
    # load text-encoder LoRA weights into the flattened CLIPTextModel of transformers >= 5.6 (IndexError). The
    # kit's loader does what 0.41 does (families.lorafiles.load_into_pipeline); a plain pipe.load_lora_weights fails.
    KnownBad({"diffusers": f"<{DIFFUSERS_READS_FLAT_CLIP}", "transformers": f">={TRANSFORMERS_FLAT_CLIP}"},
             f"diffusers before {DIFFUSERS_READS_FLAT_CLIP} cannot load a LoRA's text-encoder weights into this "
             f"transformers' CLIP; the kit's XY grids work around it, your own pipe.load_lora_weights would fail",
             f'pip install "diffusers>={DIFFUSERS_READS_FLAT_CLIP}"', blocking=False),
)


def _tested(name: str, v: str, spec: str) -> Check:
    """An in-range package, placed against the versions the suite passed with."""
    if name not in TESTED:
        return Check(name, True, f"{v} (needs {spec or 'any'})")
    lo, hi = TESTED[name]
    try:
        inside = Version(lo) <= Version(v) <= Version(hi)
    except InvalidVersion:
        inside = False
    if inside:
        return Check(name, True, f"{v} (tested {lo} to {hi})")
    side = "newer" if Version(v) > Version(hi) else "older"
    return Check(name, False, f"{v}: {side} than the tested {lo} to {hi}; it may work (run the self-test)",
                 f'if something breaks: pip install "{name}=={hi}"', warning=True)


def stack_versions() -> dict[str, str | None]:
    """Installed versions of the packages the rules talk about (None = not installed)."""
    names = set(CORE) | set(OPTIONAL) | {n for kb in KNOWN_BAD for n in kb.when}
    return {n: installed_version(n) for n in sorted(names)}


def runtime_peft_minimums() -> dict[str, str]:
    """{library: minimum peft} that the installed transformers / diffusers enforce in their own
    adapter code (their MIN_PEFT_VERSION), so a future gate is named before it fails."""
    out = {}
    for lib, module in (("transformers", "transformers.integrations.peft"),
                        ("diffusers", "diffusers.utils.constants")):
        try:
            out[lib] = str(getattr(importlib.import_module(module), "MIN_PEFT_VERSION"))
        except Exception:  # not installed, or no such constant in this release: nothing to enforce
            continue
    return out


def check_combinations(versions: dict[str, str | None] | None = None,
                       peft_minimums: dict[str, str] | None = None) -> list[Check]:
    """Known-bad combinations in `versions` (default: installed), each with its fix; and, for the
    installed stack, any library whose own peft minimum the installed peft does not meet."""
    real = versions is None
    versions = stack_versions() if real else versions
    checks = [Check("known-bad combination", False, f"{' + '.join(f'{n} {versions[n]}' for n in kb.when)}: {kb.why}",
                    kb.fix, warning=not kb.blocking) for kb in KNOWN_BAD if kb.matches(versions)]
    mins = runtime_peft_minimums() if (real and peft_minimums is None) else (peft_minimums or {})
    peft = versions.get("peft")
    for lib, need in mins.items():
        try:
            short = peft is not None and Version(peft) < Version(need)
        except InvalidVersion:
            short = False
        if short and not any(c.detail.startswith(f"{lib} ") for c in checks):
            # the kit injects adapters with peft itself, so a library's gate only hits the learner's own calls
            checks.append(Check("known-bad combination", False,
                                f"{lib} {versions.get(lib)} + peft {peft}: {lib}'s own adapter methods ask for "
                                f"peft >= {need} (the kit does not use them)",
                                f'pip install "peft>={need}"  (or the tested {lib}: pip install '
                                f'"{lib}=={TESTED[lib][1] if lib in TESTED else versions.get(lib)}")', warning=True))
    if not checks:
        checks.append(Check("known-bad combination", True, "none of the known-bad combinations"))
    return checks


# --- the machine ---------------------------------------------------------------------------------
DISK_WARN_GB = 15.0  # an SDXL base (~7 GB) + its run; Flux needs more (the plan says how much)
RAM_WARN_GB = 8.0  # SDXL's text encoders and VAE loaded beside the cache; Colab's 12.7 GB is enough


def check_disk(path: str | os.PathLike | None = None, free_gb: float | None = None) -> Check:
    """Free space where models and runs go (the Hugging Face cache and the projects folder)."""
    where = Path(path or os.environ.get("HF_HOME") or Path.home())
    while not where.exists():
        where = where.parent
    free = free_gb if free_gb is not None else shutil.disk_usage(where).free / 2**30
    ok = free >= DISK_WARN_GB
    return Check("disk", ok, f"{free:.0f} GB free at {where}",
                 "" if ok else "free space (an SDXL base needs ~7 GB, Flux ~24 GB): delete old runs or models, or "
                               "set HF_HOME to a larger disk", warning=not ok)


def total_ram_gb() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):  # not on this OS
        return None


def check_ram(total_gb: float | None = None) -> Check:
    ram = total_gb if total_gb is not None else total_ram_gb()
    if ram is None:
        return Check("RAM", True, "unknown on this system", warning=True)
    ok = ram >= RAM_WARN_GB
    return Check("RAM", ok, f"{ram:.1f} GB", "" if ok else "SD1.5 only, with cache_latents='disk', or a larger "
                                                         "machine (Colab has 12.7 GB)", warning=not ok)


def check_drive(colab: bool | None = None, mounted: bool | None = None) -> Check:
    colab = in_colab() if colab is None else colab
    if not colab:
        return Check("Drive", True, "not on Colab: projects are kept on this disk")
    mounted = drive_mounted() if mounted is None else mounted
    return Check("Drive", mounted, "Google Drive mounted: projects survive the runtime" if mounted else
                 "Google Drive not mounted: projects are lost when the runtime ends",
                 "run 00_setup with USE_DRIVE = True (or drive.mount('/content/drive'))", warning=not mounted)


def diagnose(versions: dict[str, str | None] | None = None, reqs: dict[str, str] | None = None) -> SelftestReport:
    """Every check but the training steps: python, the stack (ranges, tested, known-bad), torch kept,
    GPU, disk, RAM, Drive. `versions` replaces the installed versions (tests, what-ifs)."""
    report = SelftestReport(heading="doctor")
    report.checks.append(Check("python", sys.version_info >= (3, 10), sys.version.split()[0],
                               "use Python 3.10 or newer"))
    report.checks += check_versions(reqs, versions)
    report.checks += check_combinations(versions)
    torch_check = check_torch()
    report.checks.append(torch_check)
    if torch_check.ok:
        report.checks.append(check_gpu())
    report.checks += [check_disk(), check_ram(), check_drive()]
    return report
