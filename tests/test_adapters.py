"""LoRA variants (Kohya practice guide §1.4): each trains a few steps on the tiny SD1.5 model, is saved, reloaded
with the loader its ecosystem has, and reproduces the in-memory adapter.

Loaders: diffusers' `load_lora_weights` for LoRA / LoCon / DoRA (kohya and diffusers files), peft
for the LoHa / LoKr folders, and -- where only ComfyUI/A1111/LyCORIS read a format (LoHa/LoKr
factors, DoRA's dora_scale) -- `merge_like_comfyui`, which applies the file the way ComfyUI computes a
weight (`lora_nb.training.export.applied`; tests/test_exactness.py covers every loader and family).
"""

import json

import pytest
import torch

from lora_nb.config import Config
from lora_nb.errors import ConfigError
from lora_nb.families.lorafiles import load_into_pipeline, read_lora_file
from lora_nb.training.export.applied import COMFYUI, applied_deltas
from lora_nb.training.export.compat import comfyui_key_map

RANK, ALPHA, CONV_RANK, CONV_ALPHA = 4, 2.0, 2, 1.0


# --- helpers ---------------------------------------------------------------------------------------


def _unet_inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, 4, 16, 16, generator=g), torch.tensor([500]), torch.randn(1, 77, 32, generator=g)


def _ids(tokenizer):
    return tokenizer(["toycircle, a red circle"], padding="max_length", max_length=77,
                     return_tensors="pt").input_ids


@torch.no_grad()
def _outputs(unet, text_encoder, tokenizer):
    x, t, ehs = _unet_inputs()
    return unet(x, t, encoder_hidden_states=ehs).sample, text_encoder(_ids(tokenizer))[0]


def _fresh(path):
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(path, safety_checker=None)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def merge_like_comfyui(components: dict, sd: dict, prefixes: dict, key_names: dict | None = None) -> int:
    """Add every module's update from a kohya/LyCORIS state dict to the weights as ComfyUI computes it
    (`lora_nb.training.export.applied`: LoRA, LoHa, LoKr, DoRA's dora_scale). Returns the modules patched."""
    key_map = comfyui_key_map(components, prefixes, key_names)
    stems = sorted({k.split(".", 1)[0] for k in sd})
    modules = {s: components[key_map[s].split(".", 1)[0]].get_submodule(key_map[s].split(".", 1)[1]) for s in stems}
    deltas = applied_deltas(sd, {s: m.weight.data for s, m in modules.items()}, COMFYUI)
    for stem, module in modules.items():
        module.weight.data = module.weight.data + deltas[stem].to(module.weight.dtype)
    return len(modules)


