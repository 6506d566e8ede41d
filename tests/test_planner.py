"""Step math, the learning-rate preview, the whole plan on a real dataset folder, rendering and CLI."""

import json
import math

import pytest

from lora_nb.cli import main
from lora_nb.config import Config
from lora_nb.errors import DatasetError
from lora_nb.planning.planner import lr_curve, lr_figure, plan, render_figures, render_markdown, step_plan


def cfg(**kw) -> Config:
    base = dict(family="sd15", resolution=512, rank=16, alpha=8.0, gpu_preset="none")
    base.update(kw)
    return Config(**base)


# --- step math -------------------------------------------------------------------------------
def test_step_math_per_concept_and_overall():
    sp = step_plan(cfg(train_batch_size=2, gradient_accumulation_steps=2, max_train_epochs=10),
                   {"circle": (2, 4), "square": (1, 3)})
    # 4x2 + 3x1 = 11 samples; ceil(11 / 2) = 6 batches; ceil(6 / 2) = 3 optimizer steps per epoch
    assert (sp.images, sp.samples_per_epoch, sp.steps_per_epoch, sp.total_steps) == (7, 11, 3, 30)
    assert sp.source == "max_train_epochs" and sp.epochs == 10
    circle, square = sp.concepts
    assert (circle.samples_per_epoch, circle.steps_per_epoch, circle.total_steps, circle.times_seen) == (8, 2, 20, 20)
    assert (square.samples_per_epoch, square.times_seen) == (3, 10)
    assert "11 samples per epoch" in sp.formula and "x 10 epochs = 30 steps" in sp.formula


def test_max_train_steps_overrides_epochs():
    sp = step_plan(cfg(max_train_steps=100, max_train_epochs=10), {"cat": 20})
    assert sp.total_steps == 100 and sp.source == "max_train_steps"
    assert sp.epochs == pytest.approx(5.0)
    assert any("overrides max_train_epochs" in n for n in sp.notes)


def test_bucket_exact_count_and_its_explanation():
    c = cfg(train_batch_size=2, max_train_epochs=4)
    counts = {"cat": (1, 11)}
    buckets = {(512, 512): 3, (384, 640): 3, (640, 384): 5}  # batches form within a bucket: 2 + 2 + 3
    sp = step_plan(c, counts, buckets)
    assert sp.steps_per_epoch == 6 and sp.steps_per_epoch_buckets == 7
    assert sp.total_steps == 28  # the trainer's count
    assert any("3 aspect-ratio buckets" in n for n in sp.notes)
    short = step_plan(c, counts, {(512, 512): 10})
    assert any("left out of buckets" in n for n in short.notes)
    with pytest.raises(DatasetError):
        step_plan(c, {})


def test_warmup_checkpoints_and_samples_are_the_trainers():
    from lora_nb.training.stepmath import checkpoint_steps, sample_steps

    cases = [dict(save_every_n_steps=100, max_train_steps=450, lr_warmup_ratio=0.05, sample_prompts=["a"]),
             dict(save_every_n_steps=0, max_train_steps=300, lr_warmup_steps=30, sample_prompts=["a"]),
             dict(save_every_n_steps=50, sample_every_n_steps=75, max_train_steps=200, sample_prompts=["a", "b"]),
             dict(save_every_n_steps=100, max_train_steps=300)]  # no prompts: the trainer picks defaults
    for kw in cases:
        c = cfg(**kw)
        sp = step_plan(c, {"cat": 20})
        assert sp.checkpoint_steps == checkpoint_steps(c, sp.total_steps)
        assert sp.sample_steps == sample_steps(c, sp.total_steps)
        assert sp.warmup_steps == (c.lr_warmup_steps or round(c.lr_warmup_ratio * sp.total_steps))
    sp = step_plan(cfg(save_every_n_steps=100, max_train_steps=450, lr_warmup_ratio=0.05), {"cat": 20})
    assert sp.checkpoint_steps == [100, 200, 300, 400, 450] and sp.warmup_steps == 22
    assert any("sample_prompts is empty" in n for n in sp.notes)
    constant = step_plan(cfg(lr_scheduler="constant", lr_warmup_steps=10), {"cat": 20})
    assert any("ignores warmup" in n for n in constant.notes)


# --- learning-rate preview ---------------------------------------------------------------------
def test_lr_curve_is_the_real_schedule():
    c = cfg(learning_rate=1e-4, lr_scheduler="cosine")
    curve = lr_curve(c, 100, 10)
    assert len(curve.lrs) == 100 and curve.lrs[0] == 0.0
    assert curve.lrs[5] == pytest.approx(0.5e-4)  # linear warmup
    assert curve.lrs[10] == pytest.approx(1e-4)
    assert curve.lrs[55] == pytest.approx(1e-4 * 0.5 * (1 + math.cos(math.pi * 45 / 90)))  # cosine decay
    assert curve.lrs[-1] < 1e-6
    flat = lr_curve(cfg(lr_scheduler="constant"), 50, 0)
    assert set(flat.lrs) == {1e-4}
    # long runs are sampled through the scheduler's own lr function: same values
    full = lr_curve(c.replace(lr_scheduler="cosine_with_restarts", lr_scheduler_num_cycles=3), 300, 20)
    sampled = lr_curve(c.replace(lr_scheduler="cosine_with_restarts", lr_scheduler_num_cycles=3), 300, 20,
                       max_points=31)
    assert len(sampled.steps) == 31
    for s, lr in zip(sampled.steps, sampled.lrs):
        assert lr == pytest.approx(full.lrs[s])
    fig = lr_figure(curve, [50, 100])
    line = fig.axes[0].lines[0]
    assert list(line.get_ydata()) == curve.lrs


