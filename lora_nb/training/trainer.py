"""The training loop: one LoRA on one base model, readable top to bottom.

    GPU preset -> scan data -> load frozen parts -> cache latents and captions, free the encoders
    -> load the denoiser (quantised if asked) -> add adapters (peft) -> optimizer + lr schedule
    -> [resume] -> for each optimizer step: noise, predict, loss, step -> log / checkpoint / sample

Model-family differences live in `lora_nb.families`; this file has no per-family branches.
Randomness (data order, noise, timesteps, caption shuffles) is derived from (seed, step), so a run
resumed from a checkpoint continues exactly as an uninterrupted run would have.
"""

from __future__ import annotations

import gc
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator, PartialState

from ..config import Config
from ..dataset.tag_stats import tag_frequency
from ..env import limit_cpu_threads, resolve_mixed_precision
from ..errors import TrainingDiverged
from ..families import Models, check_config, get_family, sample_guidance
from ..families.adapters import add_adapters, trained_text_encoders
from ..families.adapters import notes as adapter_notes
from ..families.prediction import notes as prediction_notes
from ..families.prediction import of_scheduler, pipeline_kwargs
from ..families.textcache import TextEmbeddingCache, captions_to_cache
from ..families.textcache import enabled as text_cache_enabled
from ..fileio import atomic_path
from ..i18n import t
from ..progress import tqdm  # off while the notebook live panel shows progress
from .data import (
    DatasetScan,
    LatentCache,
    check_batch_fits,
    epoch_batches,
    load_pixels,
    process_caption,
    scan_dataset,
    steps_per_epoch,
    suggest_prompts,
)
from .export.files import save_lora_files
from .export.metadata import lora_metadata
from .export.naming import ExportTarget
from .fingerprint import check_resume, run_fingerprint
from .noise import make_noise
from .optimizers import make_optimizer
from .presets import choose_preset
from .runfolder import own_run_folder
from .runlog import RunLog
from .samples import missing_samples, sample_path
from .state import find_state, load_state, read_state_info, save_state
from .stepmath import checkpoint_steps, sample_steps, total_steps, warmup_steps
from .validation import ValidationLoss, validate


class TrainCallback:
    """Hooks for notebooks (live loss plot, sample preview, stop button). All optional."""

    def on_start(self, run: RunInfo) -> None: ...
    def on_step(self, step: int, logs: dict) -> None: ...
    def on_checkpoint(self, step: int, files: dict) -> None: ...
    def on_sample(self, step: int, paths: list[Path]) -> None: ...
    def on_validation(self, step: int, record: dict) -> None: ...  # the logged val_loss record
    def on_end(self, result: TrainResult) -> None: ...
    def should_stop(self) -> bool:
        return False


@dataclass
class RunInfo:
    """Step math as users know it (Kohya practice guide, LoRA explainer), printed before training starts."""

    num_images: int
    samples_per_epoch: int
    batch_size: int
    grad_accum: int
    num_processes: int
    steps_per_epoch: int
    total_steps: int
    epochs: float
    warmup_steps: int
    checkpoint_steps: list[int]
    sample_steps: list[int]
    mixed_precision: str
    device: str
    started_at: float = field(default_factory=time.time)
    reg_samples: int = 0  # of samples_per_epoch: regularization images, as many as the training samples

    def describe(self) -> str:
        return t("run.describe", images=self.num_images, samples=self.samples_per_epoch - self.reg_samples,
                 reg=t("run.reg", reg=self.reg_samples, total=self.samples_per_epoch) if self.reg_samples else "",
                 batch=self.batch_size, accum=self.grad_accum,
                 processes=t("run.processes", n=self.num_processes) if self.num_processes > 1 else "",
                 per=self.batch_size * self.grad_accum * self.num_processes, steps_per_epoch=self.steps_per_epoch,
                 total=self.total_steps, epochs=f"{self.epochs:g}", warmup=self.warmup_steps,
                 checkpoints=_short(self.checkpoint_steps), samples_at=_short(self.sample_steps),
                 precision=self.mixed_precision, device=self.device)


