"""Step 6: judge a LoRA by pictures - XY grids, LoRA mixing and a forgetting check.

FluxTrainer walkthrough §8: an XY chart with the LoRA's checkpoints on one axis and strength 0.0 -> 1.0 on the
other showed the run had converged at 1500 steps and the best strength was near 0.8. Trainers do
not build that chart; users paste it together in ComfyUI or A1111. Here it is one call:

    res = xy_grid("stable-diffusion-v1-5/stable-diffusion-v1-5", ["run/lora-step00000500.safetensors",
                  "run/lora.safetensors"], "uehxbfklaq cat on a sofa", seeds=[1, 2])
    res.show(); res.save("grid.png")

How the comparison is kept fair:
- the base pipeline is loaded once; every LoRA file becomes a named adapter (diffusers' own
  `load_lora_weights`, which reads kohya and diffusers key layouts alike) and cells switch between
  them with `set_adapters`, so no cell pays for a reload and nothing else changes between cells;
- every cell draws its starting noise from a CPU generator seeded with the cell's seed, so the
  same seed gives the same noise on any device and differences come from the LoRA alone;
- a cell without any active LoRA (strength 0) runs with the adapters disabled, so it is the base
  model's picture exactly (peft adds the LoRA path times a zero scale at weight 0, which gave
  identical pixels on CPU too, but disabling skips the work and does not rely on numerics).

Memory (a 15 GB T4): weights in fp16, model offload for SDXL/Flux, sequential offload or
`quantize="nf4"` when the Flux transformer alone does not fit, VAE slicing/tiling; see
`prepare_pipeline`. Load the base once with `load_pipeline` and pass the pipeline to `xy_grid`,
`mix_grid` and `forgetting_check`: each loads its LoRAs, draws, and removes them again.

Any axis can be another parameter, as in AUTOMATIC1111's X/Y/Z plot: `cfg=5,7,9`, `steps=10,20`,
`sampler=euler,dpmsolver++`, `prompt_sr=cat,dog,fox` (find "cat" in the prompt, replace it by
each value), `seed=1,2,3`, `size=512x512,512x768`. Axes beyond x and y become stacked panels.
"""

from __future__ import annotations

import csv
import inspect
import itertools
import json
import logging
import math
import os
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from ..errors import ConfigError, LoraNbError, ModelLoadError
from ..families import SAMPLE_DEFAULTS
from ..families.lorafiles import load_into_pipeline
from ..prompts import UNRELATED_PROMPTS

DEFAULT_STRENGTHS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # FluxTrainer walkthrough §8: LoRA strength 0.0 -> 1.0 in 0.2 steps
DEFAULT_SEED = 42

# name -> (diffusers scheduler class, extra from_config arguments). A1111-style names are accepted
# too (see _SAMPLER_ALIASES). "default" is the scheduler the base model ships with.
SAMPLERS: dict[str, tuple[str, dict]] = {
    "euler": ("EulerDiscreteScheduler", {}),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}),
    "heun": ("HeunDiscreteScheduler", {}),
    "lms": ("LMSDiscreteScheduler", {}),
    "ddim": ("DDIMScheduler", {}),
    "pndm": ("PNDMScheduler", {}),
    "dpm2": ("KDPM2DiscreteScheduler", {}),
    "dpm2_a": ("KDPM2AncestralDiscreteScheduler", {}),
    "dpmsolver++": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++"}),
    "dpmsolver++_karras": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++",
                                                           "use_karras_sigmas": True}),
    "dpmsolver_single": ("DPMSolverSinglestepScheduler", {}),
    "unipc": ("UniPCMultistepScheduler", {}),
    "deis": ("DEISMultistepScheduler", {}),
    "flow_euler": ("FlowMatchEulerDiscreteScheduler", {}),
}
_SAMPLER_ALIASES = {
    "eulera": "euler_a", "eulerancestral": "euler_a", "dpm++2m": "dpmsolver++", "dpmpp2m": "dpmsolver++",
    "dpm++2mkarras": "dpmsolver++_karras", "dpmpp2mkarras": "dpmsolver++_karras", "plms": "pndm",
    "dpm2a": "dpm2_a", "dpm++2s": "dpmsolver_single", "flowmatcheuler": "flow_euler",
}

# Axis kinds and what they vary. "weight:<name>" (one LoRA's weight in a mix) and "mix" (whole
# weight combinations) are built by `mix_grid`.
AXIS_KINDS = {
    "lora": "LoRA file / checkpoint",
    "strength": "LoRA strength (adapter weight), e.g. 0,0.4,0.8,1",
    "prompt": "whole prompts (quote a prompt that contains commas)",
    "prompt_sr": "prompt search/replace: the first value is found in the prompt and replaced by each value",
    "negative": "negative prompts",
    "seed": "random seed of the starting noise",
    "cfg": "guidance scale (CFG; for Flux-dev the distilled guidance)",
    "steps": "inference (denoising) steps",
    "sampler": "scheduler: " + ", ".join(["default", *SAMPLERS]),
    "size": "image size WxH, e.g. 512x512,512x768",
}
_FLOAT_KINDS, _INT_KINDS = {"strength", "cfg"}, {"seed", "steps"}
# prompt-like axes apply first so that prompt_sr edits whichever prompt a cell got
_APPLY_ORDER = {"prompt": 0, "negative": 0, "prompt_sr": 2}


# --------------------------------------------------------------------------------------------------
# LoRA files: discovery, checkpoint order, labels
# --------------------------------------------------------------------------------------------------
@dataclass
class LoraFile:
    """One LoRA file to compare: where it is, its checkpoint step, a label for the grid, its metadata."""

    path: Path
    label: str
    step: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    adapter: str = ""  # the adapter name while loaded into a pipeline

    @property
    def base_model_version(self) -> str:
        return self.metadata.get("ss_base_model_version", "")


_STEP_RE = re.compile(r"step[-_]?0*(\d+)", re.IGNORECASE)
_TRAILING_NUM_RE = re.compile(r"[-_]0*(\d+)$")
_GENERIC_STEMS = {"pytorch_lora_weights", "adapter_model", "lora_weights", "model"}


