"""The cell engine: each cell's settings -> its picture -> the labelled sheet.

How the comparison is kept fair:
- the base pipeline is loaded once; every LoRA file becomes a named adapter (diffusers' own
  `load_lora_weights`, which reads kohya and diffusers key layouts alike; see `pipeline.loras_loaded`)
  and cells switch between them with `set_adapters`, so no cell pays for a reload and nothing else
  changes between cells;
- every cell draws its starting noise from a CPU generator seeded with the cell's seed, so the
  same seed gives the same noise on any device and differences come from the LoRA alone;
- a cell without any active LoRA (strength 0) runs with the adapters disabled, so it is the base
  model's picture exactly (peft adds the LoRA path times a zero scale at weight 0, which gave
  identical pixels on CPU too, but disabling skips the work and does not rely on numerics).
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ..errors import ConfigError, LoraNbError
from ..families import lbw
from ..families.facts import facts
from ..families.prediction import pipeline_kwargs, sampler
from ..grids import labelled_grid, stack_panels
from .axes import SAMPLERS, Axis, size_problem
from .files import LoraFile
from .pipeline import base_family, model_sampler, pipeline_family
from .result import XYResult

if TYPE_CHECKING:
    from .settings import SampleSettings

# prompt-like axes apply first so that prompt_sr edits whichever prompt a cell got
_APPLY_ORDER = {"prompt": 0, "negative": 0, "prompt_sr": 2}


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


def _block_scaler(pipe, axes: Sequence[Axis]):
    """(value, adapter, strength) -> that adapter's diffusers weights under a block preset (`families.lbw`), or
    None without a blocks axis. Every preset is checked against the pipeline before any cell is drawn."""
    values = list(dict.fromkeys(v for a in axes if a.kind == "blocks" for v in a.values))
    if not values:
        return None
    f = facts(pipeline_family(pipe))
    holders = pipe.get_list_adapters() if hasattr(pipe, "get_list_adapters") else {}  # {"unet": [adapter, ...]}

    def scale(value: str, adapter: str, strength: float):
        return lbw.adapter_weights(pipe, f, value, strength, [c for c, names in holders.items() if adapter in names])

    try:
        for v in values:
            lbw.adapter_weights(pipe, f, v, 1.0, [f.denoiser])
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return scale


def _with_blocks(adapters: dict[str, float], params: dict, scale) -> dict:
    """The cell's adapter weights under its block preset; a LoRA whose blocks are all at 0 is left out, so the
    cell is the base model's picture exactly (as at strength 0)."""
    if scale is None or params.get("blocks") is None:
        return adapters
    scaled = {a: scale(params["blocks"], a, w) for a, w in adapters.items()}
    return {a: w for a, w in scaled.items() if not (isinstance(w, float) and w == 0)}


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
        cache[name] = sampler(cls, original.config, **extra)  # the model's objective and noise schedule carry over
    return cache[name]


