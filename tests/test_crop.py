"""crop.py: sizes and buckets, where center/focus/bucket put the box, no silent upscaling, folders,
captions, the preview grid and the CLI."""

import json
import math

import numpy as np
import pytest
from PIL import Image, ImageDraw

from lora_nb.dataset.crop import (
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
    rep = crop_folder(src, out, 64, "focus", focus="saliency", progress=False)
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
    crop_folder(src, out, 64, "center", progress=False)
    assert json.loads((out / "crop_report.json").read_text(encoding="utf-8"))["mode"] == "center"
    with pytest.raises(DatasetError, match="overlaps"):
        crop_folder(src, src / "out", 64, progress=False)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "x.txt").write_text("keep me")
    with pytest.raises(DatasetError, match="not made by this step"):
        crop_folder(src, tmp_path / "mine", 64, progress=False)
    assert (tmp_path / "mine" / "x.txt").read_text() == "keep me"


def test_crop_folder_upscale_and_bucket(tmp_path):
    src = _dataset(tmp_path / "ds")
    rep = crop_folder(src, tmp_path / "up", 64, "center", upscale=True, progress=False)
    assert [i.source for i in rep.small] == ["10_disc/tiny.png"] and len(rep.skipped) == 1
    rep = crop_folder(src, tmp_path / "b", 128, "bucket", min_bucket=64, progress=False)
    sizes = {i.source: i.size for i in rep.items}
    assert sizes["10_disc/wide.png"] == (192, 64) or sizes["10_disc/wide.png"][0] > sizes["10_disc/wide.png"][1]
    assert all(w % 64 == 0 and h % 64 == 0 for w, h in sizes.values())
    assert rep.focus is None
    with pytest.raises(ConfigError, match="crop mode"):
        crop_folder(src, tmp_path / "c", 64, "zoom", progress=False)
    with pytest.raises(ConfigError, match="focus"):
        crop_folder(src, tmp_path / "c", 64, "focus", focus="magic", progress=False)


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
