"""Plan before launch: the step arithmetic, the tutorials' recipe advice and the memory fit.

Learners most often get images x repeats x epochs / (batch x accumulation) wrong, and find out
about out-of-memory only after a long wait. `plan(config)` answers both before training starts:

    from lora_nb.planning.planner import plan, render_markdown, render_figures
    p = plan(config, purpose="person", gpu="T4-16GB")
    print(render_markdown(p)); render_figures(p)["lr"]

Everything is returned as data (dataclasses); `render_markdown` and `render_figures` turn it into
text and matplotlib figures for the CLI (`lora-nb plan CONFIG.toml`) and the train notebook.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..dataset.concepts import parse_concept_folder
from ..errors import DatasetError
from ..fonts import new_figure
from ..i18n import t
from ..training.data import scan_dataset
from ..training.presets import PresetChoice, choose_preset
from ..training.stepmath import checkpoint_steps, sample_steps, warmup_steps
from .advice.concepts import ConceptCount, as_counts, find_identifiers
from .advice.data import Advice, Recipe
from .advice.fitting import FITTING_GUIDE
from .advice.rates import rank_file_sizes
from .advice.recipe import advise, recommend
from .memory.calibration import CALIBRATION
from .memory.fit import MemoryFit, memory_fit
from .memory.gpus import GPU, resolve_gpu
from .memory.timing import TimeEstimate, estimate_time

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from ..config import Config
    from .memory.measure import Measurement


# ---------------------------------------------------------------------------------------------
# Step math
# ---------------------------------------------------------------------------------------------
@dataclass
class ConceptSteps:
    name: str
    images: int
    repeats: int
    samples_per_epoch: int  # images x repeats
    steps_per_epoch: float  # this concept's share: samples / (batch x accumulation)
    total_steps: float  # its share over the whole run
    times_seen: float  # how often each of its images is trained on: repeats x epochs


@dataclass
class StepPlan:
    images: int
    samples_per_epoch: int  # sum of images x repeats
    batch: int
    grad_accum: int
    steps_per_epoch: int  # simple formula, all images in one bucket
    steps_per_epoch_buckets: int | None  # with the given bucket assignment (batches form within a bucket)
    epochs: float  # epochs the run covers (fractional when max_train_steps ends mid-epoch)
    total_steps: int
    source: str  # "max_train_steps" or "max_train_epochs"
    warmup_steps: int
    checkpoint_steps: list[int]
    sample_steps: list[int]
    concepts: list[ConceptSteps]
    formula: str
    notes: list[str] = field(default_factory=list)
    reg_images: int = 0  # regularization images found (reg_data_dir)
    reg_samples_per_epoch: int = 0  # of samples_per_epoch: kohya balances them to the training samples


def steps_per_epoch_for_buckets(buckets: Mapping[Any, int], batch: int, grad_accum: int) -> int:
    """Optimizer steps per epoch when batches form within each aspect-ratio bucket:
    ceil(sum over buckets of ceil(samples_in_bucket / batch) / grad_accum)."""
    batches = sum(math.ceil(n / batch) for n in buckets.values() if n > 0)
    return math.ceil(batches / grad_accum)


def step_plan(config: Config, concepts, buckets: Mapping[Any, int] | None = None, reg: tuple[int, int] = (0, 0)
              ) -> StepPlan:
    """The step arithmetic for `config` on a dataset.

    concepts: `lora_nb.dataset.concepts.scan_concepts` output, or {name: n_images} / {name: (repeats,
    n_images)} for "what if" questions. buckets: {bucket: samples per epoch (images x repeats)}
    when the aspect-ratio bucket assignment is known; it gives the trainer's exact count. reg: (reg images,
    reg samples per epoch after kohya's balancing) of a reg_data_dir; they add to every epoch's samples.
    """
    cs = as_counts(concepts)
    if not cs or sum(c.images for c in cs) == 0:
        raise DatasetError("no training images found -> put images (with .txt captions) into train_data_dir, "
                           "or pass counts for a what-if plan")
    b, ga = config.train_batch_size, config.gradient_accumulation_steps
    images = sum(c.images for c in cs)
    train_samples = sum(c.samples for c in cs)
    samples = train_samples + reg[1]
    per_epoch = math.ceil(math.ceil(samples / b) / ga)
    notes = []
    per_epoch_b = None
    if buckets is not None:
        per_epoch_b = steps_per_epoch_for_buckets(buckets, b, ga)
        in_buckets = sum(buckets.values())
        if in_buckets != samples:
            notes.append(f"The bucket assignment holds {in_buckets} samples per epoch, the dataset {samples}: "
                         f"images left out of buckets (too small, unreadable) are not trained on.")
        if per_epoch_b != per_epoch:
            n_b = sum(1 for n in buckets.values() if n > 0)
            notes.append(f"With {n_b} aspect-ratio buckets an epoch has {per_epoch_b} steps, not {per_epoch}: "
                         f"batches are formed within a bucket, so each bucket's last batch may be partly empty "
                         f"and still counts as a step.")
    eff = per_epoch_b if per_epoch_b is not None else per_epoch
    if reg[1]:
        notes.append(f"reg_data_dir adds {reg[1]} class samples to each epoch (kohya: as many as the training "
                     f"samples), so an epoch has twice the steps; the tutorials' step counts are for the training "
                     f"images alone -> compare them with the training samples' share.")
    if config.max_train_steps > 0:
        total, source = config.max_train_steps, "max_train_steps"
        epochs = total / eff
        if config.max_train_epochs and abs(epochs - config.max_train_epochs) > 1e-9:
            notes.append(f"max_train_steps = {total} overrides max_train_epochs = {config.max_train_epochs}: "
                         f"the run covers {epochs:.2f} epochs.")
    else:
        epochs = float(config.max_train_epochs)
        total, source = eff * config.max_train_epochs, "max_train_epochs"
    warmup = warmup_steps(config, total)
    if warmup >= total:
        notes.append(f"Warmup ({warmup} steps) is as long as the whole run ({total}): the learning rate never "
                     f"reaches its set value -> lower lr_warmup_steps/lr_warmup_ratio.")
    if warmup and config.lr_scheduler == "constant":
        notes.append("lr_scheduler 'constant' ignores warmup -> use 'constant_with_warmup' to warm up.")
    # exactly the trainer's schedule (lora_nb.training.stepmath): checkpoints every N steps and at the end,
    # validation images at the checkpoint steps unless sample_every_n_steps says otherwise
    ckpts = checkpoint_steps(config, total)
    samples_at = sample_steps(config, total)
    if samples_at and not config.sample_prompts:
        notes.append("sample_prompts is empty: the trainer will draw one caption per concept plus an unrelated "
                     "prompt, to watch the concept and forgetting (Flux LoRA guide §4.2).")
    concepts_out = [ConceptSteps(c.name, c.images, c.repeats, c.samples, c.samples / (b * ga),
                                 c.samples * epochs / (b * ga), c.repeats * epochs) for c in cs]
    formula = (f"{images} images x repeats = {train_samples} samples per epoch"
               + (f" + {reg[1]} from {reg[0]} reg images (as many as the training samples) = {samples}"
                  if reg[1] else "") + "; "
               f"{samples} / (batch {b} x accumulation {ga}) = {samples / (b * ga):g} -> {per_epoch} steps per epoch"
               + (f" ({per_epoch_b} with buckets)" if per_epoch_b is not None and per_epoch_b != per_epoch else "")
               + (f"; x {config.max_train_epochs} epochs = {total} steps" if source == "max_train_epochs"
                  else f"; max_train_steps = {total} ({epochs:.2f} epochs)"))
    return StepPlan(images, samples, b, ga, per_epoch, per_epoch_b, epochs, total, source, warmup, ckpts,
                    samples_at, concepts_out, formula, notes, *reg)


# ---------------------------------------------------------------------------------------------
# Learning-rate schedule preview
# ---------------------------------------------------------------------------------------------
@dataclass
class LRCurve:
    steps: list[int]
    lrs: list[float]  # the UNet/transformer learning rate at each step (before its optimizer step)
    scheduler: str
    warmup_steps: int


def lr_curve(config: Config, total_steps: int, warmup_steps: int, max_points: int = 20000) -> LRCurve:
    """Step diffusers' real scheduler (`get_scheduler`) on a dummy optimizer and record the rate.

    Runs longer than `max_points` are sampled evenly through the scheduler's own lr function.
    """
    import warnings

    import torch
    from diffusers.optimization import get_scheduler

    base = config.effective_unet_lr
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base)
    sched = get_scheduler(config.lr_scheduler, opt, num_warmup_steps=warmup_steps, num_training_steps=total_steps,
                          num_cycles=config.lr_scheduler_num_cycles, power=config.lr_scheduler_power)
    if total_steps <= max_points:
        steps, lrs = list(range(total_steps)), []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in steps:
                lrs.append(opt.param_groups[0]["lr"])
                opt.step()
                sched.step()
    else:
        steps = sorted({round(i * (total_steps - 1) / (max_points - 1)) for i in range(max_points)})
        lrs = [base * sched.lr_lambdas[0](s) for s in steps]
    return LRCurve(steps, lrs, config.lr_scheduler, warmup_steps)


# ---------------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------------
@dataclass
class Plan:
    config: Config  # the config as it will train (GPU preset applied)
    preset: PresetChoice
    dataset_source: str  # the folder scanned, or "counts"
    steps: StepPlan
    lr: LRCurve
    recipe: Recipe
    advice: list[Advice]
    memory: MemoryFit
    time: TimeEstimate | None
    file_sizes: list[dict]
    fitting_guide: list[dict]
    purpose: str = "person"  # what the recipe assumed the LoRA teaches

    def to_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k not in ("config", "memory", "preset")}
        d["config"] = self.config.to_dict()
        pr = self.preset
        d["preset"] = {"tier": pr.preset.tier if pr.preset else None, "applied": pr.applied,
                       "kept": {k: list(v) for k, v in pr.kept.items()}, "describe": pr.describe()}
        d["memory"] = self.memory.to_dict()
        if self.time is not None:
            d["time"]["total_seconds"] = self.time.total_seconds
        return d


def _scan(config: Config):
    """Concepts (name, images, repeats), samples per bucket, identifiers, notes, caption count and (reg images,
    reg samples), from the trainer's own dataset scan (`lora_nb.training.data.scan_dataset`: same images,
    captions, buckets and reg balancing as training)."""
    scan = scan_dataset(config)
    concepts: dict[str, ConceptCount] = {}
    captions: dict[str, list[str]] = {}
    buckets: dict = {}
    for smp in scan.samples:
        buckets[smp.bucket] = buckets.get(smp.bucket, 0) + smp.repeats
        if smp.is_reg:
            continue
        parsed = parse_concept_folder(smp.concept)
        name = parsed[1] if parsed else smp.concept
        c = concepts.setdefault(name, ConceptCount(name, 0, smp.repeats))
        c.images += 1
        captions.setdefault(name, []).append(smp.caption)
    ids = find_identifiers(captions) if len(concepts) > 1 else None
    reg = (sum(d["img_count"] for d in scan.reg_dirs.values()), scan.samples_per_epoch - scan.train_samples_per_epoch)
    return (list(concepts.values()), buckets, ids, list(scan.warnings), len(set(s.caption for s in scan.samples)),
            reg)


def gpu_preset(config: Config, gpu: GPU | None) -> PresetChoice:
    """The trainer's memory preset (`lora_nb.training.presets.choose_preset`) for the GPU the plan is for:
    gpu_preset 'auto' takes that GPU's tier (a T4 from a laptop), not this machine's."""
    if config.gpu_preset == "auto" and gpu is None:
        return PresetChoice(config, None, reason="no GPU given or detected")
    return choose_preset(config, gpu_gb=gpu.memory_gb if gpu is not None else None)


def plan(config: Config, *, purpose: str | None = None, dataset_type: str | None = None, fit: str = "normal",
         similar: bool | None = None, gpu: Any = "detect", counts=None, buckets: Mapping[Any, int] | None = None,
         measured: Measurement | None = None, step_seconds: float | None = None) -> Plan:
    """Everything to know before launching `config`.

    purpose: what the LoRA teaches (anime, character, person, object, style, scene, new) for rank and
    step advice; dataset_type: anime/realistic/person/object for LoRA explainer's repeats x epochs (default
    from purpose); fit: "normal" or "close" (Flux LoRA guide's lighter or closer fit); similar: whether several
    concepts are alike; gpu: a preset (T4-16GB, 12GB, 24GB, A100-40GB, A100-80GB), "detect" or None --
    it also picks config.gpu_preset 'auto'; counts: {concept: n_images} or {concept: (repeats,
    n_images)} for a what-if plan instead of scanning config.train_data_dir; buckets: {bucket: samples
    per epoch} for the bucket-exact step count of a what-if plan (a scanned dataset brings its own);
    measured: a `measure_peak` result, which corrects the memory prediction and the time;
    step_seconds: a measured time per optimizer step.
    """
    gpu = resolve_gpu(gpu)
    preset = gpu_preset(config, gpu)
    config = preset.config
    identifiers, n_captions, scan_notes, reg = None, None, [], (0, 0)
    if counts is not None:
        concepts, source = as_counts(counts), "counts"
    else:
        concepts, buckets, identifiers, scan_notes, n_captions, reg = _scan(config)
        source = str(Path(config.train_data_dir))
    sp = step_plan(config, concepts, buckets, reg)
    sp.notes[:0] = scan_notes
    curve = lr_curve(config, sp.total_steps, sp.warmup_steps)
    rec = recommend(concepts=concepts, purpose=purpose or "person", family=config.family, optimizer=config.optimizer,
                    fit=fit, batch=config.train_batch_size, grad_accum=config.gradient_accumulation_steps,
                    similar=similar, dataset_type=dataset_type, identifiers=identifiers)
    adv = advise(config, concepts, purpose=purpose, dataset_type=dataset_type, fit=fit, similar=similar,
                 total_steps=sp.total_steps, identifiers=identifiers)
    mf = memory_fit(config, gpu, n_images=sp.images + sp.reg_images, n_captions=n_captions, measured=measured)
    if step_seconds is None and measured is not None:
        step_seconds = measured.step_seconds
    t = estimate_time(config, sp.total_steps, len(sp.sample_steps), gpu, step_seconds)
    return Plan(config, preset, source, sp, curve, rec, adv, mf, t, rank_file_sizes(config), FITTING_GUIDE,
                purpose or "person")


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------
def _hms(seconds: float) -> str:
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h {m:02d}m" if h else (f"{m}m {s:02d}s" if m else f"{s}s")


def _short_list(xs: list[int], n: int = 12) -> str:
    if len(xs) <= n:
        return ", ".join(map(str, xs))
    return ", ".join(map(str, xs[: n - 2])) + f", ... ({len(xs) - n + 1} more), " + str(xs[-1])


REFERENCE_NAMES = {"sd15": "Stable Diffusion 1.5", "sdxl": "SDXL base 1.0", "flux": "FLUX.1-dev"}
_LEVEL = {"warn": "WARNING", "suggest": "change", "info": "note", "ok": "ok"}


def render_markdown(p: Plan) -> str:
    """The plan as Markdown (reads fine as plain text in a terminal)."""
    c, sp, mf = p.config, p.steps, p.memory
    est = mf.estimate
    L = [f"# Training plan: {c.family}, rank {c.rank}, {c.resolution}px, {c.optimizer}", ""]
    L.append(f"Dataset: {p.dataset_source} -- {sp.images} images in {len(sp.concepts)} concept(s)")
    L += ["", "## Steps", "", "total steps = images x repeats x epochs / (batch x gradient accumulation)", "",
          sp.formula, ""]
    L.append("| concept | images | repeats | samples/epoch | steps/epoch | steps in run | each image seen |")
    L.append("|---|---:|---:|---:|---:|---:|---:|")
    for cs in sp.concepts:
        L.append(f"| {cs.name} | {cs.images} | {cs.repeats} | {cs.samples_per_epoch} | {cs.steps_per_epoch:g} | "
                 f"{cs.total_steps:.0f} | {cs.times_seen:.3g}x |")
    if sp.reg_samples_per_epoch:
        share = sp.reg_samples_per_epoch / (sp.batch * sp.grad_accum)
        L.append(f"| reg (class images, loss x {c.prior_loss_weight:g}) | {sp.reg_images} | | "
                 f"{sp.reg_samples_per_epoch} | {share:g} | {share * sp.epochs:.0f} | |")
    L.append(f"| **all** | {sp.images} | | {sp.samples_per_epoch} | {sp.steps_per_epoch} | {sp.total_steps} | |")
    L.append("")
    L.append(f"- Warmup: {sp.warmup_steps} steps"
             + (" (lr_warmup_steps)" if c.lr_warmup_steps else f" ({c.lr_warmup_ratio:g} x {sp.total_steps})"))
    L.append(f"- Learning rate: {c.lr_scheduler}, from {max(p.lr.lrs) if p.lr.lrs else 0:g} "
             f"to {p.lr.lrs[-1] if p.lr.lrs else 0:.3g} at the last step")
    L.append(f"- Checkpoints ({len(sp.checkpoint_steps)}): at steps {_short_list(sp.checkpoint_steps)}")
    if sp.sample_steps:
        L.append(f"- Validation images ({len(sp.sample_steps)} x {len(c.sample_prompts)} prompt(s)): at steps "
                 f"{_short_list(sp.sample_steps)}")
    else:
        L.append("- Validation images: none (sample_every_n_steps = 0 and no checkpoint interval)")
    for n in sp.notes:
        L.append(f"- NOTE: {n}")
    if p.time is not None:
        t = p.time
        L += ["", "## Time", "",
              f"- {t.seconds_per_step:.2f} s per step ({t.source}) x {sp.total_steps} steps = {_hms(t.train_seconds)}"
              + (f", + ~{_hms(t.sample_seconds)} drawing validation images" if t.sample_seconds else "")
              + f" -> about {_hms(t.total_seconds)}"]

    L += ["", "## Memory", ""]
    L.append(p.preset.describe() + ".")
    L.append(f"Predicted for the full-size {c.family} reference model ({REFERENCE_NAMES[c.family]}); a fine-tuned "
             f"checkpoint of the same family has the same sizes.")
    gpu = mf.gpu
    L.append(f"Predicted peak: {est.total_gb:.1f} GiB on the GPU ({est.allocated_gb:.1f} GiB allocated by PyTorch, "
             f"while {est.peak_phase}, + allocator slack + CUDA context), {est.host_gb:.1f} GiB host RAM; "
             f"precision {est.precision}"
             + (f", base model in {est.quantization}" if est.quantization != "none" else "")
             + (", text embeddings cached" if est.cache_text_embeddings else ", text encoders kept") + ".")
    if gpu is not None:
        verdict = "fits" if mf.fits else "does NOT fit"
        L.append(f"**{verdict}** {gpu.name} ({gpu.memory_gb:.1f} GiB): headroom {mf.headroom_gb:+.1f} GiB.")
    else:
        L.append("No GPU given or detected: pass --gpu T4-16GB (or 12GB, 24GB, A100-40GB, A100-80GB) to check a fit.")
    L += ["", "| training step, on the GPU | GiB |", "|---|---:|"]
    for k, v in est.gpu_parts.items():
        L.append(f"| {k} | {v * est.correction:.2f} |")
    L += ["", "| phase | GiB allocated |", "|---|---:|"]
    L += [f"| {k} | {v * est.correction:.2f} |" for k, v in est.phases.items()]
    L += ["", "| host RAM | GiB |", "|---|---:|"] + [f"| {k} | {v:.2f} |" for k, v in est.host_parts.items()]
    for n in est.notes:
        L.append(f"- NOTE: {n}")
    if mf.suggestions:
        L += ["", "What makes it fit (each change alone, predicted total):"]
        for s in mf.suggestions:
            L.append(f"- {s.description}: {s.total_gb:.1f} GiB {'(fits)' if s.fits else ''} -- {s.reason} "
                     f"[{', '.join(f'{k}={v}' for k, v in s.changes.items())}]")
        if mf.combined:
            L.append(f"- **{mf.combined.description}**: "
                     f"{', '.join(f'{k}={v}' for k, v in mf.combined.changes.items())}"
                     f" -> {mf.combined.total_gb:.1f} GiB")

    L += ["", f"## Recipe (the tutorials' rules for this dataset; purpose: {p.purpose})", ""]
    for i, r in enumerate(p.recipe.loras):
        L.append(f"- LoRA for {' + '.join(r.concepts)} ({r.n_images} images): rank {r.rank}, alpha {r.alpha:g}, "
                 f"lr {r.learning_rate:g}, {r.steps} steps, checkpoint every {r.save_every}")
        for k in (("rank", "learning_rate", "steps") if i == 0 else ("steps",)):
            L.append(f"  - {k}: {r.reasons[k]}")
    L += ["", "## Advice", ""]
    order = {"warn": 0, "suggest": 1, "info": 2, "ok": 3}
    for a in sorted(p.advice, key=lambda a: order.get(a.level, 9)):
        sug = f" [{', '.join(f'{k}={v}' for k, v in a.suggested.items())}]" if a.suggested else ""
        L.append(f"- **{_LEVEL.get(a.level, a.level)}** ({a.topic}) {a.message}{sug}")
        L.append(f"  - why: {a.reason} ({a.source})")

    L += ["", "## LoRA file size by rank", "",
          "| rank | your targets (MB) | tutorial's targets (MB) | tutorial quotes (MB) |",
          "|---:|---:|---:|---:|"]
    for row in p.file_sizes:
        q = row["guide_quoted_mb"]
        L.append(f"| {row['rank']} | {row['mb']:.0f} | {row['guide_targets_mb']:.0f} | {q if q else ''} |")
    L += ["", "## Reading the XY grid: over- and under-fitting", ""]
    for g in p.fitting_guide:
        L.append(f"- **{g['state']}** -- you see: {g['xy_grid']} Try: {'; '.join(g['remedies'])}. ({g['source']})")
    return "\n".join(L) + "\n"


def lr_figure(curve: LRCurve, checkpoints: list[int] | None = None) -> Figure:
    """The learning-rate schedule, with the warmup end and the checkpoints marked."""
    fig = new_figure(figsize=(7, 3), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(curve.steps, curve.lrs, color="tab:blue")
    if curve.warmup_steps:
        ax.axvline(curve.warmup_steps, color="tab:orange", ls="--", lw=1,
                   label=t("plot.warmup_end", steps=curve.warmup_steps))
    for i, s in enumerate(checkpoints or []):
        ax.axvline(s, color="0.7", lw=0.8, label=t("plot.checkpoint") if i == 0 else None)
    ax.set_xlabel(t("plot.step"))
    ax.set_ylabel(t("plot.lr"))
    ax.set_title(t("plot.lr_title", scheduler=curve.scheduler))
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    if curve.warmup_steps or checkpoints:
        ax.legend(loc="best", fontsize="small")
    return fig


def memory_figure(mf: MemoryFit) -> Figure:
    """Stacked bar of the predicted training-step peak by part against the GPU's memory (plus a bar
    for the caching or encoding phase when that one is higher)."""
    est = mf.estimate
    slack, ctx = CALIBRATION["allocator_slack"], CALIBRATION["cuda_context_gb"]
    parts = {k: v * est.correction for k, v in est.gpu_parts.items()}
    train_alloc = sum(parts.values())
    parts["allocator slack"] = train_alloc * slack
    parts["CUDA context"] = ctx
    other = {k: v * est.correction for k, v in est.phases.items() if k != "training"}
    top = max(other, key=other.get) if other else None
    fig = new_figure(figsize=(8, 3.4), layout="constrained")
    ax = fig.add_subplot()
    left = 0.0
    for i, (k, v) in enumerate(parts.items()):
        ax.barh([1], [v], left=left, label=f"{k} ({v:.1f})", color=f"C{i % 10}")
        left += v
    labels = [t("plot.training_step")]
    if top and other[top] > train_alloc:  # another phase is the peak: show it too
        ax.barh([0], [other[top] * (1 + slack) + ctx], color="0.85", hatch="//", edgecolor="0.5",
                label=f"{top} ({other[top]:.1f} allocated)")
        labels.insert(0, top)
    ax.set_yticks([1] if len(labels) == 1 else [0, 1], labels)
    if mf.gpu is not None:
        ax.axvline(mf.gpu.memory_gb, color="red", lw=2, label=f"{mf.gpu.name} ({mf.gpu.memory_gb:.1f})")
    ax.set_xlabel("GiB")
    ax.set_title(t("plot.memory_title", gb=est.total_gb))
    fig.legend(loc="outside lower center", ncol=3, fontsize="small")
    return fig


def render_figures(p: Plan) -> dict[str, Figure]:
    """{'lr': schedule figure, 'memory': memory bar} for the notebook (display) or the CLI (savefig)."""
    return {"lr": lr_figure(p.lr, p.steps.checkpoint_steps), "memory": memory_figure(p.memory)}


render_plan = render_markdown  # the name `lora_nb.toy.demo` prints the plan's headline with
