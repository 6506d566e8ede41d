"""Kohya ``ss_*`` training metadata, ``modelspec.*`` keys and the ``sshs_*`` hashes of a LoRA file's header."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import time
from typing import TYPE_CHECKING, Any

from ...families import get_family
from ...families.adapters import KOHYA_MODULE, network_args
from ...families.facts import facts
from ...families.prediction import Prediction
from . import dataset_info

if TYPE_CHECKING:  # heavy imports stay out of `import lora_nb`
    import torch

    from ...config import Config
    from ..data import DatasetScan

# kohya writes the sd-scripts commit it ran from; this file comes from no sd-scripts checkout, which kohya's
# own get_git_revision_hash reports as "(unknown)"
NO_SD_SCRIPTS_COMMIT = "(unknown)"

# Optimizer class paths as kohya records them in ss_optimizer (module.Class).
_OPTIMIZER_NAMES = {
    "adamw": "torch.optim.adamw.AdamW",
    "adamw8bit": "bitsandbytes.optim.adamw.AdamW8bit",
    "lion": "lion_pytorch.lion_pytorch.Lion",
    "prodigy": "prodigyopt.prodigy.Prodigy",
    "adafactor": "transformers.optimization.Adafactor",
    "dadaptation": "dadaptation.dadapt_adam.DAdaptAdam",
}


def _model_name(ref: str) -> str:
    """kohya's ss_sd_model_name: the basename of a local path (no user folders leak), else the hub id."""
    if not ref:
        return ""
    return os.path.basename(os.path.normpath(ref)) if os.path.exists(ref) else ref