def _call_kwargs(pipe, params: dict, generator) -> dict:
    accepted = inspect.signature(pipe.__call__).parameters
    kw = {"prompt": params["prompt"], "num_inference_steps": params["steps"], "guidance_scale": params["cfg"],
          "generator": generator, "output_type": "pil"}
    if params.get("negative_prompt"):
        kw["negative_prompt"] = params["negative_prompt"]
    if params.get("width"):
        kw["width"], kw["height"] = params["width"], params["height"]
    kw.update(params.get("model_kwargs") or {})
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

    def __init__(self, seed_axis: Axis | None, batch: int):
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
    extra = {"blocks": params["blocks"]} if params.get("blocks") is not None else {}
    return {**extra, "prompt": params["prompt"], "negative_prompt": params["negative_prompt"], "seed": params["seed"],
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


def check_before_loading(base, s: SampleSettings, axes: Sequence[Axis]) -> None:
    """`check_for_family` before the base model loads, where its family is known then (a pipeline, a local
    folder), so a grid that cannot work fails in a second instead of after minutes of loading."""
    family = base_family(base)
    if family is not None:
        check_for_family(family, s.width, s.height, axes)


def check_for_family(family: str, width: int | None, height: int | None, axes: Sequence[Axis]) -> None:
    """What the grid asks of the model family: every picture size fits its VAE (Flux: multiples of 16, which
    FluxPipeline would otherwise silently round) and every block preset names its UNet's blocks."""
    f = facts(family)
    sizes = [(width, height)] if width else []
    sizes += [v for a in axes if a.kind == "size" for v in a.values]
    for w, h in sizes:
        problem = size_problem(w, h, multiple=f.pixel_multiple)
        if problem:
            raise ConfigError(f"width/height: {problem} (a {family} model)")
    try:
        for v in dict.fromkeys(v for a in axes if a.kind == "blocks" for v in a.values):
            lbw.check_value(v, f)
    except ValueError as e:
        raise ConfigError(str(e)) from None


def _render(pipe, x: Axis, y: Axis, panels: list[Axis], fixed_axes: list[Axis], params: dict,
            loras: Sequence[LoraFile], s: SampleSettings, *, title: str | None, base_label: str,
            desc: str) -> XYResult:
    """Every cell's picture (`s`: batch, progress bar) on the labelled sheet (`s`: cell size, font)."""
    from tqdm.auto import tqdm

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
    default = model_sampler(original)
    cache: dict = {}
    for name in {params["sampler"], *(v for a in (x, y, *panels) if a.kind == "sampler" for v in a.values)}:
        _scheduler(pipe, name, cache, default)  # an incompatible sampler fails before any cell is drawn
    check_for_family(pipeline_family(pipe), params.get("width"), params.get("height"), (x, y, *panels, *fixed_axes))
    combos = list(itertools.product(*[range(len(a)) for a in panels]))
    ordered = sorted([(a, "p", k) for k, a in enumerate(panels)] + [(y, "y", 0), (x, "x", 0)],
                     key=lambda t: _APPLY_ORDER.get(t[0].kind, 1))
    scale = _block_scaler(pipe, (x, y, *panels, *fixed_axes))
    seeds = _SeedBatches(next((a for a in (x, y, *panels) if a.kind == "seed"), None), s.batch)
    bar = tqdm(total=len(combos) * len(y) * len(x), desc=desc, unit="img", disable=not s.progress)
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
                    sched = _scheduler(pipe, p["sampler"], cache, default)
                    row.append(seeds.image(pipe, p, _with_blocks(adapters, p, scale), has_adapters, sched))
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
                                        cell_size=s.cell_size, font=s.font, show_at=s.show_at,
                                        note_in_title=len(combos) == 1))
    finally:
        bar.close()
        pipe.scheduler = original
    varying = {a.kind for a in (x, y, *panels)}
    head = title if title is not None else " · ".join([base_label, *_describe_fixed(fixed_axes, params, varying)])
    if len(sheets) > 1 and sheets[0].scale_note:  # once for the sheet, not over every panel
        head = f"{head} ({sheets[0].scale_note})" if head else sheets[0].scale_note
    if len(sheets) == 1 and not head:
        image, offsets = sheets[0].image, [(0, 0)]
    else:
        stacked = stack_panels([g.image for g in sheets], captions, title=head or None, font=s.font,
                               columns=s.panel_columns)
        image, offsets = stacked.image, [b[0][:2] for b in stacked.boxes]
    boxes = [[[(left + ox, t + oy, r + ox, b + oy) for (left, t, r, b) in row] for row in g.boxes]
             for g, (ox, oy) in zip(sheets, offsets)]
    panel_info = [{a.title: a.labels[i] for a, i in zip(panels, combo)} for combo in combos]
    return XYResult(image, cells, x, y, panel_info, records, head, boxes)


def _base_params(pipe, prompt: str, s: SampleSettings) -> dict:
    """The settings every cell starts from (the axes then change some); steps and CFG left empty in
    `s` are the family's, as for the trainer's validation images."""
    f = facts(pipeline_family(pipe))
    return {"prompt": prompt, "negative_prompt": s.negative_prompt, "seed": s.seeds[0],
            "steps": s.steps if s.steps is not None else f.sample_steps,
            "cfg": float(f.sample_cfg if s.cfg is None else s.cfg), "sampler": s.sampler,
            "width": s.width, "height": s.height, "lora": None, "strength": 0.0, "weights": None, "blocks": None,
            # what the model's noise schedule asks of every call (zero terminal SNR: guidance rescale)
            "model_kwargs": pipeline_kwargs(pipe.scheduler.config)}
