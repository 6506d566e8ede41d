"""The Train cell trains what the form shows. The Plan cell records the config it planned
(`plan_config`); the Train cell takes the form's current config, re-validated (`train_config`), and
says in one line which fields changed since the plan, so an edit made after planning is neither
lost nor silent."""

from __future__ import annotations

import weakref

from ..config import Config
from ..i18n import t
from .form import ConfigForm

_planned: weakref.WeakKeyDictionary[ConfigForm, Config] = weakref.WeakKeyDictionary()


def plan_config(form: ConfigForm) -> Config:
    """The Plan cell's config: the form's current values (ConfigError while one is invalid), remembered
    as what was planned."""
    config = form.config.validate()
    _planned[form] = config
    return config


def changes(before: Config, after: Config) -> dict[str, tuple]:
    """Field -> (before, after) for every field that differs."""
    a, b = before.to_dict(), after.to_dict()
    return {k: (a.get(k), v) for k, v in b.items() if a.get(k) != v}


def train_config(form: ConfigForm, lang: str | None = None) -> Config:
    """The Train cell's config: the form's current values, re-validated. When they differ from what the
    Plan cell planned, one line names each changed field (old -> new) and says the form's values train."""
    config = form.config.validate()
    planned = _planned.get(form)
    diff = changes(planned, config) if planned is not None else {}
    if diff:
        fields = ", ".join(f"{k} {old!r} → {new!r}" for k, (old, new) in diff.items())
        print(t("nb.since_plan", lang, fields=fields))
    return config
