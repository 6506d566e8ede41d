"""The loss view: reading the trainer's JSON-lines log, EMA smoothing, the figure and the sample sheet."""

import json
import math

import numpy as np
import pytest
from PIL import Image

from lora_nb.errors import LoraNbError
from lora_nb.evaluate.lossplot import (
    BAND_LABEL,
    SD15_BAND,
    ema,
    loss_figure,
    loss_summary,
    read_train_log,
    samples_grid,
)


def _write_run(root):
    """A run folder as the trainer leaves it: 40 steps, resumed at 20, checkpoints/samples at 20 and 40."""
    (root / "logs").mkdir(parents=True)
    (root / "samples").mkdir()
    rng = np.random.default_rng(0)
    lines = []
    for step in range(1, 26):  # first session reaches step 25, then Colab disconnects
        lines.append({"step": step, "epoch": 1 + step // 20, "loss": 0.3 / step ** 0.5 + 0.02 * rng.random(),
                      "lr": 1e-4, "time": step * 0.5})
        if step == 20:
            lines.append({"event": "checkpoint", "step": 20, "path": "lora-step00000020.safetensors"})
            lines.append({"event": "sample", "step": 20, "paths": ["samples/s20_0.png", "samples/s20_1.png"]})
    text = "\n".join(json.dumps(x) for x in lines) + "\nnot json at all\n"
    for step in range(21, 41):  # resumed from the step-20 state: steps 21..25 are logged again
        text += json.dumps({"step": step, "epoch": 2, "loss": 0.09 + 0.001 * step, "lr": 1e-4 * (40 - step) / 20,
                            "time": step * 0.5}) + "\n"
    text += json.dumps({"event": "checkpoint", "step": 40, "path": str(root / "lora.safetensors")}) + "\n"
    text += json.dumps({"event": "sample", "step": 40, "paths": ["samples/s40_0.png", "samples/missing.png"]}) + "\n"
    text += '{"step": 41, "loss": 0.'  # half-written last line
    (root / "logs" / "train_log.jsonl").write_text(text, encoding="utf-8")
    for name, colour in (("s20_0", (200, 0, 0)), ("s20_1", (0, 200, 0)), ("s40_0", (0, 0, 200))):
        Image.new("RGB", (32, 32), colour).save(root / "samples" / f"{name}.png")
    return root


@pytest.fixture
def run_dir(tmp_path):
    return _write_run(tmp_path / "run")


def test_read_log_dedupes_resumed_steps_and_skips_broken_lines(run_dir):
    log = read_train_log(run_dir)
    assert log.steps == list(range(1, 41))
    assert log.loss[log.steps.index(22)] == pytest.approx(0.09 + 0.022)  # the resumed run's value wins
    assert log.lr[-1] == pytest.approx(0.0)
    assert log.checkpoints == [(20, "lora-step00000020.safetensors"), (40, str(run_dir / "lora.safetensors"))]
    assert [s for s, _ in log.samples] == [20, 40]
    assert log.skipped_lines == 2
    assert log.run_dir == run_dir
    assert log.resolve("samples/s20_0.png") == run_dir / "samples" / "s20_0.png"
    # the .jsonl file itself works as well as the run folder
    assert read_train_log(run_dir / "logs" / "train_log.jsonl").steps == log.steps


def test_missing_log_explains_what_to_do(tmp_path):
    with pytest.raises(LoraNbError, match="train first"):
        read_train_log(tmp_path)


def test_ema_is_debiased_and_skips_nan():
    assert ema([1.0, 2.0, 3.0], 0.0) == [1.0, 2.0, 3.0]
    assert ema([0.5] * 50, 0.99) == pytest.approx([0.5] * 50)  # no drag towards 0 at the start
    out = ema([1.0, 2.0], 0.5)
    assert out == pytest.approx([1.0, 1.25 / 0.75])
    with_nan = ema([1.0, math.nan, 3.0], 0.5)
    assert with_nan[1] == pytest.approx(1.0) and with_nan[2] == pytest.approx(ema([1.0, 3.0], 0.5)[1])
    assert math.isnan(ema([math.nan], 0.5)[0])
    with pytest.raises(ValueError):
        ema([1.0], 1.0)


