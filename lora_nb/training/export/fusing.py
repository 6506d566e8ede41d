"""Adapters of separate layers written as one fused layer of the original checkpoint (Flux: diffusers'
to_q/to_k/to_v are BFL's img_attn.qkv; a single block's to_q/k/v + proj_mlp are its linear1).

A LoRA trained on each member i (down A_i: r x in, up B_i: out_i x r, scale s_i = alpha_i / r) is the
fused layer's LoRA with down = the stacked A_i (n*r x in), up = the block-diagonal B_i (sum out_i x n*r)
and alpha = s * n*r, so up @ down * alpha / rank changes row block i by exactly s_i B_i A_i. A member
without an adapter (proj_mlp when train_mlp is off) gets zero factors of the same rank, which keeps its
rows as they are and keeps the layout diffusers' kohya-Flux converter recognises: it splits such a
block-diagonal up (exact zeros off the diagonal, rank a multiple of the member count) back into one
LoRA per member (`_convert_kohya_flux_lora_to_diffusers`); ComfyUI and Forge add the fused delta to
the fused weight. LoHa fuses the same way (both factor pairs block-diagonal/stacked: the Hadamard
product is taken row by row). DoRA's magnitude is per output row, so the members' magnitudes are
concatenated (a member without an adapter: its weight's row norms, which leave it unchanged).
LoKr's Kronecker products do not stack; Flux refuses LoKr before training (families/flux.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...errors import LoraNbError

if TYPE_CHECKING:  # heavy imports stay out of `import lora_nb`
    import torch


def fuse_layers(layers: dict[str, dict[str, Any]], groups: dict[str, tuple[str, ...]],
                base_module: Callable[[str], torch.nn.Module]) -> dict[str, dict[str, Any]]:
    """`layers` (naming._lora_layers entries) with each fused layer's members replaced by one entry
    under the fused layer's name. `base_module(name)`: a member's layer (its out_features, and its
    weight's row norms for DoRA), read only for members without an adapter."""
    out = dict(layers)
    for fused, members in groups.items():
        present = {m: out.pop(m) for m in members if m in out}
        if present:
            out[fused] = fuse_entries(fused, members, present, base_module)
    return out


def fuse_entries(fused: str, members: tuple[str, ...], entries: dict[str, dict[str, Any]],
                 base_module: Callable[[str], torch.nn.Module]) -> dict[str, Any]:
    """One entry (kind, rank, alpha, tensors) for the fused layer `fused` from its members' `entries`."""
    import torch

    kinds = {e["kind"] for e in entries.values()}
    if len(kinds) != 1 or "lokr" in kinds:
        raise LoraNbError(f"{fused}: {' + '.join(sorted(kinds))} adapters on {', '.join(entries)} cannot be written "
                          f"as this fused layer -> train with network_type 'lora', 'dora' or 'loha'")
    kind = kinds.pop()
    first = next(iter(entries.values()))
    rank = max(e["rank"] for e in entries.values())
    scale = first["alpha"] / first["rank"]  # every member is rescaled to the first one's alpha / rank
    n = len(members)
    with torch.no_grad():
        if kind == "lora":
            a_key, b_key = "lora_down.weight", "lora_up.weight"
            factors = [("down", "up")]
        else:  # loha: (w1_a @ w1_b) * (w2_a @ w2_b); the scale goes into w1_a only
            factors = [("hada_w1_b", "hada_w1_a"), ("hada_w2_b", "hada_w2_a")]
        tensors = {}
        for i, (down_key, up_key) in enumerate(factors):
            downs, ups = [], []
            for m in members:
                e = entries.get(m)
                if e is None:
                    ref = first["tensors"][down_key] if kind != "lora" else first["down"]
                    downs.append(ref.new_zeros(rank, ref.shape[1]))
                    ups.append(ref.new_zeros(base_module(m).out_features, rank))
                    continue
                down = (e[down_key] if kind == "lora" else e["tensors"][down_key]).detach()
                up = (e[up_key] if kind == "lora" else e["tensors"][up_key]).detach()
                k = down.shape[0]
                s = e["alpha"] / e["rank"]
                if i == 0 and s != scale:
                    up = up * (s / scale)
                downs.append(torch.cat([down, down.new_zeros(rank - k, down.shape[1])]))
                ups.append(torch.cat([up, up.new_zeros(up.shape[0], rank - k)], dim=1))
            if kind == "lora":
                tensors[a_key], tensors[b_key] = torch.cat(downs), torch.block_diag(*ups)
            else:
                tensors[down_key], tensors[up_key] = torch.cat(downs), torch.block_diag(*ups)
        if kind == "lora" and any("magnitude" in e for e in entries.values()):
            # each member's dora_scale as written for ComfyUI's formula (`naming`); its rows are its own, so the
            # fused scale is their concatenation. A member without an adapter keeps its rows: ||W|| (m = ||W||).
            mags = [entries[m]["tensors"]["dora_scale"].detach() if m in entries else _row_norms(base_module(m))
                    for m in members]
            tensors["dora_scale"] = torch.cat([v.reshape(-1).float() for v in mags]).reshape(-1, 1)
    entry = {"name": fused, "path": fused, "kind": kind, "rank": n * rank, "alpha": scale * n * rank,
             "tensors": tensors}
    if kind == "lora":
        entry.update(down=tensors["lora_down.weight"], up=tensors["lora_up.weight"])
    return entry


def _row_norms(module: torch.nn.Module) -> torch.Tensor:
    """Per-output-row L2 norms of the layer's weight (dequantized), as peft initialises DoRA's magnitude:
    with it the rows stay as they are."""
    from peft.utils.integrations import dequantize_module_weight

    return dequantize_module_weight(module).detach().float().flatten(1).norm(dim=1)
