"""Plan a training run before launching it: the step arithmetic (steps per concept, warmup,
checkpoint and sample steps, time), the tutorials' recipe advice (lr by rank, steps by dataset size,
rank by purpose, alpha, repeats, concepts) and whether it fits the GPU's memory, with the changes
that make it fit.

Examples:
  lora-nb plan my.toml --purpose person --gpu T4-16GB
  lora-nb plan my.toml --concept landscape=100 --concept camping=30 --concept car=1000 --gpu 24GB
  lora-nb plan my.toml --gpu detect --measure          # on a GPU: a 2-step dry run corrects the prediction
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import ConfigError


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..planning.advice.tables import FIT_LEVELS, PURPOSES, REPEATS_EPOCHS
    from ..planning.memory.gpus import GPU_PRESETS

    p.add_argument("config", help="The training config (TOML or JSON), as written by `lora-nb config`.")
    p.add_argument("--purpose", choices=list(PURPOSES),
                   help="What the LoRA teaches; sets the rank range and the step advice (default: person).")
    p.add_argument("--dataset-type", choices=list(REPEATS_EPOCHS),
                   help="For LoRA explainer's repeats x epochs (default: from --purpose).")
    p.add_argument("--fit", choices=list(FIT_LEVELS), default="normal",
                   help="Flux LoRA guide's lighter (normal) or closer fit, "
                        "which also learns setting, clothes and pose.")
    sim = p.add_mutually_exclusive_group()
    sim.add_argument("--similar", dest="similar", action="store_true", default=None,
                     help="Several concepts are alike (e.g. two similar models): one LoRA may hold them.")
    sim.add_argument("--different", dest="similar", action="store_false",
                     help="Several concepts are unlike each other: train one LoRA per concept.")
    p.add_argument("--gpu", default="detect",
                   help=f"GPU to check the fit against: {', '.join(GPU_PRESETS)}, 'detect' (this machine's) "
                        f"or 'none'.")
    p.add_argument("--quantization", choices=("none", "nf4", "int8"), default=None,
                   help="What if: override the config's quantization of the frozen base model.")
    p.add_argument("--gradient-checkpointing", choices=("yes", "no"), default=None,
                   help="What if: override the config's gradient_checkpointing.")
    p.add_argument("--batch", type=int, default=None, help="What if: override train_batch_size.")
    p.add_argument("--resolution", type=int, default=None, help="What if: override resolution.")
    p.add_argument("--concept", action="append", metavar="NAME=N[xR]", default=None,
                   help="What-if instead of scanning train_data_dir: a concept with N images and R repeats "
                        "(repeat the flag for several).")
    p.add_argument("--images", type=int, default=None,
                   help="What-if: one concept of this many images (repeats = default_repeats).")
    p.add_argument("--step-seconds", type=float, default=None,
                   help="A measured time per optimizer step, for the time estimate.")
    p.add_argument("--measure", action="store_true",
                   help="On a CUDA GPU: run 2 real training steps to measure the peak memory and step time, "
                        "and correct the prediction with them.")
    p.add_argument("--figures", metavar="DIR", default=None,
                   help="Also write lr_schedule.png and memory.png into this folder.")
    p.add_argument("--json", action="store_true", help="Print the plan as JSON instead of Markdown.")


def _parse_concept(text: str, default_repeats: int) -> tuple[str, tuple[int, int]]:
    name, sep, rest = text.rpartition("=")
    try:
        if not sep or not name:
            raise ValueError
        n, _, r = rest.lower().partition("x")
        return name, (int(r) if r else default_repeats, int(n))
    except ValueError:
        raise ConfigError(f"--concept {text!r}: expected NAME=N or NAME=NxR (N images, R repeats), "
                          f"e.g. car=1000 or cat=20x10") from None


def run(args: argparse.Namespace) -> int:
    from ..config import Config
    from ..fileio import atomic_path
    from ..planning.memory.gpus import resolve_gpu
    from ..planning.memory.measure import measure_peak
    from ..planning.planner import plan, render_figures, render_markdown

    config = Config.load(args.config)
    counts = None
    if args.concept:
        counts = dict(_parse_concept(c, config.default_repeats) for c in args.concept)
    elif args.images is not None:
        if args.images < 1:
            raise ConfigError("--images must be at least 1")
        counts = {"dataset": (config.default_repeats, args.images)}
    overrides = {}
    if args.quantization is not None:
        overrides["quantization"] = args.quantization
    if args.gradient_checkpointing is not None:
        overrides["gradient_checkpointing"] = args.gradient_checkpointing == "yes"
    if args.batch is not None:
        overrides["train_batch_size"] = args.batch
    if args.resolution is not None:
        overrides["resolution"] = args.resolution
    if overrides:
        config = config.replace(**overrides)
    gpu = resolve_gpu(args.gpu)
    # the dry run trains the config on this machine's GPU (the trainer applies this GPU's preset)
    measured = measure_peak(config) if args.measure else None
    p = plan(config, purpose=args.purpose, dataset_type=args.dataset_type, fit=args.fit, similar=args.similar,
             gpu=gpu, counts=counts, measured=measured, step_seconds=args.step_seconds)
    if args.json:
        print(json.dumps(p.to_dict(), indent=2, default=str, ensure_ascii=False))
    else:
        sys.stdout.write(render_markdown(p))
    if args.figures:
        out = Path(args.figures)
        out.mkdir(parents=True, exist_ok=True)
        figs = render_figures(p)
        for name, fig in (("lr_schedule", figs["lr"]), ("memory", figs["memory"])):
            with atomic_path(out / f"{name}.png") as tmp:
                fig.savefig(tmp, format="png", dpi=100)
            print(f"wrote {out / f'{name}.png'}", file=sys.stderr)
    return 0
