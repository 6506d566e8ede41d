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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..dataset.concepts import parse_concept_folder
from ..errors import DatasetError
from ..fonts import new_figure
from ..i18n import STRINGS, duration, get_language, t
from ..i18n.memory import MEMORY_ZH
from ..i18n.plan import PURPOSES_ZH, cite
from ..training.data import scan_dataset
from ..training.presets import PresetChoice, choose_preset
from ..training.stepmath import checkpoint_steps, sample_steps, warmup_steps
from .advice.concepts import ConceptCount, as_counts, find_identifiers
from .advice.data import Advice, Recipe
from .advice.fitting import FITTING_GUIDE, fitting_guide
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
            notes.append(t("plan.note_buckets_left", in_buckets=in_buckets, samples=samples))
        if per_epoch_b != per_epoch:
            n_b = sum(1 for n in buckets.values() if n > 0)
            notes.append(t("plan.note_bucket_steps", buckets=n_b, with_buckets=per_epoch_b, per_epoch=per_epoch))
    eff = per_epoch_b if per_epoch_b is not None else per_epoch
    if reg[1]:
        notes.append(t("plan.note_reg", n=reg[1]))
    if config.max_train_steps > 0:
        total, source = config.max_train_steps, "max_train_steps"
        epochs = total / eff
        if config.max_train_epochs and abs(epochs - config.max_train_epochs) > 1e-9:
            notes.append(t("plan.note_override", total=total, set_epochs=config.max_train_epochs, epochs=epochs))
    else:
        epochs = float(config.max_train_epochs)
        total, source = eff * config.max_train_epochs, "max_train_epochs"
    warmup = warmup_steps(config, total)
    if warmup >= total:
        notes.append(t("plan.note_warmup", warmup=warmup, total=total))
    if warmup and config.lr_scheduler == "constant":
        notes.append(t("plan.note_constant"))
    # exactly the trainer's schedule (lora_nb.training.stepmath): checkpoints every N steps and at the end,
    # validation images at the checkpoint steps unless sample_every_n_steps says otherwise
    ckpts = checkpoint_steps(config, total)
    samples_at = sample_steps(config, total)
    if samples_at and not config.sample_prompts:
        notes.append(t("plan.note_prompts"))
    concepts_out = [ConceptSteps(c.name, c.images, c.repeats, c.samples, c.samples / (b * ga),
                                 c.samples * epochs / (b * ga), c.repeats * epochs) for c in cs]
    formula = (t("plan.formula_samples", images=images, samples=train_samples)
               + (t("plan.formula_reg", reg=reg[1], reg_images=reg[0], total=samples) if reg[1] else "")
               + t("adv.sep")
               + t("plan.formula_steps", samples=samples, batch=b, ga=ga, ratio=samples / (b * ga),
                   per_epoch=per_epoch)
               + (t("plan.formula_buckets", n=per_epoch_b) if per_epoch_b is not None and per_epoch_b != per_epoch
                  else "")
               + (t("plan.formula_epochs", epochs=config.max_train_epochs, total=total)
                  if source == "max_train_epochs" else t("plan.formula_max", total=total, epochs=epochs)))
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
        return PresetChoice(config, None, reason=t("preset.no_gpu"))
    return choose_preset(config, gpu_gb=gpu.memory_gb if gpu is not None else None)


