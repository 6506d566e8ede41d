"""Try a variation of the CPU course's recipe: train it on the sample star and score the star per checkpoint.

    OMP_NUM_THREADS=1 python bench/course_recipe.py --set '{"network_type": "locon"}' --seed 1 [--work DIR]
    OMP_NUM_THREADS=1 python bench/course_recipe.py --steps 600 --every 150

The course's recipe (`lora_nb.toy.demo.DEMO_RECIPE`, 300 steps, a checkpoint every 75) with the fields in
`--set` changed, trained on `datasets_sample/20_zigzag_star` focus-cropped to 64 px, then drawn at strengths
0 / 0.5 / 1 for 8 seeds (20 PNDM steps, CFG 5, the course's grid settings) and scored with
`lora_nb.toy.detect.star_curve`: the mean star score per cell, raw and as a share of the base model's
ceiling, and the last checkpoint's strength-1 score per seed. One thread; about 3 minutes on a 2-core VM.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lora_nb.config import Config  # noqa: E402
from lora_nb.dataset.crop import CropOptions, crop_folder  # noqa: E402
from lora_nb.toy.builtin import builtin_model_dir  # noqa: E402
from lora_nb.toy.ceiling import star_ceiling  # noqa: E402
from lora_nb.toy.demo import DEMO_RECIPE, DEMO_SAVE_EVERY, DEMO_STEPS, DEMO_STRENGTHS, STAR_PROMPT  # noqa: E402
from lora_nb.toy.detect import score_grid, star_curve  # noqa: E402
from lora_nb.training.trainer import train  # noqa: E402

STAR = ROOT / "datasets_sample" / "20_zigzag_star"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", default="{}", help="JSON object of Config fields to change in the recipe")
    ap.add_argument("--seed", type=int, default=0, help="training seed")
    ap.add_argument("--steps", type=int, default=DEMO_STEPS)
    ap.add_argument("--every", type=int, default=DEMO_SAVE_EVERY, help="checkpoint interval")
    ap.add_argument("--work", type=Path, default=Path("/tmp/lora-nb-course-recipe"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    changed = json.loads(args.set)
    data = args.work / "data"
    if not (data / STAR.name).is_dir():
        crop_folder(STAR, data / STAR.name, CropOptions(resolution=64, mode="focus", focus="saliency"), progress=False)
    model = builtin_model_dir()
    t0 = time.time()
    cfg = Config(pretrained_model=str(model), train_data_dir=str(data), resolution=64, **{**DEMO_RECIPE, **changed},
                 max_train_steps=args.steps, save_every_n_steps=args.every, seed=args.seed, sample_prompts=[],
                 output_dir=str(args.work / "run"), overwrite=True)
    result = train(cfg)
    trained = time.time() - t0
    t0 = time.time()
    ceiling = star_ceiling(str(model))
    curve = star_curve(str(model), [f["kohya"] for _, f in result.checkpoints], STAR_PROMPT,
                       strengths=DEMO_STRENGTHS, seeds=tuple(range(8)), steps=20, cfg=5.0, ceiling=ceiling)
    curve.grid.save(args.work / "grid.png")
    print(f"recipe with {changed or 'no change'}, training seed {args.seed}, {args.steps} steps: trained in "
          f"{trained:.0f} s, scored in {time.time() - t0:.0f} s (grid: {args.work / 'grid.png'})")
    print(curve.markdown())
    last = np.array(score_grid(curve.grid))[:, -1, -1] / ceiling
    print("last checkpoint, strength 1, per seed (share of the ceiling):", " ".join(f"{v:.2f}" for v in last))


if __name__ == "__main__":
    main()
