"""LoRA export: files load back into fresh diffusers pipelines and reproduce the in-memory adapter;
kohya keys match ComfyUI's naming; metadata is complete, string-only and free of secrets."""

import functools
import hashlib
import json

import numpy as np
import pytest
import torch

from lora_nb.config import Config
from lora_nb.errors import LoraNbError, ModelLoadError
from lora_nb.families import lorafiles
from lora_nb.families.adapters import inject
from lora_nb.families.lorafiles import load_into_pipeline, read_lora_file
from lora_nb.training.export.compat import check_kohya_keys, comfyui_key_map
from lora_nb.training.export.files import save_lora_files
from lora_nb.training.export.metadata import kohya_model_hashes, lora_metadata
from lora_nb.training.export.naming import ExportTarget
from lora_nb.training.export.state_dicts import kohya_state_dict

RANK, ALPHA = 4, 2.0  # alpha != rank: the scale alpha/rank = 0.5 must survive every format
UNET_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
TE_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]
TAGS = {"2_toycircle": {"toycircle": 4, "a red circle": 2, "blue background": 1}, "1_toysquare": {"toysquare": 3}}

SS_KEYS = [
    "ss_network_module", "ss_network_dim", "ss_network_alpha", "ss_base_model_version", "ss_tag_frequency",
    "ss_learning_rate", "ss_unet_lr", "ss_text_encoder_lr", "ss_optimizer", "ss_lr_scheduler", "ss_steps",
    "ss_epoch", "ss_seed", "ss_resolution", "ss_num_train_images", "ss_training_comment", "ss_sd_model_name",
    "ss_network_dropout", "ss_noise_offset", "ss_min_snr_gamma", "ss_clip_skip", "ss_mixed_precision",
    "ss_max_train_steps", "ss_num_epochs", "ss_batch_size_per_device", "ss_gradient_accumulation_steps",
    "ss_keep_tokens", "ss_shuffle_caption", "ss_cache_latents", "ss_training_started_at",
]
MODELSPEC_KEYS = ["modelspec.sai_model_spec", "modelspec.architecture", "modelspec.implementation",
                  "modelspec.title", "modelspec.date", "modelspec.resolution"]


def _pipe(path):
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(path, safety_checker=None)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _generate(pipe):
    return pipe("toycircle, a red circle", num_inference_steps=2, height=64, width=64,
                generator=torch.Generator().manual_seed(0), output_type="np").images


def _add_lora(pipe, seed=1):
    from peft import LoraConfig

    pipe.unet.add_adapter(LoraConfig(r=RANK, lora_alpha=ALPHA, target_modules=UNET_TARGETS))
    inject(pipe.text_encoder, LoraConfig(r=RANK, lora_alpha=ALPHA, target_modules=TE_TARGETS))
    # lora_B starts at zero (the adapter would be a no-op): give every LoRA weight a random value.
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for model in (pipe.unet, pipe.text_encoder):
            for name, p in model.named_parameters():
                if "lora_" in name:
                    p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return [ExportTarget("unet", pipe.unet, "lora_unet"), ExportTarget("text_encoder", pipe.text_encoder, "lora_te")]


def _config(model_path, **kw):
    return Config(pretrained_model=str(model_path), rank=RANK, alpha=ALPHA, train_text_encoder=True,
                  training_comment="toy run", **kw)


def _metadata(cfg):
    return lora_metadata(cfg, steps=12, epoch=3, num_train_images=11, tag_frequency=TAGS,
                         dataset_dirs={"2_toycircle": {"n_repeats": 2, "img_count": 4}},
                         mixed_precision="no", max_train_steps=12)


