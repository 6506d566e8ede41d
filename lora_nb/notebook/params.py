"""A notebook's parameters cell applied to the project's Config (a new rank brings its learning rate)."""

from __future__ import annotations

from collections.abc import Callable

from ..config import Config
from .form import default_advisor, lr_matches


def apply_params(config: Config, params: dict, advisor: Callable[[Config], float | None] | None | str = "default"
                 ) -> Config:
    """The notebook's parameters cell applied to the project's Config: values left at None keep
    the Config's; a new rank brings its learning rate (Flux LoRA guide's lr-by-rank rule) unless a
    learning rate is given or the Config's was set by hand (it differs from the rule's)."""
    adv = default_advisor() if advisor == "default" else advisor
    given = {k: v for k, v in params.items() if v is not None}
    follows = adv is not None and lr_matches(config.learning_rate, adv(config))
    cfg = config.replace(**given) if given else config
    if adv is not None and follows and "learning_rate" not in given:
        lr = adv(cfg)
        if lr is not None and not lr_matches(cfg.learning_rate, lr):
            cfg = cfg.replace(learning_rate=lr)
    return cfg
