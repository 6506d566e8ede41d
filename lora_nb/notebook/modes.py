"""How the notebooks run without a GPU: the one place that decides between the modes.

- smoke (`LORA_NB_SMOKE=1`, CI): the built-in tiny-shapes model, 2 training steps, 2 denoising steps -
  proves every cell runs, shows nothing learned.
- course (`LORA_NB_COURSE=cpu`): the same tiny model with the recipe that visibly teaches it the
  sample's zigzag star (`lora_nb.toy.demo.DEMO_RECIPE`, measured in bench/README.md), and an XY grid
  that shows it: four checkpoints x strengths 0 / 0.5 / 1 x eight seeds. The seven notebooks run in
  minutes on a 2-core CPU.
- neither: the real course (the family's base model on a GPU).

Notebooks ask `mode_overrides()` (00_setup: the project's config), `mode_sources()` (01_collect),
`mode_captioner()` (03_caption), `train_settings()` (05_train) and `evaluate_settings(config)` (06_evaluate),
so a mode's choices live here and nowhere else. In smoke and course mode steps 1-4 work on the sample's raw
set (`datasets_sample/raw`: uncropped, some captions missing or faulty, one broken file), so each step has
something to do; `sample_clean_settings` and `sample_audit_note` are what 04 and 01 say about the sample.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..config import Config
from ..dataset.auditor import Audit
from ..dataset.caption_files import load_triggers
from ..errors import LoraNbError
from ..i18n import t
from ..toy.captioner import ToyCaptioner
from ..toy.demo import DEMO_RECIPE, DEMO_SAVE_EVERY, DEMO_STEPS, SAMPLE_CONCEPT, SAMPLE_TEMPLATE, toy_eval_models
from ..toy.detect import STAR_SCORER
from ..training.data import suggest_prompts
from .project import SAMPLE_RAW, sample_dataset_dir, sample_sources, smoke_mode, smoke_overrides

COURSE_ENV = "LORA_NB_COURSE"
COURSE_VALUES = ("cpu",)
COURSE_SAMPLE_STEPS = 20  # the demo's grid steps: PNDM draws the tiny model's stars by 20, 2 leave noise
# a seed's picture either gets a star or not: one seed is a coin toss, and the mean of 4 moves by about
# 0.1 of the ceiling between checkpoints from the seeds alone (bench/README.md); 8 show the growth
COURSE_SEEDS = list(range(8))
# the grid draws 4 of them (2 x 2 panels in 06), each 64 px picture enlarged to 128 px (nearest): 8 stacked panels
# of 64 px cells were a 272 px-wide strip; the measured recommendation above the grid still takes all 8
COURSE_GRID_SEEDS = COURSE_SEEDS[:4]
COURSE_CELL_SIZE = 128
COURSE_STRENGTHS = [0.0, 0.5, 1.0]
COURSE_CFG = 5.0
COURSE_SEED = 0  # the training seed of the run measured in bench/README.md ("CPU course")
FEW_IMAGES = ("too_few_images", "few_images")  # the audit's warnings about a small set


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
    """01_collect's sources when the learner gives none: the sample dataset. Smoke and course mode collect
    its raw set, so crop, caption and clean each have work to show; the CPU course only its zigzag star (with
    the ring's 4 pictures mixed in, the tiny model drew green blobs instead of stars by step 300:
    bench/README.md)."""
    mode = run_mode()
    if mode == "course":
        return [str(sample_dataset_dir() / SAMPLE_RAW / SAMPLE_CONCEPT)]
    return sample_sources(raw=mode == "smoke")


def mode_captioner() -> ToyCaptioner | None:
    """03_caption's captioner in smoke and course mode: the toy world's own (`lora_nb.toy.captioner`), which
    reads the sample's scenes; None: the form's backend (a captioning model)."""
    return ToyCaptioner() if run_mode() else None


def sample_clean_settings(folder: str | os.PathLike) -> dict:
    """04_clean_tags' trigger settings for the sample (trigger "auto"): each concept folder's own id (from
    `datasets_sample/triggers.json`, for the folders `folder` holds), the sample's template, and captions read
    as tags after the id sentence, so that dedupe and the blacklist work on them."""
    ids = load_triggers(sample_dataset_dir())
    present = sorted(p.name for p in Path(folder).iterdir() if p.is_dir() and p.name in ids)
    return {"trigger": ", ".join(f"{c}={ids[c]}" for c in present), "template": SAMPLE_TEMPLATE, "style": "tags"}


def sample_audit_note(audit: Audit) -> str:
    """01's line under the audit of the sample: the set is small on purpose ("" when the audit does not say so)."""
    return t("nb.sample_small") if any(w.code in FEW_IMAGES for w in audit.warnings) else ""


def train_settings() -> dict:
    """05_train's settings: smoke mode waits in the cell and redraws every step (CI); the CPU course names
    the fields its recipe fixes ("fixed", for `plan`)."""
    mode = run_mode()
    if mode == "smoke":
        return {"background": False, "live_every": 1}
    if mode == "course":  # the plan keeps the course's recipe rather than advising the full-size rules
        return {"live_every": 25, "fixed": dict.fromkeys(course_overrides(), t("plan.kept_course"))}
    return {}


def concept_prompt(config: Config) -> str:
    """The main concept's prompt: its first caption's identifier and class word ("This image is labeled
    as <id>. a toy star"), without what varies between its pictures (size, position, background)."""
    prompts = suggest_prompts(config.train_data_dir, unrelated=0)
    if not prompts:
        raise LoraNbError(f"no captions in {config.train_data_dir} -> run 03_caption (or 04_clean_tags) first")
    return prompts[0].split(",")[0].strip()


def evaluate_settings(config: Config) -> dict:
    """06_evaluate's grid and measures for the current mode: smoke draws 2 strengths with 2 steps on the
    main concept's prompt; the course mode the star over strengths 0 / 0.5 / 1 and four seeds at 128 px (eight
    measured); both
    measure offline ("measures": seeds per cell, CLIP, DINOv2, concept scorers)."""
    mode = run_mode()
    if mode == "smoke":
        return {"prompts": [concept_prompt(config)], "strengths": [0.0, 1.0], "steps": 2,
                "measures": _toy_measures([0, 1])}
    if mode == "course":
        return {"prompts": [concept_prompt(config)], "strengths": COURSE_STRENGTHS, "seeds": COURSE_GRID_SEEDS,
                "steps": COURSE_SAMPLE_STEPS, "cfg": COURSE_CFG, "cell_size": COURSE_CELL_SIZE,
                "measures": _toy_measures(COURSE_SEEDS)}
    return {}


def _toy_measures(seeds: list[int]) -> tuple:
    """(seeds per cell, CLIP, DINOv2, concept scorers) for the recommendation off the hub: tiny offline
    CLIP/DINOv2 (random weights: they run every code path) and the star detector, which decides (as the demo)."""
    clip, dino = toy_eval_models()
    return seeds, clip, dino, [STAR_SCORER]
