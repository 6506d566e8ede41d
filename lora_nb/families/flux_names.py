"""Flux's LoRA names in the form the ecosystem shares: Black Forest Labs' checkpoint names, which
kohya's sd-scripts (networks/lora_flux.py) writes as ``lora_unet_double_blocks_N_img_attn_qkv`` ...
and ComfyUI, Forge and diffusers (`_convert_kohya_flux_lora_to_diffusers`) all load.

BFL's model fuses layers that diffusers keeps apart: a double block's ``img_attn.qkv`` is diffusers'
``attn.to_q/to_k/to_v`` stacked by output rows (``txt_attn.qkv``: ``add_q/k/v_proj``), and a single
block's ``linear1`` is ``attn.to_q/to_k/to_v`` + ``proj_mlp``. The kit trains the separate layers;
the export writes each fused layer as one (training/export/fusing.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# diffusers module (inside a block) -> BFL module, for the layers BFL does not fuse
DOUBLE = {"attn.to_out.0": "img_attn.proj", "attn.to_add_out": "txt_attn.proj", "ff.net.0.proj": "img_mlp.0",
          "ff.net.2": "img_mlp.2", "ff_context.net.0.proj": "txt_mlp.0", "ff_context.net.2": "txt_mlp.2",
          "norm1.linear": "img_mod.lin", "norm1_context.linear": "txt_mod.lin"}
SINGLE = {"proj_out": "linear2", "norm.linear": "modulation.lin"}
# BFL fused module -> the diffusers modules stacked into it, in BFL's row order
DOUBLE_FUSED = {"img_attn.qkv": ("attn.to_q", "attn.to_k", "attn.to_v"),
                "txt_attn.qkv": ("attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj")}
SINGLE_FUSED = {"linear1": ("attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp")}

_BLOCK = re.compile(r"^(transformer_blocks|single_transformer_blocks)\.(\d+)\.(.+)$")
_TABLES = {"transformer_blocks": ("double_blocks", DOUBLE, DOUBLE_FUSED),
           "single_transformer_blocks": ("single_blocks", SINGLE, SINGLE_FUSED)}


def bfl_name(name: str) -> str | None:
    """diffusers module name -> BFL name ('transformer_blocks.3.ff.net.2' -> 'double_blocks.3.img_mlp.2');
    None for a member of a fused layer (see `fused_groups`) and for modules outside the blocks."""
    m = _BLOCK.match(name)
    if not m:
        return None
    bfl, plain, _ = _TABLES[m[1]]
    return f"{bfl}.{m[2]}.{plain[m[3]]}" if m[3] in plain else None


def fused_groups(names: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """{BFL name of a fused layer: the diffusers modules stacked into it, in row order} for the blocks
    that `names` (a transformer's module names) contain."""
    out: dict[str, tuple[str, ...]] = {}
    for name in names:
        m = _BLOCK.match(name)
        if not m:
            continue
        bfl, _, fused = _TABLES[m[1]]
        for layer, members in fused.items():
            if m[3] == members[0]:
                out[f"{bfl}.{m[2]}.{layer}"] = tuple(f"{m[1]}.{m[2]}.{x}" for x in members)
    return out