@pytest.fixture(scope="module")
def trained(tiny_sd15, tmp_path_factory):
    """A pipeline with an in-memory LoRA (alpha != rank), its outputs and both files saved in fp32."""
    pipe = _pipe(tiny_sd15)
    base = _generate(pipe)
    targets = _add_lora(pipe)
    ref = _generate(pipe)
    cfg = _config(tiny_sd15)
    out = tmp_path_factory.mktemp("export")
    files = save_lora_files(out, "toy", targets, cfg, _metadata(cfg), precision="fp32")
    return {"pipe": pipe, "targets": targets, "base": base, "ref": ref, "files": files, "cfg": cfg, "out": out}


@pytest.mark.parametrize("fmt", ["kohya", "diffusers"])
def test_saved_file_reproduces_in_memory_adapter(trained, tiny_sd15, fmt):
    assert np.abs(trained["ref"] - trained["base"]).max() > 1e-2  # the adapter changes the picture
    fresh = _pipe(tiny_sd15)
    load_into_pipeline(fresh, trained["files"][fmt])
    out = _generate(fresh)
    np.testing.assert_allclose(out, trained["ref"], atol=1e-5)
    assert np.abs(out - trained["base"]).max() > 1e-2


@pytest.mark.parametrize("fmt", ["kohya", "diffusers"])
def test_text_encoder_weights_load_into_a_flattened_clip_on_older_diffusers(trained, tiny_sd15, fmt, monkeypatch):
    """diffusers < 0.41 cannot put `text_model.`-named keys into transformers >= 5.6's flattened CLIP (Colab's
    2026-08 runtime: diffusers 0.39 + transformers 5.15); the kit's loader does what 0.41 does. Forced on here."""
    import diffusers.loaders.lora_pipeline as lp


    fresh = _pipe(tiny_sd15)
    assert not hasattr(fresh.text_encoder, "text_model")  # transformers >= 5.6 (the lock and Colab's set)
    monkeypatch.setattr(lorafiles, "DIFFUSERS_READS_FLAT_CLIP", "999")  # behave as on diffusers 0.39
    real, seen = lp._load_lora_into_text_encoder, []

    @functools.wraps(real)  # the kit binds diffusers' signature
    def spy(*a, **kw):
        seen.append(sorted(kw["state_dict"] if "state_dict" in kw else a[0]))
        return real(*a, **kw)

    monkeypatch.setattr(lp, "_load_lora_into_text_encoder", spy)
    load_into_pipeline(fresh, trained["files"][fmt])
    assert lp._load_lora_into_text_encoder is spy  # put back after loading
    te_keys = [k for keys in seen for k in keys if k.startswith("text_encoder.")]
    assert te_keys and not any(k.startswith("text_encoder.text_model.") for k in te_keys)
    np.testing.assert_allclose(_generate(fresh), trained["ref"], atol=1e-5)


def test_diffusers_folder_layout_loads(trained, tiny_sd15):
    folder = trained["out"] / "toy_diffusers"
    assert trained["files"]["diffusers"] == folder / "pytorch_lora_weights.safetensors"
    fresh = _pipe(tiny_sd15)
    load_into_pipeline(fresh, folder)  # diffusers' default weight name inside the folder
    np.testing.assert_allclose(_generate(fresh), trained["ref"], atol=1e-5)
    sd, md = read_lora_file(folder)
    assert any(k.startswith("unet.") and k.endswith("lora_A.weight") for k in sd)
    assert any(k.startswith("text_encoder.text_model.encoder.layers.") for k in sd)
    adapter = json.loads(md["lora_adapter_metadata"])
    assert adapter["unet.lora_alpha"] == ALPHA and adapter["unet.r"] == RANK
    assert adapter["text_encoder.lora_alpha"] == ALPHA