@dataclass
class TrainResult:
    output_dir: Path
    files: dict                      # final LoRA files by format
    checkpoints: list[tuple[int, dict]] = field(default_factory=list)
    steps: int = 0
    stopped_early: bool = False
    last_loss: float = float("nan")
    log_path: Path | None = None


def _short(steps: list[int]) -> str:
    if not steps:
        return t("run.none")
    return ", ".join(map(str, steps)) if len(steps) <= 8 else f"{', '.join(map(str, steps[:6]))}, ... {steps[-1]}"


# --- the loop --------------------------------------------------------------------------------------
def train(config: Config, callbacks: list[TrainCallback] | None = None, accelerator=None) -> TrainResult:
    """Train a LoRA as `config` says; returns the files written. See module docstring.

    The run folder is this run's alone from before anything is loaded or written until the end
    (`runfolder.own_run_folder`: lock, leftovers of killed writes, no mixing with an earlier run)."""
    config.validate()
    # only the main process owns the folder; PartialState is the Accelerator's shared state, made with the
    # cpu flag _train gives the Accelerator (another one breaks `accelerate launch` multi-process runs)
    main = (accelerator or PartialState(cpu=not torch.cuda.is_available())).is_main_process
    with own_run_folder(config, main):
        return _train(config, callbacks, accelerator)


