"""SDXL and Flux on tiny models with the hub repos' classes and layout: conditioning matches the
diffusers pipelines, the training objectives are the papers', runs train end to end, and the saved
files load back (diffusers / ComfyUI naming) to the in-memory adapter's output."""

import json
import shutil
from importlib import metadata

import pytest
import torch
from packaging.version import Version
from safetensors import safe_open
from safetensors.torch import save_file

from lora_nb.config import Config
from lora_nb.errors import ConfigError
from lora_nb.families import get_family
from lora_nb.families.lorafiles import load_into_pipeline, read_lora_file
from lora_nb.training.export.compat import check_kohya_keys, comfyui_key_map


@pytest.fixture(scope="module")
def tiny_sdxl(tmp_path_factory):
    from lora_nb.toy.testing import build_tiny_model

    return build_tiny_model("sdxl", tmp_path_factory.mktemp("models") / "tiny-sdxl")


@pytest.fixture(scope="module")
def tiny_flux(tmp_path_factory):
    from lora_nb.toy.testing import build_tiny_model

    return build_tiny_model("flux", tmp_path_factory.mktemp("models") / "tiny-flux")


@pytest.fixture(scope="module")
def tiny_schnell(tmp_path_factory):
    from lora_nb.toy.testing import build_tiny_model

    return build_tiny_model("flux-schnell", tmp_path_factory.mktemp("models") / "tiny-flux-schnell")




def _cfg(model, data, tmp_path, **kw):
    base = dict(pretrained_model=str(model), train_data_dir=str(data), resolution=64, optimizer="adamw",
                learning_rate=1e-2, max_train_steps=2, rank=4, alpha=2.0, save_precision="fp32",
                output_dir=str(tmp_path / "run"))
    return Config(**{**base, **kw})


def _merge_kohya_lora(components: dict, sd: dict, prefixes: dict, key_names=None, fused=None) -> None:
    """W += up @ down * alpha / rank for every kohya key, found through ComfyUI's key naming; a fused
    layer's delta (Flux's qkv: "transformer.a+transformer.b") is split by output rows as ComfyUI's
    slices do."""
    key_map = comfyui_key_map(components, prefixes, key_names, fused)
    for stem in {k.split(".", 1)[0] for k in sd}:
        up, down, alpha = sd[f"{stem}.lora_up.weight"], sd[f"{stem}.lora_down.weight"], sd[f"{stem}.alpha"]
        targets = [v.split(".", 1) for v in key_map[stem].split("+")]
        weights = [components[c].get_submodule(n).weight for c, n in targets]
        delta = (up.flatten(1) @ down.flatten(1)) * (alpha / down.shape[0])
        for w, d in zip(weights, delta.split([w.shape[0] for w in weights])):
            w.data += d.reshape(w.shape)


def test_tiny_models_have_the_hub_layout(tiny_sdxl, tiny_flux, tiny_schnell):
    sdxl = json.loads((tiny_sdxl / "model_index.json").read_text())
    assert sdxl["_class_name"] == "StableDiffusionXLPipeline"
    assert sdxl["text_encoder_2"] == ["transformers", "CLIPTextModelWithProjection"]
    assert sdxl["scheduler"] == ["diffusers", "EulerDiscreteScheduler"]
    unet = json.loads((tiny_sdxl / "unet" / "config.json").read_text())
    assert unet["addition_embed_type"] == "text_time" and unet["layers_per_block"] == 2
    flux = json.loads((tiny_flux / "model_index.json").read_text())
    assert flux["_class_name"] == "FluxPipeline" and flux["text_encoder_2"] == ["transformers", "T5EncoderModel"]
    assert flux["transformer"] == ["diffusers", "FluxTransformer2DModel"]
    assert json.loads((tiny_flux / "transformer" / "config.json").read_text())["guidance_embeds"] is True
    assert json.loads((tiny_schnell / "transformer" / "config.json").read_text())["guidance_embeds"] is False
    vae = json.loads((tiny_flux / "vae" / "config.json").read_text())
    assert vae["latent_channels"] == 16 and vae["shift_factor"] == pytest.approx(0.1159)


