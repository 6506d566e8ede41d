"""Learning rate, alpha and rank: the tutorials' values with their reasons, and the adapter file size
per rank next to the sizes the tutorials quote."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ...errors import ConfigError
from ...families.facts import facts
from ..memory.reference import ATTENTION_TARGETS, KOHYA_TARGETS, adapter_file_mb, lora_file_mb
from .tables import LR_BY_RANK, NEW_CONTENT_MIN_IMAGES, purpose_info

if TYPE_CHECKING:  # pragma: no cover
    from ...config import Config


def _sig(x: float, digits: int = 2) -> float:
    return float(f"{x:.{digits}g}")


def lr_for_rank(rank: int, optimizer: str = "adamw8bit") -> float:
    """Flux LoRA guide's lr-by-rank table, interpolated linearly in log(rank)-log(lr) between its points
    (clamped outside 1-256), adjusted for the optimizer (LoRA explainer: Lion ~10x lower; Prodigy and
    DAdaptation find the step size themselves and take lr = 1)."""
    if rank < 1:
        raise ConfigError(f"rank: {rank} must be at least 1")
    if optimizer in ("prodigy", "dadaptation"):
        return 1.0
    pts = sorted(LR_BY_RANK.items())
    if rank <= pts[0][0]:
        lr = pts[0][1]
    elif rank >= pts[-1][0]:
        lr = pts[-1][1]
    else:
        for (r0, l0), (r1, l1) in zip(pts, pts[1:]):
            if r0 <= rank <= r1:
                t = (math.log(rank) - math.log(r0)) / (math.log(r1) - math.log(r0))
                lr = math.exp(math.log(l0) + t * (math.log(l1) - math.log(l0)))
                break
    if optimizer == "lion":
        lr /= 10
    return _sig(lr)


def lr_reason(rank: int, optimizer: str) -> str:
    if optimizer in ("prodigy", "dadaptation"):
        return (f"{optimizer} estimates the step size itself; the learning rate is a multiplier on it, so 1.0 "
                "(LoRA explainer: Prodigy 'lr 1, suitable for beginners'; "
                "Kohya practice guide: DAdaptation 'usually 1.0').")
    exact = rank in LR_BY_RANK
    txt = (f"Flux LoRA guide §3.2 gives lr by rank ({', '.join(f'{r}: {lr:g}' for r, lr in LR_BY_RANK.items())}); "
           + (f"rank {rank} is in the table." if exact else
              f"rank {rank} lies between its points, interpolated on a log-log scale."))
    txt += " Higher ranks hold more parameters per update and need a lower rate to stay stable."
    if rank == 32:
        txt += (" Flux LoRA guide's own worked examples (§5) use 1e-4 at rank 32, 12% above the interpolation: "
                "both are within the range that works.")
    if optimizer == "lion":
        txt += " Divided by 10 for Lion (LoRA explainer: Lion's best lr is about 10x smaller than AdamW's)."
    return txt


def recommend_alpha(rank: int) -> float:
    """LoRA explainer: alpha = rank/2 by default (its SDXL notes: rank/2 or rank/4)."""
    return rank / 2


ALPHA_REASON = (
    "The LoRA update is scaled by alpha/rank: alpha = rank/2 halves it, so the weights must grow twice "
    "as large for the same effect; at a fixed learning rate a lower alpha learns more gently and a higher "
    "one more aggressively (alpha = rank: no scaling; alpha = 1 at rank 32: 1/32). Changing alpha is "
    "like changing the learning rate, so change one at a time. LoRA explainer uses rank/2 by default (rank/2 or "
    "rank/4 in its SDXL notes), and 'alpha is usually not above rank'.")


def recommend_rank(purpose: str, family: str, n_images: int | None = None) -> tuple[int, tuple[int, int], str]:
    """(suggested rank, the tutorials' range, reason) for a purpose."""
    info = purpose_info(purpose)
    lo, hi = info["ranks"]
    rank = info["suggest"]
    reason = f"{info['label']}: rank {lo}-{hi} ({info['source']})."
    if facts(family).flux_guide and purpose != "new":
        rank = min(rank, 32)
        reason += (" On Flux, Flux LoRA guide uses rank 32 for portraits, landscapes, camping and cars alike (§5): "
                   "a LoRA mostly 'wakes' what the base model already knows (§3.1), so a small rank suffices.")
    if purpose == "new":
        reason += (" Too small a rank (e.g. 16) shows as blurry, distorted output for the new content "
                   "(Flux LoRA guide §3.2).")
        if n_images is not None and n_images < NEW_CONTENT_MIN_IMAGES:
            reason += f" Flux LoRA guide expects {NEW_CONTENT_MIN_IMAGES}+ images for this; you have {n_images}."
    reason += (" Higher ranks learn more detail but also irrelevant details "
               "(LoRA explainer: too high 'learns too deep').")
    return rank, (lo, hi), reason

# Seed-quoted file sizes (MB) and the target set they correspond to.
QUOTED_FILE_SIZES = {
    "flux": dict(sizes={16: 49, 32: 99, 128: 400, 256: 800}, source="Flux LoRA guide §3.2",
                 targets="all attention projections of the double and single blocks (to_q/k/v, to_out.0, "
                         "add_q/k/v_proj, to_add_out)"),
    "sd15": dict(sizes={32: 40, 64: 70, 128: 140}, source="Kohya practice guide (128=140MB+, 64=70MB+, 32=40MB+)",
                 targets="kohya 'standard': UNet transformer blocks (attention, proj_in/out, feed-forward) "
                         "and the text encoder's attention and MLP"),
    "sdxl": dict(sizes={8: 50, 16: 100, 32: 200}, source="LoRA explainer (SDXL: 32dim 200M, 16dim 100M, 8dim 50M)",
                 targets="kohya 'standard': UNet transformer blocks and both text encoders"),
}


def reference_targets(family: str) -> tuple[list[str], list[str] | None]:
    """(denoiser targets, text-encoder targets) the tutorial's file sizes were measured with."""
    # the guide's sizes: all attention projections of both streams (SimpleTuner's and this kit's default)
    if facts(family).flux_guide:
        return ATTENTION_TARGETS + list(facts(family).text_stream_targets), None
    return list(KOHYA_TARGETS["unet"]), list(KOHYA_TARGETS["text_encoder"])


def rank_file_sizes(config: Config, ranks: Iterable[int] = (4, 8, 16, 32, 64, 128, 256)) -> list[dict]:
    """Adapter file size per rank for this config's adapter and layers (as the trainer picks them),
    next to the size with the tutorial's target set and the size the tutorial quotes."""
    fam = config.family
    ref_unet, ref_te = reference_targets(fam)
    quoted = QUOTED_FILE_SIZES[fam]["sizes"]
    out = []
    for r in ranks:
        mine = config.replace(rank=r, conv_rank=min(config.conv_rank, r) if config.conv_rank else 0)
        out.append(dict(rank=r, mb=round(adapter_file_mb(mine), 1),
                        guide_targets_mb=round(lora_file_mb(fam, r, ref_unet, ref_te, config.save_precision), 1),
                        guide_quoted_mb=quoted.get(r)))
    return out


def file_size_reason(config: Config) -> str:
    fam = config.family
    ref = QUOTED_FILE_SIZES[fam]
    txt = (f"Sizes come from the real {fam} layer shapes: rank x (inputs + outputs) values per adapted layer "
           f"({config.network_type}), 2 bytes each. {ref['source']} quotes sizes for {ref['targets']}")
    if not facts(fam).flux_guide or config.train_mlp or config.network_type != "lora":
        txt += ("; this config adapts other layers, so its files differ from the tutorial's at the same rank -- the "
                "'tutorial's targets' column reproduces the tutorial's figures")
    return txt + "."
