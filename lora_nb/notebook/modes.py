"""How the notebooks run without a GPU: the one place that decides between the modes.

- smoke (`LORA_NB_SMOKE=1`, CI): the built-in tiny-shapes model, 2 training steps, 2 denoising steps -
  proves every cell runs, shows nothing learned.
- course (`LORA_NB_COURSE=cpu`): the same tiny model with the recipe that visibly teaches it the
  sample's zigzag star (`lora_nb.toy.demo.DEMO_RECIPE`, measured in bench/README.md), and an XY grid
  that shows it: four checkpoints x strengths 0 / 0.5 / 1 x eight seeds. The seven notebooks run in
  minutes on a 2-core CPU.
- neither: the real course (the family's base model on a GPU).

Notebooks ask `mode_overrides()` (00_setup: the project's config), `mode_sources()` (01_collect),
`train_settings()` (05_train) and `evaluate_settings(config)` (06_evaluate), so a mode's choices live
here and nowhere else.
"""

from __future__ import annotations

import os

from ..config import Config
from ..errors import LoraNbError
from ..toy.demo import DEMO_RECIPE, DEMO_SAVE_EVERY, DEMO_STEPS, SAMPLE_CONCEPT, toy_eval_models
from ..toy.detect import STAR_SCORER
from ..training.data import suggest_prompts
from .project import sample_dataset_dir, sample_sources, smoke_mode, smoke_overrides

COURSE_ENV = "LORA_NB_COURSE"
COURSE_VALUES = ("cpu",)
COURSE_SAMPLE_STEPS = 20  # the demo's grid steps: PNDM draws the tiny model's stars by 20, 2 leave noise
# a seed's picture either gets a star or not: one seed is a coin toss, and the mean of 4 moves by about
# 0.1 of the ceiling between checkpoints from the seeds alone (bench/README.md); 8 show the growth
COURSE_SEEDS = list(range(8))
COURSE_STRENGTHS = [0.0, 0.5, 1.0]
COURSE_CFG = 5.0
COURSE_SEED = 0  # the training seed of the run measured in bench/README.md ("CPU course")


def course_mode() -> bool:
    """LORA_NB_COURSE=cpu: the CPU course (the tiny model learns the sample star in minutes)."""
    value = os.environ.get(COURSE_ENV, "").strip().lower()
    if value and value not in COURSE_VALUES:
        raise LoraNbError(f"{COURSE_ENV}={value!r} is not a course mode -> set {COURSE_ENV}=cpu for the CPU course, "
                          f"or unset it")
    return bool(value)


def run_mode() -> str | None:
    """'course', 'smoke' or None (the real course). The course mode wins when both are set: it is the
    learner's explicit choice, smoke mode CI's."""
    if course_mode():
        return "course"
    return "smoke" if smoke_mode() else None


def course_overrides(model_dir: str | os.PathLike | None = None) -> dict:
    """Config values for the CPU course: smoke mode's tiny model and precision, the demo's recipe, steps
    and checkpoints, and validation samples drawn with enough steps to show the star."""
    return {**smoke_overrides(model_dir), **DEMO_RECIPE, "max_train_steps": DEMO_STEPS,
            "save_every_n_steps": DEMO_SAVE_EVERY, "sample_steps": COURSE_SAMPLE_STEPS, "seed": COURSE_SEED}


def mode_overrides() -> dict | None:
    """00_setup's config overrides for the current mode (None: the family's defaults)."""
    mode = run_mode()
    return course_overrides() if mode == "course" else smoke_overrides() if mode == "smoke" else None


def mode_sources() -> list[str]:
    """01_collect's sources when the learner gives none: the sample dataset; in the CPU course only its
    zigzag star (with the ring's 4 pictures mixed in, the tiny model drew green blobs instead of stars
    by step 300: bench/README.md)."""
    if run_mode() == "course":
        return [str(sample_dataset_dir() / SAMPLE_CONCEPT)]
    return sample_sources()


def train_settings() -> dict:
    """05_train's display settings: smoke mode waits in the cell and redraws every step (CI)."""
    mode = run_mode()
    if mode == "smoke":
        return {"background": False, "live_every": 1}
    return {"live_every": 25} if mode == "course" else {}


def concept_prompt(config: Config) -> str:
    """The main concept's prompt: its first caption's identifier and class word ("This image is labeled
    as <id>. a toy star"), without what varies between its pictures (size, position, background)."""
    prompts = suggest_prompts(config.train_data_dir, unrelated=0)
    if not prompts:
        raise LoraNbError(f"no captions in {config.train_data_dir} -> run 03_caption (or 04_clean_tags) first")
    return prompts[0].split(",")[0].strip()


def evaluate_settings(config: Config) -> dict:
    """06_evaluate's grid and measures for the current mode: smoke draws 2 strengths with 2 steps on the
    main concept's prompt; the course mode the star over strengths 0 / 0.5 / 1 and eight seeds; both
    measure offline ("measures": seeds per cell, CLIP, DINOv2, concept scorers)."""
    mode = run_mode()
    if mode == "smoke":
        return {"prompts": [concept_prompt(config)], "strengths": [0.0, 1.0], "steps": 2,
                "measures": _toy_measures([0, 1])}
    if mode == "course":
        return {"prompts": [concept_prompt(config)], "strengths": COURSE_STRENGTHS, "seeds": COURSE_SEEDS,
                "steps": COURSE_SAMPLE_STEPS, "cfg": COURSE_CFG, "measures": _toy_measures(COURSE_SEEDS[:4])}
    return {}


def _toy_measures(seeds: list[int]) -> tuple:
    """(seeds per cell, CLIP, DINOv2, concept scorers) for the recommendation off the hub: tiny offline
    CLIP/DINOv2 (random weights: they run every code path) and the star detector, which decides (as the demo)."""
    clip, dino = toy_eval_models()
    return seeds, clip, dino, [STAR_SCORER]