def read_lora_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The string metadata of a .safetensors file (kohya's ss_* fields); {} when it has none."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except Exception as e:  # not a safetensors file, truncated download, ...
        raise ModelLoadError(f"{path}: not a readable .safetensors file ({e}) -> re-download or re-export it") from None


def checkpoint_step(path: str | os.PathLike, metadata: Mapping[str, str] | None = None) -> int | None:
    """The training step a LoRA file was saved at, or None for a file without one (the final file).

    Order of evidence: kohya's `ss_steps` metadata (the global step at save time), then the file
    name (`lora-step00000500`, `lora-000500`), then the folder name for diffusers' generic
    `checkpoint-500/pytorch_lora_weights.safetensors`.
    """
    if metadata and str(metadata.get("ss_steps", "")).strip().isdigit():
        return int(metadata["ss_steps"])
    p = Path(path)
    names = [p.stem] + ([p.parent.name] if p.stem in _GENERIC_STEMS else [])
    for name in names:
        m = _STEP_RE.search(name) or _TRAILING_NUM_RE.search(name)
        if m:
            return int(m.group(1))
    return None


def find_lora_files(paths: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    """Expand folders: a diffusers save folder gives its pytorch_lora_weights.safetensors, any other
    folder (a run's output_dir) all the .safetensors files directly inside it."""
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            if (p / "pytorch_lora_weights.safetensors").is_file():
                out.append(p / "pytorch_lora_weights.safetensors")
                continue
            found = sorted(q for q in p.glob("*.safetensors") if q.is_file())
            if not found:
                raise ModelLoadError(f"{p}: no .safetensors LoRA files in this folder -> pass the LoRA files "
                                     f"themselves or the run folder that holds them")
            out.extend(found)
        elif p.is_file():
            if p.suffix.lower() != ".safetensors":
                raise ModelLoadError(f"{p}: only .safetensors LoRA files are loaded (pickle .ckpt/.pt/.bin files "
                                     f"can run code when opened) -> convert it to safetensors first")
            out.append(p)
        else:
            raise ModelLoadError(f"LoRA file not found: {p} -> check the path (a run's checkpoints are in its "
                                 f"output_dir)")
    return out


def lora_files(paths: str | os.PathLike | Sequence[str | os.PathLike], sort: bool = True) -> list[LoraFile]:
    """LoraFile records for `paths` (files or folders), in checkpoint order when `sort`.

    Numbered checkpoints come first by step; files without a step (the final `lora.safetensors`)
    come last, in the order given. Labels read "step 500"; a label used twice gets the file name.
    """
    files = []
    for p in find_lora_files(paths):
        meta = read_lora_metadata(p)
        step = checkpoint_step(p, meta)
        stem = p.parent.name if p.stem in _GENERIC_STEMS else p.stem
        files.append(LoraFile(p, f"step {step}" if step is not None else stem, step, meta))
    if sort:
        files = [f for _, f in sorted(enumerate(files), key=lambda t: (t[1].step is None, t[1].step or 0, t[0]))]
    seen: dict[str, int] = {}
    for f in files:
        seen[f.label] = seen.get(f.label, 0) + 1
    for f in files:
        if seen[f.label] > 1:
            f.label = f"{f.label} ({f.path.name})"
    return files


# --------------------------------------------------------------------------------------------------
# Axes
# --------------------------------------------------------------------------------------------------
@dataclass
class Axis:
    """One dimension of the grid: what it varies (`kind`), its values and their labels."""

    kind: str
    values: list
    labels: list[str]

    @property
    def title(self) -> str:
        if self.kind.startswith("weight:"):
            return f"{self.kind[7:]} weight"
        return {"lora": "checkpoint", "prompt_sr": f"prompt S/R ({self.values[0]})" if self.values else "prompt S/R",
                "cfg": "CFG", "mix": "LoRA weights"}.get(self.kind, self.kind)

    def __len__(self) -> int:
        return len(self.values)


def make_axis(kind: str, values: Sequence[Any], labels: Sequence[str] | None = None) -> Axis:
    """An Axis with values converted to the kind's type and readable labels."""
    if kind not in AXIS_KINDS and not kind.startswith("weight:") and kind not in ("mix", ""):
        raise ConfigError(f"unknown axis {kind!r} -> use one of: {', '.join(AXIS_KINDS)}")
    values = list(values)
    if not values:
        raise ConfigError(f"axis {kind!r} has no values -> give at least one, e.g. {kind}=a,b")
    try:
        if kind in _FLOAT_KINDS or kind.startswith("weight:"):
            values = [float(v) for v in values]
        elif kind in _INT_KINDS:
            values = [int(v) for v in values]
        elif kind == "size":
            values = [_parse_size(v) for v in values]
        elif kind == "sampler":
            values = [_canonical_sampler(v) for v in values]
        elif kind == "lora" and not all(isinstance(v, LoraFile) for v in values):
            values = lora_files([v.path if isinstance(v, LoraFile) else v for v in values], sort=False)
    except (TypeError, ValueError) as e:
        what = "numbers" if kind in _FLOAT_KINDS | _INT_KINDS else "values"
        raise ConfigError(f"axis {kind!r}: bad value ({e}) -> {what} separated by commas") from None
    if kind in _FLOAT_KINDS and any(not math.isfinite(v) for v in values):
        raise ConfigError(f"axis {kind!r}: values must be finite numbers")
    if kind in _INT_KINDS and any(v < (0 if kind == "seed" else 1) for v in values):
        raise ConfigError(f"axis {kind!r}: values must be {'>= 0' if kind == 'seed' else '>= 1'}")
    if labels is None:
        labels = [_label(kind, v) for v in values]
    if len(labels) != len(values):
        raise ConfigError(f"axis {kind!r}: {len(labels)} labels for {len(values)} values")
    return Axis(kind, values, [str(x) for x in labels])


def parse_axis(spec: str) -> Axis:
    """Parse `kind=v1,v2,...` (values split like CSV, so "a cat, sitting" in quotes stays whole)."""
    if "=" not in spec:
        raise ConfigError(f"axis {spec!r} has no values -> write it as name=v1,v2 (e.g. cfg=5,7,9); names: "
                          f"{', '.join(AXIS_KINDS)}")
    kind, _, rest = spec.partition("=")
    kind = kind.strip().lower()
    values = next(csv.reader([rest], skipinitialspace=True), [])
    values = [v.strip() for v in values if v.strip() != "" or kind in ("prompt_sr", "negative")]
    return make_axis(kind, values)


def _parse_size(v) -> tuple[int, int]:
    if isinstance(v, (tuple, list)) and len(v) == 2:
        w, h = int(v[0]), int(v[1])
    else:
        m = re.fullmatch(r"\s*(\d+)\s*[xX*]\s*(\d+)\s*", str(v))
        if not m:
            raise ValueError(f"{v!r} is not WxH")
        w, h = int(m.group(1)), int(m.group(2))
    if w % 8 or h % 8 or w <= 0 or h <= 0:
        raise ValueError(f"{w}x{h}: sides must be positive multiples of 8 (64 for training resolutions)")
    return w, h


def _canonical_sampler(name: str) -> str:
    key = re.sub(r"[\s\-_]", "", str(name).lower())
    for canon in ("default", *SAMPLERS):
        if key == re.sub(r"[\s\-_]", "", canon):
            return canon
    if key in _SAMPLER_ALIASES:
        return _SAMPLER_ALIASES[key]
    raise ValueError(f"unknown sampler {name!r}; known: default, {', '.join(SAMPLERS)}")


def _label(kind: str, v) -> str:
    if kind in _FLOAT_KINDS or kind.startswith("weight:"):
        return f"{v:g}"
    if kind == "size":
        return f"{v[0]}x{v[1]}"
    if kind == "lora":
        return v.label if isinstance(v, LoraFile) else ("no LoRA" if v is None else Path(str(v)).stem)
    if kind == "prompt_sr":
        return v if v != "" else "(removed)"
    return str(v)


# --------------------------------------------------------------------------------------------------
# Pipeline loading and placement
# --------------------------------------------------------------------------------------------------
def pipeline_family(pipe) -> str:
    """sd15 / sdxl / flux from the pipeline class (StableDiffusionXL*, Flux*, StableDiffusion*)."""
    name = type(pipe).__name__
    if "Flux" in name:
        return "flux"
    if "XL" in name:
        return "sdxl"
    return "sd15"


def resolve_device(device: str | None = None):
    import torch

    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for but no CUDA GPU is visible -> use --device cpu, or on "
                          f"Colab choose Runtime > Change runtime type > T4 GPU")
    return dev


def resolve_dtype(dtype: str | None, device) -> "Any":
    """fp32 on CPU; on a GPU fp16 for Turing (T4, no bf16 units) and bf16 for Ampere and newer."""
    import torch

    from ..env import gpu_info, resolve_mixed_precision

    table = {"fp32": torch.float32, "float32": torch.float32, "no": torch.float32,
             "fp16": torch.float16, "float16": torch.float16, "bf16": torch.bfloat16, "bfloat16": torch.bfloat16}
    if dtype not in (None, "", "auto"):
        if dtype not in table:
            raise ConfigError(f"dtype {dtype!r} unknown -> use auto, fp32, fp16 or bf16")
        return table[dtype]
    if device.type != "cuda":
        return torch.float32
    return table[resolve_mixed_precision("auto", gpu_info())]


def load_pipeline(base: str | os.PathLike, device: str | None = None, dtype: str | None = None,
                  offload: str = "auto", quantize: str | None = None):
    """Load the base model once (diffusers `DiffusionPipeline.from_pretrained`, safetensors only) and
    place it with `prepare_pipeline`. `quantize="nf4"` loads the denoiser (and T5 for Flux) in 4-bit
    with bitsandbytes, which is how Flux fits a 15 GB T4 without sequential offload (GPU only)."""
    from diffusers import DiffusionPipeline

    dev = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, dev)
    kwargs: dict[str, Any] = {"torch_dtype": torch_dtype, "use_safetensors": True}
    if quantize:
        if quantize != "nf4":
            raise ConfigError(f"quantize={quantize!r} unknown -> use nf4 or leave it empty")
        if dev.type != "cuda":
            raise ConfigError("quantize=nf4 needs a CUDA GPU (bitsandbytes 4-bit loading) -> drop it on CPU")
        from diffusers.quantizers import PipelineQuantizationConfig

        cfg = DiffusionPipeline.load_config(str(base))
        comps = [c for c in ("transformer", "unet", "text_encoder_2") if c in cfg]
        kwargs["quantization_config"] = PipelineQuantizationConfig(
            quant_backend="bitsandbytes_4bit", components_to_quantize=comps,
            quant_kwargs={"load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "bnb_4bit_compute_dtype": torch_dtype})
    try:
        with warnings.catch_warnings():  # diffusers 0.42 renames torch_dtype to dtype; older ones know only torch_dtype
            warnings.filterwarnings("ignore", message=".*torch_dtype.*", category=FutureWarning)
            pipe = DiffusionPipeline.from_pretrained(str(base), **kwargs)
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"cannot load the base model {base!r}: {str(e).splitlines()[0]} -> give a local folder "
                             f"in diffusers layout (model_index.json, unet/ or transformer/, vae/, ...) or a Hub "
                             f"repo id (needs internet and, for gated models like Flux, HF_TOKEN)") from None
    prepare_pipeline(pipe, dev, offload=offload)
    return pipe


def prepare_pipeline(pipe, device: str | None = None, offload: str = "auto") -> str:
    """Put `pipe` on `device` within the GPU's memory; returns the placement used.

    On CUDA, `offload="auto"` keeps everything on the GPU when it fits and otherwise uses
    diffusers' offloading: model offload (one component on the GPU at a time) for SDXL/Flux on
    cards under 24 GB such as Colab's T4, sequential offload (layer by layer, slow) when even the
    largest component would not fit. VAE slicing/tiling keep decoding big images within memory.
    On the CPU the pipeline simply moves there. The pipeline's own per-call progress bar is turned
    off; the grid shows one bar over all cells instead.
    """
    from ..env import gpu_info

    dev = device if not isinstance(device, (str, type(None))) else resolve_device(device)
    pipe.set_progress_bar_config(disable=True)
    if offload not in ("auto", "none", "model", "sequential"):
        raise ConfigError(f"offload={offload!r} unknown -> use auto, none, model or sequential")
    if dev.type != "cuda":
        pipe.to(dev)
        return dev.type
    gpu = gpu_info()
    vram = gpu.total_gb if gpu else 0.0
    sizes = [sum(p.numel() * p.element_size() for p in m.parameters()) / 2**30
             for m in pipe.components.values() if hasattr(m, "parameters")]
    if offload == "auto":
        if sizes and max(sizes) > 0.8 * vram:
            offload = "sequential"
        elif (pipeline_family(pipe) in ("sdxl", "flux") and vram < 24) or sum(sizes) > 0.7 * vram:
            offload = "model"
        else:
            offload = "none"
    if offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=dev)
    elif offload == "model":
        pipe.enable_model_cpu_offload(device=dev)
    else:
        pipe.to(dev)
    vae = getattr(pipe, "vae", None)
    for method in ("enable_slicing", "enable_tiling"):
        if hasattr(vae, method):
            getattr(vae, method)()
    return {"sequential": "sequential_offload", "model": "model_offload"}.get(offload, "cuda")


