"""Run the whole course pipeline on datasets_sample/ with the built-in tiny-shapes base model, on CPU,
offline: collect -> crop -> tags -> plan -> train -> XY grid. Writes the LoRA files (kohya +
diffusers), xy_grid.png and (on the sample star) star_scores.md into --out.
"""

from __future__ import annotations


def add_arguments(p):
    p.add_argument("--out", required=True, help="output folder for every step's results")
    p.add_argument("--data", help="captioned image folder to use instead of datasets_sample/20_zigzag_star")
    p.add_argument("--model", help="base model folder or hub id instead of the built-in tiny-shapes model")
    from ..toy.demo import DEMO_SAVE_EVERY, DEMO_STEPS

    p.add_argument("--steps", type=int, default=DEMO_STEPS, help=f"training steps (default {DEMO_STEPS})")
    p.add_argument("--save-every", type=int, default=DEMO_SAVE_EVERY,
                   help=f"checkpoint and sample interval in steps (default {DEMO_SAVE_EVERY})")
    p.add_argument("--resolution", type=int, default=64, help="training resolution (default 64 for the tiny model)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--grid-seeds", type=int, default=4, help="seeds per XY-grid cell on the sample star (default 4)")
    p.add_argument("--grid-steps", type=int, default=20, help="denoising steps of the XY-grid images (default 20)")


def run(args) -> int:
    from ..toy.demo import run_demo

    res = run_demo(args.out, data=args.data, model=args.model, steps=args.steps, save_every=args.save_every,
                   resolution=args.resolution, seed=args.seed, grid_seeds=args.grid_seeds,
                   grid_steps=args.grid_steps)
    print(f"demo done: LoRA {res.lora_files.get('kohya')}, grid {res.grid}")
    return 0
