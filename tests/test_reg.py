"""Regularization (class) images: kohya's balancing, the step math and plan, metadata, the loss weight, resume,
and the point of it all: with the prior loss the LoRA changes the class prompt less."""

import json
import random
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from lora_nb.config import Config
from lora_nb.errors import DatasetError, LoraNbError
from lora_nb.families.lorafiles import read_lora_file
from lora_nb.planning.planner import plan, render_markdown
from lora_nb.toy.testing import make_toy_dataset
from lora_nb.training.data import epoch_batches, scan_dataset, steps_per_epoch
from lora_nb.training.export.metadata import lora_metadata
from lora_nb.training.reg import balance_reg_repeats
from lora_nb.training.trainer import TrainCallback, train


@pytest.fixture
def data(tmp_path):
    """3 training images x 2 repeats (6 samples per epoch) and 5 class images x 1 repeat."""
    train_dir = make_toy_dataset(tmp_path / "train", {"toycircle": (2, 3)})
    reg_dir = make_toy_dataset(tmp_path / "reg", {"circle": (1, 5)}, seed=1)
    for txt in (reg_dir / "1_circle").glob("*.txt"):
        txt.write_text(txt.read_text(encoding="utf-8").replace("circle, ", "", 1), encoding="utf-8")
    return train_dir, reg_dir


def cfg(data, **kw):
    train_dir, reg_dir = data
    return Config(**{"train_data_dir": str(train_dir), "reg_data_dir": str(reg_dir), "resolution": 64,
                     "trigger_word": "zqk", **kw})


# --- balancing --------------------------------------------------------------------------------------
def test_balance_follows_kohya():
    assert balance_reg_repeats(6, [1] * 5) == [2, 1, 1, 1, 1]  # one more pass adds a repeat to the first
    assert balance_reg_repeats(3, [1] * 5) == [1, 1, 1, 0, 0]  # more reg than train: the rest unused
    assert balance_reg_repeats(5, [2, 2, 2]) == [2, 2, 2]  # the first pass takes folder repeats (overshoots)
    assert balance_reg_repeats(7, [1, 1]) == [4, 3]
    assert balance_reg_repeats(4, []) == []


def test_scan_balances_reg_images_to_the_train_samples(data):
    scan = scan_dataset(cfg(data))
    train = [s for s in scan.samples if not s.is_reg]
    reg = [s for s in scan.samples if s.is_reg]
    assert scan.num_images == 3 and scan.train_samples_per_epoch == 6
    assert [s.repeats for s in reg] == [2, 1, 1, 1, 1]
    assert scan.samples_per_epoch == 12 and scan.num_reg_images == 5  # an epoch holds 2x the samples
    assert scan.reg_dirs == {"1_circle": {"n_repeats": 1, "img_count": 5}}
    assert all(s.caption.startswith("zqk, ") for s in train)
    assert all("zqk" not in s.caption and s.caption.startswith("a ") for s in reg)  # the class alone
    flat = sorted(i for b in epoch_batches(scan.samples, 2, seed=3, epoch=0) for i in b)
    assert flat == sorted([0, 1, 2] * 2 + [3] * 2 + [4, 5, 6, 7])  # reg samples are in the (seed, epoch) order


def test_more_reg_images_than_train_samples_and_uncaptioned_class_folders(data, tmp_path):
    train_dir, _ = data
    reg_dir = tmp_path / "many"
    make_toy_dataset(reg_dir, {"circle": (1, 10)}, seed=2)
    for txt in (reg_dir / "1_circle").glob("*.txt"):
        txt.unlink()  # kohya: a reg image without a caption is captioned with its folder's class words
    scan = scan_dataset(cfg((train_dir, reg_dir)))
    reg = [s for s in scan.samples if s.is_reg]
    assert len(reg) == 6 and all(s.repeats == 1 and s.caption == "circle" for s in reg)
    assert scan.num_reg_images == 10 and scan.reg_dirs["1_circle"]["img_count"] == 10
    assert any("4 of 10 reg image(s) are not used" in n for n in scan.warnings)
    assert any(n.startswith("reg_data_dir: 10 image(s) without a caption") for n in scan.warnings)


