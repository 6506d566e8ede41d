"""Options dataclasses: every setting of a step with its default, help text and allowed values, in one
field, read by the step's function, its CLI flags and its notebook form alike.

Fields carry peft-style ``metadata``: ``help`` (widget tooltip and ``--help`` text) and optionally
``choices``, ``min``, ``max``, ``sep`` (list separator in text), ``group`` (Config's tabs) and
``cli=False`` for values that only Python can pass (a loaded tokenizer). `Config` is built the same
way; each step's options class subclasses `Options`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping
from typing import Any

from .errors import ConfigError


def option(default, help: str, group: str = "", **extra):
    """A dataclass field with its help text and allowed values (see the module docstring)."""
    meta = {"help": help, "group": group, **extra}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def default(cls, name: str):
    """The default of field `name` of dataclass `cls`: how a step states "the same as Config's"."""
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()


def field_info(cls) -> list[dict[str, Any]]:
    """One dict per field: name, type, default, help, and the metadata given (choices, min, max, ...)."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        out.append({"name": f.name, "type": hints[f.name], "default": default, **f.metadata})
    return out


def base_type(tp) -> tuple[Any, bool]:
    """(the type without None, whether None is allowed): `int | None` -> (int, True); a generic such
    as `list[str]` -> list; a union of several types -> that union (checked per member)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(tp))
        return (base_type(args[0])[0] if len(args) == 1 else tuple(base_type(a)[0] for a in args)), nullable
    return typing.get_origin(tp) or tp, False


def _type_name(tp) -> str:
    if isinstance(tp, tuple):
        return " or ".join(_type_name(t) for t in tp)
    return getattr(tp, "__name__", str(tp))


def _list_items(name: str, tp, items: list, source: str) -> list:
    """Text items of a `list[int]`/`list[float]` field as numbers; other lists as they are."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
    item = (typing.get_args(tp) or (str,))[0]
    if item not in (int, float):
        return items
    try:
        return [item(x) if isinstance(x, str) else x for x in items]
    except ValueError:
        raise ConfigError(f"{source}: field '{name}' must be a list of {item.__name__}, got {items!r} "
                          f"-> write {item.__name__} values separated by commas") from None


def coerce(name: str, tp, v, source: str, sep: str = ","):
    """Accept what TOML/JSON/CLI/text boxes give (ints for floats, 'true' from the CLI, '' or 'none' for
    an optional value, '1, 2' for a `list[int]`); refuse the rest."""
    declared = tp
    tp, nullable = base_type(tp)
    if nullable and (v is None or (isinstance(v, str) and v.strip().lower() in ("", "none"))):
        return None
    if tp is list and isinstance(v, list):
        return _list_items(name, declared, v, source)
    if tp is float and isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, str) and tp not in (str, object) and not (isinstance(tp, tuple) and str in tp):
        s = v.strip()
        try:
            if tp is bool and s.lower() in ("true", "false", "1", "0", "yes", "no"):
                return s.lower() in ("true", "1", "yes")
            if tp is int:
                return int(s)
            if tp is float:
                return float(s)
            if tp is list:
                return _list_items(name, declared, [p.strip() for p in s.split(sep) if p.strip()] if s else [], source)
        except ValueError:
            pass
        raise ConfigError(f"{source}: field '{name}' must be {_type_name(tp)}, got the text {v!r} "
                          f"-> write a {_type_name(tp)} value")
    return v


def check_value(f: dataclasses.Field, tp, v) -> str | None:
    """What is wrong with value `v` of field `f` (type, choices, bounds), or None."""
    tp, nullable = base_type(tp)
    if v is None and nullable:
        return None
    if tp is float:
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
    elif tp is int:
        ok = isinstance(v, int) and not isinstance(v, bool)
    else:
        ok = isinstance(v, tp)
    if not ok:
        return f"expected {_type_name(tp)}, got {type(v).__name__} {v!r}"
    if tp is float and not math.isfinite(v):
        return f"{v} is not a finite number"
    m = f.metadata
    if "choices" in m and v not in m["choices"]:
        close = difflib.get_close_matches(str(v), [str(c) for c in m["choices"]], n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"{v!r} is not one of {', '.join(map(str, m['choices']))}{hint}"
    if "min" in m and v < m["min"]:
        return f"{v} is below the minimum {m['min']}"
    if "max" in m and v > m["max"]:
        return f"{v} is above the maximum {m['max']}"
    return None


def field_problems(obj) -> list[str]:
    """Every field of `obj` whose value has the wrong type or lies outside its choices or bounds."""
    hints = typing.get_type_hints(type(obj))
    out = []
    for f in dataclasses.fields(obj):
        msg = check_value(f, hints[f.name], getattr(obj, f.name))
        if msg:
            out.append(f"{f.name}: {msg}")
    return out


def unknown_fields(cls, names, source: str) -> None:
    """A ConfigError naming each unknown field (with the closest real name), if there is any."""
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in names if k not in known]
    if unknown:
        tips = []
        for k in unknown:
            close = difflib.get_close_matches(k, known, n=1)
            tips.append(f"'{k}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        raise ConfigError(f"{source}: unknown field {', '.join(tips)} -> remove it or fix the spelling")


class Options:
    """Base of a step's options dataclass: validated on construction (one ConfigError listing every
    problem), built from plain values with `from_dict`, copied with changes by `changed` (not named
    `replace`: a step may have a setting of that name)."""

    def __post_init__(self):
        probs = self.problems()
        if probs:
            raise ConfigError(f"invalid {type(self).__name__}: " + "; ".join(probs))

    def problems(self) -> list[str]:
        """Every invalid value as 'field: what is wrong -> how to fix'; subclasses add cross-field checks."""
        return field_problems(self)

    @classmethod
    def field_info(cls) -> list[dict[str, Any]]:
        return field_info(cls)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str | None = None):
        """Built from plain values (text from the CLI or a widget is converted); unknown names are errors."""
        source = source or cls.__name__
        unknown_fields(cls, data, source)
        hints = typing.get_type_hints(cls)
        seps = {f.name: f.metadata.get("sep", ",") for f in dataclasses.fields(cls)}
        values = {k: coerce(k, hints[k], v, source, seps[k]) for k, v in data.items()}
        try:
            return cls(**values)
        except ConfigError as e:
            raise ConfigError(f"{source}: {e}") from None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def changed(self, source: str | None = None, **changes):
        return type(self).from_dict({**self.to_dict(), **changes}, source)

    @classmethod
    def resolve(cls, options=None, overrides: Mapping[str, Any] | None = None, source: str | None = None):
        """`options` (or the defaults) with keyword `overrides` applied: how a step function takes both
        an options object and the same settings as keyword arguments."""
        base = options if options is not None else cls()
        if not isinstance(base, cls):
            raise ConfigError(f"{source or cls.__name__}: expected {cls.__name__}, got {type(base).__name__} "
                              f"-> pass {cls.__name__}(...) or the settings as keyword arguments")
        return base.changed(source, **overrides) if overrides else base