# --- SDXL ------------------------------------------------------------------------------------------
def test_sdxl_prompts_match_the_pipeline_and_clip_skip(tiny_sdxl):
    from diffusers import StableDiffusionXLPipeline

    family = get_family("sdxl")
    m = family.load(Config(family="sdxl", pretrained_model=str(tiny_sdxl)), "cpu", torch.float32)
    pipe = StableDiffusionXLPipeline.from_pretrained(tiny_sdxl)
    caps = ["a red circle, blue background", "a photo"]
    ours = family.encode_prompts(m, caps)
    emb, _, pooled, _ = pipe.encode_prompt(caps, device="cpu", do_classifier_free_guidance=False)
    assert ours["encoder_hidden_states"].shape == (2, 77, 64) and ours["text_embeds"].shape == (2, 32)
    torch.testing.assert_close(ours["encoder_hidden_states"], emb)
    torch.testing.assert_close(ours["text_embeds"], pooled)
    # clip_skip counts from SDXL's own penultimate layer (diffusers: clip_skip=1 is one further)
    emb2, _, _, _ = pipe.encode_prompt(caps, device="cpu", do_classifier_free_guidance=False, clip_skip=1)
    torch.testing.assert_close(family.encode_prompts(m, caps, clip_skip=2)["encoder_hidden_states"], emb2)


def test_sdxl_micro_conditioning_uses_original_size_crop_and_bucket():
    from lora_nb.families.sdxl import SDXL
    from lora_nb.training.data import Sample
    from lora_nb.training.trainer import center_crop

    s = Sample(image=None, caption="", concept="c", repeats=1, size=(100, 64), bucket=(64, 64))
    assert center_crop(s) == (0, 18)  # resized to 100x64, 36 px wider than the bucket, centred
    batch = {"original_sizes": [(64, 100), (512, 512)], "crop_top_lefts": [(0, 18), (3, 4)], "target_size": (64, 64)}
    ids = SDXL.time_ids(batch, "cpu", torch.float32)
    assert ids.tolist() == [[64, 100, 0, 18, 64, 64], [512, 512, 3, 4, 64, 64]]


def test_sdxl_vae_precision_avoids_the_fp16_trap():
    from types import SimpleNamespace

    fam = get_family("sdxl")
    upcast, safe = SimpleNamespace(config=SimpleNamespace(force_upcast=True)), SimpleNamespace(
        config=SimpleNamespace(force_upcast=False))
    auto = Config(family="sdxl")
    assert fam.vae_dtype(upcast, auto, torch.float16) == torch.float32  # SDXL's own VAE: black images in fp16
    assert fam.vae_dtype(safe, auto, torch.float16) == torch.float16  # e.g. madebyollin/sdxl-vae-fp16-fix
    assert fam.vae_dtype(upcast, auto.replace(vae_dtype="bf16"), torch.float16) == torch.bfloat16


def test_sdxl_unet_names_map_to_the_original_sgm_blocks():
    from lora_nb.families.sdxl import unet_name_to_sgm

    ups = ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D")
    cases = {
        "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q":
            "input_blocks.4.1.transformer_blocks.0.attn1.to_q",
        "down_blocks.2.attentions.1.proj_in": "input_blocks.8.1.proj_in",
        "down_blocks.0.resnets.1.conv2": "input_blocks.2.0.out_layers.3",
        "down_blocks.1.downsamplers.0.conv": "input_blocks.6.0.op",
        "mid_block.attentions.0.transformer_blocks.3.attn2.to_out.0":
            "middle_block.1.transformer_blocks.3.attn2.to_out.0",
        "mid_block.resnets.1.time_emb_proj": "middle_block.2.emb_layers.1",
        "up_blocks.0.attentions.2.transformer_blocks.0.ff.net.2": "output_blocks.2.1.transformer_blocks.0.ff.net.2",
        "up_blocks.1.resnets.0.conv_shortcut": "output_blocks.3.0.skip_connection",
        "up_blocks.0.upsamplers.0.conv": "output_blocks.2.2.conv",
    }
    for diffusers_name, sgm in cases.items():
        assert unet_name_to_sgm(diffusers_name, 2, ups) == sgm