# --- the plan on a dataset folder ------------------------------------------------------------
@pytest.fixture
def mixed_dataset(tmp_path):
    """Two concepts with different aspect ratios (two buckets), captioned with their folder names."""
    from lora_nb.toy.testing import make_toy_dataset

    root = tmp_path / "data"
    make_toy_dataset(root, {"toycircle": (1, 5)}, size=(128, 128))
    make_toy_dataset(root, {"toysquare": (1, 5)}, size=(128, 64), seed=1)
    return root


def test_plan_on_a_dataset_folder(mixed_dataset):
    from lora_nb.training.data import scan_dataset, steps_per_epoch

    c = cfg(train_data_dir=str(mixed_dataset), resolution=128, min_bucket_reso=64, train_batch_size=4,
            max_train_epochs=5, save_every_n_steps=5, sample_prompts=["toycircle, a red circle", "a dog"])
    p = plan(c, purpose="object", gpu="T4-16GB")
    scan = scan_dataset(c)
    assert len({s.bucket for s in scan.samples}) == 2
    sp = p.steps
    assert sp.steps_per_epoch_buckets == steps_per_epoch(scan.samples, c)  # what the trainer will run
    # 5 images per bucket at batch 4: 2 + 2 batches, not ceil(10 / 4) = 3
    assert (sp.steps_per_epoch, sp.steps_per_epoch_buckets) == (3, 4)
    assert sp.total_steps == 5 * sp.steps_per_epoch_buckets
    assert {cs.name for cs in sp.concepts} == {"toycircle", "toysquare"}
    assert p.dataset_source == str(mixed_dataset)
    ids = [a for a in p.advice if a.topic == "identifiers"]
    assert ids and ids[0].level == "ok" and "'toycircle'" in ids[0].message
    assert p.memory.fits and p.memory.gpu.name == "T4-16GB"
    assert p.time is not None and p.time.train_seconds > 0
    assert len(p.lr.lrs) == sp.total_steps
    assert p.file_sizes[3]["rank"] == 32


def test_plan_what_if_counts_with_the_gpu_preset():
    c = Config(family="flux", resolution=1024, rank=32, alpha=16.0, learning_rate=1e-4, save_every_n_steps=500,
               max_train_steps=4000, sample_prompts=["uehxbfklaq, a car", "a forest"])
    p = plan(c, counts={"cars": 1000}, purpose="object", gpu="24GB")
    assert p.preset.preset.tier == "24GB" and p.preset.applied["quantization"] == "nf4"
    assert p.config.quantization == "nf4" and p.memory.fits
    (lora,) = p.recipe.loras
    assert (lora.steps, lora.save_every) == (4000, 500)  # Flux LoRA guide §5.3: 1000 cars
    assert {a.topic: a.level for a in p.advice}["steps"] == "ok"
    bare = plan(c.replace(gpu_preset="none"), counts={"cars": 1000}, gpu="24GB")
    assert not bare.memory.fits and bare.memory.combined.fits


def test_plan_explains_a_missing_dataset(tmp_path):
    with pytest.raises(DatasetError, match="train_data_dir"):
        plan(cfg(), gpu=None)
    with pytest.raises(DatasetError, match="not found"):
        plan(cfg(train_data_dir=str(tmp_path / "nope")), gpu=None)


def test_render_markdown_figures_and_json():
    c = cfg(save_every_n_steps=100, max_train_steps=1000, lr_warmup_steps=50, sample_prompts=["a cat"])
    p = plan(c, counts={"a": 20, "b": 80}, purpose="person", gpu="12GB")
    md = render_markdown(p)
    for section in ("## Steps", "## Time", "## Memory", "## Recipe", "## Advice", "## LoRA file size by rank",
                    "## Reading the XY grid"):
        assert section in md
    assert "total steps = images x repeats x epochs / (batch x gradient accumulation)" in md
    assert "**fits** 12GB" in md and "WARNING" in md  # 20 vs 80 images: the guide's balance warning
    figs = render_figures(p)
    assert set(figs) == {"lr", "memory"}
    assert figs["memory"].axes[0].get_title().startswith("Predicted GPU peak")
    d = json.loads(json.dumps(p.to_dict(), default=str))
    assert d["steps"]["total_steps"] == 1000 and d["memory"]["estimate"]["total_gb"] > 0


# --- CLI -------------------------------------------------------------------------------------
def test_cli_plan(tmp_path, capsys):
    path = cfg(rank=32, alpha=16.0, save_every_n_steps=100, max_train_steps=500).save(tmp_path / "c.toml")
    assert main(["plan", str(path), "--gpu", "T4-16GB", "--images", "20", "--purpose", "person"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Training plan: sd15") and "20 images" in out
    assert main(["plan", str(path), "--gpu", "none", "--concept", "cat=20x3", "--concept", "dog=10", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert [c["repeats"] for c in d["steps"]["concepts"]] == [3, 1] and d["memory"]["fits"] is None
    assert main(["plan", str(path), "--gpu", "24GB", "--images", "20", "--resolution", "768", "--batch", "2",
                 "--figures", str(tmp_path / "figs")]) == 0
    assert "768px" in capsys.readouterr().out
    assert {f.name for f in (tmp_path / "figs").iterdir()} == {"lr_schedule.png", "memory.png"}
    assert main(["plan", str(path), "--concept", "cat"]) == 2
    assert "NAME=N" in capsys.readouterr().err
