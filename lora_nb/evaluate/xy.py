"""Step 6: judge a LoRA by pictures - XY grids of checkpoints x strengths, and LoRA mixing grids.

FluxTrainer walkthrough §8: an XY chart with the LoRA's checkpoints on one axis and strength 0.0 -> 1.0 on the
other showed the run had converged at 1500 steps and the best strength was near 0.8. Trainers do
not build that chart; users paste it together in ComfyUI or A1111. Here it is one call:

    res = xy_grid("stable-diffusion-v1-5/stable-diffusion-v1-5", ["run/lora-step00000500.safetensors",
                  "run/lora.safetensors"], "uehxbfklaq cat on a sofa", seeds=[1, 2])
    res.show(); res.save("grid.png")

Every cell shares the base pipeline and its starting noise, so differences between cells come
from the LoRA alone (how: `engine`).

Memory (a 15 GB T4): weights in fp16, model offload for SDXL/Flux, sequential offload or
`quantize="nf4"` when the Flux transformer alone does not fit, VAE slicing/tiling; see
`pipeline.prepare_pipeline`. Load the base once with `pipeline.load_pipeline` and pass the pipeline
to `xy_grid`, `mix_grid` and `forgetting.forgetting_check`: each loads its LoRAs, draws, and removes
them again.

Any axis can be another parameter, as in AUTOMATIC1111's X/Y/Z plot: `cfg=5,7,9`, `steps=10,20`,
`sampler=euler,dpmsolver++`, `prompt_sr=cat,dog,fox` (find "cat" in the prompt, replace it by
each value), `seed=1,2,3`, `size=512x512,512x768`, `blocks=ALL,INALL,OUTALL` (per-block strength,
LoRA Block Weight presets; `families.lbw`). Axes beyond x and y become stacked panels.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from ..errors import ConfigError
from .axes import Axis, _as_list, _layout, make_axis
from .engine import _base_params, _render, check_before_loading
from .files import _GENERIC_STEMS, LoraFile, lora_files
from .pipeline import _open, loras_loaded
from .result import XYResult
from .settings import DEFAULT_STRENGTHS, SampleSettings


def xy_grid(
    base,
    loras: str | os.PathLike | Sequence[str | os.PathLike] = (),
    prompts: str | Sequence[str] = "",
    *,
    strengths: Sequence[float] | None = None,
    x: str | Axis | None = "strength",
    y: str | Axis | None = "lora",
    axes: Sequence[str | Axis] = (),
    sort_checkpoints: bool = True,
    title: str | None = None,
    settings: SampleSettings | None = None,
    quantize: str | None = None,
    **overrides,
) -> XYResult:
    """Checkpoints x strengths (x prompts x seeds) with the same noise in every cell.

    `base`: a model folder / Hub id (loaded once, after the LoRA files and axes were checked; `quantize="nf4"`
    loads it in 4-bit as `pipeline.load_pipeline` does) or a loaded diffusers pipeline (reused as is).
    `loras`: LoRA files (kohya or diffusers layout) or run folders; rows follow checkpoint step.
    `x`/`y`: an axis name ("strength", "lora", "prompt", "seed") or a spec such as "cfg=5,7,9",
    "steps=10,20", "sampler=euler,dpmsolver++", "prompt_sr=cat,dog,fox"; `axes` adds more (panels).
    A spec replaces the built-in axis of the same name (`x="seed=1,2,3"` instead of `seeds`).
    `strengths`: None = `DEFAULT_STRENGTHS`. How each picture is drawn (seeds, steps, CFG, sampler,
    size, cell size, batch, ...): `settings`, or the same names as keyword arguments (`SampleSettings`).
    """
    s = SampleSettings.resolve(settings, overrides, "xy_grid")
    strengths = DEFAULT_STRENGTHS if strengths is None else strengths
    files = lora_files(loras, sort=sort_checkpoints) if _as_list(loras) else []
    prompts = _as_list(prompts)
    builtins = {"lora": make_axis("lora", files), "strength": make_axis("strength", strengths)} if files else {}
    builtins["prompt"] = make_axis("prompt", prompts)
    builtins["seed"] = make_axis("seed", s.seeds)
    if not files:  # no LoRA: lora/strength axes do not exist; free slots go to the next axes
        x = None if x in ("strength", "lora") else x
        y = None if y in ("strength", "lora") else y
    ax, ay, panels, fixed = _layout(builtins, x, y, axes)  # bad axes fail before the model loads
    if any(a.kind in ("lora", "strength", "blocks") for a in (ax, ay, *panels, *fixed)) and not files:
        raise ConfigError("a lora/strength/blocks axis needs LoRA files -> pass loras=[...] (CLI --lora FILE)")
    check_before_loading(base, s, (ax, ay, *panels, *fixed))
    pipe, label = _open(base, s, quantize)
    params = _base_params(pipe, prompts[0], s)
    lora_axis = next((a for a in (ax, ay, *panels, *fixed) if a.kind == "lora"), None)
    used = [v for v in (lora_axis.values if lora_axis else []) if isinstance(v, LoraFile)]
    with loras_loaded(pipe, used):
        return _render(pipe, ax, ay, panels, fixed, params, used, s, title=title, base_label=label, desc="XY grid")


def mix_grid(
    base,
    loras: Mapping[str, str | os.PathLike] | Sequence[str | os.PathLike],
    prompts: str | Sequence[str],
    weights: Mapping[str, Sequence[float]] | Sequence[Sequence[float]] | None = None,
    *,
    combos: Sequence[Sequence[float]] | None = None,
    x: str | Axis | None = None,
    y: str | Axis | None = None,
    axes: Sequence[str | Axis] = (),
    title: str | None = None,
    settings: SampleSettings | None = None,
    quantize: str | None = None,
    **overrides,
) -> XYResult:
    """Several LoRAs at once, each at its own weight (Flux LoRA guide, example 3: landscape + camping + car
    LoRAs, each called by its trigger in the prompt), on a grid across weight combinations.

    `loras`: {name: file} (names label the grid) or a list of files. Either `weights`, one list of
    values per LoRA - the grid is their product (first LoRA's weights across, second's down, further
    ones as panels) - or `combos`, explicit weight tuples (one row each). Default: every LoRA at
    0, 0.5 and 1. A weight of 0 leaves that LoRA out of the cell entirely. `settings` (or keyword
    arguments) and `quantize` as in `xy_grid`.
    """
    s = SampleSettings.resolve(settings, overrides, "mix_grid")
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
    builtins["seed"] = make_axis("seed", s.seeds)
    multi = [k for k, a in builtins.items() if len(a) > 1]
    if x is None and y is None:
        if combos is not None:  # one row per combination, the next varying axis across
            y, x = "mix", next((k for k in multi if k != "mix"), None)
        else:  # first LoRA's weights across, second's down
            x = multi[0] if multi else None
            y = multi[1] if len(multi) > 1 else None
    ax, ay, panels, fixed = _layout(builtins, *(_alias(a, builtins) for a in (x, y)),
                                    [_alias(a, builtins) for a in axes])
    check_before_loading(base, s, (ax, ay, *panels, *fixed))
    pipe, label = _open(base, s, quantize)
    params = _base_params(pipe, prompts[0], s)
    params["weights"] = {}
    with loras_loaded(pipe, files):
        return _render(pipe, ax, ay, panels, fixed, params, files, s, title=title, base_label=label, desc="LoRA mix")


def _alias(spec, builtins: dict[str, Axis]):
    """Let mix axes be named by LoRA name alone ("car" for "weight:car")."""
    if isinstance(spec, str) and "=" not in spec and spec not in builtins and f"weight:{spec}" in builtins:
        return f"weight:{spec}"
    return spec