def _train(config: Config, callbacks: list[TrainCallback] | None, accelerator) -> TrainResult:
    from diffusers.optimization import get_scheduler  # lazy: diffusers adds ~3 s to importing this module

    # 0. the memory preset for this GPU (fields you changed are kept), then every impossible setting
    config.validate()
    preset = choose_preset(config)
    config = preset.config
    check_config(config)
    callbacks = list(callbacks or [])
    family = get_family(config.family)

    # 1. data: every problem is reported before a model is loaded
    scan = scan_dataset(config)
    if not config.sample_prompts:  # Flux LoRA guide §4.2: the concepts' own captions + one unrelated prompt
        config = config.replace(sample_prompts=suggest_prompts(config.train_data_dir))
    check_batch_fits(scan, config)

    # 2. devices and precision (fp16 on T4, bf16 on Ampere+, fp32 on CPU)
    precision = resolve_mixed_precision(config.mixed_precision)
    accelerator = accelerator or Accelerator(mixed_precision=precision, cpu=not torch.cuda.is_available())
    device, nproc, rank = accelerator.device, accelerator.num_processes, accelerator.process_index
    threads = limit_cpu_threads(nproc) if device.type == "cpu" else None  # env.py: a thread per physical core
    weight_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision, torch.float32)
    # 2b. what decides the weights (saved with each state); a resume is checked against its state now, so a
    #     mismatch or a damaged state is reported before any model loads
    fingerprint, resume_from, resume_notes = _resume_point(config, scan, precision, nproc,
                                                           torch.get_num_threads() if device.type == "cpu" else None)

    # 3. frozen parts, then the caches (every latent and caption encoded once, the encoders freed),
    #    then the denoiser: T5 (~10 GB) and the Flux transformer never share the GPU
    out = Path(config.output_dir)
    models = family.load_parts(config, device, weight_dtype)
    cache = LatentCache(config.cache_latents, out / "cache" / "latents", f"{models.model_id}|{config.vae}")
    prepare_caches(family, models, scan, cache, config)
    validator = ValidationLoss.build(family, models, scan, cache, config)  # None without held-out images
    family.load_denoiser(models, config, device, weight_dtype)
    lora_params = add_adapters(family, models, config)
    trainable = [p for g in lora_params for p in g["params"]]
    trained_tes = trained_text_encoders(family, models) if config.train_text_encoder else []
    if config.gradient_checkpointing:
        models.denoiser.enable_gradient_checkpointing()
        for te in trained_tes:
            te.gradient_checkpointing_enable()

    # 4. step math, optimizer and schedule
    spe = steps_per_epoch(scan.samples, config, nproc)
    total = total_steps(config, spe)
    warmup = warmup_steps(config, total)
    optimizer = make_optimizer(config, lora_params)
    lr_scheduler = get_scheduler(config.lr_scheduler, optimizer, num_warmup_steps=warmup, num_training_steps=total,
                                 num_cycles=config.lr_scheduler_num_cycles, power=config.lr_scheduler_power)
    models.denoiser, optimizer = accelerator.prepare(models.denoiser, optimizer)
    if trained_tes:
        models.text_encoders = ([accelerator.prepare(te) for te in trained_tes]
                                + models.text_encoders[len(trained_tes):])

    run = RunInfo(scan.num_images, scan.samples_per_epoch, config.train_batch_size, config.gradient_accumulation_steps,
                  nproc, spe, total, round(total / spe, 2), warmup, checkpoint_steps(config, total),
                  sample_steps(config, total), precision, str(device),
                  reg_samples=scan.samples_per_epoch - scan.train_samples_per_epoch)
    log = RunLog(out, enabled=accelerator.is_main_process)

    # 5. resume: adapter weights, optimizer, schedule and step from the state found in 2b
    start = 0
    if resume_from:
        start = load_state(resume_from, models, family, optimizer, lr_scheduler, accelerator)
        resume_notes += [n for n in [log.truncate_after(start)] if n]
        log.event("resume", start, state=resume_from.name, notes=resume_notes)
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        config.save(out / "config.toml")
        print(preset.describe())
        if threads:
            print(t("run.threads", n=threads))
        objective = prediction_notes(models.extra.get("prediction"))
        for note in scan.warnings + adapter_notes(config) + objective + resume_notes:
            print(t("note.line", note=note))
        print((t("note.resuming", step=start) if start else "") + run.describe())
    for cb in callbacks:
        cb.on_start(run)
    if not start:  # the start of the validation curve (a resumed run logged it already)
        validate(validator, 0, log, accelerator, callbacks)
    if start and accelerator.is_main_process:
        redraw_samples(start, family=family, models=models, config=config, run=run, accelerator=accelerator, log=log,
                       callbacks=callbacks)

    # kohya's ss_tag_frequency: the images trained on (validation_split's held-out ones are not)
    tag_freq = tag_frequency(config.train_data_dir, config.caption_extension, [s.image for s in scan.held_out])
    if config.reg_data_dir:  # kohya lists the reg folders too
        tag_freq = {**tag_frequency(config.reg_data_dir, config.caption_extension), **tag_freq}
    result = TrainResult(out, {}, log_path=log.path)
    epoch_cache: dict[int, list[list[int]]] = {}
    bar = tqdm(total=total, initial=start, desc="train", disable=not accelerator.is_main_process)
    step = start
    last_good: int | None = None
    while step < total:
        # 5a. the micro-batches of this optimizer step, from the (seed, epoch) batch order
        epoch, k = divmod(step, spe)
        if epoch not in epoch_cache:
            epoch_cache = {epoch: epoch_batches(scan.samples, config.train_batch_size, config.seed, epoch,
                                                nproc)[rank::nproc]}
        accum = config.gradient_accumulation_steps
        micro = epoch_cache[epoch][k * accum:(k + 1) * accum]
        gen = torch.Generator().manual_seed(config.seed * 1_000_003 + step * 97 + rank)
        rng = random.Random(f"{config.seed}-{step}-{rank}")

        # 5b. forward / backward over the micro-batches, one optimizer step
        models.denoiser.train()
        step_loss = 0.0
        for batch_idx in micro:
            batch = make_batch(scan, batch_idx, family, models, cache, config, rng, device)
            with accelerator.autocast():
                loss = family_loss(family, models, batch, gen, config)
            accelerator.backward(loss / len(micro))
            step_loss += loss.detach().float().item() / len(micro)
        if not math.isfinite(step_loss):
            raise _diverged(step, last_good, config, log)
        if config.max_grad_norm:
            accelerator.clip_grad_norm_(trainable, config.max_grad_norm)
        optimizer.step()
        lr_scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1

        # 5c. log, checkpoint, sample
        lr = lr_scheduler.get_last_lr()[0]
        logs = {"step": step, "epoch": step / spe, "loss": step_loss, "lr": lr, "time": time.time()}
        log.write(logs)
        result.last_loss = step_loss
        bar.update(1)
        bar.set_postfix(loss=f"{step_loss:.4f}", lr=f"{lr:.2e}")
        for cb in callbacks:
            cb.on_step(step, logs)
        stop = any(cb.should_stop() for cb in callbacks)
        if nproc > 1:  # a signal reaches each rank in its own time; the checkpoint needs all of them at one step
            stop = accelerator.reduce(torch.tensor([float(stop)], device=device), reduction="sum").item() > 0
        if step in run.checkpoint_steps or stop:
            validate(validator, step, log, accelerator, callbacks)  # before the state: a resume redoes both
            files = save_checkpoint(step, step == total, family=family, models=models, config=config, run=run,
                                    tag_freq=tag_freq, optimizer=optimizer, lr_scheduler=lr_scheduler,
                                    accelerator=accelerator, log=log, fingerprint=fingerprint, scan=scan)
            last_good = step
            result.checkpoints.append((step, files))
            for cb in callbacks:
                cb.on_checkpoint(step, files)
        if step in run.sample_steps and accelerator.is_main_process:
            paths = generate_samples(family, models, config, step, out, accelerator)
            log.event("sample", step, paths=[str(p) for p in paths])
            for cb in callbacks:
                cb.on_sample(step, paths)
        if stop:
            result.stopped_early = True
            break
    bar.close()
    accelerator.wait_for_everyone()
    result.steps = step
    if result.checkpoints:
        result.files = result.checkpoints[-1][1]
    for cb in callbacks:
        cb.on_end(result)
    return result


