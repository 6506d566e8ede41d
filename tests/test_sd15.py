import torch

from lora_nb.config import Config
from lora_nb.families import get_family


def _models(tiny_sd15):
    fam = get_family("sd15")
    return fam, fam.load(Config(pretrained_model=str(tiny_sd15)), "cpu", torch.float32)


def test_load_encode_predict_shapes(tiny_sd15):
    fam, m = _models(tiny_sd15)
    assert not any(p.requires_grad for p in m.denoiser.parameters())
    px = torch.zeros(2, 3, 64, 64)
    lat = fam.encode_pixels(m, px)
    assert lat.shape == (2, 4, 16, 16)
    cond = fam.encode_prompts(m, ["a red circle", "x"])
    assert cond["encoder_hidden_states"].shape == (2, 77, 32)
    gen = torch.Generator().manual_seed(0)
    noisy, t, target, w = fam.noisy_inputs(m, lat, torch.randn_like(lat), gen, Config(min_snr_gamma=5))
    assert noisy.shape == lat.shape and t.shape == (2,) and w.shape == (2,) and (w <= 1).all()
    assert fam.predict(m, noisy, t, cond, {}).shape == lat.shape


def test_clip_skip_uses_an_earlier_layer(tiny_sd15):
    fam, m = _models(tiny_sd15)
    a = fam.encode_prompts(m, ["a red circle"], clip_skip=1)["encoder_hidden_states"]
    b = fam.encode_prompts(m, ["a red circle"], clip_skip=2)["encoder_hidden_states"]
    assert a.shape == b.shape and not torch.allclose(a, b)


def test_unknown_family_is_a_clear_error():
    import pytest

    from lora_nb.errors import ConfigError

    with pytest.raises(ConfigError, match="not supported"):
        get_family("sd3")


def test_validation_pipeline_shares_modules(tiny_sd15):
    fam, m = _models(tiny_sd15)
    pipe = fam.pipeline(m)
    assert pipe.unet is m.denoiser and pipe.vae is m.vae
    pipe.set_progress_bar_config(disable=True)
    img = pipe("a", num_inference_steps=2, height=64, width=64, generator=torch.Generator().manual_seed(0)).images[0]
    assert img.size == (64, 64)
