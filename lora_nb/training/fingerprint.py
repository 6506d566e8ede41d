"""A run's fingerprint: everything that decides the trained weights, saved with each resume state.

On resume the fingerprint of the run as now configured is compared with the saved one. A difference
in what decides the weights is refused in one line listing each changed field (old -> new): resuming
would train on with the saved optimizer state under other settings while config.toml and the LoRA's
metadata described the new ones. Settings that do not touch the weights (sampling, saving, memory
placement), another run length and another torch thread count (a CPU run's last bits) are accepted, each
said in one line.

Every `Config` field is in exactly one of WEIGHT_FIELDS, COMPARED_OTHERWISE or NOT_WEIGHTS
(tests/test_resume.py checks), so a new field has to be placed on purpose.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..config import Config
from ..errors import LoraNbError
from ..fileio import file_sha256
from ..i18n import t
from .data import DatasetScan, steps_per_epoch
from .stepmath import total_steps, warmup_steps

# Compared value by value: a change means other weights.
WEIGHT_FIELDS = (
    # model
    "family", "vae", "quantization", "vae_dtype", "v_parameterization", "zero_terminal_snr",
    # dataset: which pixels and captions each step sees
    "resolution", "enable_bucket", "min_bucket_reso", "max_bucket_reso", "upscale_small", "random_crop", "flip_aug",
    "default_repeats", "caption_extension", "missing_caption", "trigger_word", "shuffle_caption", "keep_tokens",
    "caption_dropout_rate", "cache_latents",  # compared as on/off: memory and disk hold the same latents
    "validation_split",  # which images are held out, so which ones train
    # network
    "network_type", "rank", "alpha", "network_dropout", "target_modules", "train_text_encoder", "conv_rank",
    "conv_alpha", "train_mlp", "down_lr_weight", "mid_lr_weight", "up_lr_weight",
    # optimizer and schedule
    "optimizer", "learning_rate", "unet_lr", "text_encoder_lr", "weight_decay", "max_grad_norm",
    "lr_scheduler", "lr_warmup_steps", "lr_warmup_ratio", "lr_scheduler_num_cycles", "lr_scheduler_power",
    # the training step
    "train_batch_size", "gradient_accumulation_steps", "mixed_precision",  # compared as resolved (auto -> fp16...)
    "noise_offset", "multires_noise_iterations", "multires_noise_discount", "min_snr_gamma", "clip_skip",
    "timestep_sampling", "sigmoid_scale", "flow_shift", "guidance_scale", "t5_max_length", "seed",
    "prior_loss_weight",
)

# Decide the weights, but compared through what they point at.
COMPARED_OTHERWISE = {
    "pretrained_model": "the base model's files are compared (a cheap hash), so a moved folder resumes",
    "revision": "compared with pretrained_model",
    "train_data_dir": "the images, captions and repeats in it are compared, so a moved folder resumes",
    "reg_data_dir": "as train_data_dir: its images, captions and balanced repeats are compared",
    "max_train_steps": "the run's length: a longer (or shorter, past the saved step) run is accepted with a note "
                       "on the lr schedule",
    "max_train_epochs": "as max_train_steps",
}

# Safe to change on resume: they do not change the adapter's weights.
NOT_WEIGHTS = {
    "allow_pickle": "a permission to read pickle files; the base model's files are compared instead",
    "cache_text_embeddings": "where the frozen encoders' caption embeddings are kept (RAM, disk or recomputed)",
    "gradient_checkpointing": "recomputes activations in the backward pass: the same gradients, less memory",
    "gpu_preset": "its effect is compared through the fields it sets (quantization, optimizer, ...)",
    "cpu_offload": "where frozen parts wait between uses",
    "output_dir": "the run folder itself",
    "output_name": "the saved files' names",
    "save_every_n_steps": "which steps write files",
    "save_precision": "the exported files' precision; the resume state keeps fp32",
    "save_formats": "which file formats are exported",
    "save_dora_a1111": "whether an extra full-weight DoRA file is exported",
    "save_state": "whether resume states are written",
    "resume": "where to continue from",
    "overwrite": "whether an earlier run in the folder is cleared first (a new run, not a resume)",
    "training_comment": "free text in the metadata",
    "validation_data_dir": "held-out images in their own folder are only measured, never trained on",
    "sample_every_n_steps": "validation images only",
    "sample_prompts": "validation images only",
    "sample_seed": "validation images only",
    "sample_steps": "validation images only",
    "sample_guidance_scale": "validation images only",
}
_NOT_REPORTED = ("resume", "output_dir")  # always differ between a run and its resume, or are the run itself


def run_fingerprint(config: Config, scan: DatasetScan, precision: str, num_processes: int,
                    cpu_threads: int | None = None) -> dict:
    """What decides this run's weights (config as the trainer resolved it: preset applied, precision resolved).
    `cpu_threads`: torch's thread count of a CPU run, which decides the last bits only (`_threads_note`)."""
    spe = steps_per_epoch(scan.samples, config, num_processes)
    total = total_steps(config, spe)
    resolved = {"mixed_precision": precision, "cache_latents": config.cache_latents != "none"}
    fields = {name: resolved.get(name, getattr(config, name)) for name in WEIGHT_FIELDS}
    return json.loads(json.dumps({
        "fields": fields,
        "base_model": {"source": config.pretrained_model, "revision": config.revision,
                       "files": base_model_digest(config.pretrained_model, config.revision)},
        "dataset": dataset_digest(scan, config.train_data_dir, config.reg_data_dir),
        "run": {"total_steps": total, "warmup_steps": warmup_steps(config, total), "num_processes": num_processes,
                "cpu_threads": cpu_threads},
        "other": {name: getattr(config, name) for name in NOT_WEIGHTS if name not in _NOT_REPORTED},
    }))


