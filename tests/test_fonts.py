"""Chinese in pictures without tofu: the CJK font choice, matplotlib's fallback and PIL grid labels.

Missing glyphs fail these tests: matplotlib's "Glyph ... missing from font(s)" UserWarning is turned into
an error, and every character PIL draws is looked up in the chosen font's cmap (fontTools)."""

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lora_nb import fonts, i18n
from lora_nb.evaluate.lossplot import TrainLog, loss_figure, samples_grid
from lora_nb.grids import labelled_grid
from lora_nb.i18n import STRINGS, t

pytestmark = pytest.mark.usefixtures("default_language")


def _zh_texts() -> list[str]:
    return [e["zh"] for e in STRINGS.values()] + [zh for _, zh in i18n.FIELD_LABELS.values()]


def test_shipped_subset_is_small_licensed_and_covers_every_zh_string_of_the_kit():
    assert fonts.SHIPPED.is_file() and fonts.SHIPPED.stat().st_size < 1_000_000
    licence = (fonts.SHIPPED.parent / "OFL.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence and "Noto Sans CJK SC" in licence
    missing = fonts.missing_characters(_zh_texts() + list(i18n.FIELD_HELP_ZH.values()), fonts.SHIPPED)
    assert missing == "", f"rebuild the font (scripts/build_cjk_font.py): {missing!r} has no glyph"
    # GB2312 level 1 is in too, so ordinary Chinese tags and prompts render
    assert fonts.missing_characters(["一只猫坐在沙发上，红色的头发，微笑"], fonts.SHIPPED) == ""


def test_font_choice_env_then_system_then_shipped(monkeypatch, tmp_path):
    monkeypatch.delenv(fonts.ENV_VAR, raising=False)
    monkeypatch.setattr(fonts, "system_cjk_font", lambda: None)
    assert fonts.cjk_font_path() == fonts.SHIPPED
    assert fonts.label_font_path(["step 20", "seed 1"]) is None  # Latin only: PIL's default font
    assert fonts.label_font_path(["第 20 步"]) == str(fonts.SHIPPED)
    monkeypatch.setattr(fonts, "system_cjk_font", lambda: ("Noto Sans CJK SC", "/usr/share/fonts/x.ttc"))
    assert fonts.cjk_font_path() == Path("/usr/share/fonts/x.ttc")
    monkeypatch.setenv(fonts.ENV_VAR, str(tmp_path / "mine.ttf"))
    mine = tmp_path / "mine.ttf"
    assert fonts.cjk_font_path() == mine and fonts.label_font_path(["a"]) == str(mine)


def test_a_character_no_font_has_gets_one_hint_in_the_learners_language(monkeypatch):
    monkeypatch.delenv(fonts.ENV_VAR, raising=False)
    monkeypatch.setattr(fonts, "system_cjk_font", lambda: None)
    monkeypatch.setattr(fonts, "_warned", set())
    i18n.set_language("zh")
    rare = "龘"  # not in GB2312 level 1
    with pytest.warns(fonts.MissingGlyphWarning, match="fonts-noto-cjk") as rec:
        assert fonts.warn_missing([f"标签 {rare}"]) == rare
    assert len(rec) == 1 and "安装完整的中文字体" in str(rec[0].message) and rare in str(rec[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fonts.warn_missing([rare])  # said once


def _log() -> TrainLog:
    log = TrainLog(path=Path("run") / "logs" / "train_log.jsonl", steps=[1, 2, 3, 4],
                   loss=[0.3, 0.2, float("nan"), 0.1], lr=[1e-4] * 4, epochs=[0] * 4, time=[0.0] * 4)
    log.checkpoints, log.samples = [(2, "a.safetensors")], [(4, ["x.png"])]
    return log


def test_loss_plot_in_chinese_renders_every_glyph(tmp_path):
    i18n.set_language("zh")
    fig = loss_figure(_log(), family="sd15")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "步数" and ax.get_title() == "训练 loss - run"
    legend = [x.get_text() for x in fig.legends[0].get_texts()]
    assert t("plot.band", "zh") in legend and "检查点" in legend and "验证图像" in legend and "学习率" in legend
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph 27493 missing from font(s) DejaVu Sans" would fail here
        fig.savefig(tmp_path / "loss.png", dpi=60)
    assert Image.open(tmp_path / "loss.png").size[0] > 300


def test_grid_with_chinese_labels_uses_a_font_that_has_every_glyph(monkeypatch):
    monkeypatch.delenv(fonts.ENV_VAR, raising=False)
    labels = dict(col_labels=["第 20 步", "第 40 步"], row_labels=["一只猫 · 种子 1234"], title="验证图像",
                  col_title="步数", row_title="提示词 · 种子")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no MissingGlyphWarning
        g = labelled_grid([[Image.new("RGB", (64, 64), (200, 0, 0))] * 2], **labels)
    path = fonts.label_font_path([labels["title"]])
    drawn = "".join([labels["title"], labels["col_title"], labels["row_title"], *labels["col_labels"],
                     *labels["row_labels"]])
    cmap = fonts.codepoints(path)
    assert [ch for ch in drawn if not ch.isspace() and ord(ch) not in cmap] == []
    header = np.asarray(g.image.crop((0, 0, g.image.width, g.boxes[0][0][1])).convert("L"))
    assert header.min() < 100  # the labels were drawn (dark pixels above the cells)


def test_sample_sheet_in_chinese(tmp_path):
    run = tmp_path / "run"
    (run / "samples").mkdir(parents=True)
    (run / "logs").mkdir()
    (run / "logs" / "train_log.jsonl").write_text('{"event": "sample", "step": 5, "paths": ["samples/a.png"]}\n',
                                                  encoding="utf-8")
    Image.new("RGB", (64, 64), (0, 0, 200)).save(run / "samples" / "a.png")
    i18n.set_language("zh")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = samples_grid(run)
    assert g.image.width >= 256 and g.boxes[0][0][2] - g.boxes[0][0][0] == 256  # 64 px shown ×4


def test_tag_plot_with_chinese_tags_and_labels_renders_every_glyph(tmp_path):
    from lora_nb.dataset.tag_stats import plot_tag_frequency

    i18n.set_language("zh")
    fig = plot_tag_frequency({"红色头发": 5, "微笑": 3, "1girl": 2}, concept="猫")
    assert fig.axes[0].get_xlabel() == "在标注中出现的次数" and fig.axes[0].get_title() == "猫 中出现最多的 3 个标签"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.savefig(tmp_path / "tags.png", dpi=50)


def test_pil_labels_beyond_ascii_take_the_shipped_font():
    """PIL's default font draws × (the grids' "shown ×4, nearest") as a box: any non-ASCII label gets a real font."""
    from lora_nb.fonts import label_font_path

    assert label_font_path(["seed 42", "step 300"]) is None
    assert label_font_path(["shown ×4, nearest"]) is not None
    assert label_font_path(["café"]) is not None