class _DropMessages(logging.Filter):
    def __init__(self, *fragments: str):
        super().__init__()
        self.fragments = fragments

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(f in record.getMessage() for f in self.fragments)


@contextmanager
def _quiet_loading():
    """Silence false alarms while adapters are loaded and removed, keeping real warnings (such as
    diffusers' list of keys it could not match): peft's "Already found a peft_config" and
    "Adapter ... was active which is now deleted"; transformers' load report listing the *other*
    adapter's weights as MISSING when a second adapter is loaded (the weights are loaded
    correctly; the tests compare the pictures); diffusers' note that a LoRA has no text-encoder
    part (most LoRAs train only the UNet/transformer)."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    lora_logger = logging.getLogger("diffusers.loaders.lora_base")
    drop = _DropMessages("No LoRA keys associated to")
    lora_logger.addFilter(drop)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*peft_config.*")
            warnings.filterwarnings("ignore", message=".*Adapter .* was active which is now deleted.*")
            yield
    finally:
        lora_logger.removeFilter(drop)
        hf_logging.set_verbosity(level)


def _adapter_names(pipe) -> set[str]:
    try:
        return {a for names in pipe.get_list_adapters().values() for a in names}
    except (ValueError, AttributeError):
        return set()


def load_lora(pipe, lora: LoraFile, adapter: str) -> None:
    """Load one LoRA file into `pipe` as adapter `adapter`; explain a mismatch instead of a stack trace."""
    family = pipeline_family(pipe)
    if _is_lycoris(lora.path):
        raise ModelLoadError(
            f"{lora.path}: a LyCORIS LoHa/LoKr file, which diffusers' LoRA loader cannot apply -> compare its "
            f"checkpoints in ComfyUI or A1111/Forge, or train with network_type lora, locon or dora for grids here")
    try:
        with _quiet_loading():
            load_into_pipeline(pipe, lora.path, adapter_name=adapter)
    except Exception as e:  # ValueError/RuntimeError/KeyError from key conversion or shape mismatch
        if adapter in _adapter_names(pipe):
            pipe.delete_adapters([adapter])
        version = lora.base_model_version
        made_for = f" Its metadata says ss_base_model_version={version}." if version else ""
        raise ModelLoadError(
            f"{lora.path}: cannot be loaded into this {family} base model ({type(e).__name__}: "
            f"{str(e).splitlines()[0][:300]}).{made_for} -> use a LoRA trained for {family}, or a base model of "
            f"the family the LoRA was trained for") from None
    if adapter not in _adapter_names(pipe):
        raise ModelLoadError(f"{lora.path}: none of its weights match a layer of this {family} model -> it was "
                             f"trained for another model family or is not a LoRA file")


def _is_lycoris(path: Path) -> bool:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return any(".hada_w" in k or ".lokr_w" in k for k in f.keys())


@contextmanager
def loras_loaded(pipe, loras: Sequence[LoraFile]) -> Iterator[list[LoraFile]]:
    """Load `loras` as named adapters for the duration of the block, then delete them again so the
    pipeline is back to the base model (and can be reused for the next grid)."""
    taken = _adapter_names(pipe)
    loaded: list[str] = []
    try:
        for i, lf in enumerate(loras):
            name = re.sub(r"\W", "_", f"lnb{i}_{lf.path.stem}")[:48]
            while name in taken:
                name += "_"
            load_lora(pipe, lf, name)
            lf.adapter = name
            taken.add(name)
            loaded.append(name)
        yield list(loras)
    finally:
        if loaded:
            with _quiet_loading():
                if hasattr(pipe, "enable_lora"):
                    pipe.enable_lora()
                pipe.delete_adapters(loaded)
        for lf in loras:
            lf.adapter = ""


# --------------------------------------------------------------------------------------------------
# The result
# --------------------------------------------------------------------------------------------------
@dataclass
class XYResult:
    """A rendered grid: the labelled sheet, every cell at full size and how each cell was made."""

    image: Any  # PIL.Image.Image, the whole labelled sheet (all panels)
    cells: list[list[list[Any]]]  # [panel][row][col] -> PIL image at generation size
    x: Axis
    y: Axis
    panels: list[dict[str, str]]  # per panel: axis title -> value label ([{}] when there is one panel)
    params: list[list[list[dict]]]  # [panel][row][col] -> prompt, seed, steps, cfg, sampler, size, loras
    title: str = ""
    boxes: list[list[list[tuple[int, int, int, int]]]] = field(default_factory=list)  # where each cell sits on `image`

    def cell(self, row: int, col: int, panel: int = 0):
        return self.cells[panel][row][col]

    @property
    def shape(self) -> tuple[int, int, int]:
        """(panels, rows, cols)."""
        return len(self.cells), len(self.y), len(self.x)

    def info(self) -> dict:
        """JSON-friendly description: axes, panels, and every cell's settings."""
        return {"title": self.title,
                "x": {"axis": self.x.title, "labels": self.x.labels},
                "y": {"axis": self.y.title, "labels": self.y.labels},
                "panels": self.panels, "cells": self.params}

    def save(self, path: str | os.PathLike) -> Path:
        """Write the sheet as PNG (atomically), with `info()` stored in a `lora-nb` text chunk."""
        from PIL.PngImagePlugin import PngInfo

        from ..fileio import atomic_path

        path = Path(path)
        if path.suffix.lower() != ".png":
            path = path.with_suffix(".png")
        meta = PngInfo()
        meta.add_text("lora-nb", json.dumps(self.info(), ensure_ascii=False))
        with atomic_path(path) as tmp:
            self.image.save(tmp, format="PNG", pnginfo=meta)
        return path

    def save_cells(self, folder: str | os.PathLike) -> list[Path]:
        """Each cell as its own full-size PNG: p<panel>_r<row>_c<col>.png."""
        from ..fileio import atomic_path

        out = []
        for p, panel in enumerate(self.cells):
            for r, row in enumerate(panel):
                for c, im in enumerate(row):
                    path = Path(folder) / f"p{p}_r{r}_c{c}.png"
                    with atomic_path(path) as tmp:
                        im.save(tmp, format="PNG")
                    out.append(path)
        return out

    def show(self):
        """Display inline in Jupyter/Colab; outside a notebook, open the system image viewer."""
        try:
            from IPython import get_ipython
            from IPython.display import display

            if get_ipython() is not None:
                display(self.image)
                return
        except ImportError:
            pass
        self.image.show()

    def _repr_png_(self) -> bytes:
        from ..grids import _png_bytes

        return _png_bytes(self.image)


