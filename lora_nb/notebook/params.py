"""A notebook's parameters cell applied to the project's Config (a new rank brings its learning rate), and
05_train's starting config: the advisor's recipe in the fields nobody set."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..config import Config
from ..errors import ConfigError
from ..i18n import t
from ..options import unknown_fields
from ..planning.starting import starting_config
from .form import default_advisor, lr_matches
from .modes import mode_overrides
from .project import Project

OVERRIDES_NAME = "CONFIG_OVERRIDES"  # the parameters cell's dict of any further Config fields


def apply_params(config: Config, params: dict, overrides: Mapping | None = None,
                 advisor: Callable[[Config], float | None] | None | str = "default") -> Config:
    """The notebook's parameters cell applied to the project's Config: values left at None keep
    the Config's; a new rank brings its learning rate (Flux LoRA guide's lr-by-rank rule) unless a
    learning rate is given or the Config's was set by hand (it differs from the rule's).

    `overrides` (CONFIG_OVERRIDES) sets any further field; a misspelt name or one that its own
    parameter already sets to another value is a one-line error naming it."""
    adv = default_advisor() if advisor == "default" else advisor
    given = {k: v for k, v in params.items() if v is not None}
    given.update(_checked_overrides(overrides, given))
    follows = adv is not None and lr_matches(config.learning_rate, adv(config))
    cfg = config.replace(**given) if given else config
    if adv is not None and follows and "learning_rate" not in given:
        lr = adv(cfg)
        if lr is not None and not lr_matches(cfg.learning_rate, lr):
            cfg = cfg.replace(learning_rate=lr)
    return cfg


def start_config(project: Project, params: dict, overrides: Mapping | None = None, purpose: str = "person") -> Config:
    """05_train's config: the project's, on its newest dataset, with the parameters cell applied (`apply_params`),
    then the advisor's recipe (`lora_nb.planning.starting`) in every recipe field nobody set -- not a parameter,
    not CONFIG_OVERRIDES, not the course mode's recipe (it wins), and neither the Config default nor the
    advisor's own value from last time. One line says which fields came from the advisor and why; the project
    records them, so next time they follow the dataset again."""
    config = project.config(train_data_dir=str(project.training_data()))
    given = {k for k, v in params.items() if v is not None} | set(overrides or {}) | set(mode_overrides() or {})
    config = apply_params(config, params, overrides, advisor=None)  # the starting config lets lr follow rank
    start = starting_config(config, purpose=purpose, keep=given, advised_before=project.advised)
    project.advised = start.advised
    if start.advised:
        print(t("train.advised", purpose=purpose, fields=start.describe(), why=start.why()))
    return start.config


def _checked_overrides(overrides: Mapping | None, given: dict) -> dict:
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"{OVERRIDES_NAME}: expected a dict of Config fields, got {type(overrides).__name__} "
                          f"{overrides!r} -> write it like {{\"optimizer\": \"adamw\", \"train_batch_size\": 2}}")
    unknown_fields(Config, overrides, OVERRIDES_NAME)
    for k, v in overrides.items():
        if k in given and given[k] != v:
            raise ConfigError(f"{OVERRIDES_NAME}: '{k}' = {v!r}, but its own parameter {k.upper()} = {given[k]!r} "
                              f"-> set it in one place (remove it from {OVERRIDES_NAME} or set {k.upper()} = None)")
    return dict(overrides)
