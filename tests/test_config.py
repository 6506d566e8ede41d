import json

import pytest

from lora_nb.config import Config
from lora_nb.errors import ConfigError


def test_defaults_are_valid_and_every_field_has_help_and_group():
    cfg = Config()
    assert cfg.problems() == []
    for info in Config.field_info():
        assert info["help"] and info["group"], info["name"]


@pytest.mark.parametrize("ext", [".toml", ".json"])
def test_save_load_roundtrip(tmp_path, ext):
    cfg = Config(rank=32, alpha=16.0, sample_prompts=["a, b", "c"], target_modules=["to_q", "to_v"])
    path = cfg.save(tmp_path / f"c{ext}")
    assert Config.load(path) == cfg


def test_toml_is_grouped_and_flat_accepted(tmp_path):
    path = Config(rank=8).save(tmp_path / "c.toml")
    text = path.read_text()
    assert "[network]" in text and "rank = 8" in text
    (tmp_path / "flat.json").write_text(json.dumps({"rank": 8, "learning_rate": 1}))
    cfg = Config.load(tmp_path / "flat.json")
    assert cfg.rank == 8 and cfg.learning_rate == 1.0 and isinstance(cfg.learning_rate, float)


@pytest.mark.parametrize("changes, words", [
    ({"rank": 0}, ["rank", "minimum"]),
    ({"rank": "abc"}, ["rank", "int"]),
    ({"rank": 1.5}, ["rank", "int"]),
    ({"optimizer": "adamw8"}, ["optimizer", "did you mean"]),
    ({"resolution": 500}, ["resolution", "multiple of 64", "512"]),
    ({"learning_rate": float("nan")}, ["learning_rate", "finite"]),
    ({"optimizer": "prodigy", "learning_rate": 1e-4}, ["learning_rate", "1.0"]),
    ({"max_train_steps": 0, "max_train_epochs": 0}, ["max_train_steps"]),
    ({"random_crop": True}, ["random_crop", "cache_latents"]),
    ({"save_formats": ["ckpt"]}, ["save_formats"]),
])
def test_bad_values_name_field_and_fix(changes, words):
    with pytest.raises(ConfigError) as e:
        Config.from_dict(changes)
    for w in words:
        assert w in str(e.value)


def test_unknown_field_suggests_spelling(tmp_path):
    (tmp_path / "c.toml").write_text("[network]\nrnak = 4\n")
    with pytest.raises(ConfigError, match="did you mean 'rank'"):
        Config.load(tmp_path / "c.toml")


def test_broken_toml_and_missing_file(tmp_path):
    (tmp_path / "c.toml").write_text("rank = = 4")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Config.load(tmp_path / "c.toml")
    with pytest.raises(ConfigError, match="not found"):
        Config.load(tmp_path / "nope.toml")


def test_cli_strings_are_coerced_and_lists_split():
    cfg = Config.from_dict({"rank": "32", "train_text_encoder": "true", "alpha": "4",
                            "sample_prompts": "a cat, sitting|a house", "target_modules": "to_q,to_k"})
    assert cfg.rank == 32 and cfg.train_text_encoder is True and cfg.alpha == 4.0
    assert cfg.sample_prompts == ["a cat, sitting", "a house"] and cfg.target_modules == ["to_q", "to_k"]


def test_derived_values_follow_seed_rules():
    cfg = Config(learning_rate=1e-4, save_every_n_steps=100)
    assert cfg.effective_unet_lr == 1e-4 and cfg.effective_text_encoder_lr == 5e-5
    assert cfg.effective_sample_every == 100  # Flux LoRA guide: validation interval = checkpoint interval
    assert Config(sample_every_n_steps=50, save_every_n_steps=100).effective_sample_every == 50


def test_replace_validates():
    with pytest.raises(ConfigError):
        Config().replace(rank=-1)
    assert Config().replace(rank=4).rank == 4
