"""GPU-memory presets: the tier follows the GPU's memory, a preset only touches memory settings the
user left at their defaults, every preset is a valid config, and the trainer applies them."""

import pytest

from lora_nb.config import Config
from lora_nb.families import check_config
from lora_nb.training.presets import PRESETS, TIERS, choose_preset, get_preset, preset_table, tier_for_memory


@pytest.mark.parametrize("gb,tier", [(7.6, "12GB"), (11.7, "12GB"), (14.7, "16GB"), (15.7, "16GB"),
                                     (22.0, "24GB"), (23.6, "24GB"), (39.4, "40GB"), (79.1, "40GB")])
def test_tier_follows_reported_gpu_memory(gb, tier):
    assert tier_for_memory(gb) == tier  # 14.7 GiB is what a Colab T4 reports


@pytest.mark.parametrize("key", sorted(PRESETS))
def test_every_preset_is_a_valid_runnable_config(key):
    family, tier = key.split("/")
    choice = choose_preset(Config(family=family), tier=tier)
    cfg = choice.config
    check_config(cfg.validate())
    assert cfg.max_bucket_reso >= cfg.resolution >= cfg.min_bucket_reso
    # presets change memory settings only, never what is learned
    assert {"learning_rate", "rank", "alpha", "max_train_steps", "max_train_epochs"}.isdisjoint(
        PRESETS[key].settings)


def test_small_gpus_get_the_memory_savers():
    for tier in ("12GB", "16GB"):
        flux = get_preset("flux", tier).settings
        assert flux["quantization"] == "nf4" and flux["gradient_checkpointing"] and flux["resolution"] == 512
        assert flux["cache_text_embeddings"] == "auto"  # T5 is encoded once and freed
        sdxl = get_preset("sdxl", tier).settings
        assert sdxl["gradient_checkpointing"] and sdxl["resolution"] == 1024
    assert get_preset("flux", "24GB").settings["resolution"] == 1024
    assert get_preset("flux", "40GB").settings["quantization"] == "none"
    assert not get_preset("sdxl", "40GB").settings["gradient_checkpointing"]
    assert {r["tier"] for r in preset_table()} == set(TIERS)


def test_preset_keeps_what_the_user_changed():
    user = Config(family="flux", quantization="int8", resolution=768, max_bucket_reso=768)
    choice = choose_preset(user, gpu_gb=14.7)  # planning for a Colab T4 from anywhere
    assert choice.preset.tier == "16GB" and "auto" in choice.reason
    assert choice.config.quantization == "int8" and choice.config.resolution == 768
    assert choice.kept == {"quantization": ("int8", "nf4"), "resolution": (768, 512)}
    assert choice.config.gradient_checkpointing and choice.applied["gradient_checkpointing"] is True
    text = choice.describe()
    assert "flux/16GB" in text and "kept your quantization='int8'" in text


def test_resolution_change_widens_the_buckets():
    cfg = choose_preset(Config(family="sdxl", max_bucket_reso=768), tier="12GB").config
    assert cfg.resolution == 1024 and cfg.max_bucket_reso == 1024


def test_no_preset_without_gpu_or_when_switched_off(monkeypatch):
    import lora_nb.training.presets as P

    monkeypatch.setattr(P, "detect_tier", lambda: None)
    cfg = Config(family="sdxl")
    auto = choose_preset(cfg)
    assert auto.preset is None and auto.config == cfg and "no CUDA GPU" in auto.describe()
    off = choose_preset(cfg.replace(gpu_preset="none"), gpu_gb=14.7)
    assert off.preset is None and off.config.resolution == cfg.resolution
    with pytest.raises(Exception, match="gpu_preset"):
        Config(gpu_preset="8GB")


def test_trainer_applies_the_detected_preset(monkeypatch, tmp_path, tiny_dataset, capsys):
    import lora_nb.training.presets as P
    from lora_nb.toy.testing import build_tiny_model
    from lora_nb.training.trainer import train

    monkeypatch.setattr(P, "detect_tier", lambda: "16GB")  # as on a Colab T4
    model = build_tiny_model("flux", tmp_path / "tiny-flux")
    cfg = Config(family="flux", pretrained_model=str(model), train_data_dir=str(tiny_dataset), resolution=64,
                 max_train_steps=1, optimizer="adamw", save_formats=["diffusers"], output_dir=str(tmp_path / "run"))
    res = train(cfg)
    saved = Config.load(res.output_dir / "config.toml")
    assert saved.quantization == "nf4" and saved.gradient_checkpointing and saved.cpu_offload
    assert saved.resolution == 64 and saved.optimizer == "adamw"  # the user's choices
    assert "GPU preset flux/16GB" in capsys.readouterr().out
