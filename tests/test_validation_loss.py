"""Validation loss (issue 15): the held-out set, the fixed-noise measurement at checkpoints, its log
event, the plot and the U-curve detector - on the tiny SD1.5 model."""

import json
import random
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from lora_nb.config import Config
from lora_nb.dataset.tag_stats import tag_frequency
from lora_nb.errors import ConfigError, DatasetError
from lora_nb.evaluate.files import read_lora_metadata
from lora_nb.evaluate.lossplot import TrainLog, loss_figure, read_train_log, val_curve
from lora_nb.i18n import t
from lora_nb.training import trainer as T
from lora_nb.training.data import scan_dataset, steps_per_epoch
from lora_nb.training.holdout import held_out_count, train_eval_indices
from lora_nb.training.trainer import TrainCallback, train


@pytest.fixture
def base(tiny_sd15, tiny_dataset, tmp_path):
    return dict(pretrained_model=str(tiny_sd15), train_data_dir=str(tiny_dataset), resolution=64,
                optimizer="adamw", learning_rate=1e-3, max_train_steps=6, save_every_n_steps=2,
                output_dir=str(tmp_path / "run"), save_formats=["kohya"], sample_every_n_steps=0)


def val_records(run) -> list[dict]:
    lines = (run / "logs" / "train_log.jsonl").read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if r.get("event") == "val_loss"]


# --- the held-out set ----------------------------------------------------------------------------
def test_split_is_seeded_and_removes_the_held_out_images_from_training(tiny_dataset, tmp_path):
    cfg = Config(train_data_dir=str(tiny_dataset), resolution=64)
    everything = [s.image for s in scan_dataset(cfg).samples]  # 7 images: 4 circles (x2), 3 squares
    split = scan_dataset(cfg.replace(validation_split=0.3))
    train_imgs, held = [s.image for s in split.samples], [s.image for s in split.held_out]
    assert len(held) == held_out_count(7, 0.3) == 2 and not set(held) & set(train_imgs)
    assert sorted(train_imgs + held) == sorted(everything)
    assert train_imgs == [p for p in everything if p not in held]  # the scan's order is kept
    again = scan_dataset(cfg.replace(validation_split=0.3))
    assert [s.image for s in again.held_out] == held  # seeded: the same images every time
    others = {tuple(s.image for s in scan_dataset(cfg.replace(validation_split=0.3, seed=k)).held_out)
              for k in range(6)}
    assert len(others) > 1  # ... and another seed holds out others
    assert len(scan_dataset(cfg.replace(validation_split=3)).held_out) == 3  # a whole number is a count
    assert held_out_count(7, 0.01) == 1  # a fraction holds out at least one image
    # the step math (the planner reads the same scan) counts only the training images
    assert steps_per_epoch(split.samples, cfg) == sum(s.repeats for s in split.samples)
    # a held-out folder: every training image stays, the folder's images are measured
    folder = tmp_path / "held" / "1_extra"
    folder.mkdir(parents=True)
    shutil.copy(everything[0], folder / "a.png")
    (folder / "a.txt").write_text("extra image", encoding="utf-8")
    own = scan_dataset(cfg.replace(validation_data_dir=str(tmp_path / "held")))
    assert [s.image for s in own.samples] == everything and [s.caption for s in own.held_out] == ["extra image"]
    assert train_eval_indices(5, 2, 42) == train_eval_indices(5, 2, 42) and len(train_eval_indices(2, 5, 1)) == 2


def test_bad_validation_settings_are_one_line(tiny_dataset, tmp_path):
    cfg = Config(train_data_dir=str(tiny_dataset), resolution=64)
    with pytest.raises(DatasetError, match=r"holds out 7 of the 7 training image\(s\) and leaves none to train "
                                           r"on -> lower validation_split") as e:
        scan_dataset(cfg.replace(validation_split=7))
    assert "\n" not in str(e.value)
    with pytest.raises(DatasetError, match="leaves none"):
        scan_dataset(cfg.replace(validation_split=0.95))  # rounds to all 7
    with pytest.raises(ConfigError, match=r"validation_split: 2.5 is neither a fraction below 1 nor a whole count "
                                          r"of images -> use e.g. 0.1 \(10%\) or 2"):
        Config(validation_split=2.5)
    with pytest.raises(ConfigError, match="hold out images one way"):
        Config(validation_split=0.1, validation_data_dir=str(tmp_path))
    with pytest.raises(DatasetError, match=r"^validation_data_dir: folder not found: .*nope -> point it at"):
        scan_dataset(cfg.replace(validation_data_dir=str(tmp_path / "nope")))
    with pytest.raises(DatasetError, match="is train_data_dir itself"):
        scan_dataset(cfg.replace(validation_data_dir=str(tiny_dataset)))


