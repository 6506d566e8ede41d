"""Step 6: an XY grid of LoRA checkpoints x strengths (x prompts x seeds), saved as one labelled PNG.

Rows are the checkpoints (ordered by training step, the final file last), columns the strengths;
every cell uses the same seed, so differences come from the LoRA alone (FluxTrainer walkthrough §8: "converged
at 1500 steps, best strength near 0.8"). Any axis can be another parameter:

  lora-nb xy --base MODEL --lora run/ --prompt "uehxbfklaq cat on a sofa" --seeds 1 --out grid.png
  lora-nb xy --base MODEL --lora run/lora.safetensors --prompt "a cat" --y cfg=5,7,9 --x steps=10,20
  lora-nb xy --base MODEL --lora a.safetensors --prompt "a cat" --x "prompt_sr=cat,dog,fox"
  lora-nb xy --base MODEL --lora a.safetensors --prompt "a cat" --x blocks=ALL,INALL,OUTALL --strengths 1
  lora-nb xy --base MODEL --mix --lora land=l.safetensors car=c.safetensors --weights 0,0.5,1 \\
             --weights 0,0.5,1 --prompt "xqzlandsc landscape, vkrmcarzz car"
  lora-nb xy --base MODEL --forgetting --lora run/lora.safetensors --concept-prompt "uehxbfklaq cat"

Axes beyond --x and --y (more prompts or seeds, --z) become panels stacked under each other.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers separated by commas, e.g. 0,0.5,1") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..evaluate.settings import DEFAULT_STRENGTHS, SampleSettings
    from ._option_flags import add_option_flags

    p.add_argument("--base", required=True, metavar="MODEL",
                   help="Base model: a local diffusers folder or a Hugging Face repo id (SD1.5, SDXL or Flux).")
    p.add_argument("--lora", nargs="+", default=[], metavar="FILE",
                   help="LoRA .safetensors files (kohya or diffusers layout) or run folders holding checkpoints. "
                        "With --mix, NAME=FILE names a LoRA on the grid.")
    p.add_argument("--strengths", type=_floats, default=None, metavar="LIST",
                   help=f"LoRA strengths for the columns (default {','.join(f'{v:g}' for v in DEFAULT_STRENGTHS)} "
                        f"as in the FluxTrainer walkthrough).")
    p.add_argument("--prompt", nargs="+", default=[], metavar="TEXT",
                   help="Prompt(s); more than one adds a panel per prompt. Include the trigger word.")
    p.add_argument("--x", default=None, metavar="AXIS",
                   help="Across: strength (default), lora, prompt, seed, or NAME=V1,V2 with NAME one of cfg, steps, "
                        "sampler, prompt_sr, size, seed, strength, prompt, negative, blocks (e.g. cfg=5,7,9; "
                        "blocks=ALL,INALL,OUTALL: LoRA Block Weight presets, SD1.5/SDXL).")
    p.add_argument("--y", default=None, metavar="AXIS", help="Down: lora (default) or any axis as for --x.")
    p.add_argument("--z", action="append", default=[], metavar="AXIS",
                   help="Further axis as NAME=V1,V2; each value gets its own panel. Repeatable.")
    p.add_argument("--quantize", default=None, choices=("nf4",),
                   help="Load the denoiser (and Flux's T5) in 4-bit NF4 (bitsandbytes, GPU only): Flux on a T4.")
    p.add_argument("--mix", action="store_true",
                   help="Load all --lora files at once and grid over their weights (Flux LoRA guide, example 3).")
    p.add_argument("--weights", action="append", type=_floats, default=None, metavar="LIST",
                   help="With --mix: the weights to try for one LoRA, once per --lora in order (default 0,0.5,1).")
    p.add_argument("--combo", action="append", type=_floats, default=None, metavar="LIST",
                   help="With --mix: one explicit weight combination (one weight per LoRA) per row. Repeatable.")
    p.add_argument("--forgetting", action="store_true",
                   help="Forgetting check: with vs without the LoRA on prompts unrelated to its concept "
                        "(--prompt, or built-in ones).")
    p.add_argument("--strength", type=float, default=1.0, metavar="F",
                   help="With --forgetting: the LoRA strength to check (default 1.0).")
    p.add_argument("--concept-prompt", default=None, metavar="TEXT",
                   help="With --forgetting: the LoRA's own prompt, shown as a reference row.")
    p.add_argument("--title", default=None, metavar="TEXT", help="Sheet title (default: model and fixed settings).")
    p.add_argument("--out", default="xy_grid.png", metavar="PNG", help="Where to write the sheet (PNG).")
    p.add_argument("--save-cells", default=None, metavar="DIR", help="Also write every cell as a full-size PNG here.")
    p.add_argument("--no-progress", action="store_true", help="Hide the progress bar.")
    add_option_flags(p, SampleSettings, "sample_", "sample settings (every cell)")


def _named_loras(items: list[str]):
    """NAME=FILE entries (when FILE exists and the whole text is not itself a file) -> {name: file}."""
    named, plain = {}, []
    for item in items:
        name, sep, path = item.partition("=")
        if sep and not Path(item).exists() and Path(path).exists():
            named[name] = path
        else:
            plain.append(item)
    if named and plain:
        from ..errors import ConfigError

        raise ConfigError("--mix: name all LoRAs as NAME=FILE or none of them")
    return named or plain


def run(args) -> int:
    from ..errors import ConfigError
    from ..evaluate.forgetting import forgetting_check
    from ..evaluate.settings import SampleSettings
    from ..evaluate.xy import mix_grid, xy_grid
    from ..fscheck import output_file, writable_folder
    from ._option_flags import options_from_args

    s = options_from_args(args, SampleSettings, "sample_", progress=not args.no_progress)
    if sum((args.mix, args.forgetting)) > 1:
        raise ConfigError("choose one of --mix and --forgetting")
    if (args.weights or args.combo) and not args.mix:
        raise ConfigError("--weights/--combo belong to --mix -> add --mix")
    if not args.lora and (args.mix or args.forgetting):
        raise ConfigError("--mix and --forgetting need --lora FILE")
    if args.forgetting and len(args.lora) != 1:
        raise ConfigError("--forgetting checks one LoRA file -> pass the checkpoint you chose to --lora")
    if not args.prompt and not args.forgetting:
        raise ConfigError("give at least one --prompt (with the LoRA's trigger word)")

    output_file(args.out, "--out")  # before minutes of rendering, not after
    if args.save_cells:
        writable_folder(args.save_cells, "--save-cells folder")
    # the grids load the base themselves, after their LoRA files and axes are checked (a bad axis: one line at once)
    base, label = args.base, Path(args.base).name or args.base
    if args.forgetting:
        rep = forgetting_check(base, args.lora[0], args.prompt or None, strength=args.strength,
                               concept_prompt=args.concept_prompt, settings=s, quantize=args.quantize)
        res = rep.grid
        print(rep.summary())
    elif args.mix:
        res = mix_grid(base, _named_loras(args.lora), args.prompt, args.weights, combos=args.combo,
                       x=args.x, y=args.y, axes=args.z, title=args.title, settings=s, quantize=args.quantize)
    else:
        res = xy_grid(base, args.lora, args.prompt, strengths=args.strengths, x=args.x or "strength",
                      y=args.y or "lora", axes=args.z, title=args.title, settings=s, quantize=args.quantize)
    out = res.save(args.out)
    if args.save_cells:
        res.save_cells(args.save_cells)
    panels, rows, cols = res.shape
    print(f"{label}: {panels} panel(s) of {rows} x {cols} ({res.y.title or '-'} x {res.x.title or '-'}) "
          f"-> {out} ({res.image.width}x{res.image.height} px)")
    return 0