def lora_metadata(config: Config, *, steps: int, epoch: int, tag_frequency: dict[str, dict[str, int]],
                  dataset: DatasetScan | None = None, num_train_images: int | None = None,
                  base_model_version: str | None = None, architecture: str | None = None,
                  max_train_steps: int | None = None, num_epochs: int | None = None, warmup_steps: int | None = None,
                  mixed_precision: str | None = None, num_processes: int = 1,
                  training_started_at: float | None = None, dataset_dirs: dict[str, dict[str, int]] | None = None,
                  prediction: Prediction | None = None, extra: dict[str, Any] | None = None) -> dict[str, str]:
    """Kohya ``ss_*`` training metadata plus ``modelspec.*`` keys, every value a string.

    Every key sd-scripts' `train_network.py` always writes, with its meaning, and the family's own
    (`Family.kohya_metadata`: Flux's). `dataset` (the run's scan) gives ``ss_num_train_images`` (images x
    repeats, as kohya counts), ``ss_dataset_dirs`` ({folder: {"n_repeats", "img_count"}}), their ``ss_reg_*``
    twins for reg_data_dir (``ss_num_reg_images`` before kohya's balancing), ``ss_bucket_info``
    and ``ss_num_batches_per_epoch``; without it `num_train_images` / `dataset_dirs` are written as given.
    `tag_frequency` is ``{concept folder: {tag: count}}``. `max_train_steps`, `num_epochs`, `warmup_steps`
    and `mixed_precision` are the values the trainer resolved (the config may hold 0 / "auto" / a ratio).
    `prediction` is the objective the run trained (`prediction.of_scheduler` of its scheduler: v-prediction,
    zero terminal SNR); without it, the Config's override or else the family's reference objective.
    `extra` adds or overrides keys (values become strings, dicts/lists JSON). ``sshs_*`` hashes depend on
    the saved tensors: `save_lora_files` adds them (and which tools take the file, `loaders`).
    Holds no credentials: Config has none and nothing here reads the environment.
    """
    if dataset is None and num_train_images is None:
        raise TypeError("lora_metadata needs the run's dataset scan (dataset=) or num_train_images=")
    num_reg_images, reg_dirs = 0, {}
    if dataset is not None:
        num_train_images = dataset.train_samples_per_epoch
        dataset_dirs = dataset_info.dataset_dirs(dataset)
        num_reg_images, reg_dirs = dataset.num_reg_images, dataset.reg_dirs
    now = time.time()
    started = now if training_started_at is None else float(training_started_at)
    family = config.family
    reso = config.resolution
    pred = _prediction(config, prediction)
    md: dict[str, Any] = {
        "ss_session_id": int(hashlib.sha256(f"{started}".encode()).hexdigest()[:8], 16),
        "ss_training_started_at": started,
        "ss_training_finished_at": now,
        "ss_output_name": config.output_name,
        "ss_learning_rate": config.learning_rate,
        "ss_unet_lr": config.effective_unet_lr,
        "ss_text_encoder_lr": config.effective_text_encoder_lr if config.train_text_encoder else 0.0,
        "ss_num_train_images": num_train_images,
        "ss_num_validation_images": 0,  # no validation split
        "ss_num_reg_images": num_reg_images,  # kohya: reg images x folder repeats, before balancing
        "ss_num_batches_per_epoch": (dataset_info.batches_per_epoch(dataset, config, num_processes)
                                     if dataset is not None else None),
        "ss_num_epochs": num_epochs if num_epochs is not None else config.max_train_epochs,
        "ss_gradient_checkpointing": config.gradient_checkpointing,
        "ss_gradient_accumulation_steps": config.gradient_accumulation_steps,
        "ss_max_train_steps": max_train_steps if max_train_steps is not None else config.max_train_steps,
        "ss_lr_warmup_steps": warmup_steps if warmup_steps is not None else config.lr_warmup_steps,
        "ss_lr_scheduler": config.lr_scheduler,
        "ss_network_module": _network_module(config),
        "ss_network_dim": config.rank,
        "ss_network_alpha": config.alpha,
        "ss_network_dropout": config.network_dropout,
        "ss_network_args": _network_args(config),
        "ss_mixed_precision": mixed_precision or config.mixed_precision,
        "ss_full_fp16": False,
        "ss_v2": False,
        "ss_base_model_version": base_model_version or facts(family).base_model_version,
        "ss_clip_skip": config.clip_skip,
        "ss_max_token_length": None,  # kohya: None = CLIP's 75 tokens
        "ss_cache_latents": config.cache_latents != "none",
        "ss_seed": config.seed,
        "ss_lowram": False,
        "ss_noise_offset": config.noise_offset,
        "ss_multires_noise_iterations": config.multires_noise_iterations,
        "ss_multires_noise_discount": config.multires_noise_discount,
        "ss_adaptive_noise_scale": None,
        "ss_zero_terminal_snr": bool(pred and pred.zero_snr),
        "ss_training_comment": config.training_comment,
        "ss_sd_scripts_commit_hash": NO_SD_SCRIPTS_COMMIT,
        "ss_optimizer": f"{_OPTIMIZER_NAMES[config.optimizer]}(weight_decay={config.weight_decay})",
        "ss_max_grad_norm": config.max_grad_norm,
        "ss_caption_dropout_rate": config.caption_dropout_rate,
        "ss_caption_dropout_every_n_epochs": 0,
        "ss_caption_tag_dropout_rate": 0.0,
        "ss_face_crop_aug_range": None,
        "ss_prior_loss_weight": config.prior_loss_weight,
        "ss_min_snr_gamma": config.min_snr_gamma,
        "ss_scale_weight_norms": None,
        "ss_ip_noise_gamma": None,
        "ss_debiased_estimation": False,
        "ss_noise_offset_random_strength": False,
        "ss_ip_noise_gamma_random_strength": False,
        "ss_loss_type": "l2",
        # kohya's defaults; they shape only huber / smooth_l1 losses, which are not offered
        "ss_huber_schedule": "snr",
        "ss_huber_scale": 1.0,
        "ss_huber_c": 0.1,
        "ss_fp8_base": False,  # quantization here is bitsandbytes NF4/int8, never fp8
        "ss_fp8_base_unet": False,
        "ss_validation_seed": None,
        "ss_validation_split": 0.0,
        "ss_max_validation_steps": None,
        "ss_validate_every_n_epochs": None,
        "ss_validate_every_n_steps": None,
        "ss_resize_interpolation": "lanczos",  # load_pixels resizes with LANCZOS both ways
        "ss_batch_size_per_device": config.train_batch_size,
        "ss_total_batch_size": config.train_batch_size * config.gradient_accumulation_steps * num_processes,
        "ss_resolution": f"({reso}, {reso})",
        "ss_color_aug": False,
        "ss_flip_aug": config.flip_aug,
        "ss_random_crop": config.random_crop,
        "ss_shuffle_caption": config.shuffle_caption,
        "ss_enable_bucket": config.enable_bucket,
        "ss_bucket_no_upscale": not config.upscale_small,
        "ss_min_bucket_reso": config.min_bucket_reso,
        "ss_max_bucket_reso": config.max_bucket_reso,
        "ss_keep_tokens": config.keep_tokens,
        "ss_dataset_dirs": json.dumps(dataset_dirs or {}),
        "ss_reg_dataset_dirs": json.dumps(reg_dirs),
        "ss_tag_frequency": json.dumps(tag_frequency),
        # kohya: json.dumps of the dataset's bucket_info, "null" without bucketing
        "ss_bucket_info": json.dumps(dataset_info.bucket_info(dataset, config) if dataset is not None else None),
        "ss_sd_model_name": _model_name(config.pretrained_model),
        "ss_steps": steps,
        "ss_epoch": epoch,
    }
    if pred:  # kohya's flag name; train_network.py leaves it out, but model-info readers look for it
        md["ss_v_parameterization"] = pred.type == "v_prediction"
    if config.vae:
        md["ss_vae_name"] = _model_name(config.vae)
    md.update(get_family(family).kohya_metadata(config))
    md.update(_modelspec(config, timestamp=now, architecture=architecture, prediction=pred))
    md.update(extra or {})
    return {k: v if isinstance(v, str) else json.dumps(v) if isinstance(v, (dict, list)) else str(v)
            for k, v in md.items()}