# --- in training -------------------------------------------------------------------------------------
def test_validation_is_logged_deterministic_and_leaves_the_weights_unchanged(base, tmp_path, monkeypatch):
    built = []
    real_build = T.ValidationLoss.build.__func__

    def spy(cls, *a, **kw):
        built.append(real_build(cls, *a, **kw))
        return built[-1]

    monkeypatch.setattr(T.ValidationLoss, "build", classmethod(spy))
    seen = []

    class Rec(TrainCallback):  # a callback without on_validation (written before the hook) keeps working
        pass

    class Val(TrainCallback):
        def on_validation(self, step, record):
            seen.append(record)

    on = train(Config(**{**base, "validation_split": 2, "output_dir": str(tmp_path / "on")}), [Rec(), Val()])
    recs = val_records(on.output_dir)
    assert [r["step"] for r in recs] == [0, 2, 4, 6] and recs == seen
    assert all(list(r) == ["event", "step", "val_loss", "train_eval_loss", "n"] and r["n"] == 2 for r in recs)
    assert len({r["val_loss"] for r in recs}) == 4  # the weights moved, the measurement followed them
    # the same weights give the same number: measuring the final checkpoint again
    v = built[0]
    torch_rng, py_rng = torch.get_rng_state(), random.getstate()
    assert v.measure(v.held) == v.measure(v.held) == recs[-1]["val_loss"]
    assert torch.equal(torch.get_rng_state(), torch_rng) and random.getstate() == py_rng  # draws nothing global
    assert v.measure(v.train) == recs[-1]["train_eval_loss"]

    # the same training images without validation (the held-out ones deleted): bitwise the same LoRA
    held = {s.image.name + s.concept for s in scan_dataset(Config(**{**base, "validation_split": 2})).held_out}
    data = tmp_path / "data-without-held-out"
    shutil.copytree(base["train_data_dir"], data)
    for img in data.rglob("*.png"):
        if img.name + img.parent.name in held:
            img.unlink()
            img.with_suffix(".txt").unlink()
    off = train(Config(**{**base, "train_data_dir": str(data), "output_dir": str(tmp_path / "off")}))
    assert not val_records(off.output_dir)
    a, b = load_file(str(on.files["kohya"])), load_file(str(off.files["kohya"]))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # ss_tag_frequency counts the captions trained on: the held-out images' tags are not in it
    tags_on, tags_off = (json.loads(read_lora_metadata(r.files["kohya"])["ss_tag_frequency"]) for r in (on, off))
    assert tags_on == tags_off != tag_frequency(base["train_data_dir"])


def test_a_resumed_run_logs_the_same_validation_losses(base, tmp_path):
    opts = dict(base, validation_split=0.3, noise_offset=0.05, shuffle_caption=True)
    full = train(Config(**{**opts, "output_dir": str(tmp_path / "a")}))

    class Crash(TrainCallback):
        def on_step(self, step, logs):
            if step == 5:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(Config(**{**opts, "output_dir": str(tmp_path / "b")}), [Crash()])
    resumed = train(Config(**{**opts, "output_dir": str(tmp_path / "b"), "resume": "latest"}))
    assert val_records(resumed.output_dir) == val_records(full.output_dir)
    assert [r["step"] for r in val_records(resumed.output_dir)] == [0, 2, 4, 6]


def test_over_training_shows_as_a_gap_between_training_and_held_out_images(tiny_sd15, tmp_path):
    # images of random 4x4-pixel blocks: nothing in them generalises, so what the LoRA learns of the two
    # training images is memorised; the VAE's scaling factor gives the latents unit-like variance, as SD's
    # real VAE with its scaling factor does (the tiny random VAE's latents are ~0.04 otherwise)
    model = tmp_path / "model"
    shutil.copytree(tiny_sd15, model)
    vae_cfg = model / "vae" / "config.json"
    vae_cfg.write_text(json.dumps({**json.loads(vae_cfg.read_text()), "scaling_factor": 4.0}))
    folder = tmp_path / "data" / "1_noise"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(4):
        blocks = (rng.integers(0, 2, (16, 16, 3)) * 255).astype(np.uint8)
        Image.fromarray(blocks).resize((64, 64), Image.NEAREST).save(folder / f"{i}.png")
        (folder / f"{i}.txt").write_text("noise", encoding="utf-8")
    res = train(Config(pretrained_model=str(model), train_data_dir=str(tmp_path / "data"), resolution=64,
                       optimizer="adamw", learning_rate=3e-3, lr_scheduler="constant", weight_decay=0.0,
                       network_type="locon", rank=32, alpha=32, max_train_steps=80, save_every_n_steps=20,
                       validation_split=2, save_state=False, sample_every_n_steps=0, save_formats=["kohya"],
                       output_dir=str(tmp_path / "run")))
    recs = val_records(res.output_dir)
    gaps = [r["val_loss"] - r["train_eval_loss"] for r in recs]
    first, last = recs[0], recs[-1]
    assert last["train_eval_loss"] < last["val_loss"] * 0.95, recs  # lower on the images it trained on
    assert gaps[-1] > 2 * gaps[0], gaps  # ... and the gap opened with training
    assert last["val_loss"] < first["val_loss"]  # both fell: the LoRA learned the shared part too