def test_sdxl_trains_both_text_encoders_and_files_reload(tiny_sdxl, tiny_dataset, tmp_path, train_capture):
    from diffusers import StableDiffusionXLPipeline

    cfg = _cfg(tiny_sdxl, tiny_dataset, tmp_path, family="sdxl", train_text_encoder=True,
               sample_prompts=["toycircle"], sample_steps=2, sample_every_n_steps=2,
               save_formats=["kohya", "diffusers"])
    res, m = train_capture(cfg)
    assert (res.output_dir / "samples" / "step00000002-p0.png").is_file()
    sd, md = read_lora_file(res.files["kohya"])
    assert md["ss_base_model_version"] == "sdxl_base_v1-0"
    assert md["modelspec.architecture"] == "stable-diffusion-xl-v1-base/lora"
    stems = {k.split(".", 1)[0] for k in sd}
    assert any(s.startswith("lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q") for s in stems)
    assert any(s.startswith("lora_unet_middle_block_1_") for s in stems)
    assert any(s.startswith("lora_unet_output_blocks_") for s in stems)
    assert not any("down_blocks" in s or "up_blocks" in s for s in stems)
    assert any(s.startswith("lora_te1_text_model_encoder_layers_") for s in stems)
    assert any(s.startswith("lora_te2_text_model_encoder_layers_") for s in stems)

    family = get_family("sdxl")
    comps = {"unet": m.denoiser, "text_encoder": m.text_encoders[0], "text_encoder_2": m.text_encoders[1]}
    key_names = {"unet": family.kohya_name_map("unet", m.denoiser)}
    assert check_kohya_keys(sd, comfyui_key_map(comps, family.facts.kohya_prefixes, key_names)) == []

    g = torch.Generator().manual_seed(0)
    x, ehs = torch.randn(1, 4, 16, 16, generator=g), torch.randn(1, 77, 64, generator=g)
    added = {"text_embeds": torch.randn(1, 32, generator=g), "time_ids": torch.tensor([[64.0, 64, 0, 0, 64, 64]])}
    ids = m.tokenizers[0](["toycircle, a red circle"], padding="max_length", max_length=77,
                          return_tensors="pt").input_ids

    @torch.no_grad()
    def outputs(unet, te1, te2):
        return (unet(x, 300, encoder_hidden_states=ehs, added_cond_kwargs=added).sample,
                te1(ids, output_hidden_states=True).hidden_states[-2], te2(ids)[0])

    ref = outputs(m.denoiser, *m.text_encoders)
    base = outputs(*[getattr(StableDiffusionXLPipeline.from_pretrained(tiny_sdxl), c)
                     for c in ("unet", "text_encoder", "text_encoder_2")])
    assert all((r - b).abs().max() > 1e-4 for r, b in zip(ref, base))  # every part trained
    for fmt in ("kohya", "diffusers"):  # diffusers reads the sgm names back (its kohya converter)
        pipe = StableDiffusionXLPipeline.from_pretrained(tiny_sdxl)
        load_into_pipeline(pipe, res.files[fmt])
        for got, want in zip(outputs(pipe.unet, pipe.text_encoder, pipe.text_encoder_2), ref):
            torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4, msg=fmt)
    # and applied the way ComfyUI does it, through its sgm key names
    pipe = StableDiffusionXLPipeline.from_pretrained(tiny_sdxl)
    _merge_kohya_lora({"unet": pipe.unet, "text_encoder": pipe.text_encoder, "text_encoder_2": pipe.text_encoder_2},
                      sd, family.facts.kohya_prefixes, {"unet": family.kohya_name_map("unet", pipe.unet)})
    for got, want in zip(outputs(pipe.unet, pipe.text_encoder, pipe.text_encoder_2), ref):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


