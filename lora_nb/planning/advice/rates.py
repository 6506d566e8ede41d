"""Learning rate, alpha and rank: the tutorials' values with their reasons, and the adapter file size
per rank next to the sizes the tutorials quote."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ...errors import ConfigError
from ...families.facts import facts
from ...i18n import get_language, t
from ...i18n.plan import PURPOSES_ZH, cite
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
                frac = (math.log(rank) - math.log(r0)) / (math.log(r1) - math.log(r0))
                lr = math.exp(math.log(l0) + frac * (math.log(l1) - math.log(l0)))
                break
    if optimizer == "lion":
        lr /= 10
    return _sig(lr)


def lr_reason(rank: int, optimizer: str) -> str:
    if optimizer in ("prodigy", "dadaptation"):
        return t("adv.lr_adaptive", optimizer=optimizer)
    txt = (t("adv.lr_table", table=", ".join(f"{r}: {lr:g}" for r, lr in LR_BY_RANK.items()))
           + t("adv.lr_exact" if rank in LR_BY_RANK else "adv.lr_between", rank=rank))
    txt += t("adv.lr_higher")
    if rank == 32:
        txt += t("adv.lr_rank32")
    if optimizer == "lion":
        txt += t("adv.lr_lion")
    return txt


def recommend_alpha(rank: int) -> float:
    """LoRA explainer: alpha = rank/2 by default (its SDXL notes: rank/2 or rank/4)."""
    return rank / 2


def alpha_reason() -> str:
    """Why alpha = rank/2, in the current language."""
    return t("adv.alpha_reason")


def recommend_rank(purpose: str, family: str, n_images: int | None = None) -> tuple[int, tuple[int, int], str]:
    """(suggested rank, the tutorials' range, reason) for a purpose."""
    info = purpose_info(purpose)
    lo, hi = info["ranks"]
    rank = info["suggest"]
    lang = get_language()
    reason = t("adv.rank_range", label=purpose_label(purpose), lo=lo, hi=hi, source=cite(info["source"], lang))
    if facts(family).flux_guide and purpose != "new":
        rank = min(rank, 32)
        reason += t("adv.rank_flux")
    if purpose == "new":
        reason += t("adv.rank_new")
        if n_images is not None and n_images < NEW_CONTENT_MIN_IMAGES:
            reason += t("adv.rank_new_few", need=NEW_CONTENT_MIN_IMAGES, n=n_images)
    reason += t("adv.rank_higher")
    return rank, (lo, hi), reason


def purpose_label(purpose: str) -> str:
    """'a real person' / '真实人物': what the LoRA teaches, in the current language."""
    return PURPOSES_ZH[purpose] if get_language() == "zh" else purpose_info(purpose)["label"]

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
    # the layer lists (ref['targets']) are module names and stay as they are
    txt = t("adv.size_reason", family=fam, network=config.network_type, source=cite(ref["source"], get_language()),
            targets=ref["targets"])
    if not facts(fam).flux_guide or config.train_mlp or config.network_type != "lora":
        txt += t("adv.size_other")
    return txt + t("adv.end")