def check_resume(saved: dict, now: dict, step: int, state_name: str, config: Config) -> list[str]:
    """Refuse (LoraNbError, one line) a resume whose weights-deciding settings differ from the saved run's;
    return one-line notes for the accepted differences (run length, settings that do not touch the weights)."""
    changed = [f"{k} {_fmt(old)} -> {_fmt(now['fields'][k])}" for k, old in saved.get("fields", {}).items()
               if k in now["fields"] and old != now["fields"][k]]
    changed += _base_changes(saved.get("base_model"), now["base_model"])
    changed += _dataset_changes(saved.get("dataset"), now["dataset"])
    old_run, new_run = saved.get("run", {}), now["run"]
    if old_run.get("num_processes", new_run["num_processes"]) != new_run["num_processes"]:
        changed.append(f"number of processes (GPUs) {old_run['num_processes']} -> {new_run['num_processes']}")
    if changed:
        raise LoraNbError(f"resume: the saved state {state_name} belongs to a run with other settings that decide "
                          f"the weights: {'; '.join(changed)} -> set them back to continue it, or start a new run "
                          f"(resume='' and another output_dir)")
    if new_run["total_steps"] <= step:
        raise LoraNbError(f"resume: this run ends at step {new_run['total_steps']} but the saved state "
                          f"{state_name} is at step {step} -> raise max_train_steps (or max_train_epochs) above "
                          f"{step}, or use the LoRA files already saved")
    notes = []
    notes += [n for n in (_length_note(old_run, new_run, step, config), _threads_note(old_run, new_run)) if n]
    safe = [f"{k} {_fmt(old)} -> {_fmt(now['other'][k])}" for k, old in saved.get("other", {}).items()
            if k in now["other"] and old != now["other"][k]]
    if safe:
        notes.append(t("note.resume_safe", changes="; ".join(safe)))
    return notes


def _fmt(value) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else f"{text[:20]}...{text[-36:]}"  # a path's end names it


# --- the base model ----------------------------------------------------------------------------------
def base_model_digest(source: str, revision: str = "") -> str:
    """A cheap hash of the base model's files: names, sizes and each file's first and last MiB (a local
    folder or file), or the commit of the cached hub snapshot; '' when not known before loading."""
    p = Path(source).expanduser()
    if p.exists():
        files = [p] if p.is_file() else sorted(
            f for f in p.rglob("*") if f.is_file() and not any(s.startswith(".") for s in f.relative_to(p).parts))
        h = hashlib.sha256()
        for f in files:
            size = f.stat().st_size
            h.update(f"{f.relative_to(p).as_posix() if f != p else f.name}|{size}|".encode())
            with open(f, "rb") as fh:
                h.update(fh.read(1 << 20))
                if size > 2 << 20:
                    fh.seek(-(1 << 20), os.SEEK_END)
                    h.update(fh.read())
        return "files:" + h.hexdigest()[:16]
    try:
        from huggingface_hub import snapshot_download

        return "hub:" + Path(snapshot_download(source, revision=revision or None, local_files_only=True)).name
    except Exception:  # not in the local cache yet (first load on this machine): compare the id instead
        return ""


