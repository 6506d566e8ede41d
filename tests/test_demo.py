"""`lora-nb demo`: the whole course on the sample data and the built-in tiny-shapes model, as the
README promises (the score curve over a full demo run is tests/test_tiny_base.py's job)."""

import json
import re

from PIL import Image
from safetensors import safe_open

from lora_nb.cli import main
from lora_nb.toy.builtin import builtin_model_dir


def test_demo_writes_lora_files_xy_grid_and_star_scores(tmp_path, capsys):
    out = tmp_path / "demo"
    rc = main(["demo", "--out", str(out), "--steps", "4", "--save-every", "2", "--grid-seeds", "2",
               "--grid-steps", "4"])
    assert rc == 0
    kohya = out / "4_run" / "lora.safetensors"
    assert kohya.is_file() and (out / "4_run" / "lora-step00000002.safetensors").is_file()
    assert (out / "4_run" / "lora_diffusers" / "pytorch_lora_weights.safetensors").is_file()
    with safe_open(str(kohya), "pt") as f:
        assert f.metadata()["ss_training_comment"] == "lora-nb demo on datasets_sample"
        assert any(k.startswith("lora_unet_") for k in f.keys())
    grid = Image.open(out / "xy_grid.png")
    assert grid.width > 3 * 64 and grid.height > 2 * 2 * 64  # 2 seeds x 2 checkpoints x 3 strengths plus labels
    for step in ("1_dataset", "2_cropped", "3_captions"):
        assert len(list((out / step).rglob("*.png"))) == 20, step
    scores = (out / "star_scores.md").read_text(encoding="utf-8")
    assert "| step 2 |" in scores and "| step 4 |" in scores and "strength 1" in scores
    # scores are reported against what the base model's VAE lets the sample itself score (lora_nb.toy.ceiling)
    assert "share of the ceiling 0.43" in scores and "| 0.000 (0.00) |" in scores
    printed = capsys.readouterr().out
    assert f"base model: {builtin_model_dir()}" in printed
    assert "collect: 20 images imported" in printed and "demo done" in printed and "star score" in printed
    # step 6 measured: the evaluation's choice and its reason are printed, its report written into the run
    saved = json.loads((out / "4_run" / "evaluation" / "recommendation.json").read_text(encoding="utf-8"))
    rec = saved["recommendation"]
    said = re.search(r"recommend: (step \d+) at strength ([\d.]+) \(.*\.safetensors\) -> .*report\.md\n"
                     r"Take (step \d+) at strength ([\d.]+): its star is", printed)
    assert said, printed
    assert said.group(1) == said.group(3) == rec["checkpoint"] and float(said.group(2)) == rec["strength"]
    assert rec["measure"] == "star" and saved["measurements"]["strengths"] == [0.0, 1.0]
    assert (out / "4_run" / "evaluation" / "report.md").is_file()


def test_demo_on_other_data_and_model_draws_a_plain_grid(tmp_path, tiny_sd15, tiny_dataset, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--model", str(tiny_sd15), "--data", str(tiny_dataset),
                 "--steps", "2", "--save-every", "2", "--grid-steps", "2"]) == 0
    assert (out / "xy_grid.png").is_file() and not (out / "star_scores.md").exists()
    assert f"base model: {tiny_sd15}" in capsys.readouterr().out