# --- pieces of the loop ----------------------------------------------------------------------------
def prepare_caches(family, models: Models, scan: DatasetScan, cache: LatentCache, config: Config) -> None:
    """Encode what does not change during training once, then move the encoders out of the GPU.

    Latents (cache_latents): every image (both flips with flip_aug) goes through the VAE now; the VAE
    then waits in CPU RAM until validation images need its decoder. Captions
    (cache_text_embeddings): encoded with the validation prompts, then the text encoders are freed.
    With cpu_offload, whatever is not cached waits in CPU RAM and visits the GPU when it runs (the
    families load frozen text encoders there in the first place).
    """
    if config.cache_latents != "none":
        flips = (False, True) if config.flip_aug else (False,)
        for s in tqdm(scan.samples, desc="caching latents", disable=len(scan.samples) < 8):
            for flip in flips:
                cache.get(s, flip, lambda px: family.encode_pixels(models, px))
        models.offload(models.vae)
    elif config.cpu_offload:
        models.offload(models.vae)
    if text_cache_enabled(config):
        captions = [s.caption for s in scan.samples + scan.held_out] + ([""] if config.caption_dropout_rate else [])
        on_disk = config.cache_text_embeddings == "disk"
        models.text_cache = TextEmbeddingCache.build(
            family, models, captions_to_cache(captions, config), config.clip_skip,
            folder=Path(config.output_dir) / "cache" / "text" if on_disk else None, model_key=models.model_id,
            t5_max_length=config.t5_max_length)
        models.text_encoders, models.offloaded = [], [p for p in models.offloaded if p is models.vae]
        gc.collect()  # nothing needs the encoders any more: free their memory
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def conditioning(family, models: Models, captions: list[str], config: Config) -> dict:
    """Text conditioning for captions: from the cache when the encoders were freed, else encoded now."""
    if models.text_cache is not None:
        return models.text_cache.get(captions, models.device)
    with torch.set_grad_enabled(config.train_text_encoder and torch.is_grad_enabled()):
        return family.encode_prompts(models, captions, config.clip_skip)


