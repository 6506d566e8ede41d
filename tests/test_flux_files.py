"""Flux kohya files in the names the ecosystem shares (kohya sd-scripts / Black Forest Labs: q/k/v fused
into img_attn.qkv and single blocks' linear1), checked at Flux-dev's full size: every trained layer gets a
name, diffusers' own converter and load_lora_weights give back the trained change, ComfyUI's key map
covers every key; LoHa is exact fused, LoKr is refused."""

import json

import pytest
import torch

from lora_nb.config import Config
from lora_nb.errors import ConfigError, ModelLoadError
from lora_nb.families import check_config, get_family
from lora_nb.families.adapters import notes
from lora_nb.families.flux_names import bfl_name, fused_groups
from lora_nb.families.lorafiles import load_into_pipeline, read_lora_file
from lora_nb.families.reference import REFERENCE
from lora_nb.training.export.compat import check_kohya_keys, comfyui_key_map
from lora_nb.training.export.naming import ExportTarget
from lora_nb.training.export.state_dicts import kohya_state_dict

FLUX = get_family("flux")


def _target(model) -> ExportTarget:
    return ExportTarget("transformer", model, FLUX.facts.kohya_prefixes["transformer"],
                        FLUX.kohya_name_map("transformer", model), FLUX.kohya_fused("transformer"))


def _full_size_meta():
    from diffusers import FluxTransformer2DModel

    with torch.device("meta"):
        return FluxTransformer2DModel(**REFERENCE["flux"]["denoiser"][1])


def _fill(module, generator, std=1.0) -> None:
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, std, generator=generator)


def _expected_stems(mlp: bool, doubles: int = 19, singles: int = 38) -> set[str]:
    double = ["img_attn_qkv", "txt_attn_qkv", "img_attn_proj", "txt_attn_proj"]
    double += ["img_mlp_0", "img_mlp_2", "txt_mlp_0", "txt_mlp_2"] if mlp else []
    single = ["linear1", "linear2"] if mlp else ["linear1"]
    return ({f"lora_unet_double_blocks_{i}_{p}" for i in range(doubles) for p in double}
            | {f"lora_unet_single_blocks_{i}_{p}" for i in range(singles) for p in single})


def test_bfl_names_of_diffusers_modules():
    assert bfl_name("transformer_blocks.3.ff_context.net.2") == "double_blocks.3.txt_mlp.2"
    assert bfl_name("transformer_blocks.0.attn.to_add_out") == "double_blocks.0.txt_attn.proj"
    assert bfl_name("single_transformer_blocks.37.proj_out") == "single_blocks.37.linear2"
    assert bfl_name("single_transformer_blocks.1.norm.linear") == "single_blocks.1.modulation.lin"
    assert bfl_name("transformer_blocks.0.attn.to_q") is None  # fused: see fused_groups
    assert bfl_name("x_embedder") is None
    assert fused_groups(["single_transformer_blocks.2.attn.to_q", "transformer_blocks.1.attn.add_q_proj"]) == {
        "single_blocks.2.linear1": tuple(f"single_transformer_blocks.2.{m}" for m in
                                         ("attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp")),
        "double_blocks.1.txt_attn.qkv": tuple(f"transformer_blocks.1.attn.{m}" for m in
                                              ("add_q_proj", "add_k_proj", "add_v_proj"))}


@pytest.mark.parametrize("mlp", [False, True])
def test_full_size_flux_file_has_kohyas_names_and_diffusers_converter_restores_every_layer(mlp):
    """Flux-dev's real module list (meta device, random adapters): the kohya file holds exactly sd-scripts'
    stems, ComfyUI's key map covers them, and diffusers' kohya-Flux converter turns each back into the
    trained layers' LoRAs with the same update (alpha 1, rank 2: alpha/rank is kept through the fusion)."""
    from diffusers.loaders.lora_conversion_utils import _convert_kohya_flux_lora_to_diffusers
    from peft import LoraConfig
    from peft.tuners.lora import LoraLayer

    model = _full_size_meta()
    targets = FLUX.lora_targets(model, Config(family="flux", train_mlp=mlp))
    model.add_adapter(LoraConfig(r=2, lora_alpha=1, target_modules=targets))
    g = torch.Generator().manual_seed(0)
    layers = {}
    for name, layer in model.named_modules():
        if isinstance(layer, LoraLayer):
            for part in (layer.lora_A, layer.lora_B):
                part.to_empty(device="cpu")
                _fill(part, g)
            layers[name] = layer
    target = _target(model)
    sd = kohya_state_dict([target], torch.float32)
    stems = {k.split(".", 1)[0] for k in sd}
    assert stems == _expected_stems(mlp)
    assert sd["lora_unet_single_blocks_5_linear1.lora_up.weight"].shape == (3 * 3072 + 12288, 4 * 2)
    key_map = comfyui_key_map({"transformer": model}, FLUX.facts.kohya_prefixes,
                              {"transformer": target.key_name}, {"transformer": target.fused})
    assert check_kohya_keys(sd, key_map) == []

    conv = _convert_kohya_flux_lora_to_diffusers(dict(sd))
    got = {k.removeprefix("transformer.").rsplit(".", 2)[0] for k in conv}
    # attention only: linear1's proj_mlp rows come back as an all-zero LoRA, harmless
    assert got == set(targets) | (set() if mlp else {f"single_transformer_blocks.{i}.proj_mlp" for i in range(38)})
    probe = torch.randn(15360, 3, generator=g)  # widest input: linear2 (attention + MLP)
    for name in got:
        a, b = conv[f"transformer.{name}.lora_A.weight"], conv[f"transformer.{name}.lora_B.weight"]
        x = probe[: a.shape[1]]
        if name not in layers:
            assert not b.any() or not a.any()
            continue
        layer = layers[name]
        want = layer.lora_B["default"].weight @ (layer.lora_A["default"].weight @ x) * layer.scaling["default"]
        torch.testing.assert_close(b @ (a @ x), want, rtol=1e-4, atol=1e-4, msg=name)


