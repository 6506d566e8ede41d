"""Which module AUTOMATIC1111 patches for each kohya key: its name conversion, written from its code.

A1111 (extensions-builtin/Lora/networks.py) names every layer of the checkpoint-layout model by its module path with
'.' -> '_' (``network_layer_mapping``): the UNet as ``diffusion_model_`` + the original (ldm/sgm) block names, an SD1
text encoder as ``transformer_text_model_...``, SDXL's embedders with their index: ``0_transformer_text_model_...``
(CLIP-L) and ``1_model_transformer_resblocks_N_...`` (bigG, held as OpenCLIP: q/k/v fused in one
MultiheadAttention, MLP ``c_fc`` / ``c_proj``). A kohya key stem is converted from diffusers names
(``convert_diffusers_name_to_compvis``), then tried as OpenCLIP q/k/v, then as sgm names (``lora_unet`` ->
``diffusion_model``) or ``lora_te1_text_model`` -> ``0_transformer_text_model`` / ``transformer_text_model``.
SD2's OpenCLIP-only text encoder is not covered (the kit trains no SD2). On SDXL's fused q/k/v, A1111's DoRA
normalises against the fused weight and fails; no DoRA kohya file is claimed for A1111 anyway (`applied`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from ...families.sdxl import sgm_names
from .naming import _base_module_names, _name_prefix, _unwrap

if TYPE_CHECKING:  # heavy imports stay out of `import lora_nb`
    import torch

_RESNET = {"conv1": "in_layers_2", "conv2": "out_layers_3", "norm1": "in_layers_0", "norm2": "out_layers_0",
           "time_emb_proj": "emb_layers_1", "conv_shortcut": "skip_connection"}
_OPENCLIP = {"self_attn.q_proj": "attn_q_proj", "self_attn.k_proj": "attn_k_proj", "self_attn.v_proj": "attn_v_proj",
             "self_attn.out_proj": "attn_out_proj", "mlp.fc1": "mlp_c_fc", "mlp.fc2": "mlp_c_proj"}
_OPENCLIP_TE2 = {"self_attn": "attn", "mlp_fc1": "mlp_c_fc", "mlp_fc2": "mlp_c_proj"}


def _block_part(kind: str, rest: str) -> tuple[int, str]:
    """(part, name) inside a UNet block: attentions are part 1, resnets part 0 under their ldm names."""
    return (1, rest) if kind == "attentions" else (0, _RESNET.get(rest, rest))  # the whole rest is looked up


def _in_out(blocks: str, index: int, kind: str, rest: str) -> str:
    part, rest = _block_part(kind, rest)
    return f"diffusion_model_{blocks}_{index}_{part}_{rest}"


def _middle(kind: str, index: str, rest: str) -> str:
    part, rest = _block_part(kind, rest)
    return f"diffusion_model_middle_block_{1 if part else int(index) * 2}_{rest}"


def _te2(layer: str, rest: str) -> str:
    for old, new in _OPENCLIP_TE2.items():
        rest = rest.replace(old, new)
    return f"1_model_transformer_resblocks_{layer}_{rest}"


# A1111's conversions in its order: a pattern matched at the stem's start -> the layer name from the match
_RULES = [(re.compile(pattern), name) for pattern, name in (
    (r"lora_unet_conv_in(.*)", lambda m: f"diffusion_model_input_blocks_0_0{m[1]}"),
    (r"lora_unet_conv_out(.*)", lambda m: f"diffusion_model_out_2{m[1]}"),
    (r"lora_unet_time_embedding_linear_(\d+)(.*)", lambda m: f"diffusion_model_time_embed_{int(m[1]) * 2 - 2}{m[2]}"),
    (r"lora_unet_down_blocks_(\d+)_(attentions|resnets)_(\d+)_(.+)",
     lambda m: _in_out("input_blocks", 1 + int(m[1]) * 3 + int(m[3]), m[2], m[4])),
    (r"lora_unet_mid_block_(attentions|resnets)_(\d+)_(.+)", lambda m: _middle(m[1], m[2], m[3])),
    (r"lora_unet_up_blocks_(\d+)_(attentions|resnets)_(\d+)_(.+)",
     lambda m: _in_out("output_blocks", int(m[1]) * 3 + int(m[3]), m[2], m[4])),
    (r"lora_unet_down_blocks_(\d+)_downsamplers_0_conv",
     lambda m: f"diffusion_model_input_blocks_{3 + int(m[1]) * 3}_0_op"),
    (r"lora_unet_up_blocks_(\d+)_upsamplers_0_conv",
     lambda m: f"diffusion_model_output_blocks_{2 + int(m[1]) * 3}_{2 if int(m[1]) > 0 else 1}_conv"),
    (r"lora_te_text_model_encoder_layers_(\d+)_(.+)",
     lambda m: f"transformer_text_model_encoder_layers_{m[1]}_{m[2]}"),
    (r"lora_te2_text_model_encoder_layers_(\d+)_(.+)", lambda m: _te2(m[1], m[2])),
)]


def _convert(stem: str) -> str:
    """A1111's diffusers -> compvis conversion of one kohya stem (SD1/SDXL); other stems come back unchanged."""
    for pattern, name in _RULES:
        if m := pattern.match(stem):
            return name(m)
    return stem