def test_kohya_alpha_is_configured_alpha_and_is_what_loaders_apply(trained, tiny_sd15, tmp_path):
    from safetensors.torch import save_file

    sd, md = read_lora_file(trained["files"]["kohya"])
    alphas = {k: v for k, v in sd.items() if k.endswith(".alpha")}
    assert alphas and all(v.ndim == 0 and v.item() == ALPHA for v in alphas.values())
    downs = [v for k, v in sd.items() if k.endswith(".lora_down.weight")]
    assert len(downs) == len(alphas) and all(d.shape[0] == RANK for d in downs)
    # Control: with alpha = rank (what diffusers' convert_state_dict_to_kohya writes) the picture
    # changes, so the match above really depends on the stored alpha.
    wrong = {k: (torch.tensor(float(RANK)) if k.endswith(".alpha") else v) for k, v in sd.items()}
    save_file(wrong, str(tmp_path / "wrong.safetensors"), metadata=md)
    fresh = _pipe(tiny_sd15)
    load_into_pipeline(fresh, tmp_path / "wrong.safetensors")
    assert np.abs(_generate(fresh) - trained["ref"]).max() > 1e-3


def test_fp16_save_gives_fp16_tensors(trained, tmp_path):
    cfg = trained["cfg"]  # save_precision defaults to fp16
    files = save_lora_files(tmp_path, "half", trained["targets"], cfg, _metadata(cfg))
    full = {fmt: read_lora_file(p)[0] for fmt, p in trained["files"].items()}
    for fmt, path in files.items():
        sd, _ = read_lora_file(path)
        assert sd.keys() == full[fmt].keys()
        assert all(t.dtype == torch.float16 for t in sd.values())
        for k, t in sd.items():
            torch.testing.assert_close(t.float(), full[fmt][k], rtol=1e-3, atol=1e-3)


def test_every_kohya_key_maps_to_a_base_module_under_comfyui_naming(trained, tiny_sd15):
    fresh = _pipe(tiny_sd15)
    components = {"unet": fresh.unet, "text_encoder": fresh.text_encoder}
    key_map = comfyui_key_map(components, {"unet": "lora_unet", "text_encoder": "lora_te"})
    sd, _ = read_lora_file(trained["files"]["kohya"])
    assert check_kohya_keys(sd, key_map) == []
    stems = {k.split(".")[0] for k in sd}
    assert "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q" in stems
    assert "lora_te_text_model_encoder_layers_0_self_attn_q_proj" in stems
    for stem in stems:  # the mapped module is real and its shape fits the LoRA factors
        component, module_name = key_map[stem].split(".", 1)
        layer = components[component].get_submodule(module_name)
        assert sd[f"{stem}.lora_down.weight"].shape[1] == layer.in_features
        assert sd[f"{stem}.lora_up.weight"].shape[0] == layer.out_features
    bad = dict(sd)
    bad["lora_unet_down_blocks_7_attentions_0_to_q.lora_down.weight"] = torch.zeros(RANK, 8)
    bad["lora_te_text_model_encoder_layers_0_self_attn_qkv.alpha"] = torch.tensor(ALPHA)
    assert check_kohya_keys(bad, key_map) == ["lora_te_text_model_encoder_layers_0_self_attn_qkv",
                                              "lora_unet_down_blocks_7_attentions_0_to_q"]


def test_key_map_sees_through_peft_wrappers(trained, tiny_sd15):
    """The in-memory (LoRA-wrapped) models yield the same map as the fresh base models."""
    fresh = _pipe(tiny_sd15)
    prefixes = {"unet": "lora_unet", "text_encoder": "lora_te"}
    wrapped = comfyui_key_map({t.component: t.module for t in trained["targets"]}, prefixes)
    clean = comfyui_key_map({"unet": fresh.unet, "text_encoder": fresh.text_encoder}, prefixes)
    assert wrapped == clean
    te_stems = [s for s in clean if s.startswith("lora_te_")]
    assert len(te_stems) == 3 * len(
        ["mlp.fc1", "mlp.fc2", "self_attn.k_proj", "self_attn.q_proj", "self_attn.v_proj", "self_attn.out_proj"])


