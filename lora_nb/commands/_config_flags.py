"""CLI flags generated from the Config fields: `--rank 32`, `--learning-rate 1e-4`, ...

The flag help is the field's help text, so the CLI documents exactly what the widgets and the
TOML file do.
"""

from __future__ import annotations

import argparse

from ..config import Config


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    groups = {}
    for info in Config.field_info():
        g = info["group"]
        if g not in groups:
            groups[g] = parser.add_argument_group(f"config: {g}")
        extra = ""
        if "choices" in info:
            extra = f" [{'|'.join(info['choices'])}]"
        elif "min" in info:
            extra = f" [{info['min']}..{info['max']}]"
        tp = info["type"]
        sep = info.get("sep", ",")
        metavar = f"A{sep}B{sep}..." if tp is list else ("BOOL" if tp is bool else info["name"].upper())
        groups[g].add_argument(f"--{info['name'].replace('_', '-')}", dest=f"cfg_{info['name']}", default=None,
                               metavar=metavar, help=f"{info['help']}{extra} (default: {info['default']!r})")


def config_from_args(args: argparse.Namespace, path: str | None) -> Config:
    """The config file (if any) with the flags given on the command line applied on top."""
    overrides = {k[4:]: v for k, v in vars(args).items() if k.startswith("cfg_") and v is not None}
    if path:
        return Config.load(path, **overrides)
    return Config.from_dict(overrides, source="command line")
