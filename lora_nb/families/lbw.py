"""Per-block LoRA strength at inference: the presets of AUTOMATIC1111's LoRA Block Weight extension
(hako-mikan/sd-webui-lora-block-weight), applied with diffusers' own block-wise adapter scales
(`pipe.set_adapters(names, adapter_weights=[{"unet": {"down": ..., "mid": ..., "up": ...}}])`).

A preset is one weight per block id in the extension's order. Its built-in presets are written for
SD1.5's 17 ids (BASE = the text encoder, IN01 ... OUT11 = the UNet blocks with attention):

    NONE ALL  every block at 0 / 1           INS  IND  shallow / deep input blocks
    INALL     all input blocks               MIDD      deep input + middle + the deepest output block
    OUTD OUTS deep / shallow output blocks   OUTALL    all output blocks       ALL0.5  every block at 0.5

A value can also be the weights themselves, one per id of the family's list (`facts.lbw_blocks`:
SD1.5 17, SDXL 12). The block ids follow SD's numbering (down_blocks.i.attentions.j is IN{3i+j+1},
up_blocks.i.attentions.j is OUT{3i+j}), so a preset reaches an SDXL model only where it names every
block SDXL has; the 17-id presets do not name SDXL's OUT00-OUT02 and are refused there.

diffusers scales the attention layers block by block; conv (LoCon) layers in down/up blocks follow
the attention of the same index, other layers keep the strength. Flux: diffusers has no block-wise
scaling for its transformer, so the axis is refused (`facts.lbw_blocks` is None).
"""

from __future__ import annotations

from .facts import FACTS, FamilyFacts

# the extension's default presets (its lora_block_weight.py), over PRESET_IDS
PRESET_IDS = FACTS["sd15"].lbw_blocks
PRESETS: dict[str, tuple[float, ...]] = {
    "NONE": (0,) * 17,
    "ALL": (1,) * 17,
    "INS": (1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    "IND": (1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    "INALL": (1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    "MIDD": (1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0),
    "OUTD": (1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0),
    "OUTS": (1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1),
    "OUTALL": (1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1),
    "ALL0.5": (0.5,) * 17,
}


def canonical(value: str) -> str:
    """A preset name in the extension's spelling, or the weights text with single spaces; ValueError
    (what -> fix) for anything else."""
    text = str(value).strip()
    for name in PRESETS:
        if text.upper() == name:
            return name
    try:
        numbers = [float(v) for v in text.replace(" ", ",").split(",") if v.strip()]
    except ValueError:
        numbers = []
    if not numbers:
        raise ValueError(f"{text!r} is not a LoRA Block Weight preset -> use one of {', '.join(PRESETS)}, or the "
                         f"weights themselves in quotes, one per block (SD1.5: 17)")
    return ",".join(f"{v:g}" for v in numbers)


def check_value(value: str, facts: FamilyFacts) -> None:
    """ValueError (what -> fix) when `value` cannot apply to the family's UNet, known before any model loads: no
    block scaling (Flux), another number of weights, a preset that names no weight for some of its blocks (the
    17-id presets on SDXL)."""
    by_id = _by_id(value, facts)
    missing = [bid for bid in facts.lbw_blocks if bid not in by_id]
    if missing:
        raise ValueError(f"blocks: {value!r} names no weight for {', '.join(missing)} of the {facts.name} UNet -> "
                         f"give the weights in quotes, one per block in the order {','.join(facts.lbw_blocks)}")


def _by_id(value: str, facts: FamilyFacts) -> dict[str, float]:
    if facts.lbw_blocks is None:
        raise ValueError(f"blocks: diffusers has no block-wise LoRA scaling for {facts.name}'s {facts.denoiser} "
                         f"(set_adapters scales UNet blocks only) -> drop the blocks axis and compare strengths")
    if value in PRESETS:
        return dict(zip(PRESET_IDS, PRESETS[value]))
    numbers = [float(v) for v in value.split(",")]
    if len(numbers) != len(facts.lbw_blocks):
        raise ValueError(f"block weights {value!r}: {len(numbers)} values for {facts.name}'s {len(facts.lbw_blocks)} "
                         f"blocks -> give one per block in the order {','.join(facts.lbw_blocks)}")
    return dict(zip(facts.lbw_blocks, numbers))


def unet_blocks(unet) -> list[tuple[str, str]]:
    """(LBW id, diffusers' place) of every UNet block with attention, in order: ("IN01", "down.block_0.0")."""
    out = []
    for i, block in enumerate(unet.down_blocks):
        layers = range(len(getattr(block, "attentions", [])))
        out += [(f"IN{3 * i + j + 1:02d}", f"down.block_{i}.{j}") for j in layers]
    if getattr(unet.mid_block, "attentions", None):
        out.append(("M00", "mid"))
    for i, block in enumerate(unet.up_blocks):
        layers = range(len(getattr(block, "attentions", [])))
        out += [(f"OUT{3 * i + j:02d}", f"up.block_{i}.{j}") for j in layers]
    return out


def adapter_weights(pipe, facts: FamilyFacts, value: str, strength: float, components) -> dict | float:
    """diffusers' adapter_weights entry for one adapter at `strength` under block preset `value`: a
    dict per component ({"unet": {"down": {"block_i": [...]}, "mid": w, "up": {...}}, "text_encoder": w}),
    or 0.0 when every block is at 0 (the cell then runs without the LoRA). ValueError (what -> fix) when the
    family has no block scaling or the preset does not cover its blocks."""
    by_id = _by_id(value, facts)
    unet: dict = {"down": {}, "up": {}}  # diffusers' layout for the UNet's weights
    missing = []
    for bid, place in unet_blocks(getattr(pipe, facts.denoiser)):
        if bid not in by_id:
            missing.append(bid)
            continue
        w = by_id[bid] * strength
        if place == "mid":
            unet["mid"] = w
        else:
            part, block, _ = place.split(".")
            unet[part].setdefault(block, []).append(w)
    if missing:
        raise ValueError(f"blocks: {value!r} names no weight for {', '.join(missing)} of this {facts.name} UNet -> "
                         f"give the weights in quotes, one per block in the order {','.join(facts.lbw_blocks)}")
    scales = [w for part in ("down", "up") for ws in unet[part].values() for w in ws] + [unet.get("mid", 0.0)]
    text = by_id.get("BASE", 1.0) * strength
    out = {facts.denoiser: unet, **{c: text for c in components if c != facts.denoiser}}
    return out if any(scales) or (text and len(out) > 1) else 0.0