def test_loss_figure_has_band_hint_checkpoints_and_sample_markers(run_dir, tmp_path):
    from matplotlib.figure import Figure
    from matplotlib.patches import Polygon, Rectangle

    fig = loss_figure(run_dir, smoothing=0.8)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    band = [p for p in ax.patches if isinstance(p, (Polygon, Rectangle)) and p.get_label() == BAND_LABEL]
    assert len(band) == 1
    assert "hint, not a target" in BAND_LABEL and "SD1.5" in BAND_LABEL and "Kohya practice guide" in BAND_LABEL
    ys = band[0].get_path().transformed(band[0].get_patch_transform()).vertices[:, 1] \
        if isinstance(band[0], Rectangle) else band[0].get_xy()[:, 1]
    assert min(ys) == pytest.approx(SD15_BAND[0]) and max(ys) == pytest.approx(SD15_BAND[1])
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    vlines = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert sorted(ln.get_xdata()[0] for ln in vlines) == [20, 40]
    assert list(lines["sample images"].get_xdata()) == [20, 40]
    assert list(lines["loss (per step)"].get_xdata()) == list(range(1, 41))
    smooth = lines["loss (EMA 0.8)"].get_ydata()
    assert np.std(np.diff(smooth)) < np.std(np.diff(lines["loss (per step)"].get_ydata()))
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "learning rate"
    legend_texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert BAND_LABEL in legend_texts and "learning rate" in legend_texts and "checkpoint" in legend_texts
    out = tmp_path / "loss.png"
    fig.savefig(out)
    assert Image.open(out).size[0] > 100


def test_band_only_for_sd15_and_empty_log(run_dir, tmp_path):
    fig = loss_figure(run_dir, family="flux", show_lr=False)
    assert not [p for p in fig.axes[0].patches if p.get_label() == BAND_LABEL] and len(fig.axes) == 1
    (tmp_path / "empty" / "logs").mkdir(parents=True)
    (tmp_path / "empty" / "logs" / "train_log.jsonl").write_text("", encoding="utf-8")
    empty = loss_figure(tmp_path / "empty")
    assert any("no steps" in t.get_text() for t in empty.axes[0].texts)


def test_loss_summary(run_dir):
    s = loss_summary(run_dir, smoothing=0.0)
    log = read_train_log(run_dir)
    assert s["steps"] == 40 and s["checkpoints"] == [20, 40] and s["sample_steps"] == [20, 40]
    assert s["last_loss_smoothed"] == pytest.approx(log.loss[-1])
    assert s["min_loss_smoothed"] == pytest.approx(min(log.loss))
    assert s["min_loss_step"] == log.steps[int(np.argmin(log.loss))]
    assert s["nan_steps"] == [] and s["skipped_lines"] == 2


def test_samples_grid_columns_are_steps_rows_are_prompts(run_dir):
    g = samples_grid(run_dir, cell_size=None)
    assert len(g.boxes) == 2 and all(len(r) == 2 for r in g.boxes)
    assert g.boxes[1][1] is None  # missing.png: an empty slot, no crash
    assert g.image.crop(g.boxes[0][0]).getpixel((5, 5)) == (200, 0, 0)
    assert g.image.crop(g.boxes[1][0]).getpixel((5, 5)) == (0, 200, 0)
    assert g.image.crop(g.boxes[0][1]).getpixel((5, 5)) == (0, 0, 200)
    one = samples_grid(run_dir, max_columns=1)
    assert len(one.boxes[0]) == 1


def test_sample_rows_say_prompt_and_seed_and_tiny_samples_are_shown_enlarged(run_dir, default_language):
    from lora_nb.config import Config
    from lora_nb.evaluate.lossplot import sample_labels

    assert sample_labels(run_dir, 2) == ["prompt 1", "prompt 2"]  # no config.toml: still says what a row is
    Config(sample_prompts=["a red circle", "a blue square"], sample_seed=7).save(run_dir / "config.toml")
    assert sample_labels(run_dir, 3) == ["a red circle · seed 7", "a blue square · seed 8", "prompt 3"]
    assert sample_labels(run_dir, 1, "zh") == ["a red circle · 种子 7"]
    g = samples_grid(run_dir)  # 32 px samples
    box = g.boxes[0][0]
    assert box[2] - box[0] == 256 and g.image.crop(box).getpixel((100, 100)) == (200, 0, 0)  # shown ×8
    own = samples_grid(run_dir, show_at=None).boxes[0][0]
    assert own[2] - own[0] == 32