def make_batch(scan: DatasetScan, idx: list[int], family, models: Models, cache: LatentCache, config: Config,
               rng: random.Random, device) -> dict:
    """Latents (cached or freshly encoded), processed captions and SDXL-style size info for a batch."""
    lats, caps, orig, crops, weights = [], [], [], [], []
    for i in idx:
        s = scan.samples[i]
        flip = config.flip_aug and rng.random() < 0.5
        if config.cache_latents != "none":
            lat, crop = cache.get(s, flip, lambda px: family.encode_pixels(models, px)), center_crop(s)
        else:
            px, crop = load_pixels(s, config.random_crop, flip, rng)
            lat = family.encode_pixels(models, px.unsqueeze(0))[0]
        lats.append(lat)
        caps.append(process_caption(s.caption, config, rng))
        orig.append(s.size[::-1])  # (h, w) as SDXL's add_time_ids expects
        crops.append(crop)
        weights.append(config.prior_loss_weight if s.is_reg else 1.0)  # kohya's loss_weights
    latents = torch.stack([x.to(device) for x in lats]).float()
    return {"latents": latents, "captions": caps, "original_sizes": orig, "crop_top_lefts": crops,
            "target_size": scan.samples[idx[0]].bucket[::-1], "loss_weights": torch.tensor(weights, device=device)}


def center_crop(sample) -> tuple[int, int]:
    """(top, left) of the centre crop `load_pixels` takes into the bucket (SDXL conditions on it)."""
    (w, h), (bw, bh) = sample.size, sample.bucket
    scale = max(bw / w, bh / h)
    nw, nh = max(bw, round(w * scale)), max(bh, round(h * scale))
    return (nh - bh) // 2, (nw - bw) // 2


def family_loss(family, models: Models, batch: dict, gen: torch.Generator, config: Config) -> torch.Tensor:
    latents = batch["latents"]
    noise = make_noise(latents, gen, config.noise_offset, config.multires_noise_iterations,
                       config.multires_noise_discount)
    noisy, t, target, weights = family.noisy_inputs(models, latents, noise, gen, config)
    cond = conditioning(family, models, batch["captions"], config)
    pred = family.predict(models, noisy, t, cond, batch)
    loss = torch.nn.functional.mse_loss(pred.float(), target.float(), reduction="none").mean(dim=(1, 2, 3))
    if weights is not None:
        loss = loss * weights
    if "loss_weights" in batch:  # per sample: reg images count prior_loss_weight times
        loss = loss * batch["loss_weights"].to(loss.device)
    return loss.mean()


def _resume_point(config: Config, scan: DatasetScan, precision: str, nproc: int, cpu_threads: int | None):
    """(the run's fingerprint, saved with each state; with `resume`, the intact state to continue from and
    one-line notes). A state of a run with other weight-deciding settings is refused here, before any model
    loads."""
    if not (config.save_state or config.resume):
        return None, None, []
    fingerprint = run_fingerprint(config, scan, precision, nproc, cpu_threads)
    if not config.resume:
        return fingerprint, None, []
    path, notes = find_state(Path(config.output_dir), config.resume)
    info = read_state_info(path)
    if info.get("fingerprint"):
        notes += check_resume(info["fingerprint"], fingerprint, int(info["step"]), path.name, config)
    return fingerprint, path, notes


def redraw_samples(start: int, *, family, models: Models, config: Config, run: RunInfo, accelerator, log: RunLog,
                   callbacks: list[TrainCallback]) -> None:
    """On resume, draw the resumed step's missing validation images (a kill while they were drawn) from the
    loaded state: same weights and seeds, so the same images. Earlier steps' weights are gone: say so."""
    out = Path(config.output_dir)
    missing = missing_samples(out, [s for s in run.sample_steps if s <= start], len(config.sample_prompts))
    if start in missing:
        n = len(missing[start])
        paths = generate_samples(family, models, config, start, out, accelerator, indices=missing.pop(start))
        log.event("sample", start, paths=[str(p) for p in paths])
        print(t("note.line", note=t("note.resume_drew" if n > 1 else "note.resume_drew_one", n=n, step=start)))
        for cb in callbacks:
            cb.on_sample(start, paths)
    if missing:
        print(t("note.line", note=t("note.resume_lost", steps=_short(sorted(missing)), step=start)))


