"""The adapter tensors in each layout: kohya / LyCORIS keys, diffusers keys, or a peft folder per component."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import LoraNbError
from ...fileio import atomic_dir
from .applied import dora_merged
from .fusing import fuse_layers
from .naming import ExportTarget, _cast, _dtype, _lora_layers, _unwrap, base_and_update, fused_groups

if TYPE_CHECKING:  # heavy imports stay out of `import lora_nb`
    import torch


def kohya_state_dict(targets: list[ExportTarget], dtype: torch.dtype | str = "fp16",
                     adapter_name: str = "default") -> dict[str, torch.Tensor]:
    """Kohya ``networks.lora`` tensors: ``{prefix}_{path}.lora_down.weight/.lora_up.weight/.alpha``
    (+ ``.dora_scale`` for DoRA), or the LyCORIS ``hada_*`` / ``lokr_*`` factors for LoHa / LoKr. Layers
    the original checkpoint fuses (`ExportTarget.fused`: Flux's qkv) are written fused (`fusing`).

    ``.alpha`` is the adapter's real alpha (peft ``scaling * r``, i.e. ``lora_alpha`` for plain
    LoRA), stored as a 0-d tensor in the save dtype like kohya's `LoRANetwork.save_weights`.
    """
    import torch

    dtype = _dtype(dtype)
    out: dict[str, torch.Tensor] = {}
    stems: set[str] = set()
    for target in targets:
        layers = _lora_layers(target, adapter_name)
        groups = fused_groups(target)
        if groups:
            layers = fuse_layers(layers, groups, _unwrap(target.module).get_submodule)
        for name, layer in layers.items():
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


def full_diff_state_dict(targets: list[ExportTarget], dtype: torch.dtype | str = "fp16",
                         adapter_name: str = "default") -> dict[str, torch.Tensor]:
    """Each DoRA layer's whole weight change (peft's adapted weight - base) as LyCORIS ``{stem}.diff`` keys:
    AUTOMATIC1111 (network_full), ComfyUI and Forge add it as it is, so the file is exact in all three."""
    dtype = _dtype(dtype)
    out = {}
    for target in targets:
        for name, layer in _lora_layers(target, adapter_name).items():
            what = f"{target.component}.{layer['name']}"
            if "magnitude" not in layer:
                raise LoraNbError(f"{what}: the full-weight file is written for DoRA only -> set network_type "
                                  f"'dora', or use the kohya file (exact in every UI for {layer['kind']})")
            weight, delta = base_and_update(layer["layer"], adapter_name)
            diff = dora_merged(weight, delta, layer["magnitude"].detach().to(weight.device)) - weight.float()
            out[f"{target.kohya_prefix}_{name.replace('.', '_')}.diff"] = _cast(diff, dtype, what)
    return out


def diffusers_state_dict(targets: list[ExportTarget], dtype: torch.dtype | str = "fp16",
                         adapter_name: str = "default") -> dict[str, torch.Tensor]:
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


def save_peft_folder(folder: str | os.PathLike, targets: list[ExportTarget], dtype: torch.dtype | str = "fp16",
                     adapter_name: str = "default", metadata: dict[str, str] | None = None) -> Path:
    """One peft adapter folder per component (adapter_config.json + adapter_model.safetensors), the
    format peft itself loads: ``PeftModel.from_pretrained(pipe.unet, folder / "unet")``. Written for
    adapter types diffusers has no loader for (LoHa, LoKr). `metadata` joins peft's own header entry."""
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

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
                      str(sub / "adapter_model.safetensors"), metadata={"format": "pt", **(metadata or {})})
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
