"""Write a config file with every field (defaults, or the flags given), or list the fields with their help.

With a dataset (train_data_dir), the recipe fields not given as flags (or set in --from's file) come from
the advisor for that dataset, as in the train notebook: steps from its size, at least 4 checkpoints with
validation images at each, rank by --purpose, alpha = rank/2 and the learning rate by rank.

    lora-nb config --out my_lora.toml --train-data-dir data/ --purpose object --rank 32
    lora-nb config --list
"""

from __future__ import annotations

import sys

from ._option_flags import add_config_flags, config_from_args, given_options


def add_arguments(p):
    from ..planning.advice.tables import PURPOSES

    p.add_argument("--out", help="file to write (.toml or .json)")
    p.add_argument("--from", dest="source", help="start from this config file instead of the defaults")
    p.add_argument("--list", action="store_true", help="print every field with its group, default and help")
    p.add_argument("--purpose", choices=list(PURPOSES), default="person",
                   help="what the LoRA teaches, for the advisor's rank (default: person)")
    p.add_argument("--no-advisor", dest="advisor", action="store_false",
                   help="keep the Config defaults instead of the advisor's recipe for train_data_dir")
    add_config_flags(p)


def run(args) -> int:
    from ..config import Config
    from ..errors import DatasetError
    from ..planning.starting import starting_config

    if args.list:
        for info in Config.field_info():
            print(f"[{info['group']}] {info['name']} = {info['default']!r}\n    {info['help']}")
        return 0
    cfg = config_from_args(args, args.source)
    if args.advisor and cfg.train_data_dir:
        try:
            start = starting_config(cfg, purpose=args.purpose, keep=given_options(args, "cfg_"))
        except DatasetError as e:
            raise DatasetError(f"{e}; or pass --no-advisor to skip the advisor's recipe") from None
        cfg = start.config
        if start.advised:
            print(f"advisor ({args.purpose}, {start.n_images} images): {start.describe()}. Why: {start.why()}. "
                  f"Flags you give win.", file=sys.stderr)
    if not args.out:
        import tomli_w

        print(tomli_w.dumps(cfg.to_dict(grouped=True)))
        return 0
    print(f"wrote {cfg.save(args.out)}")
    return 0