def test_get_peft_model_target_exports_like_add_adapter(trained, tiny_sd15):
    from peft import LoraConfig, get_peft_model
    from transformers import CLIPTextModel

    te = CLIPTextModel.from_pretrained(tiny_sd15 / "text_encoder")
    wrapped = get_peft_model(te, LoraConfig(r=RANK, lora_alpha=ALPHA, target_modules=TE_TARGETS))
    ours = kohya_state_dict([ExportTarget("text_encoder", wrapped, "lora_te")], torch.float32)
    reference = kohya_state_dict([trained["targets"][1]], torch.float32)
    assert ours.keys() == reference.keys()
    assert all(ours[k].shape == reference[k].shape for k in ours)


def test_metadata_keys_are_complete_strings(trained):
    _, md = read_lora_file(trained["files"]["kohya"])
    missing = [k for k in SS_KEYS + MODELSPEC_KEYS + ["sshs_model_hash", "sshs_legacy_hash"] if k not in md]
    assert missing == []
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in md.items())
    assert json.loads(md["ss_tag_frequency"]) == TAGS
    assert json.loads(md["ss_dataset_dirs"]) == {"2_toycircle": {"n_repeats": 2, "img_count": 4}}
    assert md["ss_network_module"] == "networks.lora"
    assert (md["ss_network_dim"], float(md["ss_network_alpha"])) == (str(RANK), ALPHA)
    assert md["ss_base_model_version"] == "sd_v1"
    assert md["ss_resolution"] == "(512, 512)" and md["modelspec.resolution"] == "512x512"
    assert (md["ss_steps"], md["ss_epoch"], md["ss_num_train_images"]) == ("12", "3", "11")
    assert md["ss_training_comment"] == "toy run" and md["ss_mixed_precision"] == "no"
    assert md["ss_optimizer"].startswith("bitsandbytes.optim.adamw.AdamW8bit")
    assert md["ss_sd_model_name"] == "tiny-sd15"  # basename only: no user folders in the file
    assert md["modelspec.sai_model_spec"] == "1.0.0"
    assert md["modelspec.architecture"] == "stable-diffusion-v1/lora"
    assert md["modelspec.implementation"] == "diffusers"
    assert md["modelspec.title"] == "lora"
    assert len(md["sshs_model_hash"]) == 64 and len(md["sshs_legacy_hash"]) == 8


def test_model_hash_is_sha256_of_tensor_bytes(trained):
    """sshs_model_hash as sd-webui-additional-networks computes it: sha256 after the header."""
    raw = trained["files"]["kohya"].read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    _, md = read_lora_file(trained["files"]["kohya"])
    assert md["sshs_model_hash"] == hashlib.sha256(raw[8 + header_len:]).hexdigest()
    sd, _ = read_lora_file(trained["files"]["kohya"])
    assert kohya_model_hashes(sd, md) == (md["sshs_model_hash"], md["sshs_legacy_hash"])


def test_no_secret_or_local_path_in_files(trained, tmp_path, monkeypatch):
    secret = "hf_secretTOKEN0123456789abcdefXYZ"
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_TOKEN"):
        monkeypatch.setenv(var, secret)
    cfg = trained["cfg"]
    md = lora_metadata(cfg, steps=1, epoch=1, num_train_images=1, tag_frequency=TAGS)
    assert not any(secret in v for v in md.values())
    files = save_lora_files(tmp_path, "clean", trained["targets"], cfg, md)
    model_parent = str(cfg.pretrained_model).rsplit("/", 1)[0]
    for path in files.values():
        raw = path.read_bytes()
        assert secret.encode() not in raw
        assert model_parent.encode() not in raw  # e.g. /content/drive/MyDrive/... stays private


