"""Quantised frozen base models: NF4 or 8-bit weights (bitsandbytes), the LoRA in full precision on top.

QLoRA (Dettmers et al. 2023) showed that a 4-bit NormalFloat base with double quantisation and a
16/32-bit LoRA trains as well as a 16-bit base. For Flux-dev (12B parameters, ~24 GB in bf16)
this is what makes 12-16 GB GPUs possible: NF4 weights take ~6.7 GB.

Two loading paths, one result (every nn.Linear of the denoiser replaced by a bitsandbytes layer):

- CUDA: diffusers' `BitsAndBytesConfig` quantises while loading, shard by shard on the GPU, so the
  16-bit model never has to fit in host RAM (Colab has ~12 GB of it).
- CPU (tests, laptops): diffusers refuses to quantise without a GPU, but bitsandbytes >= 0.45 runs
  `Linear4bit` and `Linear8bitLt` on the CPU, so the loaded model's Linear layers are swapped in
  place by `quantize_linears`.

Either way the model is flagged `is_loaded_in_4bit` / `is_loaded_in_8bit`, which is how peft
chooses its bitsandbytes LoRA layers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigError
from .loading import load_part

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ..config import Config


def problems(config: Config) -> list[str]:
    if config.quantization == "none":
        return []
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        return [f"quantization: {config.quantization!r} needs the bitsandbytes package -> pip install "
                f"'lora-nb[optimizers]' (or pip install bitsandbytes), or set quantization = 'none'"]
    return []


def bnb_config(quantization: str, compute_dtype: torch.dtype):
    """diffusers' BitsAndBytesConfig for 'nf4' or 'int8' (None for 'none')."""
    from diffusers import BitsAndBytesConfig

    if quantization == "none":
        return None
    if quantization == "nf4":
        # NF4 + double quantisation of the absmax constants: QLoRA's setting (~0.4 bit/param saved)
        return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                  bnb_4bit_compute_dtype=compute_dtype)
    if quantization == "int8":  # LLM.int8() (Dettmers et al. 2022)
        return BitsAndBytesConfig(load_in_8bit=True)
    raise ConfigError(f"quantization: {quantization!r} is not one of none, nf4, int8")


def load_quantized(cls, source: str, subfolder: str | None, config: Config, device, compute_dtype):
    """`cls.from_pretrained` with the frozen Linear weights quantised as `config.quantization` says."""
    import torch

    if torch.device(device).type == "cuda":
        model = load_part(cls, source, subfolder, config, torch_dtype=compute_dtype,
                          quantization_config=bnb_config(config.quantization, compute_dtype))
    else:
        model = load_part(cls, source, subfolder, config)
        if compute_dtype != torch.float32:
            model.to(compute_dtype)
        quantize_linears(model, config.quantization, compute_dtype)
    model.requires_grad_(False)
    model.eval()
    return model


def quantize_linears(model: torch.nn.Module, quantization: str, compute_dtype=None,
                     skip: tuple[str, ...] = ()) -> int:
    """Replace every nn.Linear of `model` (except names in `skip` and the model's
    `_keep_in_fp32_modules`) by a bitsandbytes NF4 / LLM.int8 layer holding the same weights,
    quantised on the layer's current device. Returns the number of layers replaced."""
    import bitsandbytes as bnb
    import torch

    if quantization not in ("nf4", "int8"):
        raise ConfigError(f"quantization: {quantization!r} is not nf4 or int8")
    keep = tuple(skip) + tuple(getattr(model, "_keep_in_fp32_modules", None) or ())
    replaced = 0
    for name, module in list(model.named_modules()):
        if type(module) is not torch.nn.Linear:  # already-quantised layers are Linear subclasses
            continue
        if any(name == k or name.startswith(k + ".") or name.endswith("." + k) for k in keep):
            continue
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        w = module.weight.data
        dtype = compute_dtype or w.dtype
        if quantization == "nf4":
            q = bnb.nn.Linear4bit(module.in_features, module.out_features, bias=module.bias is not None,
                                  compute_dtype=dtype, compress_statistics=True, quant_type="nf4",
                                  device="meta")
            q.weight = bnb.nn.Params4bit(w.to(dtype), requires_grad=False, compress_statistics=True,
                                         quant_type="nf4")
            if w.device.type == "cpu" and module.in_features % q.weight.blocksize:
                # bitsandbytes (0.50 seen) repacks NF4 weights for its AVX512-bf16 CPU kernel at the first
                # no-grad forward and fails when the input width is not a multiple of the quantisation
                # block ("shape '[32, 0]' is invalid"); real models' widths are, tiny test models' are
                # not. Such layers keep the portable CPU kernel (same numbers, no repacking).
                q.support_avx512bf16_for_cpu = False
        else:
            q = bnb.nn.Linear8bitLt(module.in_features, module.out_features, bias=module.bias is not None,
                                    has_fp16_weights=False, device="meta")
            q.weight = bnb.nn.Int8Params(w.to(dtype), requires_grad=False, has_fp16_weights=False)
        if module.bias is not None:
            q.bias = torch.nn.Parameter(module.bias.data.to(dtype), requires_grad=False)
        q = q.to(w.device)  # bitsandbytes quantises when the parameter is moved to a device
        setattr(parent, child, q)
        replaced += 1
    if quantization == "nf4":
        model.is_loaded_in_4bit = True
    else:
        model.is_loaded_in_8bit = True
    return replaced


def is_quantized(model) -> bool:
    return bool(getattr(model, "is_loaded_in_4bit", False) or getattr(model, "is_loaded_in_8bit", False)
                or getattr(model, "is_quantized", False))


def weight_bytes(model) -> int:
    """Bytes the model's parameters and buffers occupy (quantised storage counted as stored)."""
    return sum(t.numel() * t.element_size() for t in list(model.parameters()) + list(model.buffers()))
