import pytest

from lora_nb.config import Config
from lora_nb.errors import ModelLoadError
from lora_nb.families.loading import check_model_source, load_part


def test_hub_ids_pass_and_bad_paths_fail(tmp_path):
    assert check_model_source("stable-diffusion-v1-5/stable-diffusion-v1-5", False).startswith("stable")
    with pytest.raises(ModelLoadError, match="neither an existing folder"):
        check_model_source(str(tmp_path / "missing"), False)
    with pytest.raises(ModelLoadError, match="empty"):
        check_model_source("", False)


@pytest.mark.parametrize("name", ["model.ckpt", "model.pt", "pytorch_model.bin"])
def test_pickle_refused_unless_allowed(tmp_path, name):
    (tmp_path / name).write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="allow_pickle"):
        check_model_source(str(tmp_path / name), False)
    assert check_model_source(str(tmp_path / name), True)


def test_pickle_only_weights_refused_by_default(tiny_sd15, tmp_path):
    """A component folder holding only a .bin (pickle) is refused unless allow_pickle is set."""
    import shutil

    import torch
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(tiny_sd15, subfolder="unet")
    dst = tmp_path / "m"
    shutil.copytree(tiny_sd15, dst)
    shutil.rmtree(dst / "unet")
    unet.save_pretrained(dst / "unet", safe_serialization=False)
    assert not list((dst / "unet").glob("*.safetensors"))
    with pytest.raises(ModelLoadError, match="pickle|safetensors"):
        load_part(UNet2DConditionModel, str(dst), "unet", Config())
    loaded = load_part(UNet2DConditionModel, str(dst), "unet", Config(allow_pickle=True))
    assert isinstance(loaded, torch.nn.Module)


def test_offline_missing_repo_says_what_to_download(monkeypatch):
    from diffusers import UNet2DConditionModel

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="download|cannot load"):
        load_part(UNet2DConditionModel, "nobody/nothing-here", "unet", Config())


def test_token_is_never_written_to_config(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_supersecret")
    p = Config().save(tmp_path / "c.toml")
    assert "hf_supersecret" not in p.read_text()
