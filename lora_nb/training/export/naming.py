"""Which peft adapter layers a LoRA export holds and the checkpoint-style names they are saved under."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...errors import LoraNbError
from .applied import comfyui_dora_scale

if TYPE_CHECKING:  # heavy imports stay out of `import lora_nb`
    import torch

PRECISIONS = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}


@dataclass
class ExportTarget:
    """One LoRA-carrying component of a pipeline; the families module builds these."""

    component: str  # diffusers component name: "unet", "text_encoder", "text_encoder_2", "transformer"
    module: torch.nn.Module  # the peft-wrapped (get_peft_model) or add_adapter'd module
    kohya_prefix: str  # "lora_unet", "lora_te", "lora_te1", "lora_te2", ...
    key_name: Callable[[str], str | None] | None = None  # module name -> kohya name (SDXL UNet: sgm blocks)
    # module names -> {kohya name of a fused layer: the modules stacked into it} (Flux: BFL's fused qkv)
    fused: Callable[[list[str]], dict[str, tuple[str, ...]]] | None = None


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


def fused_groups(target: ExportTarget) -> dict[str, tuple[str, ...]]:
    """{kohya name of a fused layer: the target's modules stacked into it}; empty when nothing is fused."""
    return target.fused(_base_module_names(target.module)) if target.fused else {}


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
    # members of fused layers keep their own names here: `fusing` merges them for the kohya file only
    members = {m for ms in fused_groups(target).values() for m in ms}
    for name, (kind, layer) in layers.items():
        what = f"{target.component}.{name}"
        canonical = target.key_name(name) if target.key_name and name not in members else prefix + name
        if canonical is None:
            raise LoraNbError(f"{what}: this layer has no name in {target.kohya_prefix} files (the checkpoint "
                              f"format the UIs load) -> leave it out of target_modules")
        scaling = float(layer.scaling[adapter_name])
        rank = int(layer.r[adapter_name])
        # diffusers files use the original checkpoints' names too (text_model.encoder...), never sgm ones
        entry: dict[str, Any] = {"name": name, "path": prefix + name, "kind": kind, "rank": rank, "layer": layer}
        if kind == "lora":
            down, up = layer.lora_A[adapter_name].weight, layer.lora_B[adapter_name].weight
            # the update the model applies is scaling * B @ A; kohya applies (alpha / rank) * up @ down
            entry.update(down=down, up=up, alpha=scaling * rank,
                         tensors={"lora_down.weight": down, "lora_up.weight": up})
            mag = getattr(layer, "lora_magnitude_vector", {})
            if adapter_name in mag:
                m = mag[adapter_name].weight  # peft: one magnitude per output row/channel
                entry["magnitude"] = m
                # (out, 1[, 1, 1]) in the convention ComfyUI / Forge apply exactly (`applied`)
                entry["tensors"]["dora_scale"] = _comfyui_dora_scale(layer, adapter_name, m)
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
            dim = (t["lokr_w2_b"].shape[0] if "lokr_w2_b" in t
                   else t["lokr_w1_b"].shape[0] if "lokr_w1_b" in t else None)
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


def base_and_update(layer, adapter_name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(base weight, dequantised when 4/8-bit; the LoRA update scaling * B @ A) of a peft LoRA/DoRA layer."""
    import torch
    from peft.utils.integrations import dequantize_module_weight

    with torch.no_grad():
        weight = dequantize_module_weight(layer.get_base_layer()).detach()
        return weight, layer.get_delta_weight(adapter_name).detach().to(weight.device)


def _comfyui_dora_scale(layer, adapter_name: str, magnitude: torch.Tensor) -> torch.Tensor:
    """``dora_scale`` for a DoRA layer from its base weight and LoRA update."""
    weight, delta = base_and_update(layer, adapter_name)
    return comfyui_dora_scale(weight, delta, magnitude.detach().to(weight.device))


def _cast(t: torch.Tensor, dtype: torch.dtype, what: str) -> torch.Tensor:
    import torch

    out = t.detach().to("cpu", dtype=dtype).contiguous().clone()
    if out.is_floating_point() and not torch.isfinite(out).all():
        raise LoraNbError(f"{what}: weights are not finite after casting to {dtype} (training diverged, or "
                          f"values overflow fp16) -> use save_precision 'bf16' or 'fp32', or resume from an "
                          f"earlier checkpoint")
    return out


def _dtype(precision: str | torch.dtype):
    import torch

    if isinstance(precision, torch.dtype):
        return precision
    if precision not in PRECISIONS:
        raise LoraNbError(f"save precision {precision!r} is not one of {', '.join(PRECISIONS)} -> "
                          f"set save_precision in the config")
    return getattr(torch, PRECISIONS[precision])
