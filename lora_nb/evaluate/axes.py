"""Grid axes: the parameters a grid can vary (LoRA, strength, prompt, seed, CFG, steps, sampler, size),
their parsing from `kind=v1,v2` specs and their placement as x, y, panels or fixed settings."""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..families.facts import FACTS
from ..families.lbw import PRESETS as BLOCK_PRESETS
from ..families.lbw import canonical as canonical_blocks
from .files import LoraFile, lora_files

MIN_PIXEL_MULTIPLE = min(f.pixel_multiple for f in FACTS.values())  # what any family's VAE needs

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
    "blocks": "per-block LoRA strength (SD1.5/SDXL), LoRA Block Weight presets: " + ", ".join(BLOCK_PRESETS)
              + ', or the weights in quotes ("1,0,0,...": SD1.5 17, SDXL 12)',
}
_FLOAT_KINDS, _INT_KINDS = {"strength", "cfg"}, {"seed", "steps"}


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
                "cfg": "CFG", "mix": "LoRA weights", "blocks": "block weights"}.get(self.kind, self.kind)

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
        elif kind == "blocks":
            values = [_block_value(v) for v in values]
        elif kind == "lora" and not all(isinstance(v, LoraFile) for v in values):
            values = lora_files([v.path if isinstance(v, LoraFile) else v for v in values], sort=False)
    except ConfigError:
        raise  # already one what -> fix line (a blocks value)
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
    problem = size_problem(w, h)
    if problem:
        raise ValueError(problem)
    return w, h


def size_problem(*sides: int, multiple: int = MIN_PIXEL_MULTIPLE) -> str | None:
    """What is wrong with picture sides (w, h or one of them) for a VAE that needs them divisible by
    `multiple`, with the nearest size that works; None when they work."""
    if all(v > 0 and not v % multiple for v in sides):
        return None
    fix = "x".join(str(max(multiple, round(v / multiple) * multiple)) for v in sides)
    return f"{'x'.join(map(str, sides))}: sides must be positive multiples of {multiple} -> use {fix}"


def _block_value(v) -> str:
    try:
        return canonical_blocks(v)
    except ValueError as e:
        raise ConfigError(f"axis 'blocks': {e}") from None


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


def _as_list(v) -> list:
    return [v] if isinstance(v, (str, os.PathLike, int, float)) else list(v)