# --------------------------------------------------------------------------------------------------
# The engine: cells -> images -> sheet
# --------------------------------------------------------------------------------------------------
def _apply(params: dict, axis: Axis, i: int) -> None:
    kind, v = axis.kind, axis.values[i]
    if kind == "lora":
        params["lora"] = v
    elif kind == "prompt":
        params["prompt"] = v
    elif kind == "negative":
        params["negative_prompt"] = v
    elif kind == "prompt_sr":
        search = axis.values[0]
        params["prompt"] = params["prompt"].replace(search, v)
        params["negative_prompt"] = params["negative_prompt"].replace(search, v)  # as A1111's Prompt S/R
    elif kind == "size":
        params["width"], params["height"] = v
    elif kind.startswith("weight:"):
        params["weights"] = {**(params["weights"] or {}), kind[7:]: v}
    elif kind == "mix":
        params["weights"] = dict(v)
    elif kind:
        params[kind] = v


def _active_adapters(params: dict, by_name: Mapping[str, LoraFile]) -> dict[str, float]:
    """adapter -> weight for a cell; zero weights are left out so weight 0 is exactly "not loaded"."""
    if params.get("weights") is not None:
        return {by_name[n].adapter: w for n, w in params["weights"].items() if w != 0}
    lf = params.get("lora")
    if isinstance(lf, LoraFile) and params.get("strength", 0) != 0:
        return {lf.adapter: params["strength"]}
    return {}