def test_metadata_extra_and_families(tiny_sd15):
    md = lora_metadata(_config(tiny_sd15), steps=1, epoch=0, num_train_images=1, tag_frequency={},
                       extra={"ss_bucket_info": {"buckets": {}}, "ss_seed": 7})
    assert md["ss_bucket_info"] == '{"buckets": {}}' and md["ss_seed"] == "7"
    sdxl = lora_metadata(Config(family="sdxl", resolution=1024), steps=1, epoch=1, num_train_images=1,
                         tag_frequency={})
    assert sdxl["ss_base_model_version"] == "sdxl_base_v1-0"
    assert sdxl["modelspec.architecture"] == "stable-diffusion-xl-v1-base/lora"
    assert sdxl["ss_text_encoder_lr"] == "0.0"  # text encoder not trained
    flux = lora_metadata(Config(family="flux", pretrained_model="black-forest-labs/FLUX.1-dev", resolution=1024),
                         steps=1, epoch=1, num_train_images=1, tag_frequency={}, architecture="flux-1-dev")
    assert flux["ss_base_model_version"] == "flux1"
    assert flux["modelspec.architecture"] == "flux-1-dev/lora"
    # no guess from a repository name: a schnell-named repo without the loaded model's id is plain flux-1
    schnell_named = lora_metadata(Config(family="flux", pretrained_model="me/flux-schnell-finetune"), steps=1,
                                  epoch=1, num_train_images=1, tag_frequency={})
    assert schnell_named["modelspec.architecture"] == "flux-1/lora"
    assert flux["ss_sd_model_name"] == "black-forest-labs/FLUX.1-dev"  # hub ids are kept whole, as kohya does
    assert "modelspec.prediction_type" not in flux


def test_resaving_replaces_files_atomically(trained, tmp_path):
    cfg = trained["cfg"]
    first = save_lora_files(tmp_path, "again", trained["targets"], cfg, _metadata(cfg), formats=["kohya"])
    assert set(first) == {"kohya"}
    (tmp_path / "again_diffusers").mkdir()
    (tmp_path / "again_diffusers" / "stale.txt").write_text("old")
    files = save_lora_files(tmp_path, "again", trained["targets"], cfg, _metadata(cfg))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.safetensors", "again_diffusers", "files.md"]
    assert sorted(p.name for p in files["diffusers"].parent.iterdir()) == ["pytorch_lora_weights.safetensors"]


def test_read_lora_file_refuses_pickle_unless_allowed(tmp_path):
    tensors = {"lora_unet_x.lora_down.weight": torch.ones(2, 3)}
    for ext in (".ckpt", ".pt"):
        path = tmp_path / f"old{ext}"
        torch.save(tensors, path)
        with pytest.raises(ModelLoadError, match="pickle.*allow_pickle"):
            read_lora_file(path)
        sd, md = read_lora_file(path, allow_pickle=True)
        assert md == {} and torch.equal(sd["lora_unet_x.lora_down.weight"], tensors["lora_unet_x.lora_down.weight"])
    with pytest.raises(ModelLoadError, match="not found"):
        read_lora_file(tmp_path / "missing.safetensors")
    (tmp_path / "broken.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(ModelLoadError, match="not a valid safetensors"):
        read_lora_file(tmp_path / "broken.safetensors")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ModelLoadError, match="unknown LoRA file type"):
        read_lora_file(tmp_path / "notes.txt")


def test_bad_inputs_are_explained(trained, tiny_sd15, tmp_path):
    plain = _pipe(tiny_sd15)
    with pytest.raises(LoraNbError, match="no LoRA adapter"):
        kohya_state_dict([ExportTarget("unet", plain.unet, "lora_unet")], torch.float32)
    cfg = trained["cfg"]
    with pytest.raises(LoraNbError, match="save precision"):
        save_lora_files(tmp_path, "x", trained["targets"], cfg, {}, precision="fp8")
    with pytest.raises(LoraNbError, match="plain file name"):
        save_lora_files(tmp_path, "../x", trained["targets"], cfg, {})
    with pytest.raises(LoraNbError, match="save formats"):
        save_lora_files(tmp_path, "x", trained["targets"], cfg, {}, formats=["ckpt"])
    twice = [trained["targets"][0], ExportTarget("unet2", trained["targets"][0].module, "lora_unet")]
    with pytest.raises(LoraNbError, match="kohya_prefix"):
        kohya_state_dict(twice, torch.float32)
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temp files left behind
