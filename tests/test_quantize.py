"""Quantised bases (QLoRA): bitsandbytes NF4 / LLM.int8 layers hold the frozen weights, the LoRA
trains on top. bitsandbytes 0.50 runs both (and its 8-bit AdamW) on the CPU, so the whole path is
tested here; diffusers' own quantise-while-loading needs CUDA and is marked `gpu`."""

import sys

import pytest
import torch

from lora_nb.config import Config
from lora_nb.families.quantize import bnb_config, is_quantized, problems, quantize_linears, weight_bytes


def _tiny_flux_transformer(seed=0):
    from diffusers import FluxTransformer2DModel

    torch.manual_seed(seed)
    return FluxTransformer2DModel(patch_size=1, in_channels=64, num_layers=1, num_single_layers=1,
                                  attention_head_dim=16, num_attention_heads=2, joint_attention_dim=32,
                                  pooled_projection_dim=32, guidance_embeds=True, axes_dims_rope=(4, 6, 6))


def _args(seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(hidden_states=torch.randn(1, 64, 64, generator=g),
                encoder_hidden_states=torch.randn(1, 8, 32, generator=g),
                pooled_projections=torch.randn(1, 32, generator=g), timestep=torch.tensor([0.5]),
                img_ids=torch.zeros(64, 3), txt_ids=torch.zeros(8, 3), guidance=torch.tensor([1.0]))


@pytest.mark.parametrize("kind", ["nf4", "int8"])
def test_every_linear_is_quantised_smaller_and_close(kind):
    import bitsandbytes as bnb

    model = _tiny_flux_transformer()
    n_linear = sum(type(m) is torch.nn.Linear for m in model.modules())
    with torch.no_grad():
        ref = model(**_args()).sample
    before = weight_bytes(model)
    assert quantize_linears(model, kind, torch.float32) == n_linear
    layer = bnb.nn.Linear4bit if kind == "nf4" else bnb.nn.Linear8bitLt
    assert not any(type(m) is torch.nn.Linear for m in model.modules())
    assert sum(isinstance(m, layer) for m in model.modules()) == n_linear and is_quantized(model)
    assert weight_bytes(model) < before * (0.2 if kind == "nf4" else 0.35)
    with torch.no_grad():
        out = model(**_args()).sample
    cos = torch.nn.functional.cosine_similarity(out.flatten(), ref.flatten(), dim=0)
    assert cos > (0.9 if kind == "nf4" else 0.99), cos  # quantisation noise, not a different function


@pytest.mark.parametrize("network_type", ["lora", "dora"])
def test_adapter_on_nf4_base_trains_only_the_adapter(network_type):
    from peft.tuners.lora.bnb import Linear4bit as LoraLinear4bit

    from lora_nb.families.adapters import adapter_config, trainable
    from lora_nb.families.base import adapter_layers

    model = _tiny_flux_transformer()
    quantize_linears(model, "nf4", torch.float32)
    cfg = Config(family="flux", network_type=network_type, rank=4, alpha=4.0)
    model.add_adapter(adapter_config(cfg, adapter_layers(model, ["to_q", "to_k"])))
    assert isinstance(model.transformer_blocks[0].attn.to_q, LoraLinear4bit)  # peft's bitsandbytes LoRA layer
    params = trainable(model)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    opt = torch.optim.AdamW(params, lr=1e-2)
    model.enable_gradient_checkpointing()
    model.train()
    for _ in range(2):
        model(**_args()).sample.pow(2).mean().backward()
        assert all(p.grad is not None for p in params)  # gradients reach every adapter weight through NF4
        opt.step()
        opt.zero_grad()
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if n in frozen)
    ups = [p for n, p in model.named_parameters() if "lora_B" in n]
    assert ups and all(p.abs().sum() > 0 for p in ups)  # B left zero: the adapter learned


