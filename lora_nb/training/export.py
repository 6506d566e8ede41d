"""LoRA files that diffusers, ComfyUI and AUTOMATIC1111/Forge load: kohya and diffusers layouts.

The trainer keeps its adapters as peft LoRA layers (adapter "default"); at each checkpoint this
module turns them into files:

    out_dir/
      {name}.safetensors                          kohya layout + ss_*/modelspec.* metadata:
                                                  A1111/Forge (models/Lora), ComfyUI (models/loras)
      {name}_diffusers/pytorch_lora_weights.safetensors
                                                  diffusers layout, written by diffusers' own
                                                  writer: `pipe.load_lora_weights(folder or file)`

Kohya keys are ``{prefix}_{module path with '.' -> '_'}.lora_down.weight`` / ``.lora_up.weight``
/ ``.alpha``; the loader scales each update by alpha / rank. The alpha written is the one the
peft layer really uses (``scaling * r``), so ``lora_alpha != r`` (LoRA explainer: alpha = rank/2) and
per-layer alpha patterns survive the round trip; diffusers' `convert_state_dict_to_kohya` would
write alpha = rank and the SDXL-style ``lora_te1`` prefix for SD1, which is why the names are
built here. Diffusers files carry the peft `LoraConfig` in the ``lora_adapter_metadata`` header
entry (as diffusers 0.42's `save_lora_weights` does), which is how `load_lora_weights` restores
``lora_alpha != r``.

CLIP text encoders are named as in the original checkpoints (``text_model.encoder.layers.N...``):
transformers 5 flattened `CLIPTextModel` (no ``text_model`` wrapper), but A1111, ComfyUI and the
hub's LoRA files all use the original names, and diffusers strips the prefix again when loading.

LoRA variants (Kohya practice guide §4) are written in the layout each ecosystem loads:

    network_type   kohya file (A1111/Forge/ComfyUI)           diffusers format
    lora, locon    lora_down / lora_up / alpha (convs too)     pytorch_lora_weights.safetensors
    dora           + dora_scale (LyCORIS, wd_on_out: one       + lora_magnitude_vector (exact in
                   magnitude per output row, as peft trains)   diffusers' load_lora_weights)
    loha           LyCORIS hada_w1_a/_b, hada_w2_a/_b, alpha   no diffusers loader exists: a peft
    lokr           LyCORIS lokr_w1[_a/_b], lokr_w2[_a/_b]      folder per component instead
                                                               ({name}_peft/<component>/, load with
                                                               peft.PeftModel.from_pretrained)

DoRA caveat: LyCORIS' loaders apply ``dora_scale`` exactly; A1111 reads only the input-axis form
(LyCORIS' default, which peft does not train) and ComfyUI divides by the base weight's norm
instead of the adapted weight's, so there the result differs slightly from training; the
diffusers file is exact. SDXL's UNet keys use the original sgm block names (input_blocks.N...)
through `ExportTarget.key_name`; Flux's kohya keys are ``lora_transformer_`` + the diffusers
module path (the form ComfyUI and OneTrainer use).

Only ``.safetensors`` is written or read by default: pickle files (.ckpt/.pt/.bin) can run code
when loaded.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..errors import LoraNbError, ModelLoadError
from ..families.lorafiles import DIFFUSERS_WEIGHT_NAME

if TYPE_CHECKING:  # heavy imports stay out of `import lora_nb`
    import torch

    from ..config import Config

PRECISIONS = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}

# ss_base_model_version values kohya's sd-scripts writes (train_network.py / sdxl / flux trainers).
BASE_MODEL_VERSIONS = {"sd15": "sd_v1", "sdxl": "sdxl_base_v1-0", "flux": "flux1"}

# ModelSpec (kohya library/sai_model_spec.py): architecture ids and implementation per family.
_MODELSPEC_ARCH = {"sd15": "stable-diffusion-v1", "sdxl": "stable-diffusion-xl-v1-base", "flux": "flux-1"}
_MODELSPEC_IMPL = {
    "sd15": "diffusers",  # kohya: v1/v2 LoRA -> IMPL_DIFFUSERS
    "sdxl": "https://github.com/Stability-AI/generative-models",  # kohya: SDXL LoRA -> IMPL_STABILITY_AI
    "flux": "https://github.com/black-forest-labs/flux",
}
_DEFAULT_RESO = {"sd15": 512, "sdxl": 1024, "flux": 1024}

# Optimizer class paths as kohya records them in ss_optimizer (module.Class).
_OPTIMIZER_NAMES = {
    "adamw": "torch.optim.adamw.AdamW",
    "adamw8bit": "bitsandbytes.optim.adamw.AdamW8bit",
    "lion": "lion_pytorch.lion_pytorch.Lion",
    "prodigy": "prodigyopt.prodigy.Prodigy",
    "adafactor": "transformers.optimization.Adafactor",
    "dadaptation": "dadaptation.dadapt_adam.DAdaptAdam",
}

# ComfyUI comfy/lora.py LORA_CLIP_MAP: the CLIP projections its kohya loader maps.
LORA_CLIP_MAP = {
    "mlp.fc1": "mlp_fc1",
    "mlp.fc2": "mlp_fc2",
    "self_attn.k_proj": "self_attn_k_proj",
    "self_attn.q_proj": "self_attn_q_proj",
    "self_attn.v_proj": "self_attn_v_proj",
    "self_attn.out_proj": "self_attn_out_proj",
}
_CLIP_LAYER_RE = re.compile(r"^text_model\.encoder\.layers\.(\d+)\.(" + "|".join(map(re.escape, LORA_CLIP_MAP)) + r")$")


@dataclass
class ExportTarget:
    """One LoRA-carrying component of a pipeline; the families module builds these."""

    component: str  # diffusers component name: "unet", "text_encoder", "text_encoder_2", "transformer"
    module: "torch.nn.Module"  # the peft-wrapped (get_peft_model) or add_adapter'd module
    kohya_prefix: str  # "lora_unet", "lora_te", "lora_te1", "lora_te2", "lora_transformer", ...
    key_name: Callable[[str], str] | None = None  # module name -> kohya name (SDXL UNet: sgm blocks)


# --------------------------------------------------------------------------------------------------
# module naming
# --------------------------------------------------------------------------------------------------
def _unwrap(module):
    """The model under a peft `PeftModel` wrapper (add_adapter'd models are not wrapped)."""
    from peft import PeftModel

    return module.base_model.model if isinstance(module, PeftModel) else module


def _name_prefix(base) -> str:
    """Prefix that turns in-memory module names into the checkpoints' names.

    transformers 5 flattened CLIPTextModel (``encoder.layers...``); every LoRA tool names these
    modules ``text_model.encoder.layers...`` as in the original checkpoints.
    """
    if type(base).__name__ == "CLIPTextModel" and not hasattr(base, "text_model"):
        return "text_model."
    return ""


def _base_module_names(module) -> list[str]:
    """Names of the base model's modules that own a ``weight`` (LoRA layers seen through)."""
    import torch
    from peft.tuners.tuners_utils import BaseTunerLayer

    names = []
    for name, m in _unwrap(module).named_modules():
        parts = name.split(".")
        if "base_layer" in parts or any(p.startswith("lora_") for p in parts):
            continue  # peft's own sub-layers (base_layer, lora_A/lora_B, lora_dropout ...)
        if isinstance(m, BaseTunerLayer) or isinstance(getattr(m, "weight", None), torch.Tensor):
            names.append(name)
    return names


def _adapter_kind(layer) -> str | None:
    from peft.tuners.loha import LoHaLayer
    from peft.tuners.lokr import LoKrLayer
    from peft.tuners.lora import LoraLayer

    for cls, kind in ((LoraLayer, "lora"), (LoHaLayer, "loha"), (LoKrLayer, "lokr")):
        if isinstance(layer, cls):
            return kind
    return None


def _lora_layers(target: ExportTarget, adapter_name: str) -> dict[str, dict[str, Any]]:
    """{checkpoint-style module name: layer entry} for one target's adapter layers.

    Each entry: ``name`` (module name in the model), ``kind`` (lora / loha / lokr), ``tensors``
    ({kohya key suffix: tensor}), ``alpha`` (float, or None when the format has none) and, for
    LoRA, ``down`` / ``up`` / ``rank`` (and ``magnitude`` for DoRA).
    """
    from peft import get_peft_model_state_dict

    module = target.module
    if adapter_name not in (getattr(module, "peft_config", None) or {}):
        raise LoraNbError(f"{target.component}: has no LoRA adapter named {adapter_name!r} -> add one with "
                          f"add_adapter(LoraConfig(...)) before exporting, or pass its adapter name")
    base = _unwrap(module)
    prefix = _name_prefix(base)
    # peft's own serialiser picks the adapter's tensors (and drops the adapter name from keys); every
    # tensor must belong to an adapter layer we know how to name
    sd = get_peft_model_state_dict(module, adapter_name=adapter_name)
    layers = {}
    for n, m in base.named_modules():
        kind = _adapter_kind(m)
        if kind and adapter_name in m.r:
            layers[n] = (kind, m)
    for key in sd:
        key = key.removeprefix("base_model.model.")
        name = key.rsplit(".", 2)[0] if key.endswith(".weight") else key.rsplit(".", 1)[0]
        if name not in layers or ".lora_bias" in key or ".lora_embedding" in key:
            raise LoraNbError(f"{target.component}: adapter tensor {key!r} is not a down/up (or LoHa/LoKr factor) "
                              f"weight (lora_bias, modules_to_save or trainable tokens cannot be exported) -> "
                              f"train with a plain adapter config")
    out: dict[str, dict[str, Any]] = {}
    for name, (kind, layer) in layers.items():
        what = f"{target.component}.{name}"
        canonical = target.key_name(name) if target.key_name else prefix + name
        scaling = float(layer.scaling[adapter_name])
        rank = int(layer.r[adapter_name])
        # diffusers files use the original checkpoints' names too (text_model.encoder...), never sgm ones
        entry: dict[str, Any] = {"name": name, "path": prefix + name, "kind": kind, "rank": rank}
        if kind == "lora":
            down, up = layer.lora_A[adapter_name].weight, layer.lora_B[adapter_name].weight
            # the update the model applies is scaling * B @ A; kohya applies (alpha / rank) * up @ down
            entry.update(down=down, up=up, alpha=scaling * rank,
                         tensors={"lora_down.weight": down, "lora_up.weight": up})
            mag = getattr(layer, "lora_magnitude_vector", {})
            if adapter_name in mag:
                m = mag[adapter_name].weight  # peft: one magnitude per output row/channel
                entry["magnitude"] = m
                # LyCORIS wd_on_out layout: (out, 1) for Linear, (out, 1, 1, 1) for conv
                entry["tensors"]["dora_scale"] = m.reshape(up.shape[0], *[1] * (up.dim() - 1))
        elif kind == "loha":
            if adapter_name in layer.hada_t1:
                raise LoraNbError(f"{what}: LoHa with use_effective_conv2d (Tucker) is not exported -> train "
                                  f"without it")
            entry["tensors"] = {k: getattr(layer, k)[adapter_name] for k in
                                ("hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b")}
            entry["alpha"] = scaling * rank  # LyCORIS / ComfyUI: delta * alpha / rank (rank = hada_w1_b rows)
        else:  # lokr
            if adapter_name in layer.lokr_t2:
                raise LoraNbError(f"{what}: LoKr with use_effective_conv2d (Tucker) is not exported -> train "
                                  f"without it")
            t = {k: getattr(layer, k)[adapter_name] for k in
                 ("lokr_w1", "lokr_w1_a", "lokr_w1_b", "lokr_w2", "lokr_w2_a", "lokr_w2_b")
                 if adapter_name in getattr(layer, k)}
            dim = t["lokr_w2_b"].shape[0] if "lokr_w2_b" in t else t["lokr_w1_b"].shape[0] if "lokr_w1_b" in t else None
            if dim is None:
                # both factors full: LyCORIS/ComfyUI/diffusers apply no alpha, so bake peft's scaling in
                t["lokr_w2"] = t["lokr_w2"] * scaling
                entry["alpha"] = None
            else:
                entry["alpha"] = scaling * dim
            entry["tensors"] = t
        out[canonical] = entry
    if not out:
        raise LoraNbError(f"{target.component}: the adapter {adapter_name!r} holds no LoRA layers -> check "
                          f"target_modules matches module names of the model")
    return out


def _cast(t: "torch.Tensor", dtype: "torch.dtype", what: str) -> "torch.Tensor":
    import torch

    out = t.detach().to("cpu", dtype=dtype).contiguous().clone()
    if out.is_floating_point() and not torch.isfinite(out).all():
        raise LoraNbError(f"{what}: weights are not finite after casting to {dtype} (training diverged, or "
                          f"values overflow fp16) -> use save_precision 'bf16' or 'fp32', or resume from an "
                          f"earlier checkpoint")
    return out


def _dtype(precision: str | "torch.dtype"):
    import torch

    if isinstance(precision, torch.dtype):
        return precision
    if precision not in PRECISIONS:
        raise LoraNbError(f"save precision {precision!r} is not one of {', '.join(PRECISIONS)} -> "
                          f"set save_precision in the config")
    return getattr(torch, PRECISIONS[precision])


# --------------------------------------------------------------------------------------------------
# state dicts
# --------------------------------------------------------------------------------------------------
def kohya_state_dict(targets: list[ExportTarget], dtype: "torch.dtype | str" = "fp16",
                     adapter_name: str = "default") -> dict[str, "torch.Tensor"]:
    """Kohya ``networks.lora`` tensors: ``{prefix}_{path}.lora_down.weight/.lora_up.weight/.alpha``
    (+ ``.dora_scale`` for DoRA), or the LyCORIS ``hada_*`` / ``lokr_*`` factors for LoHa / LoKr.

    ``.alpha`` is the adapter's real alpha (peft ``scaling * r``, i.e. ``lora_alpha`` for plain
    LoRA), stored as a 0-d tensor in the save dtype like kohya's `LoRANetwork.save_weights`.
    """
    import torch

    dtype = _dtype(dtype)
    out: dict[str, torch.Tensor] = {}
    stems: set[str] = set()
    for target in targets:
        for name, layer in _lora_layers(target, adapter_name).items():
            stem = f"{target.kohya_prefix}_{name.replace('.', '_')}"
            if stem in stems:
                raise LoraNbError(f"two targets write the kohya key {stem!r} -> give each component its own "
                                  f"kohya_prefix (lora_te1 / lora_te2 ...)")
            stems.add(stem)
            what = f"{target.component}.{layer['name']}"
            for suffix, tensor in layer["tensors"].items():
                out[f"{stem}.{suffix}"] = _cast(tensor, dtype, what)
            if layer["alpha"] is not None:
                out[f"{stem}.alpha"] = torch.tensor(layer["alpha"], dtype=dtype)
    return out


def diffusers_state_dict(targets: list[ExportTarget], dtype: "torch.dtype | str" = "fp16",
                         adapter_name: str = "default") -> dict[str, "torch.Tensor"]:
    """The tensors `save_lora_weights` writes: ``{component}.{path}.lora_A.weight`` / ``lora_B``."""
    dtype = _dtype(dtype)
    out = {}
    for target in targets:
        for layer in _lora_layers(target, adapter_name).values():
            what = f"{target.component}.{layer['path']}"
            if layer["kind"] != "lora":
                raise LoraNbError(f"{what}: diffusers has no loader for {layer['kind']} adapters -> save the "
                                  f"kohya/LyCORIS file, or a peft folder (save_peft_folder)")
            out[f"{what}.lora_A.weight"] = _cast(layer["down"], dtype, what)
            out[f"{what}.lora_B.weight"] = _cast(layer["up"], dtype, what)
            if "magnitude" in layer:
                # DoRA. With the parameter's own ".weight" suffix both of diffusers' readers find it: peft's
                # (UNet, transformer) and transformers 5's (text encoders), which misses the bare key
                # `get_peft_model_state_dict` writes.
                out[f"{what}.lora_magnitude_vector.weight"] = _cast(layer["magnitude"], dtype, what)
    return out


def adapter_kind(targets: list[ExportTarget], adapter_name: str = "default") -> str:
    """'lora', 'loha' or 'lokr': the peft adapter type of the targets (peft_type of their config)."""
    kinds = {str(t.module.peft_config[adapter_name].peft_type).split(".")[-1].lower() for t in targets}
    if len(kinds) != 1:
        raise LoraNbError(f"targets mix adapter types {sorted(kinds)} -> export each type separately")
    return kinds.pop()


def save_peft_folder(folder: str | os.PathLike, targets: list[ExportTarget], dtype: "torch.dtype | str" = "fp16",
                     adapter_name: str = "default") -> Path:
    """One peft adapter folder per component (adapter_config.json + adapter_model.safetensors), the
    format peft itself loads: ``PeftModel.from_pretrained(pipe.unet, folder / "unet")``. Written for
    adapter types diffusers has no loader for (LoHa, LoKr)."""
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    from ..fileio import atomic_dir

    dtype = _dtype(dtype)
    folder = Path(folder)
    with atomic_dir(folder) as tmp:
        for target in targets:
            sub = tmp / target.component
            sub.mkdir(parents=True)
            cfg = target.module.peft_config[adapter_name].to_dict()
            cfg["base_model_name_or_path"] = None  # a local path says where the user keeps files; drop it
            cfg = {k: sorted(v) if isinstance(v, set) else v for k, v in cfg.items()}
            (sub / "adapter_config.json").write_text(json.dumps(cfg, indent=2, default=str), encoding="utf-8")
            sd = get_peft_model_state_dict(target.module, adapter_name=adapter_name)
            # keys as PeftModel.save_pretrained writes them (an add_adapter'd model is not wrapped)
            wrap = "" if target.module is not _unwrap(target.module) else "base_model.model."
            save_file({wrap + k.removeprefix(wrap): _cast(v, dtype, f"{target.component}.{k}") for k, v in sd.items()},
                      str(sub / "adapter_model.safetensors"))
    return folder


def diffusers_adapter_metadata(targets: list[ExportTarget], adapter_name: str = "default") -> dict[str, Any]:
    """Per-component `LoraConfig` dicts, flattened with the component prefix as diffusers'
    `_save_lora_weights` does; `load_lora_weights` rebuilds the config (``lora_alpha``!) from them."""
    out: dict[str, Any] = {}
    for target in targets:
        cfg = target.module.peft_config[adapter_name].to_dict()
        cfg["base_model_name_or_path"] = None  # a local path says where the user keeps files; drop it
        for k, v in cfg.items():
            out[f"{target.component}.{k}"] = sorted(v) if isinstance(v, set) else v
    return out


# --------------------------------------------------------------------------------------------------
# metadata
# --------------------------------------------------------------------------------------------------
def _model_name(ref: str) -> str:
    """kohya's ss_sd_model_name: the basename of a local path (no user folders leak), else the hub id."""
    if not ref:
        return ""
    return os.path.basename(os.path.normpath(ref)) if os.path.exists(ref) else ref


def lora_metadata(config: "Config", *, steps: int, epoch: int, num_train_images: int,
                  tag_frequency: dict[str, dict[str, int]], base_model_version: str | None = None,
                  max_train_steps: int | None = None, num_epochs: int | None = None,
                  mixed_precision: str | None = None, num_processes: int = 1,
                  training_started_at: float | None = None, dataset_dirs: dict[str, dict[str, int]] | None = None,
                  extra: dict[str, Any] | None = None) -> dict[str, str]:
    """Kohya ``ss_*`` training metadata plus ``modelspec.*`` keys, every value a string.

    `num_train_images` counts images x repeats (as kohya does); `tag_frequency` is
    ``{concept folder: {tag: count}}``; `dataset_dirs` is ``{folder: {"n_repeats", "img_count"}}``.
    `max_train_steps`, `num_epochs` and `mixed_precision` are the values the trainer resolved
    (the config may hold 0 / "auto"). `extra` adds or overrides keys (values become strings,
    dicts/lists JSON). ``sshs_*`` hashes depend on the saved tensors: `save_lora_files` adds them.
    Holds no credentials: Config has none and nothing here reads the environment.
    """
    now = time.time()
    started = now if training_started_at is None else float(training_started_at)
    family = config.family
    reso = config.resolution
    md: dict[str, Any] = {
        "ss_session_id": int(hashlib.sha256(f"{started}".encode()).hexdigest()[:8], 16),
        "ss_training_started_at": started,
        "ss_training_finished_at": now,
        "ss_output_name": config.output_name,
        "ss_learning_rate": config.learning_rate,
        "ss_unet_lr": config.effective_unet_lr,
        "ss_text_encoder_lr": config.effective_text_encoder_lr if config.train_text_encoder else 0.0,
        "ss_num_train_images": num_train_images,
        "ss_num_reg_images": 0,
        "ss_num_epochs": num_epochs if num_epochs is not None else config.max_train_epochs,
        "ss_gradient_checkpointing": config.gradient_checkpointing,
        "ss_gradient_accumulation_steps": config.gradient_accumulation_steps,
        "ss_max_train_steps": max_train_steps if max_train_steps is not None else config.max_train_steps,
        "ss_lr_warmup_steps": config.lr_warmup_steps,
        "ss_lr_scheduler": config.lr_scheduler,
        "ss_network_module": _network_module(config),
        "ss_network_dim": config.rank,
        "ss_network_alpha": config.alpha,
        "ss_network_dropout": config.network_dropout,
        "ss_network_args": json.dumps({"target_modules": list(config.target_modules),
                                       "train_text_encoder": config.train_text_encoder,
                                       **_network_args(config)}),
        "ss_mixed_precision": mixed_precision or config.mixed_precision,
        "ss_full_fp16": False,
        "ss_v2": False,
        "ss_base_model_version": base_model_version or BASE_MODEL_VERSIONS[family],
        "ss_clip_skip": config.clip_skip,
        "ss_max_token_length": None,  # kohya: None = CLIP's 75 tokens
        "ss_cache_latents": config.cache_latents != "none",
        "ss_seed": config.seed,
        "ss_lowram": False,
        "ss_noise_offset": config.noise_offset,
        "ss_multires_noise_iterations": config.multires_noise_iterations,
        "ss_multires_noise_discount": config.multires_noise_discount,
        "ss_adaptive_noise_scale": None,
        "ss_zero_terminal_snr": False,
        "ss_training_comment": config.training_comment,
        "ss_optimizer": f"{_OPTIMIZER_NAMES[config.optimizer]}(weight_decay={config.weight_decay})",
        "ss_max_grad_norm": config.max_grad_norm,
        "ss_caption_dropout_rate": config.caption_dropout_rate,
        "ss_caption_dropout_every_n_epochs": 0,
        "ss_caption_tag_dropout_rate": 0.0,
        "ss_face_crop_aug_range": None,
        "ss_prior_loss_weight": 1.0,
        "ss_min_snr_gamma": config.min_snr_gamma,
        "ss_scale_weight_norms": None,
        "ss_loss_type": "l2",
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
        "ss_reg_dataset_dirs": json.dumps({}),
        "ss_tag_frequency": json.dumps(tag_frequency),
        "ss_sd_model_name": _model_name(config.pretrained_model),
        "ss_steps": steps,
        "ss_epoch": epoch,
    }
    if config.vae:
        md["ss_vae_name"] = _model_name(config.vae)
    md.update(_modelspec(config, timestamp=now))
    md.update(extra or {})
    return {k: v if isinstance(v, str) else json.dumps(v) if isinstance(v, (dict, list)) else str(v)
            for k, v in md.items()}


def _network_module(config: "Config") -> str:
    from ..families.adapters import KOHYA_MODULE

    if config.family == "flux" and config.network_type == "lora":
        return "networks.lora_flux"  # kohya's Flux LoRA module
    return KOHYA_MODULE[config.network_type]


def _network_args(config: "Config") -> dict:
    from ..families.adapters import network_args

    return network_args(config)


def _modelspec(config: "Config", timestamp: float) -> dict[str, str]:
    """ModelSpec 1.0.0 keys as kohya's `sai_model_spec.build_metadata` writes them for a LoRA."""
    family = config.family
    arch = _MODELSPEC_ARCH[family]
    if family == "flux":  # kohya: flux-1-dev / flux-1-schnell, flux-1 when unknown
        ref = config.pretrained_model.lower()
        arch = "flux-1-schnell" if "schnell" in ref else "flux-1-dev" if "dev" in ref else arch
    reso = config.resolution or _DEFAULT_RESO[family]
    spec = {
        "modelspec.sai_model_spec": "1.0.0",
        "modelspec.architecture": f"{arch}/lora",
        "modelspec.implementation": _MODELSPEC_IMPL[family],
        "modelspec.title": config.output_name,
        "modelspec.resolution": f"{reso}x{reso}",
        "modelspec.date": datetime.datetime.fromtimestamp(int(timestamp)).isoformat(),
    }
    if family != "flux":  # kohya leaves prediction_type out for Flux
        spec["modelspec.prediction_type"] = "epsilon"
    if config.clip_skip != 1:
        spec["modelspec.encoder_layer"] = str(config.clip_skip)
    return spec


def kohya_model_hashes(state_dict: dict[str, "torch.Tensor"], metadata: dict[str, str]) -> tuple[str, str]:
    """(sshs_model_hash, sshs_legacy_hash) as kohya's `precalculate_safetensors_hashes` computes them.

    sd-webui-additional-networks hashes the tensor bytes after the safetensors header (model
    hash) and 64 KiB at offset 1 MiB (legacy hash) of the file serialised with the ss_* keys only,
    so later user edits of other metadata keys do not change the hash.
    """
    from safetensors.torch import save

    ss_only = {k: v for k, v in metadata.items() if k.startswith("ss_")}
    buf = io.BytesIO(save(state_dict, ss_only))
    n = int.from_bytes(buf.read(8), "little")
    buf.seek(8 + n)
    model_hash = hashlib.sha256()
    for chunk in iter(lambda: buf.read(1 << 20), b""):
        model_hash.update(chunk)
    buf.seek(0x100000)
    legacy = hashlib.sha256(buf.read(0x10000)).hexdigest()[:8]
    return model_hash.hexdigest(), legacy


# --------------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------------
def save_lora_files(out_dir: str | os.PathLike, name: str, targets: list[ExportTarget], config: "Config",
                    metadata: dict[str, str], formats: tuple[str, ...] | list[str] | None = None,
                    precision: str | None = None, adapter_name: str = "default") -> dict[str, Path]:
    """Write the LoRA in each format (default: config.save_formats, config.save_precision), atomically.

    kohya:     ``out_dir/{name}.safetensors`` with `metadata` + sshs_* hashes in the header.
    diffusers: ``out_dir/{name}_diffusers/pytorch_lora_weights.safetensors`` (the folder is
               replaced as a whole), written by diffusers' `LoraBaseMixin.write_lora_layers`.
               LoHa/LoKr have no diffusers loader: ``out_dir/{name}_peft/<component>/`` instead.
    Returns ``{"kohya": file, "diffusers": file}`` (``"peft": folder``) for the formats written.
    """
    from safetensors.torch import save_file

    from ..fileio import atomic_dir, atomic_path

    formats = tuple(config.save_formats if formats is None else formats)
    unknown = [f for f in formats if f not in ("kohya", "diffusers")]
    if unknown or not formats:
        raise LoraNbError(f"save formats {unknown or 'empty'} -> use 'kohya' and/or 'diffusers' (save_formats)")
    if not name or os.sep in name or (os.altsep and os.altsep in name) or name in (".", ".."):
        raise LoraNbError(f"LoRA name {name!r} is not a plain file name -> set output_name to e.g. 'my_lora'")
    bad = [k for k, v in metadata.items() if not isinstance(k, str) or not isinstance(v, str)]
    if bad:
        raise TypeError(f"safetensors metadata values must be strings; not for {bad[:5]} (use lora_metadata)")
    dtype = _dtype(precision or config.save_precision)
    out_dir = Path(out_dir)
    written: dict[str, Path] = {}
    if "kohya" in formats:
        sd = kohya_state_dict(targets, dtype, adapter_name)
        md = dict(metadata)
        md["sshs_model_hash"], md["sshs_legacy_hash"] = kohya_model_hashes(sd, md)
        path = out_dir / f"{name}.safetensors"
        with atomic_path(path) as tmp:
            save_file(sd, str(tmp), metadata=md)
        written["kohya"] = path
    if "diffusers" in formats and adapter_kind(targets, adapter_name) != "lora":
        written["peft"] = save_peft_folder(out_dir / f"{name}_peft", targets, dtype, adapter_name)
    elif "diffusers" in formats:
        from diffusers.loaders.lora_base import LoraBaseMixin

        sd = diffusers_state_dict(targets, dtype, adapter_name)
        folder = out_dir / f"{name}_diffusers"
        with atomic_dir(folder) as tmp:
            LoraBaseMixin.write_lora_layers(
                state_dict=sd, save_directory=str(tmp), is_main_process=True, weight_name=DIFFUSERS_WEIGHT_NAME,
                save_function=None, safe_serialization=True,
                lora_adapter_metadata=diffusers_adapter_metadata(targets, adapter_name))
        written["diffusers"] = folder / DIFFUSERS_WEIGHT_NAME
    return written


# --------------------------------------------------------------------------------------------------
# compatibility check (ComfyUI / A1111 naming)
# --------------------------------------------------------------------------------------------------
def comfyui_key_map(components: dict[str, "torch.nn.Module"], kohya_prefixes: dict[str, str],
                    key_names: dict[str, Callable[[str], str]] | None = None) -> dict[str, str]:
    """{kohya key stem: "component.module"} for every module ComfyUI would patch.

    Reproduces comfy/lora.py: ``model_lora_keys_unet`` maps ``lora_unet_`` + the diffusers module
    path with '.' -> '_' for every UNet weight (and ``lora_transformer_`` for Flux, the OneTrainer
    form); ``model_lora_keys_clip`` maps CLIP only at ``text_model.encoder.layers.N`` attention and
    MLP projections (`LORA_CLIP_MAP`), any other text encoder (T5) at every weight. `key_names`
    ({component: rename}) adds the checkpoint's own names ComfyUI also maps (SDXL UNet: sgm
    input_blocks.N...). Values are the module names in the given (diffusers/transformers) models;
    peft wrappers are seen through.
    """
    key_map: dict[str, str] = {}
    for component, module in components.items():
        if component not in kohya_prefixes:
            continue
        prefix = kohya_prefixes[component]
        base = _unwrap(module)
        name_prefix = _name_prefix(base)
        is_clip = "CLIPText" in type(base).__name__
        rename = (key_names or {}).get(component)
        for name in _base_module_names(module):
            canonical = name_prefix + name
            if is_clip:
                m = _CLIP_LAYER_RE.match(canonical)
                if not m or int(m.group(1)) >= 32:  # ComfyUI scans layers 0..31
                    continue
                stem = f"{prefix}_text_model_encoder_layers_{m.group(1)}_{LORA_CLIP_MAP[m.group(2)]}"
            else:
                stem = f"{prefix}_{canonical.replace('.', '_')}"
                if rename:  # SDXL: ComfyUI maps the checkpoint's own (sgm) names as well
                    key_map[f"{prefix}_{rename(name).replace('.', '_')}"] = f"{component}.{name}"
            key_map[stem] = f"{component}.{name}"
    return key_map


def check_kohya_keys(state_dict: dict[str, Any], key_map: dict[str, str]) -> list[str]:
    """Kohya key stems of `state_dict` that map to no module under `key_map` (empty = all load).

    ComfyUI skips such keys with only a log line ("lora key not loaded"), A1111 likewise: the
    LoRA then silently does less than it did in training.
    """
    stems = sorted({k.split(".", 1)[0] for k in state_dict})
    return [s for s in stems if s not in key_map]