# --- Flux ------------------------------------------------------------------------------------------
def test_flux_prompts_match_the_pipeline(tiny_flux):
    from diffusers import FluxPipeline

    family = get_family("flux")
    m = family.load(Config(family="flux", pretrained_model=str(tiny_flux)), "cpu", torch.float32)
    assert m.extra["t5_len"] == 512 and m.extra["guidance_embeds"]
    caps = ["a red circle, blue background", "toycircle"]
    ours = family.encode_prompts(m, caps)
    emb, pooled, _ = FluxPipeline.from_pretrained(tiny_flux).encode_prompt(caps, None, device="cpu")
    torch.testing.assert_close(ours["encoder_hidden_states"], emb, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ours["pooled_projections"], pooled, atol=1e-4, rtol=1e-4)


def test_flux_timestep_sampling_and_flow_matching_target():
    fam = get_family("flux")
    sched = {"base_image_seq_len": 256, "max_image_seq_len": 4096, "base_shift": 0.5, "max_shift": 1.15}

    def sigmas(kind, seq=1024, **kw):
        cfg = Config(family="flux", timestep_sampling=kind, **kw)
        return fam.sample_sigmas(20000, torch.Generator().manual_seed(0), cfg, seq, sched)

    uni, sig, shifted = sigmas("uniform"), sigmas("sigmoid"), sigmas("shift", flow_shift=3.0)
    for t in (uni, sig, shifted):
        assert 0 < t.min() and t.max() < 1
    assert abs(uni.mean() - 0.5) < 0.01 and abs(sig.mean() - 0.5) < 0.01
    assert sig.std() < uni.std()  # logit-normal: concentrated on middle noise levels
    assert shifted.mean() > 0.6  # shifted towards noise
    assert sigmas("sigmoid", sigmoid_scale=2.0).std() > sig.std()
    assert sigmas("flux_shift", seq=4096).mean() > sigmas("flux_shift", seq=256).mean()  # bigger images, more noise
    torch.testing.assert_close(sigmas("sigmoid"), sig)  # deterministic in the generator

    latents, noise = torch.randn(2, 16, 8, 8), torch.randn(2, 16, 8, 8)
    from lora_nb.families import Models

    m = Models(None, None, [], [], type("S", (), {"config": sched})(), "x")
    noisy, t, target, w = fam.noisy_inputs(m, latents, noise, torch.Generator().manual_seed(1), Config(family="flux"))
    tt = t.view(-1, 1, 1, 1)
    torch.testing.assert_close(noisy, (1 - tt) * latents + tt * noise)  # straight path data -> noise
    torch.testing.assert_close(target, noise - latents)  # its velocity
    assert w is None


