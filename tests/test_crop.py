"""crop.py: sizes and buckets, where center/focus/bucket put the box, no silent upscaling, folders,
captions, the preview grid and the CLI."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from lora_nb.dataset import background
from lora_nb.dataset.crop import (
    FOCUS_SOURCES,
    MODES,
    CropOptions,
    check_resolution,
    closest_bucket,
    crop_folder,
    crop_image,
    make_buckets,
    render_crop_preview,
    saliency_map,
    subject_box,
)
from lora_nb.errors import ConfigError, DatasetError
from lora_nb.families.facts import FACTS, facts
from lora_nb.images import ImageRejected


def scene(w=256, h=128, subject_at=(208, 64), r=28, bg=(235, 235, 230), fg=(200, 30, 30)):
    """A plain background with a disc (the subject) somewhere off-centre."""
    img = Image.new("RGB", (w, h), bg)
    x, y = subject_at
    ImageDraw.Draw(img).ellipse((x - r, y - r, x + r, y + r), fill=fg, outline=(20, 20, 20), width=3)
    return img


def test_presets_and_resolution_checks():
    assert facts("sd15").resolution == 512 and facts("sdxl").resolution == 1024 == facts("flux").resolution
    assert 768 in FACTS["sdxl"].crop_resolutions
    assert check_resolution(768) == 768
    with pytest.raises(ConfigError, match="multiple of 64 -> use 512"):
        check_resolution(500)
    with pytest.raises(ConfigError):
        facts("sd3")


def test_buckets_follow_kohya():
    b = make_buckets(512)
    assert (512, 512) in b and (256, 1024) in b and (1024, 256) in b
    assert all(w % 64 == 0 and h % 64 == 0 and w * h <= 512 * 512 for w, h in b)
    assert closest_bucket(1000, 500, b) == min(b, key=lambda x: abs(math.log(x[0] / x[1]) - math.log(2)))
    assert closest_bucket(600, 600, b) == (512, 512)


def test_center_vs_focus_on_off_centre_subject():
    img = scene()
    center = crop_image(img, 64, "center")
    assert center.box == (64, 0, 192, 128) and center.size == (64, 64)
    focus = crop_image(img, 64, "focus")
    x0, y0, x1, y1 = focus.box
    assert (x1 - x0, y1 - y0) == (128, 128) and x0 >= 128 - 2  # pushed right, the disc (180..236) inside
    assert x0 <= 180 and x1 >= 236
    # the subject is what the focus crop keeps: the red disc dominates its output, not the center crop's
    red = lambda im: (np.asarray(im)[..., 0] > 150).mean() - (np.asarray(im)[..., 1] > 150).mean()  # noqa: E731
    assert red(focus.image) > red(center.image) + 0.1


def test_focus_follows_a_given_mask_and_saliency_finds_subject():
    img = scene(subject_at=(208, 64))
    mask = Image.new("L", img.size, 0)
    ImageDraw.Draw(mask).rectangle((0, 30, 60, 100), fill=255)  # a mask that says: subject on the left
    assert crop_image(img, 64, "focus", mask=mask).box[0] == 0
    sal = saliency_map(img)
    box = subject_box(sal, img.size)
    assert 170 <= (box[0] + box[2]) / 2 <= 245 and 40 <= (box[1] + box[3]) / 2 <= 90
    assert subject_box(np.zeros((8, 8)), (64, 64)) is None  # empty map -> centre crop
    flat = Image.new("RGB", (200, 100), "white")
    assert crop_image(flat, 64, "focus").box == (50, 0, 150, 100)


def test_no_silent_upscaling():
    small = scene(100, 80, subject_at=(50, 40), r=20)
    with pytest.raises(ImageRejected, match="too small.*upscale=True"):
        crop_image(small, 128, "center")
    up = crop_image(small, 128, "center", upscale=True)
    assert up.size == (128, 128) and up.notes == ["upscaled x1.60"]
    kept = crop_image(small, 512, "bucket")
    assert kept.size == (64, 64) and kept.notes[0].startswith("small: kept at 64x64")
    with pytest.raises(ImageRejected, match="below 64"):
        crop_image(scene(50, 200, subject_at=(25, 100), r=10), 512, "bucket")


def test_bucket_mode_keeps_aspect_and_crops_minimum():
    img = scene(1200, 600, subject_at=(600, 300), r=100)
    res = crop_image(img, 512, "bucket")
    w, h = res.size
    assert w % 64 == 0 and h % 64 == 0 and w * h <= 512 * 512
    assert abs(w / h - 2) < 0.25
    bx = res.box
    assert (bx[2] - bx[0]) / (bx[3] - bx[1]) == pytest.approx(w / h, rel=0.01)
    assert (bx[2] - bx[0]) * (bx[3] - bx[1]) >= 0.9 * 1200 * 600  # only a sliver is cut


def _dataset(root):
    (root / "10_disc").mkdir(parents=True)
    scene(256, 128).save(root / "10_disc" / "wide.png")
    (root / "10_disc" / "wide.txt").write_text("disc, wide", encoding="utf-8")
    scene(128, 256, subject_at=(64, 40)).save(root / "10_disc" / "tall.jpg", quality=95)
    (root / "10_disc" / "tall.txt").write_text("disc, tall", encoding="utf-8")
    scene(128, 128, subject_at=(64, 64)).save(root / "10_disc" / "wide.webp", lossless=True)  # name clash
    (root / "10_disc" / "wide.caption").write_text("other caption", encoding="utf-8")
    scene(40, 40, subject_at=(20, 20), r=8).save(root / "10_disc" / "tiny.png")
    (root / "10_disc" / "broken.png").write_bytes(b"nope")
    return root


def test_crop_folder_keeps_captions_and_reports(tmp_path):
    src = _dataset(tmp_path / "ds")
    before = {p: p.read_bytes() for p in src.rglob("*") if p.is_file()}
    out = tmp_path / "cropped"
    rep = crop_folder(src, out, resolution=64, mode="focus", focus="saliency", progress=False)
    assert {p: p.read_bytes() for p in src.rglob("*") if p.is_file()} == before
    assert rep.focus == "saliency"
    outs = {i.source: i for i in rep.items}
    assert set(outs) == {"10_disc/tall.jpg", "10_disc/wide.png", "10_disc/wide.webp"}
    assert outs["10_disc/tall.jpg"].output == "10_disc/tall.jpg"
    assert {outs["10_disc/wide.png"].output, outs["10_disc/wide.webp"].output} == {"10_disc/wide.png",
                                                                                  "10_disc/wide_1.png"}
    for item in rep.items:
        img = Image.open(out / item.output)
        assert img.size == (64, 64) and img.mode == "RGB"
    assert (out / "10_disc" / "wide.txt").read_text(encoding="utf-8") == "disc, wide"
    assert (out / "10_disc" / "tall.txt").read_text(encoding="utf-8") == "disc, tall"
    webp_out = out / outs["10_disc/wide.webp"].output
    assert webp_out.with_suffix(".caption").read_text(encoding="utf-8") == "other caption"
    skipped = dict(rep.skipped)
    assert "too small" in skipped["10_disc/tiny.png"] and "not an image" in skipped["10_disc/broken.png"]
    assert json.loads((out / "crop_report.json").read_text(encoding="utf-8"))["mode"] == "focus"
    assert "skipped 10_disc/tiny.png" in rep.summary()
    # tall image: the disc near the top stays in the crop
    assert outs["10_disc/tall.jpg"].box[1] == 0
    grid = render_crop_preview(rep, tile_size=64, pairs_per_row=2)
    assert grid.width == 4 * 70 + 6
    assert (np.asarray(grid) == (255, 0, 0)).all(axis=-1).sum() > 50  # the red crop boxes
    # running again replaces our own output; foreign folders and the input are refused
    crop_folder(src, out, resolution=64, mode="center", progress=False)
    assert json.loads((out / "crop_report.json").read_text(encoding="utf-8"))["mode"] == "center"
    with pytest.raises(DatasetError, match="overlaps"):
        crop_folder(src, src / "out", resolution=64, progress=False)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "x.txt").write_text("keep me")
    with pytest.raises(DatasetError, match="not made by this step"):
        crop_folder(src, tmp_path / "mine", resolution=64, progress=False)
    assert (tmp_path / "mine" / "x.txt").read_text() == "keep me"


def test_crop_folder_upscale_and_bucket(tmp_path):
    src = _dataset(tmp_path / "ds")
    rep = crop_folder(src, tmp_path / "up", resolution=64, mode="center", upscale=True, progress=False)
    assert [i.source for i in rep.small] == ["10_disc/tiny.png"] and len(rep.skipped) == 1
    rep = crop_folder(src, tmp_path / "b", resolution=128, mode="bucket", min_bucket=64, progress=False)
    sizes = {i.source: i.size for i in rep.items}
    assert sizes["10_disc/wide.png"] == (192, 64) or sizes["10_disc/wide.png"][0] > sizes["10_disc/wide.png"][1]
    assert all(w % 64 == 0 and h % 64 == 0 for w, h in sizes.values())
    assert rep.focus is None
    with pytest.raises(ConfigError, match="mode: 'zoom' is not one of center, focus, bucket"):
        crop_folder(src, tmp_path / "c", resolution=64, mode="zoom", progress=False)
    with pytest.raises(ConfigError, match="focus"):
        crop_folder(src, tmp_path / "c", resolution=64, mode="focus", focus="magic", progress=False)


def test_cli_crop(tmp_path, capsys, monkeypatch):
    from lora_nb.cli import main

    monkeypatch.setenv("U2NET_HOME", str(tmp_path / "no-models"))  # auto focus: no rembg model -> saliency
    src = _dataset(tmp_path / "ds")
    prev = tmp_path / "preview.png"
    assert main(["crop", str(src), "--out", str(tmp_path / "c"), "--resolution", "64", "--quiet",
                 "--preview", str(prev)]) == 0
    out = capsys.readouterr().out
    assert "Cropped 3 images (focus (saliency), 64 px)" in out and "skipped 10_disc/tiny.png" in out
    assert Image.open(prev).width > 100
    assert main(["crop", str(src), "--out", str(tmp_path / "d"), "--resolution", "100", "--quiet"]) == 2
    assert "multiple of 64" in capsys.readouterr().err
    # the generated flags are applied: center mode with upscaling keeps the tiny image too
    assert main(["crop", str(src), "--out", str(tmp_path / "e"), "--resolution", "64", "--mode", "center",
                 "--upscale", "true", "--quiet"]) == 0
    assert "Cropped 4 images (center, 64 px)" in capsys.readouterr().out
    assert main(["crop", str(src), "--out", str(tmp_path / "f"), "--mode", "zoom", "--quiet"]) == 2
    assert "mode: 'zoom' is not one of center, focus, bucket" in capsys.readouterr().err
    assert main(["crop", str(src), "--out", str(tmp_path / "g"), "--remove-background", "true",
                 "--background", "nocolour", "--quiet"]) == 2
    assert "background: unknown colour 'nocolour'" in capsys.readouterr().err


# --- CropOptions: one place for every setting of the step -------------------------------------------
def test_crop_options_defaults_choices_and_refusals(tmp_path):
    o = CropOptions()
    assert (o.mode, o.resolution, o.family, o.focus, o.upscale, o.remove_background, o.background) == \
        ("focus", None, "sd15", "auto", False, False, "white")
    assert (o.rembg_model, o.min_bucket, o.max_bucket, o.overwrite) == (background.DEFAULT_MODEL, 256, None, False)
    info = {i["name"]: i for i in CropOptions.field_info()}
    assert info["mode"]["choices"] == MODES and info["focus"]["choices"] == FOCUS_SOURCES
    assert info["family"]["choices"] == tuple(FACTS) and info["rembg_model"]["choices"] == tuple(background.MODELS)
    assert "sdxl 1024/768" in info["resolution"]["help"]  # the sides each family offers, read from its facts
    refusals = {
        "resolution: 500 is not a positive multiple of 64 -> use 512": dict(resolution=500),
        "resolution: 32 is below the minimum 64": dict(resolution=32),
        "family: 'sd3' is not one of sd15, sdxl, flux": dict(family="sd3"),
        "rembg_model: 'u2netpp' is not one of u2netp, .*did you mean 'u2netp'": dict(rembg_model="u2netpp"),
        "focus: 'magic' is not one of auto, rembg, saliency": dict(focus="magic"),
        "min_bucket: 100 is not a multiple of 64 -> use 128": dict(min_bucket=100),
        "max_bucket: 32 is below the minimum 64": dict(max_bucket=32),
        "max_bucket: 128 is below min_bucket 256": dict(max_bucket=128),
        "background: unknown colour 'nocolour'": dict(background="nocolour"),
        "upscale: expected bool": dict(upscale="yes"),
    }
    for msg, kw in refusals.items():
        with pytest.raises(ConfigError, match=msg):
            CropOptions(**kw)
    assert CropOptions(background="transparent").background == "transparent" and CropOptions(background=None)
    assert CropOptions.from_dict({"resolution": "", "upscale": "true"}) == CropOptions(upscale=True)
    assert CropOptions(model_path=tmp_path / "m.onnx").model_path == str(tmp_path / "m.onnx")  # a Path is its text


def test_crop_folder_takes_options_and_keyword_overrides(tmp_path):
    src = _dataset(tmp_path / "ds")
    opts = CropOptions(resolution=64, mode="center", upscale=True)
    rep = crop_folder(src, tmp_path / "a", opts, progress=False)
    assert (rep.mode, rep.resolution, len(rep.items), rep.small[0].source) == ("center", 64, 4, "10_disc/tiny.png")
    rep = crop_folder(src, tmp_path / "b", opts, mode="bucket", min_bucket=64, progress=False)  # keywords win
    assert rep.mode == "bucket" and rep.resolution == 64 and opts.mode == "center"
    rep = crop_folder(src, tmp_path / "c", CropOptions(mode="bucket", min_bucket=64), progress=False)
    assert rep.resolution == facts("sd15").resolution  # no resolution: the family's native side
    with pytest.raises(ConfigError, match="crop_folder: unknown field 'resolutoin'"):
        crop_folder(src, tmp_path / "d", resolutoin=64)
    with pytest.raises(ConfigError, match="expected CropOptions, got int"):
        crop_folder(src, tmp_path / "d", 64)  # settings are keywords (or a CropOptions)


def test_cli_crop_flags_are_the_options_fields():
    from lora_nb.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["crop"]
    flags = {a.option_strings[0]: a for a in sub._actions if a.option_strings}
    for info in CropOptions.field_info():
        flag = flags["--" + info["name"].replace("_", "-")]
        assert flag.help.startswith(info["help"]) and flag.help.endswith(f"(default: {info['default']!r})")
    assert "[center|focus|bucket]" in flags["--mode"].help
    args = sub.parse_args(["ds", "--out", "o", "--resolution", "768", "--family", "sdxl", "--overwrite", "true"])
    from lora_nb.commands._option_flags import options_from_args
    from lora_nb.commands.crop import PREFIX

    assert options_from_args(args, CropOptions, PREFIX) == CropOptions(resolution=768, family="sdxl", overwrite=True)


def test_crop_form_fields_match_the_options():
    import ast

    import nbformat

    from lora_nb.notebook.form import options_form

    form = options_form(CropOptions(resolution=64, mode="center"))
    assert list(form.widgets) == [i["name"] for i in CropOptions.field_info()]
    assert form.widgets["resolution"].value == "64" and form.widgets["mode"].value == "center"
    form.widgets["mode"].value = "bucket"
    form.widgets["max_bucket"].value = "512"
    assert form.valid and form.options == CropOptions(resolution=64, mode="bucket", max_bucket=512)
    form.widgets["min_bucket"].value = 100
    assert form.problems == ["min_bucket: 100 is not a multiple of 64 -> use 128"]
    # notebook 02 builds its form from CropOptions fields and crops with what the form shows
    nb = nbformat.read(Path(__file__).resolve().parent.parent / "notebooks" / "02_crop.ipynb", as_version=4)
    code = "\n".join(c.source for c in nb.cells
                     if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", []))
    calls = [n for n in ast.walk(ast.parse(code.replace("!", "#").replace("%", "#")))
             if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "CropOptions"]
    assert len(calls) == 1 and {k.arg for k in calls[0].keywords} <= set(form.widgets)
    assert "ui.options_form(CropOptions(" in code and "form.options" in code