def _scheduler(pipe, name: str | None, cache: dict, original):
    if name in (None, "default"):
        return original
    if name not in cache:
        import diffusers

        if name == "euler" and type(original).__name__.startswith("FlowMatch"):
            name_cls, extra = "FlowMatchEulerDiscreteScheduler", {}  # Flux: Euler is the flow-matching Euler
        else:
            name_cls, extra = SAMPLERS[name]
        cls = getattr(diffusers, name_cls)
        compatible = {c.__name__ for c in original.compatibles} | {type(original).__name__}
        if name_cls not in compatible:
            ok = sorted(n for n, (c, _) in SAMPLERS.items() if c in compatible)
            raise ConfigError(f"sampler {name!r} ({name_cls}) does not work with this {pipeline_family(pipe)} model "
                              f"-> use one of: default, {', '.join(ok)}")
        cache[name] = cls.from_config(original.config, **extra)
    return cache[name]


def _call_kwargs(pipe, params: dict, generator) -> dict:
    accepted = inspect.signature(pipe.__call__).parameters
    kw = {"prompt": params["prompt"], "num_inference_steps": params["steps"], "guidance_scale": params["cfg"],
          "generator": generator, "output_type": "pil"}
    if params.get("negative_prompt"):
        kw["negative_prompt"] = params["negative_prompt"]
    if params.get("width"):
        kw["width"], kw["height"] = params["width"], params["height"]
    return {k: v for k, v in kw.items() if k in accepted}


def _generate(pipe, params: dict, adapters: dict[str, float], has_adapters: bool, scheduler, seeds=None):
    """One cell's picture; with `seeds`, that cell's picture for each seed, drawn in one batch."""
    import torch

    if has_adapters:
        if adapters:
            pipe.enable_lora()
            pipe.set_adapters(list(adapters), adapter_weights=list(adapters.values()))
        else:
            pipe.disable_lora()  # the exact base model, see the module docstring
    pipe.scheduler = scheduler
    # Noise from a CPU generator: the same seed gives the same starting noise on CPU, T4 or A100.
    # A batch gets one generator per image, so each seed's noise is what it is in a batch of one.
    many = seeds is not None
    generators = [torch.Generator(device="cpu").manual_seed(int(s)) for s in (seeds if many else [params["seed"]])]
    kw = _call_kwargs(pipe, params, generators if many else generators[0])
    if many:
        kw["num_images_per_prompt"] = len(generators)
    try:
        with torch.inference_mode():
            images = pipe(**kw).images
    except torch.cuda.OutOfMemoryError:
        raise LoraNbError("the GPU ran out of memory while generating a cell -> lower width/height or batch "
                          "(CLI --batch), use offload='model' or 'sequential' (CLI --offload), quantize='nf4' for "
                          "Flux, or close other notebooks holding GPU memory") from None
    return images if many else images[0]


class _SeedBatches:
    """Draws a cell's seeds together, `batch` per pipeline call, and hands them out cell by cell.

    The grid is walked cell by cell as before; the first cell of a group that differs only by seed
    renders the whole group. With one generator per image the pictures are those of a batch of one
    (up to float rounding); what changes is speed and peak memory (`batch` images at once), so it is
    opt-in: 1 for SDXL on a T4, all seeds for the 64 px tiny model on a CPU.
    """

    def __init__(self, seed_axis: "Axis | None", batch: int):
        self.seeds = list(seed_axis.values) if seed_axis is not None and batch > 1 else []
        self.batch = batch
        self.done: dict[str, dict[int, object]] = {}

    def image(self, pipe, params: dict, adapters: dict[str, float], has_adapters: bool, scheduler):
        if len(self.seeds) < 2:
            return _generate(pipe, params, adapters, has_adapters, scheduler)
        key = repr(sorted((k, v) for k, v in params.items() if k != "seed"))
        group = self.done.setdefault(key, {})
        if params["seed"] not in group:
            todo = [s for s in dict.fromkeys(self.seeds) if s not in group] or [params["seed"]]
            for i in range(0, len(todo), self.batch):
                chunk = todo[i:i + self.batch]
                group.update(zip(chunk, _generate(pipe, params, adapters, has_adapters, scheduler, seeds=chunk)))
        return group[params["seed"]]


def _cell_record(params: dict, adapters: dict[str, float], by_adapter: Mapping[str, LoraFile]) -> dict:
    return {"prompt": params["prompt"], "negative_prompt": params["negative_prompt"], "seed": params["seed"],
            "steps": params["steps"], "cfg": params["cfg"], "sampler": params["sampler"] or "default",
            "width": params["width"], "height": params["height"],
            "loras": {str(by_adapter[a].path): w for a, w in adapters.items()}}


def _describe_fixed(axes: Sequence[Axis], params: dict, varying: set[str]) -> list[str]:
    """Title parts for what every cell shares: single-valued axes and the settings no axis varies."""
    parts = []
    for a in axes:
        if a.kind in ("lora", "strength") and not isinstance(params.get("lora"), LoraFile):
            continue
        if a.kind:
            parts.append(f"{a.title}: {a.labels[0]}")
    kinds = {a.kind for a in axes} | varying
    for key, name in (("steps", "steps"), ("cfg", "CFG"), ("sampler", "sampler")):
        if key not in kinds and params.get(key) is not None:
            parts.append(f"{name}: {params[key]}")
    if "size" not in kinds and params.get("width"):
        parts.append(f"size: {params['width']}x{params['height']}")
    return parts


