"""Write a .txt caption beside every image with BLIP, Florence-2 or a WD14 tagger.

Examples:
  lora-nb caption dataset/ --backend wd14 --threshold 0.6
  lora-nb caption dataset/ --backend florence2 --task detailed --prefix uehxbfklaq
  lora-nb caption dataset/ --backend blip --model Salesforce/blip-image-captioning-base --overwrite

Runs on the GPU when there is one. Images that already have a caption are skipped unless
--overwrite (the replaced captions are copied to DIR/.lora_nb_backup/ first). A model id loads
from the Hugging Face cache (download it once with `hf download ID`) or pass a local folder.
"""

from __future__ import annotations

import argparse

from ..errors import ConfigError

# option -> the backends it applies to
_BACKEND_OPTIONS = {
    "general_threshold": ("wd14",), "character_threshold": ("wd14",), "replace_underscores": ("wd14",),
    "keep_rating": ("wd14",), "task": ("florence2",), "prompt": ("blip",),
    "max_new_tokens": ("blip", "florence2"), "num_beams": ("blip", "florence2"),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..dataset.caption import DEFAULT_MODELS, FLORENCE_TASKS

    p.add_argument("dir", help="Dataset folder: images at the top level and/or in N_name concept folders.")
    p.add_argument("--backend", choices=("blip", "florence2", "wd14"), default="blip",
                   help="blip: short sentences; florence2: detailed prose (FluxTrainer walkthrough's workflow); "
                        "wd14: booru tags.")
    p.add_argument("--model", default=None, metavar="ID_OR_PATH",
                   help="Hub id or local folder. Defaults: "
                        + ", ".join(f"{k}={v}" for k, v in DEFAULT_MODELS.items()))
    p.add_argument("--threshold", type=float, default=None, dest="general_threshold", metavar="T",
                   help="wd14: minimum confidence of a general tag "
                        "(default 0.6, LoRA explainer's choice for fewer, surer tags; 0.35 gives many more).")
    p.add_argument("--character-threshold", type=float, default=None, metavar="T",
                   help="wd14: minimum confidence of a character tag (default 0.85).")
    p.add_argument("--keep-underscores", action="store_false", dest="replace_underscores", default=None,
                   help="wd14: keep tags as long_hair instead of long hair.")
    p.add_argument("--keep-rating", action="store_true", default=None,
                   help="wd14: add the most likely rating tag (general/sensitive/...); dropped by default.")
    p.add_argument("--task", default=None,
                   help=f"florence2: {', '.join(FLORENCE_TASKS)} or the task token (default detailed).")
    p.add_argument("--prompt", default=None, help="blip: text the caption continues, e.g. 'a photo of'.")
    p.add_argument("--max-new-tokens", type=int, default=None, metavar="N",
                   help="blip/florence2: longest caption in tokens.")
    p.add_argument("--num-beams", type=int, default=None, metavar="N",
                   help="blip/florence2: beam-search width (default 3).")
    p.add_argument("--prefix", default="", help="Text put before every caption, e.g. the trigger word.")
    p.add_argument("--suffix", default="", help="Text put after every caption.")
    p.add_argument("--overwrite", action="store_true", help="Caption images that already have a caption too.")
    p.add_argument("--batch-size", type=int, default=8, metavar="N",
                   help="Images per model call (lower it if memory runs out).")
    p.add_argument("--device", default=None, help="cuda, cpu or cuda:1; default: the GPU when there is one.")
    p.add_argument("--ext", default=".txt", help="Caption file extension.")


def _options(args: argparse.Namespace) -> dict:
    opts = {}
    for name, backends in _BACKEND_OPTIONS.items():
        value = getattr(args, name)
        if value is None:
            continue
        if args.backend not in backends:
            flag = "--" + {"general_threshold": "threshold", "replace_underscores": "keep-underscores"}.get(
                name, name).replace("_", "-")
            raise ConfigError(f"{flag} applies to {'/'.join(backends)}, not {args.backend} -> drop it or change "
                              f"--backend")
        opts[name] = value
    return opts


def run(args: argparse.Namespace) -> int:
    from ..dataset.caption import caption_folder

    opts = _options(args)
    rep = caption_folder(args.dir, args.backend, model=args.model, overwrite=args.overwrite, prefix=args.prefix,
                         suffix=args.suffix, batch_size=args.batch_size, ext=args.ext, device=args.device, **opts)
    print(rep.summary())
    return 0