@pytest.mark.parametrize("kind", ["nf4", "int8"])
def test_flux_trains_on_a_quantised_base_with_8bit_adam(kind, tmp_path, tiny_dataset, monkeypatch):
    import bitsandbytes as bnb
    from safetensors.torch import load_file

    import lora_nb.training.trainer as T
    from lora_nb.toy.testing import build_tiny_model

    model = build_tiny_model("flux", tmp_path / "tiny-flux")
    seen = {}
    real = T.save_checkpoint

    def spy(step, final, **kw):
        seen.update(models=kw["models"], optimizer=kw["optimizer"])
        return real(step, final, **kw)

    monkeypatch.setattr(T, "save_checkpoint", spy)
    cfg = Config(family="flux", pretrained_model=str(model), train_data_dir=str(tiny_dataset), resolution=64,
                 quantization=kind, gradient_checkpointing=True, optimizer="adamw8bit", learning_rate=1e-3,
                 max_train_steps=2, rank=4, alpha=4.0, save_formats=["kohya", "diffusers"], save_precision="fp32",
                 output_dir=str(tmp_path / "run"))
    res = T.train(cfg)
    m = seen["models"]
    assert is_quantized(m.denoiser) and res.last_loss == res.last_loss
    assert isinstance(getattr(seen["optimizer"], "optimizer", seen["optimizer"]), bnb.optim.AdamW8bit)
    # the saved LoRA is exactly the in-memory adapter (it is applied to the 16-bit base when used)
    sd = load_file(str(res.files["diffusers"]))
    q = m.denoiser.transformer_blocks[0].attn.to_q
    torch.testing.assert_close(sd["transformer.transformer_blocks.0.attn.to_q.lora_A.weight"],
                               q.lora_A["default"].weight.detach())
    torch.testing.assert_close(sd["transformer.transformer_blocks.0.attn.to_q.lora_B.weight"],
                               q.lora_B["default"].weight.detach())
    assert sd["transformer.transformer_blocks.0.attn.to_q.lora_B.weight"].abs().sum() > 0


def test_configs_and_missing_package_are_explained(monkeypatch):
    nf4 = bnb_config("nf4", torch.bfloat16)
    assert nf4.load_in_4bit and nf4.bnb_4bit_quant_type == "nf4" and nf4.bnb_4bit_use_double_quant
    assert nf4.bnb_4bit_compute_dtype == torch.bfloat16
    assert bnb_config("int8", torch.float16).load_in_8bit and bnb_config("none", torch.float16) is None
    assert problems(Config(quantization="none")) == []
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # as if not installed
    [msg] = problems(Config(quantization="nf4"))
    assert "pip install" in msg and "quantization = 'none'" in msg


@pytest.mark.gpu
def test_diffusers_quantises_while_loading_on_gpu(tmp_path):
    import bitsandbytes as bnb
    from diffusers import FluxTransformer2DModel

    from lora_nb.families.quantize import load_quantized
    from lora_nb.toy.testing import build_tiny_model

    path = build_tiny_model("flux", tmp_path / "tiny-flux")
    model = load_quantized(FluxTransformer2DModel, str(path), "transformer",
                           Config(family="flux", quantization="nf4"), "cuda", torch.bfloat16)
    assert model.is_loaded_in_4bit and isinstance(model.transformer_blocks[0].attn.to_q, bnb.nn.Linear4bit)
    assert model.transformer_blocks[0].attn.to_q.weight.device.type == "cuda"
    with torch.no_grad(), torch.autocast("cuda", torch.bfloat16):
        out = model(**{k: v.cuda() for k, v in _args().items()}).sample
    assert torch.isfinite(out).all()


@pytest.mark.gpu
def test_flux_nf4_trains_end_to_end_on_gpu(tmp_path, tiny_dataset, train_capture):
    from lora_nb.toy.testing import build_tiny_model

    model = build_tiny_model("flux", tmp_path / "tiny-flux")
    cfg = Config(family="flux", pretrained_model=str(model), train_data_dir=str(tiny_dataset), resolution=64,
                 quantization="nf4", gradient_checkpointing=True, optimizer="adamw8bit", cpu_offload=True,
                 max_train_steps=2, rank=4, alpha=4.0, sample_prompts=["toycircle"], sample_steps=2,
                 sample_every_n_steps=2, output_dir=str(tmp_path / "run"), gpu_preset="none")
    res, m = train_capture(cfg)
    assert is_quantized(getattr(m.denoiser, "module", m.denoiser))
    assert m.text_encoders == [] and next(m.vae.parameters()).device.type == "cpu"
    assert res.last_loss == res.last_loss and (res.output_dir / "samples" / "step00000002-p0.png").is_file()
