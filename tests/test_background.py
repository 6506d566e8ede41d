"""background.py with a tiny ONNX segmentation model built here (rembg's real session and cut-out code
run on it): model lookup without downloads, clear errors, folder processing, and the rembg mask in
the focus crop."""

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

pytest.importorskip("rembg")
onnx = pytest.importorskip("onnx")

from lora_nb.dataset.background import (  # noqa: E402
    BackgroundRemover,
    find_model_file,
    load_remover,
    model_file_candidates,
    remove_background,
)
from lora_nb.errors import ModelLoadError  # noqa: E402


def tiny_u2net(path):
    """A U^2-Net-shaped ONNX model: input (1, 3, 320, 320) normalised RGB, first output (1, 1, 320, 320).

    mask = sigmoid(-4 * mean over channels): dark pixels are 'subject', light ones 'background' -
    enough to check that rembg's pre/post-processing and our plumbing put the mask where it belongs.
    """
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, 320, 320])
    y = helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, 320, 320])
    k = helper.make_tensor("k", TensorProto.FLOAT, [], [-4.0])
    nodes = [
        helper.make_node("ReduceMean", ["input.1"], ["m"], axes=[1], keepdims=1),
        helper.make_node("Mul", ["m", "k"], ["s"]),
        helper.make_node("Sigmoid", ["s"], ["mask"]),
    ]
    graph = helper.make_graph(nodes, "tiny_u2net", [x], [y], [k])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="lora-nb-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def subject_image(w=200, h=120, at=(150, 60), r=30):
    """A dark disc (the subject) on a white background."""
    img = Image.new("RGB", (w, h), (255, 255, 255))
    ImageDraw.Draw(img).ellipse((at[0] - r, at[1] - r, at[0] + r, at[1] + r), fill=(20, 20, 40))
    return img


@pytest.fixture
def no_download(monkeypatch, tmp_path):
    """rembg's downloader fails the test if anything tries it; rembg's home is an empty temp folder."""
    import pooch

    def boom(*a, **k):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(pooch, "retrieve", boom)
    monkeypatch.setenv("U2NET_HOME", str(tmp_path / "rembg_home"))
    return tmp_path / "rembg_home"


@pytest.fixture
def model_file(tmp_path_factory):
    return tiny_u2net(tmp_path_factory.mktemp("onnx") / "my_model.onnx")


def test_custom_model_path_and_masks(no_download, model_file):
    rem = load_remover("u2net_custom", model_path=model_file)
    assert isinstance(rem, BackgroundRemover) and rem.model_file == model_file
    img = subject_image()
    mask = np.asarray(rem.mask(img))
    assert mask.shape == (120, 200)
    assert mask[60, 150] > 200 and mask[10, 10] < 30  # subject in, background out
    cut = rem.cutout(img)
    assert cut.mode == "RGBA" and cut.getpixel((150, 60))[3] > 200 and cut.getpixel((10, 10))[3] < 30
    flat = rem.cutout(img, background="#00ff00")
    assert flat.mode == "RGB" and flat.getpixel((10, 10))[1] > 200 and flat.getpixel((10, 10))[0] < 60


def test_model_in_rembg_home_is_used_without_download(no_download, model_file):
    home = no_download
    assert find_model_file("u2netp") is None
    # rembg's legacy flat layout ($U2NET_HOME/u2netp.onnx) and its per-model layout both work
    tiny_u2net(home / "u2netp.onnx")
    assert find_model_file("u2netp") == home / "u2netp.onnx"
    rem = load_remover("u2netp", allow_download=True)  # allowed, but not needed: no download happens
    assert rem.model == "u2netp" and rem.model_file == home / "u2netp.onnx"
    tiny_u2net(home / "models" / "u2net" / "u2net.onnx")
    assert load_remover("u2net").model_file == home / "models" / "u2net" / "u2net.onnx"
    # an extra folder (e.g. on Drive) is searched first
    tiny_u2net(home.parent / "drive_models" / "silueta.onnx")
    assert load_remover("silueta", model_dir=home.parent / "drive_models").model_file.parent.name == "drive_models"


def test_missing_model_errors_say_where_to_put_it(no_download, monkeypatch):
    with pytest.raises(ModelLoadError) as e:
        load_remover("u2netp", allow_download=False)
    msg = str(e.value)
    assert "u2netp.onnx" in msg and str(no_download) in msg and "rembg d u2netp" in msg
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # offline by default: no attempt at all
    with pytest.raises(ModelLoadError, match="downloads are off"):
        load_remover("isnet-general-use")

    import pooch

    def no_network(*a, **k):
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(pooch, "retrieve", no_network)
    with pytest.raises(ModelLoadError, match="download failed: ConnectionError") as e:
        load_remover("u2netp", allow_download=True)
    assert str(model_file_candidates("u2netp")[0]) in str(e.value)