# --- reading, plotting, the U-curve ----------------------------------------------------------------------
def curve(values, steps=None):
    steps = steps or [i * 100 for i in range(len(values))]
    return val_curve(TrainLog(path=None, val_steps=steps, val_loss=values, train_eval_loss=values))


def test_val_curve_finds_the_minimum_and_a_real_rise():
    falling = curve([1.0, 0.8, 0.7, 0.65, 0.62])
    assert (falling.best_step, falling.best_loss, falling.rising, falling.last_loss) == (400, 0.62, False, 0.62)
    u = curve([1.0, 0.8, 0.6, 0.58, 0.63, 0.7, 0.75])
    assert (u.best_step, u.best_loss, u.rising, u.last_step) == (300, 0.58, True, 600)
    flat = curve([0.60, 0.61, 0.595, 0.605, 0.6, 0.607, 0.603])  # noise within 2%: no turn
    assert flat.best_step == 200 and not flat.rising
    one_bump = curve([1.0, 0.7, 0.6, 0.7])  # one high point after the minimum is not yet a rise
    assert one_bump.best_step == 200 and not one_bump.rising
    came_back = curve([1.0, 0.6, 0.7, 0.72, 0.605])  # the last value is back at the minimum
    assert not came_back.rising
    assert curve([]) is None and curve([float("nan"), 0.5]).best_step == 100


def test_the_log_and_plot_show_the_validation_points(tmp_path):
    logs = tmp_path / "run" / "logs"
    logs.mkdir(parents=True)
    lines = [{"event": "val_loss", "step": 0, "val_loss": 0.9, "train_eval_loss": 0.88, "n": 2}]
    lines += [{"step": s, "epoch": s / 4, "loss": 1.0 - s / 40, "lr": 1e-4, "time": s} for s in range(1, 13)]
    lines += [{"event": "val_loss", "step": s, "val_loss": v, "train_eval_loss": w, "n": 2}
              for s, v, w in ((4, 0.7, 0.6), (8, 0.8, 0.5), (12, 0.85, 0.4))]
    lines += [{"event": "resume", "step": 8}, {"event": "val_loss", "step": 8, "val_loss": 0.75,
                                               "train_eval_loss": 0.5, "n": 2}]  # a resumed run re-logs step 8
    (logs / "train_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    log = read_train_log(tmp_path / "run")
    assert log.val_steps == [0, 4, 8, 12] and log.val_loss == [0.9, 0.7, 0.75, 0.85]
    assert log.train_eval_loss == [0.88, 0.6, 0.5, 0.4] and log.steps == list(range(1, 13))
    c = val_curve(log)
    assert (c.best_step, c.rising) == (4, True)
    for lang in ("en", "zh"):
        fig = loss_figure(log, lang=lang)
        lines_by_label = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
        val = lines_by_label[t("plot.val_loss", lang)]
        assert list(val.get_xdata()) == [0, 4, 8, 12] and val.get_marker() == "o"
        assert list(lines_by_label[t("plot.train_eval_loss", lang)].get_ydata()) == [0.88, 0.6, 0.5, 0.4]
        assert list(lines_by_label[t("plot.val_best", lang, step=4)].get_xdata()) == [4]
    assert "验证" in t("plot.val_loss", "zh")


def test_live_panel_shows_validation_points(default_language):
    pytest.importorskip("ipywidgets")
    from lora_nb.notebook.live import LiveTrainDisplay

    live = LiveTrainDisplay(headless=True, lang="en")
    live.on_validation(0, {"event": "val_loss", "step": 0, "val_loss": 0.9, "train_eval_loss": 0.88, "n": 2})
    live.on_step(1, {"loss": 1.0, "lr": 1e-4})
    live.on_validation(2, {"event": "val_loss", "step": 2, "val_loss": 0.8, "train_eval_loss": 0.7, "n": 2})
    log = live.train_log()
    assert (log.val_steps, log.val_loss, log.train_eval_loss) == ([0, 2], [0.9, 0.8], [0.88, 0.7])
    assert live.messages[-1] == "step 2: validation loss 0.8000 (held-out), 0.7000 (training images)"
    labels = [ln.get_label() for ln in live.loss_figure().axes[0].get_lines()]
    assert t("plot.val_loss", "en") in labels


def test_cli_help_shows_the_fields_help_verbatim():
    import argparse

    from lora_nb.commands._option_flags import add_option_flags

    parser = argparse.ArgumentParser(prog="lora-nb train", formatter_class=argparse.RawTextHelpFormatter)
    add_option_flags(parser, Config, "cfg_")
    text = parser.format_help()  # a '%' in a help text (e.g. "~30% slower") was read as a format directive
    assert "~30% slower" in text and "0.1 = a tenth, at least 1 image" in text