def test_flux_trains_with_cached_text_and_mlp_and_files_reload(tiny_flux, tiny_dataset, tmp_path, train_capture,
                                                               monkeypatch):
    from diffusers import FluxPipeline

    family = get_family("flux")
    guidance_used = []
    real_pipeline = type(family).pipeline

    def recording_pipeline(self, *a, **kw):  # what guidance the validation images get
        pipe = real_pipeline(self, *a, **kw)
        call = type(pipe).__call__
        monkeypatch.setattr(type(pipe), "__call__",
                            lambda p, *ca, **ckw: guidance_used.append(ckw["guidance_scale"]) or call(p, *ca, **ckw))
        return pipe

    monkeypatch.setattr(type(family), "pipeline", recording_pipeline)
    cfg = _cfg(tiny_flux, tiny_dataset, tmp_path, family="flux", train_mlp=True, guidance_scale=1.0,
               sample_prompts=["toycircle, a red circle"], sample_steps=2, sample_every_n_steps=2,
               timestep_sampling="shift", save_formats=["kohya", "diffusers"])
    assert cfg.sample_guidance_scale == 0  # "the family's usual value"
    res, m = train_capture(cfg)
    assert guidance_used and set(guidance_used) == {3.5}  # Flux-dev's distilled guidance, not SD's CFG 7
    # T5 and CLIP encoded every caption once and were freed; validation images came from the cache
    assert m.text_encoders == [] and m.text_cache is not None
    assert {"", "toycircle, a red circle"} <= set(m.text_cache.entries)
    assert (res.output_dir / "samples" / "step00000002-p0.png").is_file()

    sd, md = read_lora_file(res.files["kohya"])
    assert md["ss_base_model_version"] == "flux1" and md["ss_network_module"] == "networks.lora_flux"
    stems = {k.split(".", 1)[0] for k in sd}
    # kohya's sd-scripts names (BFL's modules): q/k/v fused, single blocks' linear1 = q/k/v + proj_mlp
    for block in (0, 1):
        for part in ("img_attn_qkv", "txt_attn_qkv", "img_attn_proj", "txt_attn_proj", "img_mlp_0", "img_mlp_2",
                     "txt_mlp_0", "txt_mlp_2"):
            assert f"lora_unet_double_blocks_{block}_{part}" in stems
        assert {f"lora_unet_single_blocks_{block}_linear1", f"lora_unet_single_blocks_{block}_linear2"} <= stems
    assert len(stems) == 2 * 8 + 2 * 2  # nothing else: no diffusers names, nothing outside the blocks
    r = cfg.rank
    assert sd["lora_unet_single_blocks_0_linear1.lora_down.weight"].shape == (4 * r, 32)  # q, k, v, proj_mlp
    assert sd["lora_unet_single_blocks_0_linear1.lora_up.weight"].shape == (3 * 32 + 4 * 32, 4 * r)
    assert sd["lora_unet_double_blocks_0_img_attn_qkv.alpha"] == 3 * cfg.alpha  # alpha / rank kept
    fused = {"transformer": family.kohya_fused("transformer")}
    names = {"transformer": family.kohya_name_map("transformer", m.denoiser)}
    key_map = comfyui_key_map({"transformer": m.denoiser}, family.facts.kohya_prefixes, names, fused)
    assert check_kohya_keys(sd, key_map) == []
    dsd, _ = read_lora_file(res.files["diffusers"])
    assert dsd and all(k.startswith("transformer.") for k in dsd)

    g = torch.Generator().manual_seed(0)
    args = dict(hidden_states=torch.randn(1, 64, 64, generator=g),
                encoder_hidden_states=torch.randn(1, 8, 32, generator=g),
                pooled_projections=torch.randn(1, 32, generator=g), timestep=torch.tensor([0.5]),
                img_ids=torch.zeros(64, 3), txt_ids=torch.zeros(8, 3), guidance=torch.tensor([1.0]))
    with torch.no_grad():
        ref = m.denoiser(**args).sample
        pipe = FluxPipeline.from_pretrained(tiny_flux)
        assert (pipe.transformer(**args).sample - ref).abs().max() > 1e-4  # it trained
        load_into_pipeline(pipe, res.files["diffusers"])
        torch.testing.assert_close(pipe.transformer(**args).sample, ref, atol=1e-5, rtol=1e-4)
        fresh = FluxPipeline.from_pretrained(tiny_flux).transformer
        _merge_kohya_lora({"transformer": fresh}, sd, family.facts.kohya_prefixes, names, fused)  # as ComfyUI
        torch.testing.assert_close(fresh(**args).sample, ref, atol=1e-5, rtol=1e-4)
    # diffusers' reading of this file is checked at Flux's real width (tests/test_flux_files.py): its converter
    # splits linear1 at Flux-dev's fixed sizes, which a tiny model does not have
    assert json.loads(md["lora_nb_loaders"]) == ["ComfyUI", "Forge", "diffusers load_lora_weights"]
    assert md["ss_model_type"] == "flux" and md["ss_timestep_sampling"] == "shift"
    assert json.loads(md["ss_network_args"])["train_mlp"] == "True"