def test_bad_arguments(no_download, tmp_path):
    with pytest.raises(ModelLoadError, match="unknown rembg model"):
        load_remover("sam")
    with pytest.raises(ModelLoadError, match="needs model_path"):
        load_remover("u2net_custom")
    with pytest.raises(ModelLoadError, match="not found"):
        load_remover("u2net_custom", model_path=tmp_path / "nope.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not an onnx model")
    with pytest.raises(ModelLoadError, match="cannot load ONNX model"):
        load_remover("u2net_custom", model_path=tmp_path / "junk.onnx")


def _folder(root):
    (root / "5_disc").mkdir(parents=True)
    subject_image().save(root / "5_disc" / "a.png")
    (root / "5_disc" / "a.txt").write_text("a disc", encoding="utf-8")
    subject_image(at=(40, 60)).save(root / "5_disc" / "b.jpg", quality=95)
    (root / "5_disc" / "bad.png").write_bytes(b"oops")
    return root


def test_remove_background_folder(no_download, model_file, tmp_path):
    src = _folder(tmp_path / "ds")
    rep = remove_background(src, tmp_path / "cut", "u2net_custom", model_path=model_file, save_masks=True,
                            progress=False)
    assert [i.output for i in rep.items] == ["5_disc/a.png", "5_disc/b.png"]  # RGBA needs PNG
    a = Image.open(tmp_path / "cut" / "5_disc" / "a.png")
    assert a.mode == "RGBA" and a.getpixel((150, 60))[3] > 200 and a.getpixel((5, 5))[3] < 30
    assert (tmp_path / "cut" / "5_disc" / "a.txt").read_text(encoding="utf-8") == "a disc"
    assert Image.open(tmp_path / "cut" / rep.items[0].mask).mode == "L"
    assert rep.skipped[0][0] == "5_disc/bad.png" and "not an image" in rep.skipped[0][1]
    assert json.loads((tmp_path / "cut" / "background_report.json").read_text(encoding="utf-8"))["model"] == \
        "u2net_custom"
    rep = remove_background(src, tmp_path / "flat", "u2net_custom", model_path=model_file, background="gray",
                            progress=False)
    b = Image.open(tmp_path / "flat" / "5_disc" / "b.jpg")
    assert b.mode == "RGB" and abs(b.getpixel((180, 10))[0] - 128) < 12
    assert "composited onto rgb(128, 128, 128)" in rep.summary()


def test_focus_crop_uses_rembg_mask(no_download, model_file, tmp_path):
    from lora_nb.dataset.crop import crop_folder

    src = tmp_path / "ds"
    (src / "1_x").mkdir(parents=True)
    img = subject_image(256, 128, at=(40, 64), r=24)
    # a busy, high-contrast pattern on the right fools the saliency estimate, not the mask
    d = ImageDraw.Draw(img)
    for x in range(150, 256, 6):
        d.line((x, 0, x, 128), fill=(255, 230, 0), width=3)
    img.save(src / "1_x" / "a.png")
    rep = crop_folder(src, tmp_path / "c1", resolution=64, mode="focus", focus="rembg", rembg_model="u2net_custom",
                      model_path=model_file, progress=False)
    assert rep.focus == "rembg" and rep.items[0].box[0] == 0
    # auto: the model in rembg's home is used when present...
    tiny_u2net(no_download / "u2netp.onnx")
    assert crop_folder(src, tmp_path / "c2", resolution=64, mode="focus", progress=False).focus == "rembg"
    (no_download / "u2netp.onnx").unlink()
    # ...and the saliency estimate otherwise (no error, no download)
    assert crop_folder(src, tmp_path / "c3", resolution=64, mode="focus", progress=False).focus == "saliency"
    # background removal inside the crop step: white behind the subject
    rep = crop_folder(src, tmp_path / "c4", resolution=64, mode="focus", remove_background=True,
                      rembg_model="u2net_custom", model_path=model_file, progress=False)
    out = Image.open(tmp_path / "c4" / rep.items[0].output)
    assert (out.mode == "RGB" and out.getpixel((60, 2)) == (255, 255, 255)
            and rep.background == "removed (u2net_custom)")
    with pytest.raises(ModelLoadError):
        crop_folder(src, tmp_path / "c5", resolution=64, mode="focus", focus="rembg", progress=False)


def test_loading_rembg_keeps_the_kernels_torch_thread_count(tmp_path):
    """rembg's import (numba's OpenMP layer) sets torch to every core; the learner's kernel keeps its count
    (OMP_NUM_THREADS=1 here), so a CPU run after a crop in the same kernel is not slowed by waiting threads."""
    import os
    import subprocess
    import sys

    code = ("import torch; torch.set_num_threads(1); torch.get_num_threads()\n"  # a kernel that has used torch
            "from lora_nb.dataset.background import find_model_file\n"
            f"find_model_file('u2netp', {str(tmp_path)!r}); import rembg\n"
            "print(torch.get_num_threads(), 'rembg' in __import__('sys').modules)")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.stdout.split()[-2:] == ["1", "True"], out.stderr[-2000:]