def _render(pipe, x: Axis, y: Axis, panels: list[Axis], fixed_axes: list[Axis], params: dict,
            loras: Sequence[LoraFile], *, title: str | None, base_label: str, cell_size, progress: bool,
            font: str | None, desc: str, batch: int = 1) -> XYResult:
    from tqdm.auto import tqdm

    from ..grids import labelled_grid, stack_panels

    for a in fixed_axes:
        _apply(params, a, 0)
    for a in (x, y, *panels):
        if a.kind == "prompt_sr":
            prompts = [params["prompt"]] + [v for b in (x, y, *panels) if b.kind == "prompt" for v in b.values]
            if not any(a.values[0] in p for p in prompts):
                raise ConfigError(f"prompt_sr: {a.values[0]!r} does not occur in the prompt -> the first prompt_sr "
                                  f"value is the text to find, e.g. prompt 'a cat on a sofa' with prompt_sr=cat,dog")
    by_name = {lf.label: lf for lf in loras}
    by_adapter = {lf.adapter: lf for lf in loras}
    has_adapters = bool(loras)
    original = pipe.scheduler
    cache: dict = {}
    for name in {params["sampler"], *(v for a in (x, y, *panels) if a.kind == "sampler" for v in a.values)}:
        _scheduler(pipe, name, cache, original)  # an incompatible sampler fails before any cell is drawn
    combos = list(itertools.product(*[range(len(a)) for a in panels]))
    ordered = sorted([(a, "p", k) for k, a in enumerate(panels)] + [(y, "y", 0), (x, "x", 0)],
                     key=lambda t: _APPLY_ORDER.get(t[0].kind, 1))
    if not isinstance(batch, int) or batch < 1:
        raise ConfigError(f"batch: {batch!r} -> a whole number of images per pipeline call, 1 or more")
    seeds = _SeedBatches(next((a for a in (x, y, *panels) if a.kind == "seed"), None), batch)
    bar = tqdm(total=len(combos) * len(y) * len(x), desc=desc, unit="img", disable=not progress)
    cells, records, sheets, captions = [], [], [], []
    try:
        for combo in combos:
            rows, recs = [], []
            for r in range(len(y)):
                row, rec = [], []
                for c in range(len(x)):
                    p = dict(params)
                    for axis, where, k in ordered:
                        _apply(p, axis, {"p": combo[k] if where == "p" else 0, "y": r, "x": c}[where])
                    adapters = _active_adapters(p, by_name)
                    sched = _scheduler(pipe, p["sampler"], cache, original)
                    row.append(seeds.image(pipe, p, adapters, has_adapters, sched))
                    rec.append(_cell_record(p, adapters, by_adapter))
                    bar.update(1)
                rows.append(row)
                recs.append(rec)
            cells.append(rows)
            records.append(recs)
            captions.append(" · ".join(f"{a.title}: {a.labels[i]}" for a, i in zip(panels, combo)))
            sheets.append(labelled_grid(rows, col_labels=x.labels if x.kind else None,
                                        row_labels=y.labels if y.kind else None,
                                        col_title=x.title if x.kind else None, row_title=y.title if y.kind else None,
                                        cell_size=cell_size, font=font))
    finally:
        bar.close()
        pipe.scheduler = original
    varying = {a.kind for a in (x, y, *panels)}
    head = title if title is not None else " · ".join([base_label, *_describe_fixed(fixed_axes, params, varying)])
    if len(sheets) == 1 and not head:
        image, offsets = sheets[0].image, [(0, 0)]
    else:
        stacked = stack_panels([g.image for g in sheets], captions, title=head or None, font=font)
        image, offsets = stacked.image, [b[0][:2] for b in stacked.boxes]
    boxes = [[[(l + ox, t + oy, r + ox, b + oy) for (l, t, r, b) in row] for row in g.boxes]
             for g, (ox, oy) in zip(sheets, offsets)]
    panel_info = [{a.title: a.labels[i] for a, i in zip(panels, combo)} for combo in combos]
    return XYResult(image, cells, x, y, panel_info, records, head, boxes)


def _resolve_axis(spec: str | Axis, builtins: dict[str, Axis]) -> Axis:
    if isinstance(spec, Axis):
        return spec
    if "=" in spec:
        return parse_axis(spec)
    kind = spec.strip()
    for k in (kind, kind.lower()):
        if k in builtins:
            return builtins[k]
    raise ConfigError(f"axis {spec!r}: give its values as {kind}=v1,v2 (built-in axes without values: "
                      f"{', '.join(builtins)})")


def _layout(builtins: dict[str, Axis], x, y, extra: Sequence[str | Axis]):
    """Place axes: x and y as asked, other multi-valued axes as panels, single-valued ones as fixed."""
    chosen = [_resolve_axis(s, builtins) if s is not None else None for s in (x, y)]
    extras = [_resolve_axis(s, builtins) for s in extra]
    kinds = [a.kind for a in chosen + extras if a is not None]
    dup = sorted({k for k in kinds if kinds.count(k) > 1})
    if dup:
        raise ConfigError(f"axis {dup[0]!r} is used twice -> give each parameter one axis")
    rest = [a for k, a in builtins.items() if k not in kinds]
    panels = extras + [a for a in rest if len(a) > 1]
    fixed = [a for a in rest if len(a) == 1]
    for i in (0, 1):  # an empty x/y slot takes the next multi-valued axis
        if chosen[i] is None and panels:
            chosen[i] = panels.pop(0)
    empty = Axis("", [None], [""])
    return chosen[0] or empty, chosen[1] or empty, panels, fixed


def _base_params(pipe, prompt: str, negative_prompt: str, steps, cfg, sampler, width, height) -> dict:
    d = SAMPLE_DEFAULTS[pipeline_family(pipe)]  # steps and CFG, as the trainer's validation images
    if (width is None) != (height is None):
        raise ConfigError("give both width and height, or neither (the model's default size)")
    if width is not None:
        _parse_size((width, height))
    return {"prompt": prompt, "negative_prompt": negative_prompt or "", "seed": DEFAULT_SEED,
            "steps": int(steps or d["steps"]), "cfg": float(d["cfg"] if cfg is None else cfg),
            "sampler": _canonical_sampler(sampler) if sampler else None, "width": width, "height": height,
            "lora": None, "strength": 0.0, "weights": None}


def _open(base, device, dtype, offload):
    """(pipeline, label): a path/repo id is loaded; a pipeline object is used as it is."""
    if isinstance(base, (str, os.PathLike)):
        return load_pipeline(base, device=device, dtype=dtype, offload=offload), Path(str(base)).name or str(base)
    if device is not None:
        prepare_pipeline(base, device, offload=offload)
    else:
        base.set_progress_bar_config(disable=True)
    return base, (getattr(base, "name_or_path", None) or getattr(base.config, "_name_or_path", "") or
                  type(base).__name__).rstrip("/").split("/")[-1]