def test_flux_attention_only_kohya_file_loads_in_diffusers(tiny_flux, tiny_dataset, tmp_path, train_capture):
    """diffusers reads the kohya (sd-scripts) names: double blocks' fused qkv split back into to_q/k/v, and
    CLIP's lora_te1 keys. Single blocks' linear1 is split at Flux-dev's fixed sizes, so on this tiny model
    they are left out here and checked at full width in tests/test_flux_files.py.
    With transformers >= 5.6, diffusers before 0.41 (Colab's 0.39) fails on the text-encoder keys: the
    file's claim says so, the kit's loader reads them anyway, and a plain load_lora_weights must fail there
    (else the note is wrong)."""
    from diffusers import FluxPipeline

    from lora_nb.families.lorafiles import DIFFUSERS_READS_FLAT_CLIP, TRANSFORMERS_FLAT_CLIP

    res, m = train_capture(_cfg(tiny_flux, tiny_dataset, tmp_path, family="flux", max_train_steps=1,
                                save_formats=["kohya"], train_text_encoder=True))
    assert len(m.text_encoders) == 2  # CLIP trained -> no text cache; T5 kept but never given a LoRA
    assert not hasattr(m.text_encoders[1], "peft_config")
    sd, _ = read_lora_file(res.files["kohya"])
    assert any(k.startswith("lora_te1_") for k in sd)
    md = read_lora_file(res.files["kohya"])[1]
    assert "diffusers load_lora_weights" in json.loads(md["lora_nb_loaders"])
    assert f"text-encoder weights load in diffusers >= {DIFFUSERS_READS_FLAT_CLIP}" in md["lora_nb_loader_note"]
    kept = {k: v for k, v in sd.items() if not k.startswith("lora_unet_single_blocks_")}
    save_file(kept, tmp_path / "attn.safetensors", metadata=md)
    pipe = FluxPipeline.from_pretrained(tiny_flux)
    old_stack = (Version(metadata.version("diffusers")) < Version(DIFFUSERS_READS_FLAT_CLIP)
                 and Version(metadata.version("transformers")) >= Version(TRANSFORMERS_FLAT_CLIP))
    if old_stack:
        with pytest.raises(IndexError):
            FluxPipeline.from_pretrained(tiny_flux).load_lora_weights(dict(kept))
        load_into_pipeline(pipe, tmp_path / "attn.safetensors")
    else:
        pipe.load_lora_weights(dict(kept))
    with torch.no_grad():  # the trained model without its single blocks' adapters
        for name, layer in m.denoiser.named_modules():
            if name.startswith("single_transformer_blocks.") and hasattr(layer, "lora_B"):
                layer.lora_B["default"].weight.zero_()
    g = torch.Generator().manual_seed(0)
    args = dict(hidden_states=torch.randn(1, 64, 64, generator=g),
                encoder_hidden_states=torch.randn(1, 8, 32, generator=g),
                pooled_projections=torch.randn(1, 32, generator=g), timestep=torch.tensor([0.5]),
                img_ids=torch.zeros(64, 3), txt_ids=torch.zeros(8, 3), guidance=torch.tensor([1.0]))
    ids = m.tokenizers[0](["toycircle"], padding="max_length", max_length=77, return_tensors="pt").input_ids
    with torch.no_grad():
        ref = m.denoiser(**args).sample
        assert (FluxPipeline.from_pretrained(tiny_flux).transformer(**args).sample - ref).abs().max() > 1e-4
        torch.testing.assert_close(pipe.transformer(**args).sample, ref, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(pipe.text_encoder(ids).pooler_output, m.text_encoders[0](ids).pooler_output,
                                   atol=1e-5, rtol=1e-4)


def test_flux_schnell_trains_without_guidance(tiny_schnell, tiny_dataset, tmp_path, train_capture, monkeypatch):
    from diffusers import FluxTransformer2DModel

    seen = []
    real = FluxTransformer2DModel.forward

    def spy(self, *a, **kw):
        seen.append(kw.get("guidance"))
        return real(self, *a, **kw)

    monkeypatch.setattr(FluxTransformer2DModel, "forward", spy)
    # a folder whose name says nothing: the label must come from the model's config (it once said flux-1-dev)
    plain = tmp_path / "base"
    shutil.copytree(tiny_schnell, plain)
    res, m = train_capture(_cfg(plain, tiny_dataset, tmp_path, family="flux", max_train_steps=1,
                                save_formats=["kohya", "diffusers"]))
    assert m.extra["t5_len"] == 256 and not m.extra["guidance_embeds"]
    assert seen and all(g is None for g in seen)
    assert m.text_cache.entries[""]["encoder_hidden_states"].shape == (256, 32)
    assert res.files["diffusers"].is_file()
    with safe_open(str(res.files["kohya"]), "pt") as f:
        assert f.metadata()["modelspec.architecture"] == "flux-1-schnell/lora"


def test_flux_settings_that_cannot_work_are_refused(tiny_flux):
    from lora_nb.families import check_config

    with pytest.raises(ConfigError, match="min_snr_gamma"):
        check_config(Config(family="flux", pretrained_model=str(tiny_flux), min_snr_gamma=5.0))
    with pytest.raises(ConfigError, match="cache_text_embeddings"):
        check_config(Config(family="flux", cache_text_embeddings="yes", shuffle_caption=True))


@pytest.mark.gpu
def test_sdxl_fp16_on_gpu_caches_offloads_and_stays_finite(tiny_sdxl, tiny_dataset, tmp_path, train_capture):
    cfg = _cfg(tiny_sdxl, tiny_dataset, tmp_path, family="sdxl", mixed_precision="fp16", cpu_offload=True,
               gradient_checkpointing=True, optimizer="adamw8bit", sample_prompts=["toycircle"], sample_steps=2)
    res, m = train_capture(cfg)
    assert m.text_encoders == [] and next(m.vae.parameters()).device.type == "cpu"
    assert next(m.vae.parameters()).dtype == torch.float32  # force_upcast VAE never ran in fp16
    assert next(m.denoiser.parameters()).device.type == "cuda"
    assert res.last_loss == res.last_loss  # not NaN


def test_text_cache_on_disk_trains_as_in_memory_and_is_not_encoded_twice(tiny_flux, tiny_dataset, tmp_path,
                                                                          monkeypatch):
    """cache_text_embeddings='disk': same losses as the RAM cache, nothing held in RAM, and a second
    run over the same folder (an interrupted run resumed) encodes no caption again."""
    from lora_nb.evaluate.lossplot import read_train_log
    from lora_nb.families import check_config
    from lora_nb.training.trainer import train

    family = type(get_family("flux"))
    encoded = []
    real = family.encode_prompts
    monkeypatch.setattr(family, "encode_prompts",
                        lambda self, m, caps, *a, **kw: encoded.extend(caps) or real(self, m, caps, *a, **kw))
    common = dict(family="flux", guidance_scale=1.0, sample_prompts=["toycircle, a red circle"], sample_steps=1,
                  sample_every_n_steps=2, max_train_steps=3, save_state=False)
    mem = train(_cfg(tiny_flux, tiny_dataset, tmp_path / "mem", **common))
    n_mem = len(encoded)
    disk_cfg = _cfg(tiny_flux, tiny_dataset, tmp_path / "disk", cache_text_embeddings="disk", **common)
    disk = train(disk_cfg)
    files = sorted((tmp_path / "disk" / "run" / "cache" / "text").glob("*.safetensors"))
    assert len(encoded) == 2 * n_mem and len(files) == n_mem  # one file per distinct caption
    assert read_train_log(mem.output_dir).loss == read_train_log(disk.output_dir).loss

    # overwrite clears the run but keeps cache/
    train(disk_cfg.replace(output_dir=str(tmp_path / "disk" / "run"), max_train_steps=1, overwrite=True))
    assert len(encoded) == 2 * n_mem  # every caption came from the files
    assert sorted((tmp_path / "disk" / "run" / "cache" / "text").glob("*.safetensors")) == files
    with pytest.raises(ConfigError, match="cache_text_embeddings"):
        check_config(Config(family="flux", cache_text_embeddings="disk", train_text_encoder=True))


def test_text_cache_on_disk_keeps_one_entry_per_t5_length(tiny_flux, tiny_dataset, tmp_path):
    """The disk cache's key holds t5_max_length: a run with another T5 length encodes its captions again
    (their own files, at their own length) instead of reading the other length's embeddings."""
    from lora_nb.training.data import scan_dataset
    from lora_nb.training.trainer import prepare_caches

    family = get_family("flux")
    folder = tmp_path / "run" / "cache" / "text"

    def cache(t5: int) -> tuple[set[int], set]:
        """(the T5 lengths of the cached embeddings, the cache's files) after a run's caching with `t5`."""
        cfg = _cfg(tiny_flux, tiny_dataset, tmp_path, family="flux", cache_text_embeddings="disk",
                   cache_latents="none", sample_prompts=["toycircle"], t5_max_length=t5)
        m = family.load(cfg, "cpu", torch.float32)
        prepare_caches(family, m, scan_dataset(cfg), None, cfg)
        shapes = {m.text_cache.get([c], "cpu")["encoder_hidden_states"].shape[1] for c in m.text_cache.entries}
        return shapes, set(folder.glob("*.safetensors"))

    (short, files8), (long, files16) = cache(8), cache(16)
    assert short == {8} and long == {16}
    assert files8 < files16 and len(files16) == 2 * len(files8)  # two entries per caption, one per length
    assert cache(8) == ({8}, files16)  # the 8-token files are read back, nothing new is written


def test_text_cache_rules_and_where_encoders_live():
    from lora_nb.families.textcache import TextEmbeddingCache, captions_to_cache, enabled

    cfg = Config(sample_prompts=["a house", "toycircle"])
    assert enabled(cfg) and not enabled(cfg.replace(shuffle_caption=True))
    assert not enabled(cfg.replace(train_text_encoder=True)) and not enabled(cfg.replace(cache_text_embeddings="no"))
    assert captions_to_cache(["toycircle", "toycircle", "x"], cfg) == ["toycircle", "x", "a house", ""]
    cache = TextEmbeddingCache({"a": {"h": torch.ones(3, 2)}, "": {"h": torch.zeros(3, 2)}})
    assert cache.get(["a", "", "a"], "cpu")["h"].shape == (3, 3, 2) and cache.nbytes == 48
    with pytest.raises(KeyError, match="not in the text-embedding cache"):
        cache.get(["never seen"], "cpu")

    fam = get_family("flux")
    off = Config(family="flux", cpu_offload=True)
    assert fam.text_encoder_device(off, "cuda").type == "cuda"  # cached: runs once on the GPU, then freed
    assert fam.text_encoder_device(off.replace(shuffle_caption=True), "cuda").type == "cpu"  # every step: offloaded
    assert fam.text_encoder_device(off.replace(shuffle_caption=True), "cuda", trained=True).type == "cuda"


def test_pipeline_family_from_the_class_name_prefix():
    """The longest `pipeline_prefix` wins: StableDiffusionXL* is SDXL, not SD1.5."""
    from lora_nb.evaluate.pipeline import pipeline_family

    def pipe(name):
        return type(name, (), {})()

    assert [pipeline_family(pipe(n)) for n in ("StableDiffusionPipeline", "StableDiffusionXLImg2ImgPipeline",
                                               "FluxPipeline")] == ["sd15", "sdxl", "flux"]
    with pytest.raises(ConfigError, match="KandinskyPipeline: not a pipeline of a supported family"):
        pipeline_family(pipe("KandinskyPipeline"))


def test_config_offers_exactly_the_families_with_facts():
    from lora_nb.config import FAMILIES
    from lora_nb.families.facts import FACTS

    assert tuple(FACTS) == FAMILIES
