"""Per-block learning rates at training time, as kohya's sd-scripts does them for SD1.5/SDXL UNets
(`networks/lora.py`: `get_block_lr_weight`, `get_block_index`, `prepare_optimizer_params`).

Which block a layer belongs to follows SD's original numbering of the UNet, which both SD1.5 and
SDXL keep in diffusers' layout (`down_blocks.i.{resnets,attentions}.j` is input block 3i+j+1, its
downsampler 3i+3; `up_blocks.i.{resnets,attentions}.j` is output block 3i+j, its upsampler 3i+2):

    down_lr_weight  one weight per input block, shallow -> deep  (SD1.5 12, SDXL 9; the first is conv_in,
                    which has no LoRA, as in kohya)
    mid_lr_weight   the middle block (SD1.5 one value; SDXL three: resnet, attention, resnet)
    up_lr_weight    one weight per output block, deep -> shallow (SD1.5 12, SDXL 9)

A block's LoRA trains at unet lr x its weight, in its own optimizer group. At weight 0 the block
gets no LoRA at all (kohya drops it from the network: the file has no keys for it). Layers outside
the three parts (time embedding, conv_in/out) keep weight 1. Flux: sd-scripts' `lora_flux` has no
block lr weights (only a choice of double/single blocks), so the fields are refused for it.
"""

from __future__ import annotations

import re

from ..blockweights import FIELDS, given, parse
from ..config import ADAPTIVE_OPTIMIZERS
from .facts import FamilyFacts

_UPDOWN = re.compile(r"^(down|up)_blocks\.(\d+)\.(resnets|attentions|downsamplers|upsamplers)\.(\d+)(\.|$)")
_MID = re.compile(r"^mid_block\.(resnets|attentions)\.(\d+)(\.|$)")


def weights(config, facts: FamilyFacts) -> dict[str, list[float]] | None:
    """{"down": [...], "mid": [...], "up": [...]} for the family (unset parts all 1), or None when no
    block weight is set. Raises ValueError (field: what -> fix) on a bad value."""
    if not given(config):
        return None
    if facts.lr_blocks is None:
        raise ValueError(f"down_lr_weight/mid_lr_weight/up_lr_weight: sd-scripts has no per-block learning rates "
                         f"for {facts.name} (its transformer has double and single blocks, not down/mid/up) -> "
                         f"leave the three fields empty")
    out = {}
    for field, part, n in zip(FIELDS, ("down", "mid", "up"), facts.lr_blocks):
        try:
            values = parse(field, getattr(config, field), n, f"{facts.name} {part} block{'s' if n > 1 else ''}")
        except ValueError as e:
            raise ValueError(f"{field}: {e}") from None
        out[part] = values if values is not None else [1.0] * n
    return out


def problems(config, facts: FamilyFacts) -> list[str]:
    """Block weights the family cannot take, each as 'field: what -> fix'."""
    try:
        w = weights(config, facts)
    except ValueError as e:
        return [str(e)]
    if w is None:
        return []
    values = [v for part in w.values() for v in part]
    if not any(values):
        return ["down_lr_weight: every block weight is 0, so no layer would be trained -> give some block a weight "
                "above 0"]
    if config.optimizer in ADAPTIVE_OPTIMIZERS and len({v for v in values if v}) > 1:
        return [f"down_lr_weight: {config.optimizer} estimates one step size for all weights and stops at the first "
                f"step when blocks have different learning rates -> use 0 and 1 only, or optimizer adamw"]
    return []


def block_of(name: str, facts: FamilyFacts) -> tuple[str, int] | None:
    """("down"|"mid"|"up", index into that part's weights) of a UNet module or parameter name; None
    for layers outside the three parts."""
    m = _UPDOWN.match(name)
    if m:
        part, i, kind, j = m.group(1), int(m.group(2)), m.group(3), int(m.group(4))
        if part == "down":
            return part, 3 * i + 3 if kind == "downsamplers" else 3 * i + j + 1
        return part, 3 * i + 2 if kind == "upsamplers" else 3 * i + j
    m = _MID.match(name)
    if m:
        if facts.lr_blocks[1] == 1:
            return "mid", 0
        return "mid", 2 * int(m.group(2)) + (m.group(1) == "attentions")  # resnet, attention, resnet
    return None


def weight_of(name: str, w: dict[str, list[float]], facts: FamilyFacts) -> float:
    where = block_of(name, facts)
    if where is None:
        return 1.0
    part, i = where
    if i >= len(w[part]):
        raise ValueError(f"{name}: block {part} {i} lies beyond the {len(w[part])} {part} weights {facts.name} "
                         f"takes -> this model is not laid out like {facts.name}; leave the block weights empty")
    return w[part][i]


def kept(names: list[str], w: dict[str, list[float]] | None, facts: FamilyFacts) -> list[str]:
    """The layer names whose block weight is above 0 (kohya creates no LoRA for the others)."""
    return list(names) if w is None else [n for n in names if weight_of(n, w, facts) > 0]


def param_groups(module, lr: float, w: dict[str, list[float]] | None, facts: FamilyFacts) -> list[dict]:
    """The module's trainable parameters as optimizer groups: one at `lr` without block weights, else one
    per weight (lr x weight), the largest first (the run log shows the first group's lr), each naming its
    blocks."""
    params = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    if w is None:
        return [{"params": [p for _, p in params], "lr": lr}]
    by_weight: dict[float, dict] = {}
    for n, p in params:
        v = weight_of(n, w, facts)
        g = by_weight.setdefault(v, {"params": [], "lr": lr * v, "blocks": []})
        g["params"].append(p)
        where = block_of(n, facts)
        label = f"{where[0]} {where[1]}" if where else "other"
        if label not in g["blocks"]:
            g["blocks"].append(label)
    return [by_weight[v] for v in sorted(by_weight, reverse=True)]


def network_args(config) -> dict[str, str]:
    """kohya's ss_network_args entries: the block weights as given, as strings (its --network_args)."""
    return {f: getattr(config, f).strip() for f in FIELDS if (getattr(config, f) or "").strip()}