def test_full_width_flux_file_loads_exactly_in_diffusers():
    """diffusers' load_lora_weights on the kohya file reproduces the adapter's output, attention-only and
    with train_mlp, at Flux's real width (its converter splits linear1 at Flux-dev's sizes); one single
    block keeps the model small, the double blocks' split is checked above and on the tiny model."""
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from peft import LoraConfig

    with torch.device("meta"):
        model = FluxTransformer2DModel(patch_size=1, in_channels=4, num_layers=0, num_single_layers=1,
                                       attention_head_dim=128, num_attention_heads=24, joint_attention_dim=16,
                                       pooled_projection_dim=16, guidance_embeds=False, axes_dims_rope=(16, 56, 56))
    model = model.to(torch.bfloat16).to_empty(device="cpu")
    pattern = torch.randn(4099, generator=torch.Generator().manual_seed(0)) * 0.02  # tiled: fast to fill
    with torch.no_grad():
        for p in model.parameters():
            flat = p.view(-1)
            flat.copy_(pattern.repeat(flat.numel() // pattern.numel() + 1)[: flat.numel()])
    g = torch.Generator().manual_seed(1)
    args = dict(hidden_states=torch.randn(1, 4, 4, generator=g).bfloat16(),
                encoder_hidden_states=torch.randn(1, 2, 16, generator=g).bfloat16(),
                pooled_projections=torch.randn(1, 16, generator=g).bfloat16(), timestep=torch.tensor([0.5]),
                img_ids=torch.zeros(4, 3), txt_ids=torch.zeros(2, 3))
    pipe = FluxPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=None, text_encoder=None, tokenizer=None,
                        text_encoder_2=None, tokenizer_2=None, transformer=model)
    targets = {mlp: FLUX.lora_targets(model, Config(family="flux", train_mlp=mlp)) for mlp in (False, True)}
    with torch.no_grad():
        base = model(**args).sample
    for mlp in (False, True):
        model.add_adapter(LoraConfig(r=4, lora_alpha=2, target_modules=targets[mlp]))
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "lora_B" in name:
                    p.normal_(0, 0.02, generator=g)
            ref = model(**args).sample
        sd = kohya_state_dict([_target(model)], torch.float32)
        model.delete_adapters("default")
        pipe.load_lora_weights(sd, adapter_name=f"file{mlp}")
        with torch.no_grad():
            got = model(**args).sample
        assert (ref - base).abs().max() > 5e-3, mlp  # the adapter changes the output
        torch.testing.assert_close(got, ref, atol=2e-3, rtol=1e-2, msg=f"train_mlp={mlp}")
        pipe.delete_adapters(f"file{mlp}")


@pytest.fixture(scope="module")
def tiny_flux_model():
    from diffusers import FluxTransformer2DModel

    def make():
        torch.manual_seed(0)
        return FluxTransformer2DModel(patch_size=1, in_channels=64, num_layers=2, num_single_layers=2,
                                      attention_head_dim=16, num_attention_heads=2, joint_attention_dim=32,
                                      pooled_projection_dim=32, guidance_embeds=True, axes_dims_rope=(4, 6, 6))
    return make


def _args():
    g = torch.Generator().manual_seed(0)
    return dict(hidden_states=torch.randn(1, 64, 64, generator=g),
                encoder_hidden_states=torch.randn(1, 8, 32, generator=g),
                pooled_projections=torch.randn(1, 32, generator=g), timestep=torch.tensor([0.5]),
                img_ids=torch.zeros(64, 3), txt_ids=torch.zeros(8, 3), guidance=torch.tensor([1.0]))


@pytest.mark.parametrize("kind", ["loha", "dora"])
@pytest.mark.parametrize("mlp", [False, True])
def test_fused_loha_and_dora_apply_as_trained(tiny_flux_model, kind, mlp):
    """Fused LoHa (LyCORIS: (w1a @ w1b) * (w2a @ w2b) * alpha / w1b rows, as ComfyUI/Forge merge it) and
    fused DoRA (dora_scale per output row, applied with ComfyUI's formula) give the adapter's output; a member
    without adapter (proj_mlp, attention only) keeps its rows."""
    from peft import LoHaConfig, LoraConfig

    model = tiny_flux_model()
    targets = FLUX.lora_targets(model, Config(family="flux", train_mlp=mlp))
    model.add_adapter(LoHaConfig(r=4, alpha=2, target_modules=targets, init_weights=False) if kind == "loha" else
                      LoraConfig(r=4, lora_alpha=2, target_modules=targets, init_lora_weights=False, use_dora=True))
    target = _target(model)
    sd = kohya_state_dict([target], torch.float32)
    assert set(_stems_of(sd)) == _expected_stems(mlp, 2, 2)
    fresh = tiny_flux_model()
    key_map = comfyui_key_map({"transformer": fresh}, FLUX.facts.kohya_prefixes,
                              {"transformer": FLUX.kohya_name_map("transformer", fresh)},
                              {"transformer": FLUX.kohya_fused("transformer")})
    assert check_kohya_keys(sd, key_map) == []
    with torch.no_grad():
        ref = model(**_args()).sample
        base = fresh(**_args()).sample
        for stem in _stems_of(sd):
            mods = [fresh.get_submodule(v.split(".", 1)[1]) for v in key_map[stem].split("+")]
            w = torch.cat([m.weight for m in mods])
            if kind == "loha":
                t = {k: sd[f"{stem}.hada_{k}"] for k in ("w1_a", "w1_b", "w2_a", "w2_b")}
                delta = (t["w1_a"] @ t["w1_b"]) * (t["w2_a"] @ t["w2_b"]) * sd[f"{stem}.alpha"] / t["w1_b"].shape[0]
                new = w + delta
            else:
                down = sd[f"{stem}.lora_down.weight"]
                new = w + sd[f"{stem}.lora_up.weight"] @ down * sd[f"{stem}.alpha"] / down.shape[0]
                # ComfyUI / Forge: a per-row dora_scale over the ORIGINAL weight's row norm (as the file is written)
                new = sd[f"{stem}.dora_scale"] * new / w.norm(dim=1, keepdim=True)
            for m, rows in zip(mods, new.split([m.weight.shape[0] for m in mods])):
                m.weight.copy_(rows)
        got = fresh(**_args()).sample
    assert (ref - base).abs().max() > 1e-3
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-4)


