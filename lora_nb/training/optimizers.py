"""Optimizers by name, each from its own library (LoRA explainer; Kohya practice guide §2.3.1)."""

from __future__ import annotations

from ..config import ADAPTIVE_OPTIMIZERS, Config
from ..errors import LoraNbError


def _need(pkg: str, name: str):
    raise LoraNbError(f"optimizer {name!r} needs the package {pkg!r} -> pip install 'lora-nb[optimizers]' "
                      f"(or pip install {pkg}), or choose optimizer='adamw'")


def make_optimizer(config: Config, param_groups: list[dict]):
    """Build the optimizer for LoRA parameter groups (each group carries its own lr)."""
    import torch

    name, wd = config.optimizer, config.weight_decay
    lrs = sorted({g["lr"] for g in param_groups if g.get("lr")})
    if name in ADAPTIVE_OPTIMIZERS and len(lrs) > 1:
        # prodigyopt / dadaptation raise a RuntimeError at the first step otherwise (Config.validate says why)
        raise LoraNbError(f"optimizer {name!r} needs one learning rate for every parameter group, got {lrs} -> "
                          f"set unet_lr and text_encoder_lr to 0 so both use learning_rate (1.0)")
    if name == "adamw":
        return torch.optim.AdamW(param_groups, weight_decay=wd)
    if name == "adamw8bit":  # 8-bit states (Dettmers et al. 2022): ~4x less optimizer memory
        try:
            import bitsandbytes as bnb
        except ImportError:
            _need("bitsandbytes", name)
        return bnb.optim.AdamW8bit(param_groups, weight_decay=wd)
    if name == "lion":  # Chen et al. 2023; lr ~10x lower than AdamW (LoRA explainer)
        try:
            from lion_pytorch import Lion
        except ImportError:
            _need("lion-pytorch", name)
        return Lion(param_groups, weight_decay=wd)
    if name == "prodigy":  # Mishchenko & Defazio 2023; lr = 1 (LoRA explainer)
        try:
            from prodigyopt import Prodigy
        except ImportError:
            _need("prodigyopt", name)
        return Prodigy(param_groups, weight_decay=wd)
    if name == "dadaptation":  # Defazio & Mishchenko 2023; lr = 1
        try:
            from dadaptation import DAdaptAdam
        except ImportError:
            _need("dadaptation", name)
        return DAdaptAdam(param_groups, weight_decay=wd, decouple=True)
    if name == "adafactor":  # Shazeer & Stern 2018, with an explicit lr as kohya uses it
        from transformers.optimization import Adafactor

        return Adafactor(param_groups, scale_parameter=False, relative_step=False, warmup_init=False,
                         weight_decay=wd)
    raise LoraNbError(f"unknown optimizer {name!r}")