def _network_args(config: Config) -> str:
    """kohya's ss_network_args: JSON of the network's key=value arguments, every value a string as kohya parses
    them (plus what decides which layers carry the adapter here: target_modules, text encoder, Flux MLP)."""
    args = {"target_modules": ",".join(config.target_modules), "train_text_encoder": str(config.train_text_encoder),
            "train_mlp": str(config.train_mlp), **network_args(config)}
    return json.dumps({k: str(v) for k, v in args.items()})


def _prediction(config: Config, prediction: Prediction | None) -> Prediction | None:
    """The run's objective; None for families without a DDPM one (Flux's flow matching)."""
    reference = facts(config.family).prediction_type
    if not reference:
        return None
    if prediction is not None:
        return prediction
    kind = {"yes": "v_prediction", "no": "epsilon"}.get(config.v_parameterization, reference)
    return Prediction(kind, config.zero_terminal_snr == "yes")


def _network_module(config: Config) -> str:
    own = facts(config.family).kohya_lora_module
    if config.network_type == "lora" and own:
        return own
    return KOHYA_MODULE[config.network_type]

def _modelspec(config: Config, timestamp: float, architecture: str | None = None,
               prediction: Prediction | None = None) -> dict[str, str]:
    """ModelSpec 1.0.0 keys as kohya's `sai_model_spec.build_metadata` writes them for a LoRA.

    `architecture`: the loaded model's id (`Family.architecture`, e.g. flux-1-schnell); without it, the
    family's id for an unknown variant (kohya writes flux-1 then), never a guess from the repository name.
    """
    f = facts(config.family)
    reso = config.resolution or f.resolution
    spec = {
        "modelspec.sai_model_spec": "1.0.0",
        "modelspec.architecture": f"{architecture or f.modelspec_architecture}/lora",
        "modelspec.implementation": f.modelspec_implementation,
        "modelspec.title": config.output_name,
        "modelspec.resolution": f"{reso}x{reso}",
        "modelspec.date": datetime.datetime.fromtimestamp(int(timestamp)).isoformat(),
    }
    if prediction:  # kohya's "epsilon" / "v"; it leaves the key out for Flux
        spec["modelspec.prediction_type"] = prediction.modelspec
    if config.clip_skip != 1:
        spec["modelspec.encoder_layer"] = str(config.clip_skip)
    return spec


def kohya_model_hashes(state_dict: dict[str, torch.Tensor], metadata: dict[str, str]) -> tuple[str, str]:
    """(sshs_model_hash, sshs_legacy_hash) as kohya's `precalculate_safetensors_hashes` computes them.

    sd-webui-additional-networks hashes the tensor bytes after the safetensors header (model
    hash) and 64 KiB at offset 1 MiB (legacy hash) of the file serialised with the ss_* keys only,
    so later user edits of other metadata keys do not change the hash.
    """
    from safetensors.torch import save

    ss_only = {k: v for k, v in metadata.items() if k.startswith("ss_")}
    data = memoryview(save(state_dict, ss_only))  # slices of a memoryview are not copies
    n = int.from_bytes(data[:8], "little")
    return hashlib.sha256(data[8 + n:]).hexdigest(), hashlib.sha256(data[0x100000:0x110000]).hexdigest()[:8]