def _stems_of(sd):
    return sorted({k.split(".", 1)[0] for k in sd})


def test_flux_loha_run_claims_only_the_uis_and_the_kits_loader_refuses_it_for_diffusers(tmp_path):
    """diffusers' load_lora_weights takes a Flux LoHa file without error and changes nothing (measured here):
    the file claims ComfyUI/Forge only, the run's notes say so, and the kit's own loader refuses it."""
    from diffusers import FluxPipeline

    from lora_nb.toy.testing import build_tiny_model, make_toy_dataset
    from lora_nb.training.trainer import train

    model = build_tiny_model("flux", tmp_path / "tiny-flux")
    cfg = Config(family="flux", pretrained_model=str(model), train_data_dir=str(make_toy_dataset(tmp_path / "d")),
                 resolution=64, optimizer="adamw", learning_rate=1e-2, max_train_steps=1, rank=4, alpha=2.0,
                 network_type="loha", save_formats=["kohya", "diffusers"], save_precision="fp32",
                 output_dir=str(tmp_path / "run"))
    res = train(cfg)
    sd, md = read_lora_file(res.files["kohya"])
    assert "lora_unet_double_blocks_0_img_attn_qkv.hada_w1_a" in sd
    assert json.loads(md["lora_nb_loaders"]) == ["ComfyUI", "Forge"]
    assert "changes nothing" in md["lora_nb_loader_note"]
    assert any("Flux" in n and "load_lora_weights" in n for n in notes(cfg))
    pipe = FluxPipeline.from_pretrained(model)
    with torch.no_grad():
        before = pipe.transformer(**_args()).sample
        pipe.load_lora_weights(str(res.files["kohya"]))  # diffusers itself: no error ...
        torch.testing.assert_close(pipe.transformer(**_args()).sample, before)  # ... and no effect
    with pytest.raises(ModelLoadError, match="LoHa/LoKr .* peft.PeftModel.from_pretrained"):
        load_into_pipeline(FluxPipeline.from_pretrained(model), res.files["kohya"])
    assert (res.output_dir / "lora_peft" / "transformer" / "adapter_model.safetensors").is_file()


def test_flux_lokr_is_refused_before_training():
    with pytest.raises(ConfigError, match=r"network_type: LoKr.*fused qkv.*-> use network_type 'lora', 'dora' or "
                                          r"'loha'"):
        check_config(Config(family="flux", network_type="lokr"))
    check_config(Config(family="flux", network_type="loha"))
    check_config(Config(family="sd15", network_type="lokr"))  # SD's kohya names fuse nothing