def _diverged(step: int, last_good: int | None, config: Config, log: RunLog) -> TrainingDiverged:
    log.event("diverged", step)
    kept = (f"the last good checkpoint (step {last_good}) is kept in {config.output_dir}" if last_good
            else "no checkpoint had been saved yet")
    return TrainingDiverged(
        f"loss became NaN/inf at step {step + 1}; {kept} -> lower learning_rate (e.g. x0.5), keep "
        f"max_grad_norm at 1.0, use bf16 or no instead of fp16, and for SDXL use an fp16-safe VAE or the VAE in fp32")


# --- checkpoints, state, samples -------------------------------------------------------------------
def export_targets(family, models: Models, accelerator, config: Config):
    def target(comp, module):
        module = accelerator.unwrap_model(module)
        return ExportTarget(comp, module, family.facts.kohya_prefixes[comp], family.kohya_name_map(comp, module),
                            family.kohya_fused(comp))

    targets = [target(family.facts.denoiser, models.denoiser)]
    if config.train_text_encoder:
        for comp, te in zip(family.facts.text_encoders, models.text_encoders):
            targets.append(target(comp, te))
    return targets


def save_checkpoint(step: int, final: bool, *, family, models: Models, config: Config, run, tag_freq,
                    optimizer, lr_scheduler, accelerator, log, fingerprint: dict | None = None,
                    scan: DatasetScan | None = None) -> dict:
    """LoRA files (kohya + diffusers) for this step, plus resume state; main process only writes."""
    accelerator.wait_for_everyone()
    files: dict = {}
    if accelerator.is_main_process:
        out = Path(config.output_dir)
        name = config.output_name if final else f"{config.output_name}-step{step:08d}"
        meta = lora_metadata(config, base_model_version=family.facts.base_model_version, steps=step,
                             epoch=math.ceil(step / run.steps_per_epoch), dataset=scan,
                             num_train_images=run.samples_per_epoch, warmup_steps=run.warmup_steps,
                             tag_frequency=tag_freq, max_train_steps=run.total_steps,
                             num_epochs=math.ceil(run.total_steps / run.steps_per_epoch),
                             mixed_precision=run.mixed_precision, num_processes=run.num_processes,
                             training_started_at=run.started_at, architecture=family.architecture(models),
                             prediction=of_scheduler(models.noise_scheduler))
        targets = export_targets(family, models, accelerator, config)
        files = save_lora_files(out, name, targets, config, meta, formats=tuple(config.save_formats),
                                precision=config.save_precision)
        if config.save_state:
            save_state(out, step, targets, optimizer, lr_scheduler, scaler=getattr(accelerator, "scaler", None),
                       fingerprint=fingerprint)
        log.event("checkpoint", step, path=str(files.get("kohya") or next(iter(files.values()))))
    accelerator.wait_for_everyone()
    return files


@torch.no_grad()
def generate_samples(family, models: Models, config: Config, step: int, out: Path, accelerator,
                     indices: list[int] | None = None) -> list[Path]:
    """Validation images from fixed prompts and seeds, so changes between checkpoints come from training.
    `indices`: draw only these prompts (each has its own seed, so the images are the same); returns every
    prompt's path."""
    unet = accelerator.unwrap_model(models.denoiser)
    unet.eval()
    pipe = family.pipeline(models, unet=unet)
    pipe.set_progress_bar_config(disable=True)
    res = config.resolution
    negative = conditioning(family, models, [""], config)
    model_kwargs = pipeline_kwargs(models.noise_scheduler.config)  # zero terminal SNR: guidance rescale
    for i, prompt in enumerate(config.sample_prompts):
        if indices is not None and i not in indices:
            continue
        gen = torch.Generator().manual_seed(config.sample_seed + i)
        prompts = family.prompt_kwargs(conditioning(family, models, [prompt], config), negative)
        with models.running(models.vae), accelerator.autocast():
            img = pipe(**prompts, num_inference_steps=config.sample_steps, guidance_scale=sample_guidance(config),
                       height=res, width=res, generator=gen, **model_kwargs).images[0]
        with atomic_path(sample_path(out, step, i)) as tmp:
            img.save(tmp, format="PNG")
    return [sample_path(out, step, i) for i in range(len(config.sample_prompts))]
