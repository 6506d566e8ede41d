"""The tiny models load through the same from_pretrained path as the hub repos."""

import json

import torch


def test_layout_matches_the_hub_repo(tiny_sd15):
    index = json.loads((tiny_sd15 / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    for part in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        assert (tiny_sd15 / part).is_dir(), part
    assert list((tiny_sd15 / "unet").glob("*.safetensors"))


def test_pipeline_loads_and_is_deterministic(tiny_sd15):
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(tiny_sd15, use_safetensors=True)
    pipe.set_progress_bar_config(disable=True)
    run = lambda: pipe("a red circle", num_inference_steps=2, height=64, width=64,  # noqa: E731
                       generator=torch.Generator().manual_seed(0), output_type="np").images
    assert run().shape == (1, 64, 64, 3)
    assert (run() == run()).all()


def test_tokenizer_handles_real_captions_and_77_limit(tiny_sd15):
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer.from_pretrained(tiny_sd15 / "tokenizer")
    pieces = tok.tokenize("a photo of a red circle on a blue background, 猫")
    assert "circle</w>" in pieces and "background</w>" in pieces  # learned merges, whole words
    ids = tok("word " * 200, padding="max_length", max_length=tok.model_max_length, truncation=True).input_ids
    assert tok.model_max_length == 77 and len(ids) == 77
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id


def test_build_is_deterministic(tmp_path):
    from safetensors.torch import load_file

    from lora_nb.toy.testing import build_tiny_model

    a = build_tiny_model("sd15", tmp_path / "a")
    b = build_tiny_model("sd15", tmp_path / "b")
    wa = load_file(next((a / "unet").glob("*.safetensors")))
    wb = load_file(next((b / "unet").glob("*.safetensors")))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
