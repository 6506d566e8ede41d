"""`lora-nb demo`: the whole course on the sample data and a tiny model, as the README promises."""

from PIL import Image
from safetensors import safe_open

from lora_nb.cli import main


def test_demo_writes_lora_files_and_xy_grid(tmp_path, tiny_sd15, capsys):
    out = tmp_path / "demo"
    rc = main(["demo", "--out", str(out), "--model", str(tiny_sd15), "--steps", "4", "--save-every", "2"])
    assert rc == 0
    kohya = out / "4_run" / "lora.safetensors"
    assert kohya.is_file() and (out / "4_run" / "lora-step00000002.safetensors").is_file()
    assert (out / "4_run" / "lora_diffusers" / "pytorch_lora_weights.safetensors").is_file()
    with safe_open(str(kohya), "pt") as f:
        assert f.metadata()["ss_training_comment"] == "lora-nb demo on datasets_sample"
        assert any(k.startswith("lora_unet_") for k in f.keys())
    grid = Image.open(out / "xy_grid.png")
    assert grid.width > 3 * 64 and grid.height > 2 * 64  # 2 checkpoints x 3 strengths plus labels
    for step in ("1_dataset", "2_cropped", "3_captions"):
        assert len(list((out / step).rglob("*.png"))) == 20, step
    printed = capsys.readouterr().out
    assert "collect: 20 images imported" in printed and "demo done" in printed
