"""Clean captions: trigger word or unique ids, removals, replacements, dedupe, sort; or show statistics.

Examples:
  lora-nb tags dataset/ --trigger uehxbfklaq --remove "black hair, black eyes" --dry-run
  lora-nb tags dataset/ --trigger auto --dedupe --sort --keep-tokens 1 --out dataset_clean
  lora-nb tags dataset/ --template "This image is labeled as {trigger}. {caption}" --trigger auto
  lora-nb tags dataset/ --replace long_hair="long hair" --in-place
  lora-nb tags dataset/ --stats --tokenizer path/to/base-model

The cleaned dataset goes to a new folder (--out, default DIR_clean: images hard-linked, captions
rewritten as UTF-8); --in-place rewrites the captions in DIR after backing them up in
DIR/.lora_nb_backup/. --dry-run prints a unified diff and writes nothing. --trigger auto gives
every concept folder its own random 10-letter id (Flux LoRA guide), saved in triggers.json.
Remove what the LoRA should learn (FluxTrainer walkthrough §6, LoRA explainer: remove "black hair" to bake it into
the trigger).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", help="Dataset folder with images and .txt captions (top level and/or N_name folders).")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--out", default=None, help="Folder for the cleaned dataset (default: DIR_clean beside DIR).")
    where.add_argument("--in-place", action="store_true",
                       help="Rewrite the captions inside DIR (originals copied to DIR/.lora_nb_backup/ first).")
    where.add_argument("--dry-run", action="store_true", help="Print a unified diff of the changes; write nothing.")
    where.add_argument("--stats", action="store_true",
                       help="Print tag frequencies and caption problems (missing trigger, empty, too long); no "
                            "cleaning.")
    p.add_argument("--trigger", action="append", default=[], metavar="WORD",
                   help="Trigger put first in every caption: a word, 'auto' (one unique 10-letter id per concept "
                        "folder) or FOLDER=WORD (repeat for each concept).")
    p.add_argument("--template", default="",
                   help="Place the trigger by a template with {trigger} and {caption}, e.g. 'This image is "
                        "labeled as {trigger}. {caption}' (Flux LoRA guide).")
    p.add_argument("--remove", action="append", default=[], metavar="TAGS",
                   help="Comma-separated tags/phrases to remove (what the LoRA should learn); wildcards like "
                        "'*hair' match tags. Repeatable.")
    p.add_argument("--blacklist", default=None, metavar="FILE",
                   help="File of tags to remove (comma- or line-separated; # comments).")
    p.add_argument("--replace", action="append", default=[], metavar="OLD=NEW",
                   help="Rename a tag or phrase (OLD= removes it). Repeatable.")
    p.add_argument("--dedupe", action="store_true", help="Drop repeated tags.")
    p.add_argument("--sort", nargs="?", const="alpha", default="", choices=("alpha", "frequency"),
                   help="Sort tags after the kept ones: alpha (default) or frequency (most common first).")
    p.add_argument("--keep-tokens", type=int, default=0, metavar="N",
                   help="Leading tags held in place by --sort (and by shuffle at training time); the trigger "
                        "is always kept first.")
    p.add_argument("--spaces", action="store_true", help="Underscores to spaces (long_hair -> long hair; ^_^ kept).")
    p.add_argument("--lowercase", action="store_true", help="Lowercase every caption.")
    p.add_argument("--style", choices=("auto", "tags", "text"), default="auto",
                   help="Treat captions as tag lists or prose; auto guesses per caption.")
    p.add_argument("--seed", type=int, default=None, help="Seed for --trigger auto (reproducible ids).")
    p.add_argument("--tokenizer", default=None,
                   help="Base model folder or tokenizer folder: --trigger auto avoids ids it knows; --stats counts "
                        "CLIP tokens.")
    p.add_argument("--top", type=int, default=20, help="--stats: how many of the most frequent tags to list.")
    p.add_argument("--overwrite", action="store_true", help="Replace an existing, non-empty --out folder.")
    p.add_argument("--ext", default=".txt", help="Caption file extension.")


def _trigger(values: list[str]) -> str | dict[str, str]:
    if not values:
        return ""
    pairs = [v for v in values if "=" in v]
    if pairs and len(pairs) != len(values):
        raise ConfigError("--trigger: mix of WORD and FOLDER=WORD -> use one form")
    if not pairs:
        if len(values) > 1:
            raise ConfigError(f"--trigger given {len(values)} times -> give one WORD, 'auto', or FOLDER=WORD pairs")
        return values[0].strip()
    out = {}
    for v in pairs:
        folder, word = v.split("=", 1)
        out[folder.strip()] = word.strip()
    return out


def run(args: argparse.Namespace) -> int:
    from ..dataset.clean import CleanOptions, clean_folder
    from ..dataset.tag_rules import parse_replacements, parse_tag_list
    from ..dataset.tag_stats import caption_stats, load_clip_tokenizer

    root = Path(args.dir)
    tokenizer = load_clip_tokenizer(args.tokenizer) if args.tokenizer else None
    if args.stats:
        stats = caption_stats(root, trigger=_trigger(args.trigger), tokenizer=tokenizer, ext=args.ext)
        print(stats.summary(top=args.top))
        return 0
    remove = [t for v in args.remove for t in parse_tag_list(v)]
    blacklist = []
    if args.blacklist:
        from ..textio import read_text

        blacklist = parse_tag_list(read_text(args.blacklist))
    opts = CleanOptions(trigger=_trigger(args.trigger), template=args.template, remove=remove, blacklist=blacklist,
                        replace=parse_replacements(args.replace), dedupe=args.dedupe, sort=args.sort,
                        keep_tokens=args.keep_tokens, underscores=args.spaces, lowercase=args.lowercase,
                        style=args.style, seed=args.seed, tokenizer=tokenizer)
    out = None
    if not args.in_place and not args.dry_run:
        out = Path(args.out) if args.out else root.resolve().with_name(root.resolve().name + "_clean")
    rep = clean_folder(root, opts, out=out, in_place=args.in_place, dry_run=args.dry_run, overwrite=args.overwrite,
                       ext=args.ext)
    if args.dry_run:
        diff = rep.diff()
        if diff:
            print(diff)
    print(rep.summary())
    return 0