def plan(config: Config, *, purpose: str | None = None, dataset_type: str | None = None, fit: str = "normal",
         similar: bool | None = None, gpu: Any = "detect", counts=None, buckets: Mapping[Any, int] | None = None,
         measured: Measurement | None = None, step_seconds: float | None = None,
         fixed: Mapping[str, str] | None = None) -> Plan:
    """Everything to know before launching `config`.

    purpose: what the LoRA teaches (anime, character, person, object, style, scene, new) for rank and
    step advice; dataset_type: anime/realistic/person/object for LoRA explainer's repeats x epochs (default
    from purpose); fit: "normal" or "close" (Flux LoRA guide's lighter or closer fit); similar: whether several
    concepts are alike; gpu: a preset (T4-16GB, 12GB, 24GB, A100-40GB, A100-80GB), "detect" or None --
    it also picks config.gpu_preset 'auto'; counts: {concept: n_images} or {concept: (repeats,
    n_images)} for a what-if plan instead of scanning config.train_data_dir; buckets: {bucket: samples
    per epoch} for the bucket-exact step count of a what-if plan (a scanned dataset brings its own);
    measured: a `measure_peak` result, which corrects the memory prediction and the time;
    step_seconds: a measured time per optimizer step; fixed: Config fields chosen on purpose elsewhere
    (a course mode's recipe for its tiny model) -> why, so advice to change them shows as kept.
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
    adv = [_keep_fixed(a, fixed) for a in adv] if fixed else adv
    mf = memory_fit(config, gpu, n_images=sp.images + sp.reg_images, n_captions=n_captions, measured=measured)
    if step_seconds is None and measured is not None:
        step_seconds = measured.step_seconds
    est_time = estimate_time(config, sp.total_steps, len(sp.sample_steps), gpu, step_seconds)
    return Plan(config, preset, source, sp, curve, rec, adv, mf, est_time, rank_file_sizes(config), FITTING_GUIDE,
                purpose or "person")


def _keep_fixed(a: Advice, fixed: Mapping[str, str]) -> Advice:
    """Advice to change a field set on purpose elsewhere becomes "ok: kept", with the rule it would apply."""
    hit = [f for f in a.suggested if f in fixed]
    if not hit or a.level not in ("suggest", "warn"):
        return a
    return replace(a, level="ok", suggested={},
                   message=t("plan.kept", fields=", ".join(hit), why=fixed[hit[0]], advice=a.message))


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------
def _hms(seconds: float) -> str:
    return duration(seconds)


def _short_list(xs: list[int], n: int = 12) -> str:
    if len(xs) <= n:
        return ", ".join(map(str, xs))
    return ", ".join(map(str, xs[: n - 2])) + ", " + t("plan.more", n=len(xs) - n + 1) + ", " + str(xs[-1])


REFERENCE_NAMES = {"sd15": "Stable Diffusion 1.5", "sdxl": "SDXL base 1.0", "flux": "FLUX.1-dev"}
_ORDER = {"warn": 0, "suggest": 1, "info": 2, "ok": 3}


def _level(level: str) -> str:
    return t(f"level.{level}") if f"level.{level}" in STRINGS else level


def _topic(topic: str) -> str:
    return t(f"topic.{topic}") if f"topic.{topic}" in STRINGS else topic


def _mem(name: str) -> str:
    """A memory part or phase (the data's English key) in the current language."""
    return MEMORY_ZH.get(name, name) if get_language() == "zh" else name


def render_markdown(p: Plan) -> str:
    """The plan as Markdown (reads fine as plain text in a terminal), in the current language
    (`lora_nb.i18n.get_language`); field names, values and part names stay as they are."""
    lang = get_language()
    c, sp, mf = p.config, p.steps, p.memory
    est = mf.estimate
    L = [t("plan.title", family=c.family, rank=c.rank, resolution=c.resolution, optimizer=c.optimizer), ""]
    L.append(t("plan.dataset", source=p.dataset_source, images=sp.images, concepts=len(sp.concepts)))
    L += ["", t("plan.h_steps"), "", t("plan.steps_rule"), "", sp.formula, ""]
    L.append(t("plan.steps_table"))
    L.append("|---|---:|---:|---:|---:|---:|---:|")
    for cs in sp.concepts:
        L.append(f"| {cs.name} | {cs.images} | {cs.repeats} | {cs.samples_per_epoch} | {cs.steps_per_epoch:g} | "
                 f"{cs.total_steps:.0f} | {cs.times_seen:.3g}x |")
    if sp.reg_samples_per_epoch:
        share = sp.reg_samples_per_epoch / (sp.batch * sp.grad_accum)
        L.append(f"| {t('plan.reg_row', weight=c.prior_loss_weight)} | {sp.reg_images} | | "
                 f"{sp.reg_samples_per_epoch} | {share:g} | {share * sp.epochs:.0f} | |")
    L.append(f"| {t('plan.all')} | {sp.images} | | {sp.samples_per_epoch} | {sp.steps_per_epoch} | "
             f"{sp.total_steps} | |")
    L.append("")
    L.append(t("plan.warmup", n=sp.warmup_steps, how=" (lr_warmup_steps)" if c.lr_warmup_steps
               else f" ({c.lr_warmup_ratio:g} x {sp.total_steps})"))
    L.append(t("plan.lr", scheduler=c.lr_scheduler, high=max(p.lr.lrs) if p.lr.lrs else 0,
               last=p.lr.lrs[-1] if p.lr.lrs else 0))
    L.append(t("plan.checkpoints", n=len(sp.checkpoint_steps), steps=_short_list(sp.checkpoint_steps)))
    if sp.sample_steps:
        L.append(t("plan.samples", n=len(sp.sample_steps), prompts=len(c.sample_prompts),
                   steps=_short_list(sp.sample_steps)))
    else:
        L.append(t("plan.no_samples"))
    for n in sp.notes:
        L.append(t("plan.note", text=n))
    if p.time is not None:
        tm = p.time
        L += ["", t("plan.h_time"), "",
              t("plan.time", seconds=tm.seconds_per_step, source=tm.source, steps=sp.total_steps,
                train=_hms(tm.train_seconds),
                sampling=t("plan.time_sampling", time=_hms(tm.sample_seconds)) if tm.sample_seconds else "",
                total=_hms(tm.total_seconds))]

    L += ["", t("plan.h_memory"), ""]
    L.append(p.preset.describe() + t("adv.end"))
    L.append(t("plan.reference", family=c.family, name=REFERENCE_NAMES[c.family]))
    gpu = mf.gpu
    L.append(t("plan.peak", total=est.total_gb, allocated=est.allocated_gb, phase=_mem(est.peak_phase),
               host=est.host_gb,
               precision=est.precision,
               quant=t("plan.quant", quantization=est.quantization) if est.quantization != "none" else "",
               text=t("plan.text_cached" if est.cache_text_embeddings else "plan.text_kept")))
    if gpu is not None:
        L.append(t("plan.fits" if mf.fits else "plan.not_fits", gpu=gpu.name, gb=gpu.memory_gb,
                   headroom=mf.headroom_gb))
    else:
        L.append(t("plan.no_gpu"))
    L += ["", t("plan.gpu_table"), "|---|---:|"]
    for k, v in est.gpu_parts.items():
        L.append(f"| {_mem(k)} | {v * est.correction:.2f} |")
    L += ["", t("plan.phase_table"), "|---|---:|"]
    L += [f"| {_mem(k)} | {v * est.correction:.2f} |" for k, v in est.phases.items()]
    L += ["", t("plan.host_table"), "|---|---:|"] + [f"| {_mem(k)} | {v:.2f} |" for k, v in est.host_parts.items()]
    for n in est.notes:
        L.append(t("plan.note", text=n))
    if mf.suggestions:
        L += ["", t("plan.fit_head")]
        for s in mf.suggestions:
            L.append(f"- {s.description}: {s.total_gb:.1f} GiB {t('plan.fits_mark') if s.fits else ''} -- "
                     f"{s.reason} [{', '.join(f'{k}={v}' for k, v in s.changes.items())}]")
        if mf.combined:
            L.append(f"- **{mf.combined.description}**: "
                     f"{', '.join(f'{k}={v}' for k, v in mf.combined.changes.items())}"
                     f" -> {mf.combined.total_gb:.1f} GiB")

    L += ["", t("plan.h_recipe", purpose=PURPOSES_ZH.get(p.purpose, p.purpose) if lang == "zh" else p.purpose), ""]
    for i, r in enumerate(p.recipe.loras):
        L.append(t("plan.recipe_lora", concepts=" + ".join(r.concepts), n=r.n_images, rank=r.rank, alpha=r.alpha,
                   lr=r.learning_rate, steps=r.steps, every=r.save_every))
        for k in (("rank", "learning_rate", "steps") if i == 0 else ("steps",)):
            L.append(f"  - {k}: {r.reasons[k]}")
    L += ["", t("plan.h_advice"), ""]
    for a in sorted(p.advice, key=lambda a: _ORDER.get(a.level, 9)):
        sug = f" [{', '.join(f'{k}={v}' for k, v in a.suggested.items())}]" if a.suggested else ""
        L.append(f"- **{_level(a.level)}** ({_topic(a.topic)}) {a.message}{sug}")
        L.append(t("plan.why", reason=a.reason, source=cite(a.source, lang)))

    L += ["", t("plan.h_sizes"), "", t("plan.sizes_table"), "|---:|---:|---:|---:|"]
    for row in p.file_sizes:
        q = row["guide_quoted_mb"]
        L.append(f"| {row['rank']} | {row['mb']:.0f} | {row['guide_targets_mb']:.0f} | {q if q else ''} |")
    L += ["", t("plan.h_fitting"), ""]
    for g in (p.fitting_guide if lang == "en" else fitting_guide(lang)):
        L.append(t("plan.fitting", state=g["state"], grid=g["xy_grid"], remedies=t("adv.sep").join(g["remedies"]),
                   source=g["source"]))
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
        ax.barh([1], [v], left=left, label=f"{_mem(k)} ({v:.1f})", color=f"C{i % 10}")
        left += v
    labels = [t("plot.training_step")]
    if top and other[top] > train_alloc:  # another phase is the peak: show it too
        ax.barh([0], [other[top] * (1 + slack) + ctx], color="0.85", hatch="//", edgecolor="0.5",
                label=t("mem.allocated", phase=_mem(top), gb=other[top]))
        labels.insert(0, _mem(top))
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
