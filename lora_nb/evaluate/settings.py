"""Step 6's sample settings: how every picture of a grid is drawn (seeds, steps, CFG, sampler, size,
placement, sheet layout). `xy_grid`, `mix_grid` and `forgetting_check` take one `SampleSettings`
(or the same settings as keyword arguments); `lora-nb xy` makes its flags from it and notebook 06
shows it as a form.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..families.facts import FACTS
from ..options import Options, option
from .axes import SAMPLERS, _canonical_sampler, size_problem
from .pipeline import DTYPES, OFFLOADS

# the XY grid's strength axis (FluxTrainer walkthrough §8: LoRA strength 0.0 -> 1.0 in 0.2 steps)
DEFAULT_STRENGTHS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def _per_family(attr: str) -> str:
    return ", ".join(f"{name} {getattr(f, attr):g}" for name, f in FACTS.items())


@dataclass
class SampleSettings(Options):
    """How each cell's picture is drawn; what the grid varies (strengths, LoRAs, prompts, axes) is
    given to the grid function itself."""

    seeds: list[int] = option([42], "Seed(s) of the starting noise, the same in every cell; several seeds give "
                                    "one panel each (a single number is one seed).")
    negative_prompt: str = option("", "Negative prompt for every cell (empty: none).")
    steps: int | None = option(None, f"Denoising steps per picture; empty: the model family's "
                                     f"({_per_family('sample_steps')}).", min=1)
    cfg: float | None = option(None, f"Guidance scale (CFG; Flux-dev's distilled guidance); empty: the model "
                                     f"family's ({_per_family('sample_cfg')}).", min=0.0)
    sampler: str | None = option(None, "Scheduler; empty: the one the base model ships with.",
                                 choices=("default", *SAMPLERS))
    width: int | None = option(None, "Picture width in px (a multiple of 8); empty: the model's default size.",
                               min=8)
    height: int | None = option(None, "Picture height in px (a multiple of 8); empty: the model's default size.",
                                min=8)
    device: str | None = option(None, "Where to draw: cuda, cuda:1 or cpu; empty/auto: CUDA if present. A loaded "
                                      "pipeline passed in stays where it is unless this is set.")
    dtype: str = option("auto", "Weights precision when the grid loads the model: auto = fp16 on a T4, bf16 on "
                                "Ampere and newer, fp32 on CPU.", choices=DTYPES)
    offload: str = option("auto", "CPU offload on CUDA: auto = model offload for SDXL/Flux under 24 GB VRAM, "
                                  "sequential when a component does not fit.", choices=OFFLOADS)
    cell_size: int | None = option(None, "Shrink cells on the sheet to at most this many px (the full-size "
                                         "pictures are kept); empty: full size.", min=1)
    show_at: int | None = option(None, "Enlarge small pictures on the sheet until their shorter side is this many "
                                       "px (pixel for pixel up to 128 px; the title says by how much); the saved "
                                       "cells keep their size. Empty: shown at their own size.", min=1)
    panel_columns: int = option(1, "Panels (one per seed, prompt or other third axis) side by side in rows of "
                                   "this many; 1 stacks them.", min=1)
    font: str | None = option(None, "Font file for the labels; empty: PIL's built-in font for Latin labels, a "
                                    "CJK font for Chinese ones (lora_nb.fonts).")
    progress: bool = option(True, "Show a progress bar over all cells.", cli=False)
    batch: int = option(1, "Pictures per pipeline call: a cell's seeds are drawn this many at a time (faster; "
                           "that many times the activation memory, so keep 1 for SDXL/Flux on a 16 GB card).", min=1)

    def __post_init__(self):
        if isinstance(self.seeds, int) and not isinstance(self.seeds, bool):
            self.seeds = [self.seeds]
        elif isinstance(self.seeds, (tuple, range)):
            self.seeds = list(self.seeds)
        if isinstance(self.sampler, str):  # A1111 names too: "Euler a", "DPM++ 2M Karras"
            try:
                self.sampler = _canonical_sampler(self.sampler)
            except ValueError:
                pass  # problems() names the choices
        super().__post_init__()

    def problems(self) -> list[str]:
        out = super().problems()
        if isinstance(self.seeds, list):
            if not self.seeds:
                out.append("seeds: none given -> give at least one seed, e.g. 42")
            bad = [s for s in self.seeds if isinstance(s, bool) or not isinstance(s, int) or s < 0]
            if bad:
                out.append(f"seeds: {bad[0]!r} is not a whole number >= 0 -> give seeds such as 1,2,3")
        given = {k: v for k, v in (("width", self.width), ("height", self.height)) if isinstance(v, int)}
        problem = size_problem(*given.values()) if given else None
        if problem:
            out.append(f"{'/'.join(given)}: {problem}")
        if len(given) == 1 and (self.width is None) != (self.height is None):
            missing = "height" if "width" in given else "width"
            out.append(f"give both width and height, or neither: {next(iter(given))} is given without {missing} "
                       f"-> set {missing} too, or neither for the model's default size")
        return out