def _base_changes(old: dict | None, new: dict) -> list[str]:
    if not old:
        return []
    if old.get("files") and new["files"]:
        if old["files"] == new["files"]:
            return []
        if old["source"] == new["source"]:
            return [f"pretrained_model: the files of {_fmt(new['source'])} changed"]
        return [f"pretrained_model {_fmt(old['source'])} -> {_fmt(new['source'])} (other files)"]
    return [f"{name} {_fmt(old.get(k))} -> {_fmt(new[k])}"
            for name, k in (("pretrained_model", "source"), ("revision", "revision")) if old.get(k) != new[k]]


# --- the dataset -------------------------------------------------------------------------------------
def dataset_digest(scan: DatasetScan, root: str, reg_root: str = "") -> dict[str, list]:
    """{image path relative to train_data_dir, or "reg_data_dir/" + path relative to reg_data_dir: [content hash,
    caption hash, repeats (reg: as balanced), bucket]}."""
    out = {}
    for s in scan.samples:
        img = s.image.resolve()
        base = Path(reg_root if s.is_reg else root).expanduser().resolve()
        rel = img.relative_to(base).as_posix() if img.is_relative_to(base) else img.name
        rel = f"reg_data_dir/{rel}" if s.is_reg else rel
        caption = hashlib.sha256(s.caption.encode()).hexdigest()[:12]
        out[rel] = [file_sha256(img)[:16], caption, s.repeats, list(s.bucket)]
    return out


def _dataset_changes(old: dict | None, new: dict) -> list[str]:
    if old is None or old == new:
        return []
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    what = ("image", "caption", "repeats", "bucket")
    changed = [f"{k} ({', '.join(w for w, a, b in zip(what, old[k], new[k]) if a != b)})"
               for k in sorted(set(old) & set(new)) if old[k] != new[k]]
    parts = [f"{len(names)} {label} ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"
             for label, names in (("added", added), ("removed", removed), ("changed", changed)) if names]
    where = "train_data_dir" if not any(k.startswith("reg_data_dir/") for k in set(old) ^ set(new) | {
        k for k in set(old) & set(new) if old[k] != new[k]}) else "train_data_dir / reg_data_dir"
    return [f"{where} contents: {'; '.join(parts)}"]


# --- the run's length and its lr schedule -------------------------------------------------------------
def _length_note(old: dict, new: dict, step: int, config: Config) -> str:
    """One honest line when the run's length (and with it the lr schedule) differs from the saved run's."""
    t_old, t_new = old.get("total_steps", new["total_steps"]), new["total_steps"]
    w_old, w_new = old.get("warmup_steps", new["warmup_steps"]), new["warmup_steps"]
    if (t_old, w_old) == (t_new, w_new):
        return ""
    before, after = _lr_factors(config, t_old, w_old, step), _lr_factors(config, t_new, w_new, step)
    if before == after:
        return t("resume.length_same", new=t_new, old=t_old, scheduler=config.lr_scheduler, step=step)
    lr = config.effective_unet_lr
    return t("resume.length_differs", new=t_new, old=t_old, scheduler=config.lr_scheduler, step=step, next=step + 1,
             lr_old=f"{lr * before[-1]:.2e}", lr_new=f"{lr * after[-1]:.2e}")


def _threads_note(old: dict, new: dict) -> str:
    """A CPU run's sums are split over torch's threads, so another thread count rounds differently: accepted,
    with one line on how to get the bitwise result."""
    before, now = old.get("cpu_threads"), new.get("cpu_threads")
    if not before or not now or before == now:
        return ""
    return t("note.resume_threads", before=before, now=now)


def _lr_factors(config: Config, total: int, warmup: int, step: int) -> list[float]:
    """The schedule's lr multipliers for steps 1..step (diffusers' LambdaLR, as the trainer builds it)."""
    import torch
    from diffusers.optimization import get_scheduler  # lazy, as in the trainer

    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = get_scheduler(config.lr_scheduler, opt, num_warmup_steps=warmup, num_training_steps=total,
                          num_cycles=config.lr_scheduler_num_cycles, power=config.lr_scheduler_power)
    return [sched.lr_lambdas[0](t) for t in range(step)]
