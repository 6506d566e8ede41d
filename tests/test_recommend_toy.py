"""The recommendation on the toy world: runs on the sample star with the built-in tiny-shapes model,
judged by the star detector plugged in as a concept scorer (lora_nb.toy.detect.STAR_SCORER) next to
tiny CLIP/DINOv2 - the same logic the CPU course and a real run get. Drawn as calibrated in
bench/recommend_calibration.py (bench/README.md "Recommendation calibration"): 4 seeds, 20 steps, CFG 5."""

from pathlib import Path

import pytest

from lora_nb.evaluate.forgetting import DRIFT_NOISE
from lora_nb.evaluate.recommend import drift
from lora_nb.toy.demo import DEMO_RECIPE, DEMO_SAVE_EVERY, DEMO_STEPS, STAR_PROMPT

ROOT = Path(__file__).resolve().parents[1]
UNRELATED = "a red circle on a blue background"
EVAL = dict(seeds=[0, 1, 2, 3], steps=20, cfg=5.0, width=64, height=64)
OVER = dict(learning_rate=10 * DEMO_RECIPE["learning_rate"])  # ten times the demo's learning rate


@pytest.fixture(scope="module")
def star_data(tmp_path_factory):
    from lora_nb.dataset.crop import crop_folder

    root = tmp_path_factory.mktemp("star")
    crop_folder(ROOT / "datasets_sample" / "20_zigzag_star", root / "20_zigzag_star", resolution=64, mode="focus",
                focus="saliency", progress=False)
    return root


def train_and_evaluate(star_data, tmp, tiny_eval_models, steps, every, seed=0, strengths=(1.0,), **recipe):
    from lora_nb.config import Config
    from lora_nb.evaluate.report import evaluate_run
    from lora_nb.toy.builtin import builtin_model_dir
    from lora_nb.toy.detect import STAR_SCORER
    from lora_nb.training.trainer import train

    cfg = Config(pretrained_model=str(builtin_model_dir()), train_data_dir=str(star_data), resolution=64,
                 **{**DEMO_RECIPE, **recipe}, max_train_steps=steps, save_every_n_steps=every, seed=seed,
                 sample_prompts=[STAR_PROMPT, UNRELATED], sample_steps=1, output_dir=str(tmp / "run"))
    train(cfg)
    clip, dino = map(str, tiny_eval_models)
    return evaluate_run(tmp / "run", clip_model=clip, dino_model=dino, scorers=[STAR_SCORER],
                        strengths=list(strengths), progress=False, grid=False, lang="en", **EVAL)


@pytest.fixture(scope="module")
def normal_runs(star_data, tiny_eval_models, tmp_path_factory):
    """The demo's recipe with training seeds 0 and 1, measured at strength 1 (trained once for the module)."""
    return [train_and_evaluate(star_data, tmp_path_factory.mktemp(f"normal{seed}"), tiny_eval_models, DEMO_STEPS,
                               DEMO_SAVE_EVERY, seed) for seed in (0, 1)]


@pytest.mark.parametrize("seed", [0, 1])
def test_over_trained_run_is_flagged_and_an_earlier_checkpoint_chosen(star_data, tiny_eval_models, tmp_path, seed):
    """The LoRA redraws the unrelated prompt by more than the base model's seeds do (calibrated: 1.9x)."""
    rep = train_and_evaluate(star_data, tmp_path, tiny_eval_models, 60, 20, seed, **OVER)
    r, m = rep.recommendation, rep.measurements
    assert "overfit" in r.warnings and "underfit" not in r.warnings, rep.markdown()
    assert "unrelated prompts change" in r.warnings["overfit"] and "another seed" in r.warnings["overfit"]
    assert drift(m.cells[-1][1]) > DRIFT_NOISE, rep.markdown()
    assert r.step < m.steps[-1], rep.markdown()


def test_under_trained_run_is_flagged_under_fit(star_data, tiny_eval_models, tmp_path):
    rep = train_and_evaluate(star_data, tmp_path, tiny_eval_models, 20, 10)
    r = rep.recommendation
    assert "underfit" in r.warnings and "overfit" not in r.warnings, rep.markdown()
    assert "train longer" in r.warnings["underfit"]


@pytest.mark.slow
def test_normal_runs_are_not_flagged_over_fit_at_strength_1(normal_runs):
    """The calibrated drift rule: the demo's recipe (two training seeds) stays below DRIFT_NOISE at strength 1 at
    every checkpoint, where the bare ratio to the concept prompt's change (0.8) flagged it."""
    for rep in normal_runs:
        m = rep.measurements
        assert "overfit" not in rep.recommendation.warnings, rep.markdown()
        assert all(drift(row[1]) < DRIFT_NOISE for row in m.cells), rep.markdown()


@pytest.mark.slow
def test_demo_recipe_run_picks_a_checkpoint_within_the_noise_of_the_best(normal_runs):
    for rep in normal_runs:
        r, m = rep.recommendation, rep.measurements
        stars = m.values("star", 1.0)
        assert r.measure == "star" and r.value >= max(stars) - r.tolerance, rep.markdown()
        assert r.value > m.cells[0][0]["star"], rep.markdown()  # the concept is there
        assert "no checkpoint shows the concept" not in r.warnings.get("underfit", "")
