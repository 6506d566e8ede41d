"""SD1.5/SDXL step advice grows with the dataset, with no cliff where one rule hands over to the next."""

import pytest

from lora_nb.config import Config
from lora_nb.i18n import set_language
from lora_nb.planning.advice.recipe import advise, recommend
from lora_nb.planning.advice.steps import fewer_passes
from lora_nb.planning.advice.tables import FIT_LEVELS, REFERENCE_SET, REPEATS_EPOCHS

SIZES = range(1, 801)
# Neighbouring sizes differ by at most (n+1)/n before rounding: 2x from 1 to 2 images; from 10 images on, the only
# jump left is rounding to the checkpoint interval (1000 -> 1250 at batch 4).
MAX_STEP, MAX_STEP_FROM_10 = 2.0, 1.25


def _steps(family: str, n: int, kind: str = "person", fit: str = "normal", batch: int = 1) -> int:
    return recommend(n, purpose="person", family=family, dataset_type=kind, fit=fit, batch=batch).loras[0].steps


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
@pytest.mark.parametrize("kind", list(REPEATS_EPOCHS))
def test_sd_steps_never_fall_as_images_are_added(family, kind):
    for fit in FIT_LEVELS:
        for batch in (1, 4):
            steps = [_steps(family, n, kind, fit, batch) for n in SIZES]
            for n, (a, b) in enumerate(zip(steps, steps[1:]), start=1):
                assert a <= b, f"{family} {kind} {fit} batch {batch}: {n} images -> {a} steps, {n + 1} -> {b}"
                assert b <= (MAX_STEP if n < 10 else MAX_STEP_FROM_10) * a, (family, kind, fit, batch, n, a, b)


def test_sd_figures_around_the_reference_size():
    # LoRA explainer's 15 x 10 for a person: repeats x epochs up to REFERENCE_SET images, that total beyond
    assert REFERENCE_SET == 30
    assert [_steps("sd15", n) for n in (20, 30, 60, 61, 200)] == [3000, 4500, 4500, 4500, 4500]
    assert [_steps("sd15", n, batch=4) for n in (30, 60, 61, 200)] == [1250] * 4  # 30 x 15 / 4 x 10 = 1130
    assert [_steps("sdxl", n, fit="close") for n in (30, 60, 61, 200)] == [4500] * 4  # above the guide's 2500
    # the Flux LoRA guide's 4 epochs take over once they ask for more: 4 x 1126 = 4504; 4 x 2000 = 8000
    assert [_steps("sd15", n) for n in (1125, 1126, 2000)] == [4500, 4500, 8000]
    assert [_steps("sdxl", n, "anime") for n in (30, 200, 2000)] == [5000, 5000, 8000]  # 30 x 8 x 20 = 4800


def test_sd_steps_say_why(default_language):
    assert "lower the epochs" in recommend(200, family="sd15").loras[0].reasons["steps"]
    why = recommend(200, family="sd15", dataset_type="person").loras[0].reasons["steps"]
    assert "30 images x 15 repeats x 10 epochs" in why and "seen about 22.5 times instead of 150" in why
    assert "Flux LoRA guide would give 1500" in why
    big = recommend(2000, family="sdxl", dataset_type="person").loras[0].reasons["steps"]
    assert "Flux LoRA guide asks for more" in big and "4 epochs of 2000 images = 8000 steps" in big
    small = recommend(20, family="sd15", dataset_type="person").loras[0].reasons["steps"]
    assert "20 images x 15 repeats x 10 epochs" in small and "lower the epochs" not in small
    set_language("zh")  # the default_language fixture sets it back
    zh = recommend(200, family="sd15", dataset_type="person").loras[0].reasons["steps"]
    assert "每张图像约学 22.5 次，而不是 150 次" in zh and "减少 epoch" in zh


def test_flux_steps_unchanged():
    # the Flux LoRA guide's bands: 500 below 45 images, 1500 (2500 close) below 225; at batch 4 a quarter, aligned
    flux = {n: [recommend(n, purpose="person", family="flux", fit=f, batch=b).loras[0].steps
                for f in FIT_LEVELS for b in (1, 4)] for n in (30, 60, 61, 200, 1000)}
    assert flux == {30: [500, 125, 1500, 400], 60: [1500, 400, 2500, 600], 61: [1500, 400, 2500, 600],
                    200: [1500, 400, 2500, 600], 1000: [4000, 1000, 4000, 1000]}


def test_repeats_advice_lowers_the_passes_to_the_recipe():
    c = Config(family="sd15", rank=32, alpha=16.0)
    rep = next(a for a in advise(c, {"x": 200}, purpose="person") if a.topic == "repeats")
    assert "30000 steps" in rep.message  # 200 x 15 x 10 as written
    assert "11 repeat(s) x 2 epochs gives 4400 steps, near the recipe's 4500" in rep.message
    small = next(a for a in advise(c, {"x": REFERENCE_SET}, purpose="person") if a.topic == "repeats")
    assert "But" not in small.message
    # epochs go first; repeats only when one epoch of the set is already past the target
    assert fewer_passes(4500, 100, 15, 10) == (15, 3, 4500)
    assert fewer_passes(4500, 800, 15, 10) == (6, 1, 4800)