def _as_list(v) -> list:
    return [v] if isinstance(v, (str, os.PathLike, int, float)) else list(v)


# --------------------------------------------------------------------------------------------------
# Public verbs
# --------------------------------------------------------------------------------------------------
def xy_grid(
    base,
    loras: str | os.PathLike | Sequence[str | os.PathLike] = (),
    prompts: str | Sequence[str] = "",
    *,
    strengths: Sequence[float] = DEFAULT_STRENGTHS,
    seeds: int | Sequence[int] = DEFAULT_SEED,
    x: str | Axis | None = "strength",
    y: str | Axis | None = "lora",
    axes: Sequence[str | Axis] = (),
    negative_prompt: str = "",
    steps: int | None = None,
    cfg: float | None = None,
    sampler: str | None = None,
    width: int | None = None,
    height: int | None = None,
    device: str | None = None,
    dtype: str | None = None,
    offload: str = "auto",
    sort_checkpoints: bool = True,
    cell_size: int | None = None,
    title: str | None = None,
    font: str | None = None,
    progress: bool = True,
    batch: int = 1,
) -> XYResult:
    """Checkpoints x strengths (x prompts x seeds) with the same noise in every cell.

    `base`: a model folder / Hub id (loaded once) or a loaded diffusers pipeline (reused as is).
    `loras`: LoRA files (kohya or diffusers layout) or run folders; rows follow checkpoint step.
    `x`/`y`: an axis name ("strength", "lora", "prompt", "seed") or a spec such as "cfg=5,7,9",
    "steps=10,20", "sampler=euler,dpmsolver++", "prompt_sr=cat,dog,fox"; `axes` adds more (panels).
    A spec replaces the built-in axis of the same name (`x="seed=1,2,3"` instead of `seeds`).
    `steps`/`cfg` default per family (SD 20/7, SDXL 25/7, Flux 20/3.5); `cell_size` shrinks cells
    on the sheet (the full-size images stay in `XYResult.cells`).
    `batch`: images per pipeline call - a cell's seeds are drawn together (faster; `batch` times
    the activation memory, so keep 1 for SDXL/Flux on a 16 GB card).
    """
    files = lora_files(loras, sort=sort_checkpoints) if _as_list(loras) else []
    prompts = _as_list(prompts)
    builtins = {"lora": make_axis("lora", files), "strength": make_axis("strength", strengths)} if files else {}
    builtins["prompt"] = make_axis("prompt", prompts)
    builtins["seed"] = make_axis("seed", _as_list(seeds))
    if not files:  # no LoRA: lora/strength axes do not exist; free slots go to the next axes
        x = None if x in ("strength", "lora") else x
        y = None if y in ("strength", "lora") else y
    ax, ay, panels, fixed = _layout(builtins, x, y, axes)  # bad axes fail before the model loads
    if any(a.kind in ("lora", "strength") for a in (ax, ay, *panels)) and not files:
        raise ConfigError("a lora/strength axis needs LoRA files -> pass loras=[...] (CLI --lora FILE)")
    pipe, label = _open(base, device, dtype, offload)
    params = _base_params(pipe, prompts[0], negative_prompt, steps, cfg, sampler, width, height)
    lora_axis = next((a for a in (ax, ay, *panels, *fixed) if a.kind == "lora"), None)
    used = [v for v in (lora_axis.values if lora_axis else []) if isinstance(v, LoraFile)]
    with loras_loaded(pipe, used):
        return _render(pipe, ax, ay, panels, fixed, params, used, title=title, base_label=label,
                       cell_size=cell_size, progress=progress, font=font, desc="XY grid", batch=batch)


def mix_grid(
    base,
    loras: Mapping[str, str | os.PathLike] | Sequence[str | os.PathLike],
    prompts: str | Sequence[str],
    weights: Mapping[str, Sequence[float]] | Sequence[Sequence[float]] | None = None,
    *,
    combos: Sequence[Sequence[float]] | None = None,
    seeds: int | Sequence[int] = DEFAULT_SEED,
    x: str | Axis | None = None,
    y: str | Axis | None = None,
    axes: Sequence[str | Axis] = (),
    negative_prompt: str = "",
    steps: int | None = None,
    cfg: float | None = None,
    sampler: str | None = None,
    width: int | None = None,
    height: int | None = None,
    device: str | None = None,
    dtype: str | None = None,
    offload: str = "auto",
    cell_size: int | None = None,
    title: str | None = None,
    font: str | None = None,
    progress: bool = True,
    batch: int = 1,
) -> XYResult:
    """Several LoRAs at once, each at its own weight (Flux LoRA guide, example 3: landscape + camping + car
    LoRAs, each called by its trigger in the prompt), on a grid across weight combinations.

    `loras`: {name: file} (names label the grid) or a list of files. Either `weights`, one list of
    values per LoRA - the grid is their product (first LoRA's weights across, second's down, further
    ones as panels) - or `combos`, explicit weight tuples (one row each). Default: every LoRA at
    0, 0.5 and 1. A weight of 0 leaves that LoRA out of the cell entirely. `batch` as in `xy_grid`.
    """
    named = dict(loras) if isinstance(loras, Mapping) else None
    paths = list(named.values()) if named is not None else _as_list(loras)
    files = [lora_files(p, sort=False) for p in paths]
    if any(len(f) != 1 for f in files):
        raise ConfigError("mix_grid takes one LoRA file per entry (not folders of checkpoints) -> pick the "
                          "checkpoint of each LoRA you want to mix")
    files = [f[0] for f in files]
    # different LoRAs, not checkpoints of one: name them by file (or folder, for pytorch_lora_weights)
    names = list(named) if named is not None else [
        f.path.parent.name if f.path.stem in _GENERIC_STEMS else f.path.stem for f in files]
    if len(set(names)) != len(names):
        raise ConfigError("two LoRAs have the same name -> pass them as {name: file}")
    for f, n in zip(files, names):
        f.label = n
    if len(files) < 1:
        raise ConfigError("mix_grid needs at least one LoRA file")
    builtins: dict[str, Axis] = {}
    if combos is not None:
        if weights is not None:
            raise ConfigError("give weights (a product grid) or combos (explicit rows), not both")
        combos = [tuple(float(w) for w in c) for c in combos]
        if any(len(c) != len(files) for c in combos):
            raise ConfigError(f"every combo needs {len(files)} weights (one per LoRA, in order {names})")
        builtins["mix"] = make_axis("mix", [tuple(zip(names, c)) for c in combos],
                                    [" + ".join(f"{n} {w:g}" for n, w in zip(names, c)) for c in combos])
    else:
        if weights is None:
            weights = {n: (0.0, 0.5, 1.0) for n in names}
        if not isinstance(weights, Mapping):
            weights = list(weights)
            if len(weights) != len(files):
                raise ConfigError(f"{len(weights)} weight lists for {len(files)} LoRAs -> give one list per LoRA")
            weights = dict(zip(names, weights))
        unknown = set(weights) - set(names)
        if unknown:
            raise ConfigError(f"weights for unknown LoRA {sorted(unknown)} -> names are {names}")
        for n in names:
            builtins[f"weight:{n}"] = make_axis(f"weight:{n}", _as_list(weights.get(n, (1.0,))))
    prompts = _as_list(prompts)
    builtins["prompt"] = make_axis("prompt", prompts)
    builtins["seed"] = make_axis("seed", _as_list(seeds))
    multi = [k for k, a in builtins.items() if len(a) > 1]
    if x is None and y is None:
        if combos is not None:  # one row per combination, the next varying axis across
            y, x = "mix", next((k for k in multi if k != "mix"), None)
        else:  # first LoRA's weights across, second's down
            x = multi[0] if multi else None
            y = multi[1] if len(multi) > 1 else None
    ax, ay, panels, fixed = _layout(builtins, *(_alias(s, builtins) for s in (x, y)),
                                    [_alias(s, builtins) for s in axes])
    pipe, label = _open(base, device, dtype, offload)
    params = _base_params(pipe, prompts[0], negative_prompt, steps, cfg, sampler, width, height)
    params["weights"] = {}
    with loras_loaded(pipe, files):
        return _render(pipe, ax, ay, panels, fixed, params, files, title=title, base_label=label,
                       cell_size=cell_size, progress=progress, font=font, desc="LoRA mix", batch=batch)


