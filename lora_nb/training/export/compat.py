"""Whether ComfyUI / A1111 would load every kohya key: ComfyUI's key map for a pipeline's modules."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .naming import _base_module_names, _name_prefix, _unwrap

if TYPE_CHECKING:  # heavy imports stay out of `import lora_nb`
    import torch

# ComfyUI comfy/lora.py LORA_CLIP_MAP: the CLIP projections its kohya loader maps.
LORA_CLIP_MAP = {
    "mlp.fc1": "mlp_fc1",
    "mlp.fc2": "mlp_fc2",
    "self_attn.k_proj": "self_attn_k_proj",
    "self_attn.q_proj": "self_attn_q_proj",
    "self_attn.v_proj": "self_attn_v_proj",
    "self_attn.out_proj": "self_attn_out_proj",
}
# comfy/lora.py maps Flux's diffusers module names under this prefix too (OneTrainer's form)
ONETRAINER_FLUX_PREFIX = "lora_transformer"
_CLIP_LAYER_RE = re.compile(r"^text_model\.encoder\.layers\.(\d+)\.("
                            + "|".join(map(re.escape, LORA_CLIP_MAP)) + r")$")


def comfyui_key_map(components: dict[str, torch.nn.Module], kohya_prefixes: dict[str, str],
                    key_names: dict[str, Callable[[str], str | None]] | None = None,
                    fused: dict[str, Callable[[list[str]], dict[str, tuple[str, ...]]]] | None = None
                    ) -> dict[str, str]:
    """{kohya key stem: "component.module"} for every module ComfyUI would patch.

    Reproduces comfy/lora.py: ``model_lora_keys_unet`` maps ``lora_unet_`` + the diffusers module
    path with '.' -> '_' for every UNet weight (and ``lora_transformer_`` for Flux, the OneTrainer
    form); ``model_lora_keys_clip`` maps CLIP only at ``text_model.encoder.layers.N`` attention and
    MLP projections (`LORA_CLIP_MAP`), any other text encoder (T5) at every weight. `key_names`
    ({component: rename}) adds the checkpoint's own names ComfyUI also maps (SDXL UNet: sgm
    input_blocks.N...). `fused` ({component: `ExportTarget.fused`}) marks a model ComfyUI runs in its
    original layout with fused layers (Flux: BFL's checkpoint): ComfyUI maps ``lora_unet_`` + every
    BFL weight name (the renames, and the fused layers, whose value is the members joined by '+':
    "transformer.a+transformer.b") and the diffusers names only as ``lora_transformer_`` + path.
    Values are the module names in the given (diffusers/transformers) models; peft wrappers are seen
    through.
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
        names = _base_module_names(module)
        groups = fused[component](names) if fused and component in fused else {}
        for bfl, members in groups.items():
            key_map[f"{prefix}_{bfl.replace('.', '_')}"] = "+".join(f"{component}.{m}" for m in members)
        path_prefix = ONETRAINER_FLUX_PREFIX if groups else prefix
        for name in names:
            canonical = name_prefix + name
            if is_clip:
                m = _CLIP_LAYER_RE.match(canonical)
                if not m or int(m.group(1)) >= 32:  # ComfyUI scans layers 0..31
                    continue
                stem = f"{prefix}_text_model_encoder_layers_{m.group(1)}_{LORA_CLIP_MAP[m.group(2)]}"
            else:
                stem = f"{path_prefix}_{canonical.replace('.', '_')}"
                renamed = rename(name) if rename else None
                if renamed:  # SDXL, Flux: ComfyUI maps the checkpoint's own (sgm, BFL) names as well
                    key_map[f"{prefix}_{renamed.replace('.', '_')}"] = f"{component}.{name}"
            key_map[stem] = f"{component}.{name}"
    return key_map


def check_kohya_keys(state_dict: dict[str, Any], key_map: dict[str, str]) -> list[str]:
    """Kohya key stems of `state_dict` that map to no module under `key_map` (empty = all load).

    ComfyUI skips such keys with only a log line ("lora key not loaded"), A1111 likewise: the
    LoRA then silently does less than it did in training.
    """
    stems = sorted({k.split(".", 1)[0] for k in state_dict})
    return [s for s in stems if s not in key_map]
