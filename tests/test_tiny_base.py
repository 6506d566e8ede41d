"""The built-in base model `lora_nb/models/tiny-shapes`: it loads as SD1.5 does, draws the scenes it
was trained on, has never seen the sample's zigzag star, and a LoRA trained on the star (with the
kit's own trainer and XY grid) makes it draw one - more at strength 1 than 0, more after more steps."""

import json
import math
from pathlib import Path

import pytest
import torch

from lora_nb.toy.builtin import builtin_model_dir
from lora_nb.toy.demo import DEMO_RECIPE, DEMO_SAVE_EVERY, DEMO_STEPS, STAR_PROMPT
from lora_nb.toy.detect import check_prompts, star_curve, star_score

MODEL = builtin_model_dir()
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pipe():
    from diffusers import StableDiffusionPipeline

    p = StableDiffusionPipeline.from_pretrained(MODEL)  # default arguments, as a learner would call it
    p.set_progress_bar_config(disable=True)
    return p


def test_folder_is_an_sd15_diffusers_model_of_a_few_megabytes():
    index = json.loads((MODEL / "model_index.json").read_text(encoding="utf-8"))
    assert index["_class_name"] == "StableDiffusionPipeline"
    assert index["unet"] == ["diffusers", "UNet2DConditionModel"] and index["vae"] == ["diffusers", "AutoencoderKL"]
    assert index["text_encoder"] == ["transformers", "CLIPTextModel"]
    assert index["tokenizer"][1] in ("CLIPTokenizer", "CLIPTokenizerFast")
    assert index["scheduler"] == ["diffusers", "PNDMScheduler"]
    weights = sorted(p.relative_to(MODEL).parts[0] for p in MODEL.rglob("*.safetensors"))
    assert weights == ["text_encoder", "unet", "vae"]
    assert not [p for p in MODEL.rglob("*") if p.suffix in (".bin", ".ckpt", ".pt", ".pth", ".pkl")]
    total = sum(p.stat().st_size for p in MODEL.rglob("*") if p.is_file())
    assert 2e6 < total < 12e6, total
    sched = json.loads((MODEL / "scheduler" / "scheduler_config.json").read_text(encoding="utf-8"))
    # SD1.5's schedule, so the kit's SD1.5 trainer (DDPMScheduler from this config) runs unchanged
    assert (sched["beta_start"], sched["beta_end"], sched["beta_schedule"], sched["num_train_timesteps"]) == (
        0.00085, 0.012, "scaled_linear", 1000)


def test_loads_in_fp32_and_the_tokenizer_spells_scene_words_whole(pipe):
    from lora_nb.toy.scenes import VOCABULARY

    assert {pipe.unet.dtype, pipe.vae.dtype, pipe.text_encoder.dtype} == {torch.float32}
    assert pipe.vae_scale_factor == 4 and pipe.unet.config.sample_size * 4 == 64
    assert pipe.unet.config.in_channels == pipe.vae.config.latent_channels
    tok = pipe.tokenizer
    assert all(len(tok(w, add_special_tokens=False).input_ids) == 1 for w in VOCABULARY)
    assert len(tok("donpzishnk", add_special_tokens=False).input_ids) > 1  # the trigger is no known word


def test_training_script_rebuilds_the_committed_tokenizer(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_tiny_base", ROOT / "scripts" / "train_tiny_base.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    from transformers import CLIPTokenizer

    rebuilt = mod.build_tokenizer(tmp_path / "tok")
    committed = CLIPTokenizer.from_pretrained(MODEL / "tokenizer")
    assert rebuilt.get_vocab() == committed.get_vocab()
    caption = ("This image is labeled as donpzishnk. a toy star, small, bottom right, "
               "teal and white gradient background")
    assert rebuilt(caption).input_ids == committed(caption).input_ids


def test_base_draws_the_scenes_it_was_trained_on(pipe):
    check = check_prompts(pipe, [("red", "circle", "blue"), ("green", "square", "yellow")], seeds=tuple(range(6)),
                          steps=15)
    # bench/README.md: colour 0.98, shape 0.86, background 1.00 over eight prompts and 8 seeds
    assert check.colour >= 0.8 and check.background >= 0.8, check.markdown()
    assert check.rows[0]["shape"] >= 0.6, check.markdown()  # the "a red circle on a blue background"
    assert check.rows[1]["shape"] >= 0.5, check.markdown()  # squares have corners (chance: 0.25)


def test_base_has_never_seen_the_star(pipe):
    scores = []
    for seed in range(4):
        img = pipe(STAR_PROMPT, num_inference_steps=15, guidance_scale=5.0,
                   generator=torch.Generator("cpu").manual_seed(seed)).images[0]
        scores.append(star_score(img).score)
    assert sum(scores) / len(scores) < 0.1, scores


def test_lora_on_the_sample_star_draws_it_more_with_strength_and_steps(tmp_path):
    """The course in miniature: crop the sample to 64 px, train a LoRA with the kit's trainer, render
    checkpoint x strength with the kit's XY grid, and measure the star in every cell."""
    from lora_nb.config import Config
    from lora_nb.dataset.crop import crop_folder
    from lora_nb.training.trainer import train

    crop_folder(ROOT / "datasets_sample" / "20_zigzag_star", tmp_path / "data" / "20_zigzag_star", resolution=64,
                mode="focus", focus="saliency", progress=False)
    cfg = Config(pretrained_model=str(MODEL), train_data_dir=str(tmp_path / "data"), resolution=64, **DEMO_RECIPE,
                 max_train_steps=DEMO_STEPS, save_every_n_steps=DEMO_SAVE_EVERY, seed=0, sample_prompts=[],
                 output_dir=str(tmp_path / "run"))
    result = train(cfg)
    ckpts = [files["kohya"] for _, files in result.checkpoints]
    # 8 seeds: a seed's picture either gets a star or not, so fewer seeds leave the mean to chance
    curve = star_curve(str(MODEL), ckpts, STAR_PROMPT, strengths=(0.0, 1.0), seeds=tuple(range(8)), steps=15)
    table, at1 = curve.markdown(), [curve.score(i, 1.0) for i in range(len(ckpts))]
    assert len(ckpts) == DEMO_STEPS // DEMO_SAVE_EVERY
    assert len({curve.score(i, 0.0) for i in range(len(ckpts))}) == 1, table  # strength 0 is the base model
    assert curve.score(0, 0.0) < 0.05, table
    assert at1[-1] > curve.score(0, 0.0) + 0.15, table
    assert at1[-1] > at1[0] and max(at1[1:]) > at1[0] + 0.05, table  # the star grows with training
    assert all(math.isfinite(v) for row in curve.scores for v in row)


@pytest.mark.slow
def test_training_script_quick_run_writes_a_loadable_model(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "model"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "train_tiny_base.py"), "--quick", "--out", str(out),
                           "--threads", "1"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    from diffusers import StableDiffusionPipeline

    p = StableDiffusionPipeline.from_pretrained(out)
    p.set_progress_bar_config(disable=True)
    img = p("a red circle", num_inference_steps=2, generator=torch.Generator().manual_seed(0)).images[0]
    assert img.size == (64, 64)
    assert (out.parent / "model.work" / "preview.png").is_file()