def test_problems_in_the_reg_folder_are_one_line_naming_it(data, tmp_path):
    train_dir, reg_dir = data
    with pytest.raises(DatasetError, match=r"regularization folder not found: .*nope -> check reg_data_dir"):
        scan_dataset(cfg((train_dir, tmp_path / "nope")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"no images in .*empty.*\(reg_data_dir\) -> add class images"):
        scan_dataset(cfg((train_dir, tmp_path / "empty")))
    for overlapping in (train_dir / "2_toycircle", train_dir, tmp_path):
        with pytest.raises(DatasetError, match="reg_data_dir .* overlap .* -> keep the regularization images"):
            scan_dataset(cfg((train_dir, overlapping)))
    loose = tmp_path / "loose"
    loose.mkdir()
    Image.new("RGB", (64, 64)).save(loose / "a.png")
    with pytest.raises(DatasetError, match=r"directly in reg_data_dir .*: a.png -> move them into a folder named"):
        scan_dataset(cfg((train_dir, loose)))
    Image.new("RGB", (40, 40)).save(reg_dir / "1_circle" / "small.png")
    with pytest.raises(DatasetError, match=r"image\(s\) in reg_data_dir .*reg have a side below.*small.png"):
        scan_dataset(cfg(data))
    (reg_dir / "1_circle" / "small.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(DatasetError) as e:
        scan_dataset(cfg(data))
    msg = str(e.value)
    assert "\n" not in msg and "in reg_data_dir cannot be read" in msg and "small.png" in msg


# --- step math, plan, metadata ---------------------------------------------------------------------
def test_step_math_and_plan_count_the_reg_samples(data):
    c = cfg(data, train_batch_size=2, max_train_epochs=3)
    scan = scan_dataset(c)
    assert steps_per_epoch(scan.samples, c) == 6  # 12 samples / batch 2
    assert steps_per_epoch(scan_dataset(c.replace(reg_data_dir="")).samples, c) == 3
    p = plan(c, gpu=None)
    sp = p.steps
    assert (sp.images, sp.samples_per_epoch, sp.reg_images, sp.reg_samples_per_epoch) == (3, 12, 5, 6)
    assert (sp.steps_per_epoch, sp.total_steps) == (6, 18)
    assert "3 images x repeats = 6 samples per epoch + 6 from 5 reg images" in sp.formula
    assert any(n.startswith("reg_data_dir adds 6 class samples") for n in sp.notes)
    assert "| reg (class images, loss x 1) | 5 | | 6 | 3 | 9 | |" in render_markdown(p)


def test_metadata_writes_kohyas_reg_keys(data):
    c = cfg(data, prior_loss_weight=0.5)
    scan = scan_dataset(c)
    md = lora_metadata(c, steps=6, epoch=1, tag_frequency={}, dataset=scan)
    assert md["ss_num_train_images"] == "6" and md["ss_num_reg_images"] == "5"
    assert json.loads(md["ss_reg_dataset_dirs"]) == {"1_circle": {"n_repeats": 1, "img_count": 5}}
    assert json.loads(md["ss_dataset_dirs"]) == {"2_toycircle": {"n_repeats": 2, "img_count": 3}}
    assert md["ss_prior_loss_weight"] == "0.5"
    assert md["ss_num_batches_per_epoch"] == "12"
    plain = lora_metadata(c.replace(reg_data_dir=""), steps=6, epoch=1, tag_frequency={},
                          dataset=scan_dataset(c.replace(reg_data_dir="")))
    assert plain["ss_num_reg_images"] == "0" and plain["ss_reg_dataset_dirs"] == "{}"


# --- training ---------------------------------------------------------------------------------------
@pytest.fixture
def run_opts(tiny_sd15, data, tmp_path):
    train_dir, reg_dir = data
    return dict(pretrained_model=str(tiny_sd15), train_data_dir=str(train_dir), reg_data_dir=str(reg_dir),
                resolution=64, trigger_word="zqk", optimizer="adamw", learning_rate=1e-3, max_train_steps=4,
                train_batch_size=2, save_formats=["kohya"], sample_every_n_steps=0, save_state=False)


def _weights(res):
    return load_file(str(res.files["kohya"]))


def test_prior_loss_weight_zero_makes_the_reg_images_contribute_nothing(run_opts, tmp_path):
    """With prior_loss_weight 0 other class images (other pixels, other captions) give bitwise the same LoRA:
    their gradient is exactly zero. With 1 they change it."""
    other = make_toy_dataset(tmp_path / "other", {"circle": (1, 5)}, seed=7)
    for txt in (other / "1_circle").glob("*.txt"):
        txt.write_text("a big circle", encoding="utf-8")

    def run(reg, w, name):
        return _weights(train(Config(**{**run_opts, "reg_data_dir": str(reg), "prior_loss_weight": w,
                                        "output_dir": str(tmp_path / name)})))

    a, b = run(run_opts["reg_data_dir"], 0.0, "a"), run(other, 0.0, "b")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    c = run(other, 1.0, "c")
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_resume_with_reg_images_is_bitwise_and_a_changed_reg_caption_is_refused(run_opts, data, tmp_path):
    opts = dict(run_opts, max_train_steps=6, save_every_n_steps=2, save_state=True, cache_latents="disk",
                shuffle_caption=True, caption_dropout_rate=0.3)
    full = train(Config(**{**opts, "output_dir": str(tmp_path / "a")}))
    # the disk latent cache holds every training image and every reg image used (3 + 5)
    assert len(list((tmp_path / "a" / "cache" / "latents").glob("*.safetensors"))) == 8

    class Crash(TrainCallback):
        def on_step(self, step, logs):
            if step == 5:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(Config(**{**opts, "output_dir": str(tmp_path / "b")}), [Crash()])
    caption = data[1] / "1_circle" / "001.txt"
    kept = caption.read_text(encoding="utf-8")
    caption.write_text("a purple circle", encoding="utf-8")
    with pytest.raises(LoraNbError, match=r"contents: 1 changed \(reg_data_dir/1_circle/001.png \(caption\)\)"):
        train(Config(**{**opts, "output_dir": str(tmp_path / "b"), "resume": "latest"}))
    caption.write_text(kept, encoding="utf-8")
    with pytest.raises(LoraNbError, match="prior_loss_weight 1.0 -> 0.5"):
        train(Config(**{**opts, "output_dir": str(tmp_path / "b"), "resume": "latest", "prior_loss_weight": 0.5}))
    resumed = train(Config(**{**opts, "output_dir": str(tmp_path / "b"), "resume": "latest"}))
    a, b = _weights(full), _weights(resumed)
    tags = json.loads(read_lora_file(resumed.files["kohya"])[1]["ss_tag_frequency"])
    assert set(tags) == {"2_toycircle", "1_circle"} and "zqk" not in tags["1_circle"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_prior_loss_keeps_the_class_prompt_closer_to_the_base(tmp_path, train_capture):
    """The issue's behaviour: train a LoRA on one odd square ("a zqk square") with class images of other squares
    ("a square"); with the prior loss the adapter moves the base's noise prediction for "a square" measurably
    less than with prior_loss_weight 0 (the same batches, the reg samples weighing nothing)."""
    from lora_nb.families import get_family
    from lora_nb.toy.builtin import builtin_model_dir
    from lora_nb.toy.scenes import SceneSpec, random_scene, render_scene

    subject = tmp_path / "data" / "1_zqk square"
    subject.mkdir(parents=True)
    for i in range(4):
        spec = SceneSpec("square", "black", fill="dotted", size=0.3 + 0.02 * i, x=0.45 + 0.03 * i,
                         background="yellow", background2="purple", pattern="checker")
        render_scene(spec).save(subject / f"{i}.png")
        (subject / f"{i}.txt").write_text("a zqk square", encoding="utf-8")
    classes = tmp_path / "reg" / "1_square"
    classes.mkdir(parents=True)
    rng = random.Random(0)
    for i in range(8):  # other squares from the base model's own training distribution
        render_scene(replace(random_scene(rng), shape="square")).save(classes / f"{i}.png")
        (classes / f"{i}.txt").write_text("a square", encoding="utf-8")
    family = get_family("sd15")
    gen = torch.Generator().manual_seed(0)
    latents, t = torch.randn(8, 8, 16, 16, generator=gen), torch.arange(100, 900, 100)

    def class_prompt_effect(weight: float) -> float:
        cfg = Config(pretrained_model=str(builtin_model_dir()), train_data_dir=str(tmp_path / "data"),
                     reg_data_dir=str(tmp_path / "reg"), resolution=64, prior_loss_weight=weight, rank=8, alpha=8,
                     optimizer="adamw", learning_rate=3e-3, max_train_steps=30, train_batch_size=4,
                     cache_text_embeddings="no", sample_every_n_steps=0, save_state=False, save_formats=["kohya"],
                     sample_prompts=["a square"], output_dir=str(tmp_path / f"run{weight:g}"))
        _, models = train_capture(cfg)
        unet = models.denoiser.eval()
        with torch.no_grad():
            cond = family.encode_prompts(models, ["a square"] * len(t), 1)["encoder_hidden_states"]
            with_lora = unet(latents, t, encoder_hidden_states=cond).sample
            unet.disable_adapters()
            base = unet(latents, t, encoder_hidden_states=cond).sample
        return (with_lora - base).abs().mean().item()

    with_prior, without = class_prompt_effect(1.0), class_prompt_effect(0.0)
    assert with_prior < 0.85 * without, (with_prior, without)


def test_the_reg_folder_is_copied_with_a_moved_dataset(run_opts, tmp_path):
    """A moved reg folder (same images and captions) still matches the saved run's fingerprint."""
    opts = dict(run_opts, save_state=True)
    train(Config(**{**opts, "output_dir": str(tmp_path / "r")}))
    moved = tmp_path / "moved-reg"
    shutil.copytree(run_opts["reg_data_dir"], moved)
    with pytest.raises(LoraNbError, match="ends at step 4 but the saved state"):  # matched: only the run is done
        train(Config(**{**opts, "reg_data_dir": str(moved), "output_dir": str(tmp_path / "r"), "resume": "latest"}))


def test_notebook_05_teaches_reg_images():
    import nbformat

    nb = nbformat.read(Path(__file__).resolve().parents[1] / "notebooks" / "05_train.ipynb", as_version=4)
    md = [c.source for c in nb.cells if c.cell_type == "markdown" and "reg_data_dir" in c.source
          and not c.source.startswith("<details>")]  # the 中文说明 cell retells it
    text = "\n".join(md)  # section 1b, in short cells
    assert md and "prior_loss_weight" in text and "LoRA explainer (过拟合 / 欠拟合)" in text
    assert "twice the steps" in text and "10–20" in text
    params = next(c.source for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert '# CONFIG_OVERRIDES = {"reg_data_dir":' in params
