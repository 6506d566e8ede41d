"""Write a caption beside every image with BLIP, Florence-2 or a WD14 tagger.

Examples:
  lora-nb caption dataset/ --backend wd14 --threshold 0.6
  lora-nb caption dataset/ --backend florence2 --task detailed --prefix uehxbfklaq
  lora-nb caption dataset/ --backend blip --model Salesforce/blip-image-captioning-base --overwrite true

Runs on the GPU when there is one. Images that already have a caption are skipped unless
--overwrite true (the replaced captions are copied to DIR/.lora_nb_backup/ first). A model id loads
from the Hugging Face cache (download it once with `hf download ID`) or pass a local folder.
The flags are the fields of `CaptionOptions`; each backend option says which backend reads it.
"""

from __future__ import annotations

import argparse

from ._option_flags import add_option_flags, options_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..dataset.caption import CaptionOptions

    p.add_argument("dir", help="Dataset folder: images at the top level and/or in N_name concept folders.")
    add_option_flags(p, CaptionOptions, "cap_", "caption options")


def run(args: argparse.Namespace) -> int:
    from ..dataset.caption import CaptionOptions, caption_folder

    rep = caption_folder(args.dir, options_from_args(args, CaptionOptions, "cap_"))
    print(rep.summary())
    return 0
