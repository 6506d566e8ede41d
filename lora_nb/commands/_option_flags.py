"""CLI flags generated from an options dataclass: `--rank 32`, `--min-side 512`, ...

The flag help is the field's help text, so the CLI documents exactly what the widgets and the
TOML file do. Flags default to None (not given), so only what the user typed overrides a file or
the dataclass defaults.
"""

from __future__ import annotations

import argparse

from ..config import Config
from ..options import Options, base_type


def add_option_flags(parser: argparse.ArgumentParser, cls, prefix: str, title: str | None = None) -> None:
    """One `--field-name` flag per field of `cls` (fields with `cli=False` excepted), stored as
    `<prefix><field>`; `title` groups them in `--help` (Config uses its own groups)."""
    groups: dict[str, argparse._ArgumentGroup] = {}
    for info in cls.field_info():
        if not info.get("cli", True):
            continue
        g = title or f"config: {info['group']}"
        if g not in groups:
            groups[g] = parser.add_argument_group(g)
        extra = ""
        if "choices" in info:
            extra = f" [{'|'.join(map(str, info['choices']))}]"
        elif "min" in info:
            extra = f" [{info['min']}..{info.get('max', '')}]"
        tp = base_type(info["type"])[0]
        sep = info.get("sep", ",")
        metavar = f"A{sep}B{sep}..." if tp is list else ("BOOL" if tp is bool else info["name"].upper())
        text = f"{info['help']}{extra} (default: {info['default']!r})".replace("%", "%%")  # argparse %-formats help
        groups[g].add_argument(f"--{info['name'].replace('_', '-')}", dest=f"{prefix}{info['name']}", default=None,
                               metavar=metavar, help=text)


def given_options(args: argparse.Namespace, prefix: str) -> dict:
    """The flags given on the command line, as {field: text}."""
    return {k[len(prefix):]: v for k, v in vars(args).items() if k.startswith(prefix) and v is not None}


def options_from_args(args: argparse.Namespace, cls: type[Options], prefix: str, **values) -> Options:
    """`cls` from `values` (what the subcommand's own arguments set) and the flags given on top."""
    return cls.from_dict({**values, **given_options(args, prefix)}, source="command line")


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    add_option_flags(parser, Config, "cfg_")


def config_from_args(args: argparse.Namespace, path: str | None) -> Config:
    """The config file (if any) with the flags given on the command line applied on top."""
    overrides = given_options(args, "cfg_")
    if path:
        return Config.load(path, **overrides)
    return Config.from_dict(overrides, source="command line")
