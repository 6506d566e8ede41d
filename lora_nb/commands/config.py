"""Write a config file with every field (defaults, or the flags given), or list the fields with their help.

    lora-nb config --out my_lora.toml --train-data-dir data/ --rank 32
    lora-nb config --list
"""

from __future__ import annotations

from ._option_flags import add_config_flags, config_from_args


def add_arguments(p):
    p.add_argument("--out", help="file to write (.toml or .json)")
    p.add_argument("--from", dest="source", help="start from this config file instead of the defaults")
    p.add_argument("--list", action="store_true", help="print every field with its group, default and help")
    add_config_flags(p)


def run(args) -> int:
    from ..config import Config

    if args.list:
        for info in Config.field_info():
            print(f"[{info['group']}] {info['name']} = {info['default']!r}\n    {info['help']}")
        return 0
    cfg = config_from_args(args, args.source)
    if not args.out:
        import tomli_w

        print(tomli_w.dumps(cfg.to_dict(grouped=True)))
        return 0
    print(f"wrote {cfg.save(args.out)}")
    return 0