def a1111_candidates(stem: str) -> list[str]:
    """The layer names A1111 tries for a kohya stem, in its order."""
    key = _convert(stem)
    out = [key]
    if m := re.fullmatch(r"(.*)_([qkv]_proj)", key):
        out.append(m[1])  # an OpenCLIP MultiheadAttention takes q/k/v as slices of its fused weight
    if "lora_unet" in stem:
        out.append(stem.replace("lora_unet", "diffusion_model"))
    elif "lora_te1_text_model" in stem:
        out += [stem.replace("lora_te1_text_model", "0_transformer_text_model"),
                stem.replace("lora_te1_text_model", "transformer_text_model")]
    return out


def a1111_layer_names(components: dict[str, torch.nn.Module], denoiser: str,
                      text_encoders: tuple[str, ...] | list[str]) -> dict[str, str]:
    """{A1111 layer name: "component.module"} for the weight-carrying modules of an SD1/SDXL pipeline.

    OpenCLIP q/k/v projections are listed under the names A1111 keys their patches by (``..._attn_q_proj``):
    it applies them to the fused MultiheadAttention when q, k, v and out_proj of a block are all present."""
    out: dict[str, str] = {}
    for component, module in components.items():
        name_of = _layer_namer(component, _unwrap(module), denoiser, list(text_encoders))
        for name in _base_module_names(module) if name_of else ():
            if key := name_of(name):
                out[key] = f"{component}.{name}"
    return out


def _layer_namer(component: str, base, denoiser: str, text_encoders: list[str]) -> Callable[[str], str | None] | None:
    """module name -> its A1111 layer name (None: a module A1111 does not list) for one component, or None for a
    component A1111 does not patch. SDXL's conditioner numbers its embedders; bigG is held as OpenCLIP."""
    if component == denoiser:
        sgm = sgm_names(base)
        return lambda name: "diffusion_model_" + sgm(name).replace(".", "_")
    if component not in text_encoders:
        return None
    i, prefix, indexed = text_encoders.index(component), _name_prefix(base), len(text_encoders) > 1
    if indexed and type(base).__name__ == "CLIPTextModelWithProjection":
        def openclip(name: str) -> str | None:
            m = re.fullmatch(r"text_model\.encoder\.layers\.(\d+)\.(.+)", prefix + name)
            return f"{i}_model_transformer_resblocks_{m[1]}_{_OPENCLIP[m[2]]}" if m and m[2] in _OPENCLIP else None
        return openclip
    head = f"{i}_transformer_" if indexed else "transformer_"
    return lambda name: head + (prefix + name).replace(".", "_")


def a1111_key_map(stems, layer_names: dict[str, str]) -> dict[str, str]:
    """{stem: "component.module"} for the stems A1111 resolves (the others it skips with a "failed to match" line)."""
    out = {}
    for stem in stems:
        for key in a1111_candidates(stem):
            if key in layer_names:
                out[stem] = layer_names[key]
                break
    return out
