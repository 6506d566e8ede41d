"""English and Simplified Chinese strings for the notebooks and widgets.

The course is built on Chinese tutorials, so their readers get the kit in Chinese:
widget labels, help texts (tooltips) and the messages the notebooks print. One setting switches
the language: `set_language("zh")`, the project's `language` (set in 00_setup), or the
environment variable `LORA_NB_LANG`. Library errors (`LoraNbError`) stay in English, so that
they can be searched for.

The tables live beside this module: `messages` (what the notebooks print, by id), `reports` (the
dataset, evaluation and training reports), `plan`, `advice` and `memory` (the training plan), `notes` and `notes2` (the
trainer's notes, durations) and `fields`
(Config field labels and Chinese help). The message tables merge into one `STRINGS`; a key in two of
them is an error at import.

    t("train.stopped", step=120)        -> "Stopped at step 120; a checkpoint was saved."
    field_label("rank", "zh")           -> "秩 (network dim)"
    field_help("rank", "zh")            -> the Chinese tooltip of Config.rank
"""

from __future__ import annotations

import os

from . import advice, memory, messages, notes, notes2, plan, reports
from .fields import FIELD_HELP_ZH, FIELD_LABELS
from .reasons import reason_zh


def _merge(*tables: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for table in tables:
        dup = out.keys() & table.keys()
        if dup:
            raise RuntimeError(f"i18n keys defined twice: {sorted(dup)} -> keep each key in one table")
        out.update(table)
    return out


STRINGS = _merge(messages.STRINGS, reports.STRINGS, plan.STRINGS, advice.STRINGS, memory.STRINGS, notes.STRINGS,
                 notes2.STRINGS)

LANGUAGES = ("en", "zh")
ENV_VAR = "LORA_NB_LANG"

_current: str | None = None


def normalize_language(lang: str | None) -> str:
    """'zh', 'zh-CN', 'zh_Hans', '中文' -> 'zh'; 'en', 'en-US' -> 'en'. Unknown values raise."""
    from ..errors import ConfigError

    s = (lang or "").strip().lower().replace("_", "-")
    if s in ("zh", "cn", "中文", "简体中文") or s.startswith(("zh-", "zh ")):
        return "zh"
    if s == "en" or s.startswith("en-") or s == "english":
        return "en"
    raise ConfigError(f"language {lang!r} is not supported -> use 'en' (English) or 'zh' (简体中文)")


def set_language(lang: str | None) -> str:
    """Set the language for every later `t()` call; None goes back to the environment default."""
    global _current
    _current = normalize_language(lang) if lang else None
    return get_language()


def get_language() -> str:
    """The language in use: `set_language`, else $LORA_NB_LANG, else English."""
    if _current:
        return _current
    env = os.environ.get(ENV_VAR)
    if env:
        try:
            return normalize_language(env)
        except ValueError:
            return "en"
    return "en"


def _lang(lang: str | None) -> str:
    return normalize_language(lang) if lang else get_language()


def t(key: str, lang: str | None = None, **fmt) -> str:
    """The string `key` in `lang` (default: the current language), formatted with `fmt`."""
    entry = STRINGS[key]
    text = entry[_lang(lang)]
    return text.format(**fmt) if fmt else text


def duration(seconds: float, lang: str | None = None) -> str:
    """A duration as people read it: '1h 05m', '4m 07s', '9s' (the plan's times, how long ago a lock was alive)."""
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return t("time.hm", lang, h=h, m=m) if h else (t("time.ms", lang, m=m, s=s) if m else t("time.s", lang, s=s))


def reason(text: str, lang: str | None = None) -> str:
    """A reason the image reader, collect or crop gave (English in reports and manifests), as a summary shows it."""
    return reason_zh(text) if _lang(lang) == "zh" else text


def field_label(name: str, lang: str | None = None) -> str:
    """Short widget label of a Config field."""
    en, zh = FIELD_LABELS.get(name, (name.replace("_", " ").capitalize(), ""))
    return (zh or en) if _lang(lang) == "zh" else en


def field_help(name: str, lang: str | None = None) -> str:
    """Help text (tooltip) of a Config field: the English help from its metadata, or the Chinese one."""
    if _lang(lang) == "zh" and name in FIELD_HELP_ZH:
        return FIELD_HELP_ZH[name]
    from ..config import Config

    for info in Config.field_info():
        if info["name"] == name:
            return info["help"]
    raise KeyError(name)


def group_title(group: str, lang: str | None = None) -> str:
    return t(f"group.{group}", lang)


__all__ = ["FIELD_HELP_ZH", "FIELD_LABELS", "LANGUAGES", "STRINGS", "duration", "field_help", "field_label",
           "get_language", "group_title", "normalize_language", "reason", "set_language", "t"]