# --- the variants ----------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["lora", "locon", "dora", "loha", "lokr"])
def test_variant_trains_saves_and_reloads_to_the_same_output(variant, tiny_sd15, tiny_dataset, tmp_path,
                                                              train_capture):
    cfg = Config(pretrained_model=str(tiny_sd15), train_data_dir=str(tiny_dataset), resolution=64,
                 network_type=variant, rank=RANK, alpha=ALPHA, conv_rank=CONV_RANK, conv_alpha=CONV_ALPHA,
                 optimizer="adamw", learning_rate=1e-2, max_train_steps=2, train_text_encoder=True,
                 save_precision="fp32", output_dir=str(tmp_path / "run"), output_name="toy")
    res, models = train_capture(cfg)
    mem_unet, mem_te = _outputs(models.denoiser, models.text_encoders[0], models.tokenizers[0])
    fresh = _fresh(tiny_sd15)
    base_unet, base_te = _outputs(fresh.unet, fresh.text_encoder, models.tokenizers[0])
    assert (mem_unet - base_unet).abs().max() > 1e-4 and (mem_te - base_te).abs().max() > 1e-4  # it trained

    sd, md = read_lora_file(res.files["kohya"])
    assert json.loads(md["ss_network_args"]).get("algo", "lora") == ("lora" if variant in ("lora", "locon", "dora")
                                                                     else variant)
    kinds = {k.split(".", 1)[1] for k in sd}
    conv_keys = [k for k in sd if "resnets" in k or "samplers" in k]
    if variant in ("locon", "loha", "lokr"):
        assert conv_keys, "conv layers were not adapted"
    else:
        assert not conv_keys
    expected = {"lora": {"lora_down.weight", "lora_up.weight", "alpha"},
                "locon": {"lora_down.weight", "lora_up.weight", "alpha"},
                "dora": {"lora_down.weight", "lora_up.weight", "alpha", "dora_scale"},
                "loha": {"hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b", "alpha"}}
    if variant in expected:
        assert kinds == expected[variant]
    else:
        assert kinds <= {"lokr_w1", "lokr_w1_a", "lokr_w1_b", "lokr_w2", "lokr_w2_a", "lokr_w2_b", "alpha"}

    # 1. the kohya/LyCORIS file, applied (to the base model above) as ComfyUI computes it
    n = merge_like_comfyui({"unet": fresh.unet, "text_encoder": fresh.text_encoder}, sd,
                           {"unet": "lora_unet", "text_encoder": "lora_te"})
    assert n == len({k.split(".", 1)[0] for k in sd})
    out_unet, out_te = _outputs(fresh.unet, fresh.text_encoder, models.tokenizers[0])
    torch.testing.assert_close(out_unet, mem_unet, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out_te, mem_te, atol=1e-5, rtol=1e-4)

    # 2. the same files through the real loaders of each ecosystem
    if variant in ("lora", "locon", "dora"):
        fmts = ["kohya", "diffusers"] if variant != "dora" else ["diffusers"]  # diffusers drops dora_scale
        for fmt in fmts:
            fresh = _fresh(tiny_sd15)
            load_into_pipeline(fresh, res.files[fmt])
            out_unet, out_te = _outputs(fresh.unet, fresh.text_encoder, models.tokenizers[0])
            torch.testing.assert_close(out_unet, mem_unet, atol=1e-5, rtol=1e-4, msg=fmt)
            torch.testing.assert_close(out_te, mem_te, atol=1e-5, rtol=1e-4, msg=fmt)
    else:  # no diffusers loader for LoHa/LoKr: a peft folder per component instead
        from peft import PeftModel

        assert "diffusers" not in res.files and res.files["peft"].is_dir()
        fresh = _fresh(tiny_sd15)
        unet = PeftModel.from_pretrained(fresh.unet, str(res.files["peft"] / "unet"))
        te = PeftModel.from_pretrained(fresh.text_encoder, str(res.files["peft"] / "text_encoder"))
        out_unet, out_te = _outputs(unet, te, models.tokenizers[0])
        torch.testing.assert_close(out_unet, mem_unet, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(out_te, mem_te, atol=1e-5, rtol=1e-4)


# --- configs -------------------------------------------------------------------------------------
def test_adapter_configs_carry_conv_rank_and_types():
    from peft import LoHaConfig, LoKrConfig, LoraConfig

    from lora_nb.families.adapters import adapter_config, network_args

    cfg = Config(network_type="locon", rank=8, alpha=4.0, conv_rank=2, conv_alpha=1.0)
    pc = adapter_config(cfg, ["a.to_q"], ["down_blocks.0.resnets.0.conv1"])
    assert isinstance(pc, LoraConfig) and not pc.use_dora
    assert set(pc.target_modules) == {"a.to_q", "down_blocks.0.resnets.0.conv1"}
    assert list(pc.rank_pattern.values()) == [2] and list(pc.alpha_pattern.values()) == [1.0]
    assert isinstance(adapter_config(cfg.replace(network_type="loha"), ["x"], ["c"]), LoHaConfig)
    assert isinstance(adapter_config(cfg.replace(network_type="lokr"), ["x"], ["c"]), LoKrConfig)
    dora = adapter_config(cfg.replace(network_type="dora"), ["x"], ["c"])
    assert dora.use_dora and set(dora.target_modules) == {"x"}  # DoRA: attention layers only
    assert not set(adapter_config(cfg, ["x"], ["c"], text_encoder=True).target_modules) - {"x"}
    assert network_args(cfg) == {"conv_dim": "2", "conv_alpha": "1.0"}
    assert network_args(cfg.replace(network_type="dora"))["algo"] == "lora"


def test_impossible_combinations_are_refused_before_loading(tiny_sd15, tiny_dataset, tmp_path):
    from lora_nb.families import check_config
    from lora_nb.training.trainer import train

    base = dict(pretrained_model=str(tiny_sd15), train_data_dir=str(tiny_dataset), resolution=64,
                output_dir=str(tmp_path / "x"))
    with pytest.raises(ConfigError, match="quantis"):
        check_config(Config(**base, network_type="loha", quantization="nf4"))
    with pytest.raises(ConfigError, match="no conv layers"):
        check_config(Config(**{**base, "family": "flux"}, network_type="locon"))
    with pytest.raises(ConfigError, match="quantis"):
        train(Config(**base, network_type="lokr", quantization="int8"))
    assert not (tmp_path / "x").exists()
    with pytest.raises(ConfigError, match="network_type"):
        Config(network_type="dylora")


def test_adapters_do_not_depend_on_the_libraries_peft_gates(tiny_sd15, tiny_dataset, tmp_path, monkeypatch):
    """transformers 5.24 gates its own add_adapter on a peft that is not published (issue 14): the kit
    injects with peft itself, so a text-encoder LoRA trains and exports whatever those gates say."""
    import diffusers.loaders.peft
    import transformers.integrations.peft

    from lora_nb.training.trainer import train

    def gate(min_version):
        raise ValueError(f"The version of PEFT you are using is not compatible, please use a version >= {min_version}")

    monkeypatch.setattr(transformers.integrations.peft, "check_peft_version", gate)
    monkeypatch.setattr(diffusers.loaders.peft, "check_peft_version", gate)
    with pytest.raises(ValueError, match="not compatible"):  # the gate is really in the way of add_adapter
        from peft import LoraConfig

        _fresh(tiny_sd15).text_encoder.add_adapter(LoraConfig(r=2, target_modules=["q_proj"]))
    cfg = Config(pretrained_model=str(tiny_sd15), train_data_dir=str(tiny_dataset), resolution=64, rank=RANK,
                 alpha=ALPHA, optimizer="adamw", learning_rate=1e-2, max_train_steps=2, train_text_encoder=True,
                 output_dir=str(tmp_path / "run"), output_name="gated", save_formats=["kohya"])
    sd, _ = read_lora_file(train(cfg).files["kohya"])
    assert any(k.startswith("lora_te_") for k in sd) and any(k.startswith("lora_unet_") for k in sd)
