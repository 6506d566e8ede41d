"""`lora-nb <step> ...`: one subcommand per course step, for headless runs and `accelerate launch`.

Each subcommand lives in `lora_nb/commands/<name>.py` with `add_arguments(parser)` and
`run(args) -> int`; this file only dispatches. A `LoraNbError` (bad input) is printed as one
line and the process exits with status 2, and so is a file-system error that escaped as OSError
(disk full, read-only, permission denied); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> one-line description (shown by `lora-nb --help`)
SUBCOMMANDS = {
    "collect": "Step 1: import images from folders, zips, URL lists or Drive into a dataset folder.",
    "crop": "Step 2: crop images to training sizes (center, focus or bucket).",
    "caption": "Step 3: write .txt captions with BLIP, Florence-2 or a WD14 tagger.",
    "tags": "Step 4: clean captions: trigger word, removals, replacements, dedupe, sort.",
    "plan": "Before training: step math, recipe advice from the tutorials and memory fit.",
    "train": "Step 5: train a LoRA from a config file.",
    "xy": "Step 6: XY grid of checkpoints x strengths (x prompts x seeds).",
    "evaluate": "Step 6, measured: recommend a checkpoint and strength, with report.md and plots.",
    "demo": "Run the whole pipeline on datasets_sample/ with the built-in tiny model on CPU.",
    "doctor": "Check the library stack and this machine: versions, known-bad pairs (with the fix), GPU, disk.",
    "config": "Write a config file with every field at its default (or print the field help).",
}


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="lora-nb", description="LoRA training course-kit (SD1.5, SDXL, Flux).")
    parser.add_argument("--version", action="version", version=f"lora-nb {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in SUBCOMMANDS.items():
        mod = importlib.import_module(f".commands.{name}", __package__)
        p = sub.add_parser(name, help=help_text, description=(mod.__doc__ or help_text).strip(),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .errors import LoraNbError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except LoraNbError as e:
        print(f"lora-nb {args.command}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # last resort: the writers map these themselves (fscheck.storage_errors)
        from pathlib import Path

        from .fscheck import storage_error

        err = storage_error(e, Path(e.filename).parent if e.filename else Path.cwd())
        if err is None:
            raise
        print(f"lora-nb {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lora-nb {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
