"""Clean captions: trigger word or unique ids, removals, replacements, dedupe, sort; or show statistics.

Examples:
  lora-nb tags dataset/ --trigger uehxbfklaq --remove "black hair, black eyes" --dry-run
  lora-nb tags dataset/ --trigger auto --dedupe true --sort alpha --keep-tokens 1 --out dataset_clean
  lora-nb tags dataset/ --template "This image is labeled as {trigger}. {caption}" --trigger auto
  lora-nb tags dataset/ --trigger "1_cat=uehxbfklaq, 2_dog=qjzmwvbkre" --dry-run
  lora-nb tags dataset/ --replace "long_hair=long hair, watermark=" --in-place
  lora-nb tags dataset/ --stats --tokenizer path/to/base-model

The cleaned dataset goes to a new folder (--out, default DIR_clean: images copied, captions
rewritten as UTF-8); --in-place rewrites the captions in DIR after backing them up in
DIR/.lora_nb_backup/. --dry-run prints a unified diff and writes nothing. --trigger auto gives
every concept folder its own random 10-letter id (Flux LoRA guide), saved in triggers.json.
Remove what the LoRA should learn (FluxTrainer walkthrough §6, LoRA explainer: remove "black hair" to bake it into
the trigger).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ._option_flags import add_option_flags, options_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..dataset.clean import CleanOptions

    p.add_argument("dir", help="Dataset folder with images and .txt captions (top level and/or N_name folders).")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--out", default=None, help="Folder for the cleaned dataset (default: DIR_clean beside DIR).")
    where.add_argument("--in-place", action="store_true",
                       help="Rewrite the captions inside DIR (originals copied to DIR/.lora_nb_backup/ first).")
    where.add_argument("--dry-run", action="store_true", help="Print a unified diff of the changes; write nothing.")
    where.add_argument("--stats", action="store_true",
                       help="Print tag frequencies and caption problems (missing trigger, empty, too long); no "
                            "cleaning.")
    p.add_argument("--blacklist-file", default=None, metavar="FILE",
                   help="File of tags to remove too, beside --blacklist (comma- or line-separated; # comments).")
    p.add_argument("--tokenizer", default=None,
                   help="Base model folder or tokenizer folder: --trigger auto avoids ids it knows; --stats counts "
                        "CLIP tokens.")
    p.add_argument("--top", type=int, default=20, help="--stats: how many of the most frequent tags to list.")
    p.add_argument("--overwrite", action="store_true", help="Replace an existing, non-empty --out folder.")
    add_option_flags(p, CleanOptions, "clean_", "cleaning options")


def run(args: argparse.Namespace) -> int:
    from ..dataset.clean import CleanOptions, clean_folder, trigger_words
    from ..dataset.tag_rules import parse_tag_list
    from ..dataset.tag_stats import caption_stats, load_clip_tokenizer

    root = Path(args.dir)
    tokenizer = load_clip_tokenizer(args.tokenizer) if args.tokenizer else None
    opts = options_from_args(args, CleanOptions, "clean_", tokenizer=tokenizer)
    if args.stats:
        stats = caption_stats(root, trigger=trigger_words(opts.trigger), tokenizer=tokenizer, ext=opts.ext)
        print(stats.summary(top=args.top))
        return 0
    if args.blacklist_file:
        from ..textio import read_text

        opts = opts.changed(blacklist=[*opts.blacklist, *parse_tag_list(read_text(args.blacklist_file))])
    out = None
    if not args.in_place and not args.dry_run:
        out = Path(args.out) if args.out else root.resolve().with_name(root.resolve().name + "_clean")
    rep = clean_folder(root, opts, out=out, in_place=args.in_place, dry_run=args.dry_run, overwrite=args.overwrite)
    if args.dry_run:
        diff = rep.diff()
        if diff:
            print(diff)
    print(rep.summary())
    return 0