def _alias(spec, builtins: dict[str, Axis]):
    """Let mix axes be named by LoRA name alone ("car" for "weight:car")."""
    if isinstance(spec, str) and "=" not in spec and spec not in builtins and f"weight:{spec}" in builtins:
        return f"weight:{spec}"
    return spec


@dataclass
class ForgettingReport:
    """With vs without the LoRA on prompts unrelated to its concept.

    `change[i]`: mean absolute pixel difference (0 = identical, 1 = inverted) for prompt i,
    averaged over the tutorials. There is no universal threshold; compare it with `concept_change`
    (the same measure on the LoRA's own prompt, when given): an unrelated prompt that changes
    almost as much as the concept prompt means the LoRA overrides everything (overfitting, too
    high a strength or rank; LoRA explainer's over-fitting signs).
    """

    grid: XYResult
    prompts: list[str]
    change: list[float]
    concept_prompt: str | None = None
    concept_change: float | None = None

    @property
    def worst(self) -> tuple[str, float]:
        i = max(range(len(self.change)), key=self.change.__getitem__)
        return self.prompts[i], self.change[i]

    def summary(self) -> str:
        lines = [f"{c:.3f}  {p}" for p, c in sorted(zip(self.prompts, self.change), key=lambda t: -t[1])]
        if self.concept_change is not None:
            lines.append(f"{self.concept_change:.3f}  (concept) {self.concept_prompt}")
            ratio = self.worst[1] / self.concept_change if self.concept_change > 0 else math.inf
            lines.append(f"largest unrelated change is {ratio:.0%} of the concept prompt's change")
        return "\n".join(["change with/without LoRA (mean |pixel difference|, 0-1):", *lines])

    def show(self):
        self.grid.show()

    def save(self, path: str | os.PathLike) -> Path:
        return self.grid.save(path)

    def _repr_png_(self) -> bytes:
        return self.grid._repr_png_()


def forgetting_check(
    base,
    lora: str | os.PathLike,
    prompts: str | Sequence[str] | None = None,
    *,
    strength: float = 1.0,
    concept_prompt: str | None = None,
    seeds: int | Sequence[int] = DEFAULT_SEED,
    negative_prompt: str = "",
    steps: int | None = None,
    cfg: float | None = None,
    sampler: str | None = None,
    width: int | None = None,
    height: int | None = None,
    device: str | None = None,
    dtype: str | None = None,
    offload: str = "auto",
    cell_size: int | None = None,
    font: str | None = None,
    progress: bool = True,
    batch: int = 1,
) -> ForgettingReport:
    """Does the LoRA leak into prompts it was not trained for? Rows: prompts unrelated to the concept
    (default `UNRELATED_PROMPTS`) plus the concept prompt if given; columns: without / with the LoRA.
    `batch` as in `xy_grid`."""
    files = lora_files(lora, sort=False)
    if len(files) != 1:
        raise ConfigError("forgetting_check takes one LoRA file -> pick the checkpoint to check")
    unrelated = _as_list(prompts) if prompts else list(UNRELATED_PROMPTS)
    rows = unrelated + ([concept_prompt] if concept_prompt else [])
    labels = unrelated + ([f"(concept) {concept_prompt}"] if concept_prompt else [])
    builtins = {
        "lora": make_axis("lora", files),
        "strength": make_axis("strength", [0.0, strength], ["without LoRA", f"with LoRA ({strength:g})"]),
        "prompt": make_axis("prompt", rows, labels),
        "seed": make_axis("seed", _as_list(seeds)),
    }
    ax, ay, panels, fixed = _layout(builtins, "strength", "prompt", ())
    pipe, label = _open(base, device, dtype, offload)
    params = _base_params(pipe, rows[0], negative_prompt, steps, cfg, sampler, width, height)
    with loras_loaded(pipe, files):
        res = _render(pipe, ax, ay, panels, fixed, params, files, title=None, base_label=f"{label} · forgetting check",
                      cell_size=cell_size, progress=progress, font=font, desc="forgetting check", batch=batch)
    diffs = [[image_difference(res.cells[p][r][0], res.cells[p][r][1]) for p in range(len(res.cells))]
             for r in range(len(rows))]
    change = [sum(d) / len(d) for d in diffs]
    n = len(unrelated)
    return ForgettingReport(res, unrelated, change[:n], concept_prompt, change[n] if concept_prompt else None)


def image_difference(a, b) -> float:
    """Mean absolute per-pixel difference of two RGB images, on a 0-1 scale."""
    import numpy as np

    if a.size != b.size:
        b = b.resize(a.size)
    x = np.asarray(a.convert("RGB"), dtype=np.float32)
    y = np.asarray(b.convert("RGB"), dtype=np.float32)
    return float(np.abs(x - y).mean() / 255.0)
