"""Memory fit: predict peak GPU memory and host RAM for a config, say whether it fits a GPU, and
which changes make it fit -- before a long wait ends in "CUDA out of memory".

The trainer runs in three phases; the peak is the largest of them:

    caching   text encoders (+ VAE) encode every caption, then leave  (before the denoiser loads)
    encode    each step's images go through the VAE (first epoch, or every step without a cache)
    training  forward + backward of the denoiser with LoRA:
                frozen weights (16-bit, NF4 or int8) + adapter weights, gradients, optimizer state
              + activations saved for the backward pass + transients (a dequantised layer)

plus, on the device but outside PyTorch's allocator, the caching allocator's slack and the CUDA
context.

Parameter counts and adapter layer shapes come from the real diffusers/transformers classes,
built on the ``meta`` device from the hub configs of the reference models (no weights, no
download), with the adapter targets chosen by the same family code the trainer uses. Activation
sizes come from `profile_activations`, which runs the real architecture's forward pass on
``meta`` tensors and adds up every tensor autograd saves for the backward pass (autocast and
flash attention emulated as on a GPU). Its results, and every other constant a measurement can
correct, live in the one `CALIBRATION` table below; `bench/memory_fit.py` measures real peaks on
a GPU and prints the corrected values.
"""

from __future__ import annotations

import copy
import functools
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, LoraNbError

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Config

GiB = 2**30

# =============================================================================================
# Calibration table: every constant a measurement can correct, in one place.
# `bench/memory_fit.py` prints measured/predicted per preset and the values to put here.
# =============================================================================================
CALIBRATION: dict[str, Any] = {
    # Activations saved for backward, in bytes = batch * (per_token * latent_tokens + per_sample).
    # Latent tokens: (H/8)*(W/8) for SD1.5/SDXL, (H/16)*(W/16) for Flux (2x2 patches).
    # "half": fp16/bf16 autocast with 16-bit frozen weights; "fp32": mixed_precision = "no".
    # With checkpointing: block inputs kept + the largest block while it is recomputed.
    # Derived with `fit_activation_constants(family)` (meta-device profile of the real
    # architecture at half and full native resolution, LoRA rank 16 on the attention projections).
    "activations": {
        # (family, precision, checkpointing): (bytes per latent token, bytes per sample)
        ("sd15", "half", False): (276_946, 13_826_560),
        ("sd15", "half", True): (62_392, 676_672),
        ("sd15", "fp32", False): (412_009, 8_096_768),
        ("sd15", "fp32", True): (105_384, 689_792),
        ("sdxl", "half", False): (466_180, 109_505_664),
        ("sdxl", "half", True): (48_672, 379_392),
        ("sdxl", "fp32", False): (731_380, 52_581_888),
        ("sdxl", "fp32", True): (75_674, 1_674_112),
        ("flux", "half", False): (6_328_384, 3_288_078_336),
        ("flux", "half", True): (488_376, 245_174_272),
        ("flux", "fp32", False): (8_902_656, 4_563_484_672),
        ("flux", "fp32", True): (887_864, 454_541_312),
    },
    # Measured peak activations / profiled saved tensors (backward buffers, autocast copies of the
    # fp32 LoRA weights, attention/cuBLAS workspaces). A prior until bench/memory_fit.py has measured
    # each family on a GPU.
    "activation_factor": {"sd15": 1.10, "sdxl": 1.10, "flux": 1.10},
    # Caching-allocator slack: reserved / allocated - 1 (fragmentation between differently sized steps).
    "allocator_slack": 0.07,
    # CUDA context, cuBLAS/cuDNN handles and kernels: on the GPU but outside PyTorch's allocator.
    "cuda_context_gb": 0.6,
    # Bytes per weight of a quantised nn.Linear (bitsandbytes, as lora_nb.families.quantize sets it up):
    # NF4 with double quantisation = 4 bits + an 8-bit absmax per 64 weights + an fp32 constant per
    # 256 absmax (QLoRA §2); int8 (LLM.int8) = 1 byte + an fp32 scale per output row.
    "quant_bytes": {"nf4": 0.5 + 1 / 64 + 4 / (64 * 256), "int8": 1.0},
    # Optimizer state bytes per trainable fp32 parameter (see `optimizer_state_bytes` for the
    # per-tensor rules of adamw8bit and adafactor).
    "optimizer_bytes": {"adamw": 8.0, "lion": 4.0, "prodigy": 16.0, "dadaptation": 12.0},
    # VAE encoding without grad: ~3 live 128-channel maps at full resolution, fp32.
    "vae_encode_bytes_per_pixel": 3 * 128 * 4,
    # Host RAM: Python + torch + CUDA libraries + diffusers/transformers, before any weights.
    "host_baseline_gb": 3.0,
    # Largest piece of a checkpoint diffusers reads at once when it quantises while loading.
    "host_shard_gb": 10.0,
}

# Seconds per optimizer step at the family's native resolution, batch 1, 16-bit weights, no
# checkpointing, no quantisation. Rough figures from public reports and the FluxTrainer walkthrough (Flux LoRA on an
# RTX 4090 at 768 px: 2.42 s/it, i.e. ~4.3 s/it at 1024 px); a measured step time
# (`measure_peak`) replaces them.
STEP_SECONDS = {
    "sd15": {"T4-16GB": 0.55, "12GB": 0.30, "24GB": 0.13, "A100-40GB": 0.12, "A100-80GB": 0.11},
    "sdxl": {"T4-16GB": 4.5, "12GB": 2.0, "24GB": 0.8, "A100-40GB": 0.6, "A100-80GB": 0.55},
    "flux": {"T4-16GB": 22.0, "12GB": 9.0, "24GB": 4.3, "A100-40GB": 2.2, "A100-80GB": 1.9},
}
# Slow-downs applied to STEP_SECONDS (config help: checkpointing ~30% slower; dequantising
# every layer on the fly costs NF4 ~25%, LLM.int8 ~40%).
SPEED_FACTORS = {"gradient_checkpointing": 1.3, "nf4": 1.25, "int8": 1.4}


# =============================================================================================
# GPUs
# =============================================================================================
@dataclass(frozen=True)
class GPU:
    name: str
    memory_gb: float  # what torch.cuda reports as total memory, in GiB
    bf16: bool
    examples: str = ""

    @property
    def tier(self) -> str:
        """The Config.gpu_preset tier of this GPU (12GB, 16GB, 24GB, 40GB), as `lora_nb.training.presets` picks it."""
        from ..training.presets import tier_for_memory

        return tier_for_memory(self.memory_gb)


GPU_PRESETS: dict[str, GPU] = {
    "T4-16GB": GPU("T4-16GB", 14.7, False, "Colab free tier T4"),
    "12GB": GPU("12GB", 11.7, True, "RTX 3060 12GB, RTX 4070"),
    "24GB": GPU("24GB", 23.6, True, "RTX 3090/4090 (A10G and L4 report ~22 GiB)"),
    "A100-40GB": GPU("A100-40GB", 39.4, True, "Colab A100"),
    "A100-80GB": GPU("A100-80GB", 79.1, True, "A100/H100 80GB"),
}
_GPU_ALIASES = {"t4": "T4-16GB", "16gb": "T4-16GB", "16": "T4-16GB", "12": "12GB", "24": "24GB",
                "a100": "A100-40GB", "40gb": "A100-40GB", "40": "A100-40GB", "80gb": "A100-80GB", "80": "A100-80GB"}


def resolve_gpu(gpu: "str | GPU | None") -> GPU | None:
    """A preset name (case-insensitive: 't4', '16GB', '24gb', 'a100-80gb'...), 'detect', a GPU or None."""
    if gpu is None or isinstance(gpu, GPU):
        return gpu
    key = str(gpu).strip().lower().replace(" ", "").replace("_", "-")
    if key in ("detect", "auto"):
        return detect_gpu()
    if key == "none":
        return None
    for name in GPU_PRESETS:
        if key == name.lower():
            return GPU_PRESETS[name]
    if key in _GPU_ALIASES:
        return GPU_PRESETS[_GPU_ALIASES[key]]
    raise ConfigError(f"unknown GPU {gpu!r} -> use one of {', '.join(GPU_PRESETS)}, 'detect' or 'none'")


def detect_gpu() -> GPU | None:
    """The GPU of this machine as a `GPU`, or None without CUDA."""
    from ..env import gpu_info

    info = gpu_info()
    if info is None:
        return None
    return GPU(info.name, round(info.total_gb, 1), info.supports_bf16, "detected")


def _speed_column(gpu: GPU) -> str:
    """The STEP_SECONDS column closest to a GPU (by memory; the T4 is the only 16 GB card listed)."""
    if gpu.name in GPU_PRESETS:
        return gpu.name
    if gpu.memory_gb >= 60:
        return "A100-80GB"
    if gpu.memory_gb >= 30:
        return "A100-40GB"
    if gpu.memory_gb >= 18:
        return "24GB"
    return "12GB" if gpu.bf16 else "T4-16GB"


# =============================================================================================
# Reference architectures (hub configs of the models each family is trained on)
# =============================================================================================
_CLIP_L = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
               num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768)
_CLIP_BIGG = dict(vocab_size=49408, hidden_size=1280, intermediate_size=5120, num_hidden_layers=32,
                  num_attention_heads=20, max_position_embeddings=77, hidden_act="gelu", projection_dim=1280)
_T5_XXL = dict(vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
               relative_attention_num_buckets=32, feed_forward_proj="gated-gelu", dense_act_fn="gelu_new",
               is_gated_act=True, tie_word_embeddings=False)
_SD_VAE = dict(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2,
               block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
               up_block_types=("UpDecoderBlock2D",) * 4, sample_size=512)

REFERENCE = {
    # stable-diffusion-v1-5/stable-diffusion-v1-5
    "sd15": dict(
        denoiser=("UNet2DConditionModel", dict(
            sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
            block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=768, attention_head_dim=8,
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3)),
        text_encoders=(("CLIPTextModel", _CLIP_L),),
        vae=_SD_VAE, latent_channels=4, vae_scale=8, patch=1, text_tokens=77, text_dim=768, pooled_dim=0,
        native_resolution=512, min_resolution=256),
    # stabilityai/stable-diffusion-xl-base-1.0
    "sdxl": dict(
        denoiser=("UNet2DConditionModel", dict(
            sample_size=128, in_channels=4, out_channels=4, layers_per_block=2,
            block_out_channels=(320, 640, 1280), cross_attention_dim=2048, attention_head_dim=(5, 10, 20),
            transformer_layers_per_block=(1, 2, 10), use_linear_projection=True,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            addition_embed_type="text_time", addition_time_embed_dim=256,
            projection_class_embeddings_input_dim=2816)),
        text_encoders=(("CLIPTextModel", _CLIP_L), ("CLIPTextModelWithProjection", _CLIP_BIGG)),
        vae=_SD_VAE, latent_channels=4, vae_scale=8, patch=1, text_tokens=77, text_dim=2048, pooled_dim=1280,
        native_resolution=1024, min_resolution=512),
    # black-forest-labs/FLUX.1-dev
    "flux": dict(
        denoiser=("FluxTransformer2DModel", dict(
            patch_size=1, in_channels=64, num_layers=19, num_single_layers=38, attention_head_dim=128,
            num_attention_heads=24, joint_attention_dim=4096, pooled_projection_dim=768, guidance_embeds=True,
            axes_dims_rope=(16, 56, 56))),
        text_encoders=(("CLIPTextModel", _CLIP_L), ("T5EncoderModel", _T5_XXL)),
        vae=dict(_SD_VAE, latent_channels=16, use_quant_conv=False, use_post_quant_conv=False),
        latent_channels=16, vae_scale=8, patch=2, text_tokens=512, text_dim=4096, pooled_dim=768,
        native_resolution=1024, min_resolution=512),
}
# What kohya's "standard" LoRA trains: every Linear/1x1 conv inside the UNet's transformer blocks and
# the CLIP attention + MLP layers. Kohya practice guide's file sizes are for this set.
KOHYA_TARGETS = {
    "unet": ["proj_in", "proj_out", "to_q", "to_k", "to_v", "to_out.0", "ff.net.0.proj", "ff.net.2"],
    "text_encoder": ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"],
}
ATTENTION_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


def _family(family: str) -> dict:
    if family not in REFERENCE:
        raise ConfigError(f"family: {family!r} is not one of {', '.join(REFERENCE)}")
    return REFERENCE[family]


def _build_meta(kind: str, cls_name: str, cfg: dict):
    """Instantiate a diffusers/transformers class on the meta device (shapes only, no memory)."""
    import torch

    if kind == "diffusers":
        import diffusers

        cls = getattr(diffusers, cls_name)
        with torch.device("meta"):
            return cls(**cfg)
    import transformers

    cls = getattr(transformers, cls_name)
    conf_cls = transformers.T5Config if cls_name.startswith("T5") else transformers.CLIPTextConfig
    with torch.device("meta"):
        return cls(conf_cls(**cfg))


@functools.lru_cache(maxsize=None)
def meta_models(family: str) -> dict:
    """{'denoiser', 'vae', 'text_encoder', ['text_encoder_2']}: the reference model's parts on meta."""
    ref = _family(family)
    parts = {"denoiser": _build_meta("diffusers", *ref["denoiser"]),
             "vae": _build_meta("diffusers", "AutoencoderKL", ref["vae"])}
    for i, (cls_name, cfg) in enumerate(ref["text_encoders"]):
        parts[f"text_encoder_{i + 1}" if i else "text_encoder"] = _build_meta("transformers", cls_name, cfg)
    return parts


@dataclass(frozen=True)
class Layer:
    """A layer an adapter can wrap: weight fan_out x fan_in (fan_in = in_channels*kh*kw for a conv)."""

    name: str
    fan_in: int
    fan_out: int
    conv: bool = False


@dataclass(frozen=True)
class Architecture:
    family: str
    params: dict[str, int]  # component -> parameter count
    linear_params: dict[str, int]  # component -> parameters in nn.Linear weights (what bitsandbytes quantises)
    linear_rows: dict[str, int]  # component -> output rows of its nn.Linear layers (int8 keeps a scale per row)
    largest_linear: int  # weights of the largest nn.Linear in the denoiser (dequantised at once)
    layers: dict[str, dict[str, Layer]]  # component -> {module name: Layer} for Linear/Conv2d
    fp32_params: dict[str, int]  # component -> parameters its class keeps in fp32 when loaded in fp16 (T5's "wo")


@functools.lru_cache(maxsize=None)
def architecture(family: str) -> Architecture:
    """Parameter counts and layer shapes of the family's reference model, from the real classes."""
    import torch

    params, linear, rows, layers, largest, fp32 = {}, {}, {}, {}, 0, {}
    for comp, model in meta_models(family).items():
        params[comp] = sum(p.numel() for p in model.parameters())
        keep = list(getattr(model, "_keep_in_fp32_modules", None) or [])
        fp32[comp] = sum(p.numel() for n, m in model.named_modules() if keep and _suffix_match(n, keep)
                         for p in m.parameters(recurse=True))
        lin = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        linear[comp] = sum(m.weight.numel() for m in lin)
        rows[comp] = sum(m.out_features for m in lin)
        if comp == "denoiser":
            largest = max(m.weight.numel() for m in lin)
        table = {}
        for name, m in model.named_modules():
            if isinstance(m, torch.nn.Linear):
                table[name] = Layer(name, m.in_features, m.out_features)
            elif isinstance(m, torch.nn.Conv2d):
                kh, kw = m.kernel_size
                table[name] = Layer(name, m.in_channels * kh * kw // m.groups, m.out_channels, conv=True)
        layers[comp] = table
    return Architecture(family, params, linear, rows, largest, layers, fp32)


def _suffix_match(name: str, targets) -> bool:
    """peft's rule (`check_target_module_exists`): the exact name or a '.'-separated suffix."""
    return any(name == t or name.endswith("." + t) for t in targets)


def text_encoders(family: str) -> list[str]:
    return [c for c in architecture(family).params if c.startswith("text_encoder")]


def trained_text_encoders(family: str) -> list[str]:
    """The CLIP encoders a LoRA goes on with train_text_encoder (Flux's T5 never, as in kohya)."""
    return ["text_encoder", "text_encoder_2"] if family == "sdxl" else ["text_encoder"]


def adapter_layers(config: "Config") -> dict[str, list[Layer]]:
    """{component: layers that get an adapter} exactly as the trainer picks them.

    The denoiser's targets come from the family's `lora_targets` (Flux adds the text-stream twins of
    attention names and, with train_mlp, the feed-forward layers) and, for locon/loha/lokr, its
    `conv_targets`; text encoders get the family's `text_lora_targets` when trained.
    """
    from ..families.adapters import CONV_TYPES
    from ..families import get_family

    arch = architecture(config.family)
    fam = get_family(config.family)
    den = meta_models(config.family)["denoiser"]
    names = list(fam.lora_targets(den, config))
    if config.network_type in CONV_TYPES:
        names += [n for n in fam.conv_targets(den) if n not in names]
    out = {"denoiser": [arch.layers["denoiser"][n] for n in names if n in arch.layers["denoiser"]]}
    if config.train_text_encoder:
        for comp in trained_text_encoders(config.family):
            out[comp] = [lay for n, lay in arch.layers[comp].items() if _suffix_match(n, fam.text_lora_targets)]
    return out


def adapter_shapes(config: "Config", layers: dict[str, list[Layer]] | None = None) -> list[tuple[int, int]]:
    """(rows, cols) of every trainable adapter tensor, as peft creates them for config.network_type.

    lora/locon: A (r x fan_in), B (fan_out x r); dora: + a magnitude per output row; loha: two such
    pairs (Hadamard product); lokr: a full small Kronecker factor and a low-rank (or full) large one,
    factorised as peft's `factorization` does. Conv layers use conv_rank when it is set.
    """
    layers = adapter_layers(config) if layers is None else layers
    t = config.network_type
    shapes: list[tuple[int, int]] = []
    for comp, lays in layers.items():
        for lay in lays:
            r = (config.conv_rank or config.rank) if lay.conv else config.rank
            if t in ("lora", "locon", "dora"):
                shapes += [(r, lay.fan_in), (lay.fan_out, r)]
                if t == "dora":
                    shapes.append((lay.fan_out, 1))
            elif t == "loha":
                shapes += [(lay.fan_out, r), (r, lay.fan_in)] * 2
            elif t == "lokr":
                from peft.tuners.lokr.layer import factorization

                in_m, in_n = factorization(lay.fan_in, -1)
                out_l, out_k = factorization(lay.fan_out, -1)
                shapes.append((out_l, in_m))  # w1, full
                if r < max(out_k, in_n) / 2:
                    shapes += [(out_k, r), (r, in_n)]  # w2 as a low-rank pair
                else:
                    shapes.append((out_k, in_n))
            else:  # pragma: no cover - Config validates choices
                raise ConfigError(f"network_type: unknown {t!r}")
    return shapes


def adapter_param_count(config: "Config") -> int:
    return sum(r * c for r, c in adapter_shapes(config))


def adapter_file_mb(config: "Config", precision: str | None = None) -> float:
    """Size of a saved adapter file in MiB (as file managers show "MB"): weights in the save
    precision plus one alpha scalar per layer."""
    nbytes = {"fp16": 2, "bf16": 2, "fp32": 4}[precision or config.save_precision]
    layers = adapter_layers(config)
    n_layers = sum(len(v) for v in layers.values())
    return (sum(r * c for r, c in adapter_shapes(config, layers)) * nbytes + 4 * n_layers) / 2**20


def lora_file_mb(family: str, rank: int, targets, text_encoder_targets=None, precision: str = "fp16") -> float:
    """File size in MiB of a plain LoRA on exactly the layers `targets` names (suffix rule), and on the
    CLIP text encoders' `text_encoder_targets` layers -- for comparing with other trainers' target sets."""
    arch = architecture(family)
    lays = [lay for n, lay in arch.layers["denoiser"].items() if _suffix_match(n, targets)]
    if text_encoder_targets:
        for comp in trained_text_encoders(family):
            lays += [lay for n, lay in arch.layers[comp].items() if _suffix_match(n, text_encoder_targets)]
    nbytes = {"fp16": 2, "bf16": 2, "fp32": 4}[precision]
    return (sum(rank * (lay.fan_in + lay.fan_out) for lay in lays) * nbytes + 4 * len(lays)) / 2**20


# =============================================================================================
# Optimizer states
# =============================================================================================
def optimizer_state_bytes(optimizer: str, shapes: list[tuple[int, int]]) -> float:
    """Bytes of optimizer state for fp32 adapter tensors of the given (rows, cols) shapes.

    adamw: exp_avg + exp_avg_sq in fp32 (8 B/param). adamw8bit (bitsandbytes): both states in 8 bits
    with one fp32 absmax per 256-value block, but tensors under 4096 values stay fp32 (bnb's
    min_8bit_size). lion: one momentum (4). prodigy: exp_avg, exp_avg_sq, s, p0 (16).
    dadaptation (DAdaptAdam): exp_avg, exp_avg_sq, s (12). adafactor (no momentum): a factored
    second moment, rows + cols values per matrix.
    """
    total = 0.0
    per = CALIBRATION["optimizer_bytes"]
    for r, c in shapes:
        n = r * c
        if optimizer == "adamw8bit":
            total += n * (2 + 2 * 4 / 256) if n >= 4096 else n * 8
        elif optimizer == "adafactor":
            total += (r + c) * 4 if min(r, c) > 1 else n * 4
        elif optimizer in per:
            total += n * per[optimizer]
        else:
            raise ConfigError(f"optimizer: {optimizer!r} has no memory rule -> use one of adamw, adamw8bit, lion, "
                              f"prodigy, dadaptation, adafactor")
    return total


# =============================================================================================
# Activations
# =============================================================================================
def latent_tokens(family: str, width: int, height: int | None = None) -> int:
    """Tokens the denoiser sees for an image: latent pixels (SD) or 2x2 latent patches (Flux)."""
    ref = _family(family)
    height = width if height is None else height
    step = ref["vae_scale"] * ref["patch"]
    return (width // step) * (height // step)


def activation_bytes(family: str, resolution: int, batch: int, checkpointing: bool, precision: str) -> float:
    """Saved-for-backward activation bytes from the calibration table (square `resolution`)."""
    key = (family, "fp32" if precision == "no" else "half", bool(checkpointing))
    per_token, per_sample = CALIBRATION["activations"][key]
    tokens = latent_tokens(family, resolution)
    return batch * max(per_token * tokens + per_sample, 0.5 * per_token * tokens)


def _denoiser_inputs(family: str, batch: int, resolution: int, dtype):
    import torch

    ref = _family(family)
    meta = dict(device="meta", dtype=dtype)
    lat = resolution // ref["vae_scale"]
    text = torch.empty(batch, ref["text_tokens"], ref["text_dim"], **meta)
    t = torch.full((batch,), 500, device="meta", dtype=torch.long)
    if family == "flux":
        tokens = latent_tokens(family, resolution)
        return dict(hidden_states=torch.empty(batch, tokens, ref["latent_channels"] * 4, **meta),
                    encoder_hidden_states=text, pooled_projections=torch.empty(batch, ref["pooled_dim"], **meta),
                    timestep=t.to(dtype), img_ids=torch.empty(tokens, 3, **meta),
                    txt_ids=torch.empty(ref["text_tokens"], 3, **meta),
                    guidance=torch.empty(batch, device="meta", dtype=torch.float32))
    inputs = dict(sample=torch.empty(batch, ref["latent_channels"], lat, lat, **meta), timestep=t,
                  encoder_hidden_states=text)
    if family == "sdxl":
        inputs["added_cond_kwargs"] = {"text_embeds": torch.empty(batch, ref["pooled_dim"], **meta),
                                       "time_ids": torch.empty(batch, 6, **meta)}
    return inputs


@dataclass
class ActivationProfile:
    family: str
    resolution: int
    batch: int
    checkpointing: bool
    precision: str
    saved_bytes: int  # tensors kept for backward at the end of the forward pass
    block_peak_bytes: int  # with checkpointing: the largest block's saved tensors while it is recomputed

    @property
    def peak_bytes(self) -> int:
        return self.saved_bytes + self.block_peak_bytes


def profile_activations(family: str, resolution: int, batch: int = 1, checkpointing: bool = False,
                        precision: str = "bf16", rank: int = 16, targets=None) -> ActivationProfile:
    """Bytes autograd keeps for the backward pass of one training forward, on the meta device.

    The reference denoiser is built on ``meta`` with frozen 16-bit (or fp32) weights and fp32 LoRA
    layers (as the trainer makes them), then run once under `saved_tensors_hooks` that add up each
    distinct storage autograd saves (parameters excluded). As on a GPU:
    - autocast is emulated: matmuls/convs/attention cast their inputs to 16 bits, norms/softmax to
      fp32 (the copies autocast makes are what autograd saves);
    - attention saves q, k, v, out and the fp32 log-sum-exp, like flash/memory-efficient SDPA,
      not the L x L probability matrix of the math kernel;
    - gradient checkpointing (diffusers' `enable_gradient_checkpointing`) keeps each checkpointed
      block's inputs; the block's own saved tensors exist only while it is recomputed, so the
      largest of them is reported as `block_peak_bytes`.
    """
    import torch
    import torch.nn.functional as F
    from peft import LoraConfig, inject_adapter_in_model
    from torch.overrides import TorchFunctionMode

    half = torch.float32 if precision == "no" else (torch.float16 if precision == "fp16" else torch.bfloat16)
    ref = _family(family)
    if targets is None:  # what the trainer puts a LoRA on by default (Flux adds the text-stream twins)
        targets = ATTENTION_TARGETS + (["add_q_proj", "add_k_proj", "add_v_proj", "to_add_out"]
                                       if family == "flux" else [])
    model = _build_meta("diffusers", *ref["denoiser"])
    model.requires_grad_(False)
    model.to(half)
    inject_adapter_in_model(LoraConfig(r=rank, lora_alpha=rank, target_modules=list(targets)), model)
    for n, p in model.named_parameters():
        if "lora_" in n:
            p.data = p.data.float()
            p.requires_grad_(True)
    param_storages = {p.untyped_storage()._cdata for p in model.parameters()}

    lower = {F.linear, F.conv1d, F.conv2d, torch.matmul, torch.bmm, torch.baddbmm, torch.addmm,
             torch.Tensor.matmul, torch.Tensor.__matmul__}
    fp32 = {F.layer_norm, F.group_norm, F.softmax, F.log_softmax, F.mse_loss, torch.softmax, torch.Tensor.softmax,
            torch.exp, torch.Tensor.exp, torch.rsqrt, torch.Tensor.rsqrt, torch.pow, torch.Tensor.pow}

    class _FlashSDPA(torch.autograd.Function):
        @staticmethod
        def forward(ctx, q, k, v):
            out = q.new_empty(q.shape[:-1] + (v.shape[-1],))
            lse = q.new_empty(q.shape[:-1], dtype=torch.float32)
            ctx.save_for_backward(q, k, v, out, lse)
            return out

        @staticmethod
        def backward(ctx, grad):  # pragma: no cover - never run (meta forward only)
            q, k, v, _, _ = ctx.saved_tensors
            return torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)

    def cast(x, dt):
        if isinstance(x, torch.Tensor) and x.is_floating_point() and x.dtype != dt:
            return x.to(dt)
        if isinstance(x, (list, tuple)):
            return type(x)(cast(y, dt) for y in x)
        return x

    class _Autocast(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func is F.scaled_dot_product_attention:
                qkv = list(args[:3]) + [kwargs[k] for k in ("query", "key", "value")[len(args[:3]):]]
                return _FlashSDPA.apply(*(cast(a, half) for a in qkv))
            if func in lower:
                args, kwargs = cast(args, half), {k: cast(v, half) for k, v in kwargs.items()}
            elif func in fp32:
                args, kwargs = cast(args, torch.float32), {k: cast(v, torch.float32) for k, v in kwargs.items()}
            return func(*args, **kwargs)

    saved: dict[int, int] = {}
    scopes = [saved]
    block_peak = 0
    alive = []  # storages are told apart by address: keep every counted tensor alive so none is reused

    def keep(t):
        s = t.untyped_storage()
        if s._cdata not in param_storages:
            alive.append(t)
            scopes[-1].setdefault(s._cdata, s.nbytes())

    def pack(t):
        keep(t)
        return t

    def checkpoint(module, *args):
        nonlocal block_peak
        for a in args:  # non-reentrant checkpointing keeps its tensor inputs alive
            for x in (a if isinstance(a, (tuple, list)) else (a,)):
                if isinstance(x, torch.Tensor):
                    keep(x)
        scopes.append({})
        out = module(*args)
        block_peak = max(block_peak, sum(scopes.pop().values()))
        return out

    if checkpointing:
        model.enable_gradient_checkpointing(gradient_checkpointing_func=checkpoint)
    inputs = _denoiser_inputs(family, batch, resolution, half)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), _Autocast():
        out = model(**inputs, return_dict=False)[0]
        F.mse_loss(out.float(), torch.empty_like(out).float())
    return ActivationProfile(family, resolution, batch, checkpointing, "fp32" if precision == "no" else "half",
                             sum(saved.values()), block_peak)


def fit_activation_constants(family: str, resolutions: tuple[int, int] | None = None) -> dict:
    """(bytes per latent token, bytes per sample) for each precision x checkpointing, from profiles at
    two resolutions: the values `CALIBRATION["activations"]` holds."""
    ref = _family(family)
    lo, hi = resolutions or (ref["native_resolution"] // 2, ref["native_resolution"])
    out = {}
    for precision, label in (("bf16", "half"), ("no", "fp32")):
        for ckpt in (False, True):
            a, b = (profile_activations(family, r, checkpointing=ckpt, precision=precision).peak_bytes
                    for r in (lo, hi))
            ta, tb = latent_tokens(family, lo), latent_tokens(family, hi)
            per_token = (b - a) / (tb - ta)
            out[(family, label, ckpt)] = (round(per_token), round(a - per_token * ta))
    return out


# =============================================================================================
# Prediction
# =============================================================================================
@dataclass
class MemoryEstimate:
    """Predicted peak GPU memory and host RAM, in GiB, with the parts that make them up."""

    family: str
    resolution: int
    batch: int
    precision: str  # resolved mixed precision: fp16, bf16 or no
    quantization: str  # none, nf4, int8
    cache_text_embeddings: bool  # resolved: captions encoded once and the encoders freed
    gpu_parts: dict[str, float]  # GiB, each part of the training step's peak (allocated by PyTorch)
    host_parts: dict[str, float]
    adapter_params: int
    phases: dict[str, float] = field(default_factory=dict)  # GiB allocated at the peak of each phase
    correction: float = 1.0  # measured / predicted allocated peak, from a dry run
    notes: list[str] = field(default_factory=list)

    @property
    def peak_phase(self) -> str:
        return max(self.phases, key=self.phases.get) if self.phases else "training"

    @property
    def allocated_gb(self) -> float:
        """Comparable to torch.cuda.max_memory_allocated()."""
        return max([sum(self.gpu_parts.values()), *self.phases.values()]) * self.correction

    @property
    def total_gb(self) -> float:
        """What the GPU must hold: allocated + allocator slack + CUDA context."""
        return self.allocated_gb * (1 + CALIBRATION["allocator_slack"]) + CALIBRATION["cuda_context_gb"]

    @property
    def host_gb(self) -> float:
        return sum(self.host_parts.values())

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(allocated_gb=self.allocated_gb, total_gb=self.total_gb, host_gb=self.host_gb,
                 peak_phase=self.peak_phase)
        return d


def resolve_precision(config: "Config", gpu: GPU | None) -> str:
    """config.mixed_precision with 'auto' resolved for `gpu` (fp16 on a T4, bf16 on Ampere+, no on CPU)."""
    from ..env import GPUInfo, resolve_mixed_precision

    if config.mixed_precision != "auto":
        return config.mixed_precision
    if gpu is None:
        return "bf16"  # a plan without a GPU: assume a modern one
    return resolve_mixed_precision("auto", GPUInfo(gpu.name, gpu.memory_gb, (8, 0) if gpu.bf16 else (7, 5)))


def predict_memory(config: "Config", gpu: "str | GPU | None" = None, *, n_images: int | None = None,
                   n_captions: int | None = None) -> MemoryEstimate:
    """Predict the peaks for `config` as the trainer runs it (buckets up to resolution x resolution).

    Reads the memory-related fields of the config: family, resolution, train_batch_size, rank and
    network_type/targets, optimizer, mixed_precision, gradient_checkpointing, quantization,
    cache_latents, cache_text_embeddings, cpu_offload, vae_dtype, train_text_encoder. `gpu` only
    resolves mixed_precision 'auto'; n_images/n_captions size the host-RAM caches.
    """
    from ..families.textcache import enabled as text_cache_enabled

    family = config.family
    ref = _family(family)
    gpu = resolve_gpu(gpu)
    precision = resolve_precision(config, gpu)
    arch = architecture(family)
    wb = 4 if precision == "no" else 2
    vae_b = {"fp32": 4, "fp16": 2, "bf16": 2}.get(config.vae_dtype, 4)  # auto: the reference VAEs force_upcast
    cached_text = text_cache_enabled(config)
    offload = config.cpu_offload
    tes = text_encoders(family)
    # transformers keeps a class's _keep_in_fp32_modules in fp32 when loading in fp16 (T5's "wo": +2 GB)
    te_gb = {c: (arch.params[c] * wb + (arch.fp32_params[c] * 2 if precision == "fp16" else 0)) / GiB for c in tes}
    vae_gb = arch.params["vae"] * vae_b / GiB
    b = config.train_batch_size
    notes = []

    # --- training step (the denoiser's forward + backward) ---------------------------------------
    parts: dict[str, float] = {}
    den, den_lin = arch.params["denoiser"], arch.linear_params["denoiser"]
    if config.quantization != "none":
        qb = CALIBRATION["quant_bytes"][config.quantization]
        rows = arch.linear_rows["denoiser"] if config.quantization == "int8" else 0
        parts["denoiser weights"] = (den_lin * qb + (den - den_lin) * wb + rows * 4) / GiB
        parts["dequantised layer"] = 2 * arch.largest_linear * wb / GiB
    else:
        parts["denoiser weights"] = den * wb / GiB
    trained = trained_text_encoders(family) if config.train_text_encoder else []
    if not cached_text:  # encoders stay; with cpu_offload only the trained ones (the rest visit per step)
        kept = [c for c in tes if c in trained or not offload]
        if kept:
            parts["text encoder weights"] = sum(te_gb[c] for c in kept)
    # after caching latents the trainer moves the VAE to CPU RAM; without a latent cache it stays
    if config.cache_latents == "none" and not offload:
        parts["VAE weights"] = vae_gb
    layers = adapter_layers(config)
    if not layers["denoiser"]:
        raise ConfigError(f"target_modules: {config.target_modules} match no layer of the {family} model -> use "
                          f"names such as {', '.join(ATTENTION_TARGETS)}")
    shapes = adapter_shapes(config, layers)
    n_adapter = sum(r * c for r, c in shapes)
    parts["adapter weights (fp32)"] = n_adapter * 4 / GiB
    parts["adapter gradients"] = n_adapter * 4 / GiB
    parts["optimizer state"] = optimizer_state_bytes(config.optimizer, shapes) / GiB
    act = activation_bytes(family, config.resolution, b, config.gradient_checkpointing, precision)
    parts["activations"] = act * CALIBRATION["activation_factor"][family] / GiB
    if config.train_text_encoder:
        # CLIP with grad: ~tokens x hidden x layers x ~24 saved values, small next to the denoiser's
        parts["text encoder activations"] = sum(
            b * 77 * cfg["hidden_size"] * cfg["num_hidden_layers"] * 24 * wb
            for cls_name, cfg in ref["text_encoders"] if cls_name.startswith("CLIP")) / GiB
    if config.network_type != "lora":
        notes.append(f"{config.network_type}: adapter weights and optimizer state are counted exactly; activations "
                     f"are those of a LoRA (DoRA and LoHa keep somewhat more).")
    phases = {"training": sum(parts.values())}

    # --- before the forward of each step: images through the VAE, captions through the encoders --
    resident = sum(v for k, v in parts.items() if k != "activations")
    vae_encode = config.resolution**2 * CALIBRATION["vae_encode_bytes_per_pixel"] / GiB  # per image
    if config.cache_latents == "none":
        phases["encoding a batch"] = resident + b * vae_encode + (vae_gb if offload else 0.0)
    visiting = [te_gb[c] for c in tes if c not in trained]
    if not cached_text and offload and visiting:
        phases["encoding captions"] = resident + max(visiting)
    # --- caching, before the denoiser is loaded: the trainer loads every text encoder and the VAE,
    #     encodes each image (one at a time) and caption, then frees or offloads them --------------
    if config.cache_latents != "none" or cached_text:
        phases["caching latents and captions"] = (sum(te_gb.values()) + vae_gb
                                                  + (vae_encode if config.cache_latents != "none" else 0.0))

    # --- host RAM --------------------------------------------------------------------------------
    host = {"Python + libraries": CALIBRATION["host_baseline_gb"]}
    den16 = den * wb / GiB
    load = min(den16, CALIBRATION["host_shard_gb"]) if config.quantization != "none" else den16
    host["loading (largest model part)"] = max(load, max(te_gb.values()))
    waiting = (vae_gb if config.cache_latents != "none" or offload else 0.0)  # the VAE waits for validation
    if not cached_text and offload:
        waiting += sum(visiting)
    if waiting:
        host["offloaded VAE / text encoders"] = waiting
    n_img = n_images or 0
    if config.cache_latents == "memory" and n_img:
        lat = ref["latent_channels"] * (config.resolution // ref["vae_scale"]) ** 2
        host["latent cache"] = n_img * lat * 4 / GiB
    if cached_text and config.cache_text_embeddings != "disk" and (n_captions or n_img):
        per = ref["text_tokens"] * ref["text_dim"] + ref["pooled_dim"]
        host["text-embedding cache"] = (n_captions or n_img) * per * wb / GiB

    if family == "flux" and precision == "fp16":
        notes.append("Flux in fp16 overflows (it was trained in bf16): use a GPU with bf16 (Ampere or newer).")
    if family == "flux" and not cached_text:
        notes.append("Flux's T5-XXL text encoder alone needs ~9 GiB in 16 bits: cache the text embeddings so it "
                     "leaves the GPU before training.")
    return MemoryEstimate(family, config.resolution, b, precision, config.quantization, cached_text, parts, host,
                          n_adapter, phases, notes=notes)


# =============================================================================================
# Fit and suggestions
# =============================================================================================
@dataclass
class Suggestion:
    description: str
    changes: dict[str, Any]  # Config fields -> values
    total_gb: float
    fits: bool
    reason: str = ""


@dataclass
class MemoryFit:
    estimate: MemoryEstimate
    gpu: GPU | None
    fits: bool | None  # None when no GPU is known
    headroom_gb: float | None
    suggestions: list[Suggestion]  # single changes, each with its predicted total
    combined: Suggestion | None  # the changes, in the order listed, that together make it fit
    measured: "Measurement | None" = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["estimate"] = self.estimate.to_dict()
        return d


# Order = what to try first: free, then cheap in quality/speed, then costly.
_CHANGES = (
    ("cache_latents", "cache latents", "each image goes through the VAE once instead of every step"),
    ("cache_text_embeddings", "cache text embeddings",
     "captions are encoded once and the text encoders leave the GPU (needs train_text_encoder and "
     "shuffle_caption off)"),
    ("cpu_offload", "offload the VAE and text encoders to CPU RAM",
     "they visit the GPU only while they run, one at a time"),
    ("gradient_checkpointing", "enable gradient checkpointing",
     "keeps only each block's input and recomputes the rest in the backward pass: ~30% slower"),
    ("optimizer", "use the adamw8bit optimizer", "8-bit optimizer states (LoRA explainer's recommendation)"),
    ("train_batch_size", "train with batch 1 and gradient accumulation",
     "activations scale with the batch; accumulation keeps the effective batch"),
    ("quantization", "load the base model in NF4 (QLoRA)",
     "4-bit frozen weights (~3.5x smaller); slightly slower, tiny quality cost"),
    ("resolution", "lower the resolution",
     "activations scale with pixels; details finer than the training resolution are learned less"),
)


def _change(config: "Config", key: str) -> dict | None:
    """The Config fields that make change `key`, or None when it does not apply."""
    from ..families.textcache import enabled as text_cache_enabled

    if key == "cache_latents":
        return {"cache_latents": "memory"} if config.cache_latents == "none" else None
    if key == "cache_text_embeddings":
        if text_cache_enabled(config):
            return None
        ch = {"cache_text_embeddings": "auto"} if config.cache_text_embeddings == "no" else {}
        if config.train_text_encoder:
            ch["train_text_encoder"] = False
        if config.shuffle_caption:
            ch["shuffle_caption"] = False
        return ch or None
    if key == "cpu_offload":
        return {"cpu_offload": True} if not config.cpu_offload else None
    if key == "gradient_checkpointing":
        return {"gradient_checkpointing": True} if not config.gradient_checkpointing else None
    if key == "optimizer":
        return {"optimizer": "adamw8bit"} if config.optimizer in ("adamw", "prodigy", "dadaptation", "lion") else None
    if key == "train_batch_size":
        if config.train_batch_size == 1:
            return None
        return {"train_batch_size": 1,
                "gradient_accumulation_steps": config.gradient_accumulation_steps * config.train_batch_size}
    if key == "quantization":
        ok = config.quantization == "none" and config.network_type not in ("loha", "lokr")
        return {"quantization": "nf4"} if ok else None
    if key == "resolution":
        lower = max(_family(config.family)["min_resolution"], int(config.resolution * 0.75) // 64 * 64)
        if lower >= config.resolution:
            return None
        ch = {"resolution": lower}
        if config.min_bucket_reso > lower:
            ch["min_bucket_reso"] = lower
        return ch
    raise KeyError(key)  # pragma: no cover


def memory_fit(config: "Config", gpu: "str | GPU | None" = "detect", *, n_images: int | None = None,
               n_captions: int | None = None, measured: "Measurement | None" = None) -> MemoryFit:
    """Predict the peak and say whether it fits `gpu` (a preset name, 'detect' or None); if not, each
    change that helps, with its prediction, and the changes that together make it fit.

    `measured` (a `measure_peak` result for this config) corrects the prediction: the measured
    allocated peak replaces the predicted one, and the suggestions are scaled by the same ratio.
    """
    gpu = resolve_gpu(gpu)
    est = predict_memory(config, gpu, n_images=n_images, n_captions=n_captions)
    correction = 1.0
    if measured is not None and measured.peak_allocated_gb > 0:
        predicted = est.allocated_gb
        correction = measured.peak_allocated_gb / predicted
        est.correction = correction
        est.notes.append(f"Corrected by a {measured.steps}-step dry run on {measured.device}: measured "
                         f"{measured.peak_allocated_gb:.2f} GiB allocated, predicted {predicted:.2f} GiB "
                         f"(x{correction:.2f}).")
    if gpu is None:
        return MemoryFit(est, None, None, None, [], None, measured)

    def total(cfg) -> float:
        alt = predict_memory(cfg, gpu, n_images=n_images, n_captions=n_captions)
        alt.correction = correction
        return alt.total_gb

    fits = est.total_gb <= gpu.memory_gb
    suggestions: list[Suggestion] = []
    combined = None
    if not fits:
        for key, desc, reason in _CHANGES:
            ch = _change(config, key)
            if ch:
                t = total(config.replace(**ch))
                suggestions.append(Suggestion(desc, ch, t, t <= gpu.memory_gb, reason))
        cur, changes, t = config, {}, est.total_gb
        for key, desc, _ in _CHANGES:  # cumulative, in order, until it fits
            ch = _change(cur, key)
            if not ch:
                continue
            cur = cur.replace(**ch)
            changes.update(ch)
            t = total(cur)
            if t <= gpu.memory_gb:
                combined = Suggestion("together", dict(changes), t, True)
                break
        if combined is None and changes:
            combined = Suggestion("all of the above (still too large: use a bigger GPU)", dict(changes), t, False)
    return MemoryFit(est, gpu, fits, round(gpu.memory_gb - est.total_gb, 3), suggestions, combined, measured)


# =============================================================================================
# Measured peak (GPU only)
# =============================================================================================
@dataclass
class Measurement:
    """What a short real run used: PyTorch's peaks, the CUDA context and one step's time."""

    device: str
    steps: int
    peak_allocated_gb: float  # torch.cuda.max_memory_allocated
    peak_reserved_gb: float  # torch.cuda.max_memory_reserved
    context_gb: float  # used on the device outside PyTorch's allocator (CUDA context, other processes)
    step_seconds: float | None  # time between the last two optimizer steps
    wall_seconds: float  # the whole dry run, loading included

    @property
    def total_gb(self) -> float:
        return self.peak_reserved_gb + self.context_gb


def measure_peak(config: "Config", steps: int = 2) -> Measurement:
    """Run `steps` real training steps of `config` on CUDA; measure the peak memory and step time.

    Uses the real trainer (`lora_nb.training.trainer.train`) with sampling and state saving off and a
    throw-away output folder; the time of the last step comes from the trainer's step callback.
    """
    import torch

    if not torch.cuda.is_available():
        raise LoraNbError("measure_peak needs a CUDA GPU -> run it on a GPU machine (Colab: Runtime > Change "
                          "runtime type > GPU), or rely on the prediction alone")
    from ..training.trainer import TrainCallback, train

    stamps: list[float] = []

    class _Clock(TrainCallback):
        def on_step(self, step: int, logs: dict) -> None:
            torch.cuda.synchronize()
            stamps.append(time.perf_counter())

    torch.cuda.init()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lora-nb-dryrun-") as tmp:
        train(config.replace(max_train_steps=steps, save_every_n_steps=0, sample_every_n_steps=0, save_state=False,
                             output_dir=tmp, resume=""), callbacks=[_Clock()])
        free, total = torch.cuda.mem_get_info()
        context = (total - free - torch.cuda.memory_reserved()) / GiB
    wall = time.perf_counter() - t0
    step_s = (stamps[-1] - stamps[-2]) if len(stamps) >= 2 else None
    return Measurement(torch.cuda.get_device_name(0), steps, torch.cuda.max_memory_allocated() / GiB,
                       torch.cuda.max_memory_reserved() / GiB, max(context, 0.0), step_s, wall)


# =============================================================================================
# Time
# =============================================================================================
@dataclass
class TimeEstimate:
    seconds_per_step: float
    source: str  # "measured" or "table (<gpu column>, rough)"
    train_seconds: float
    sample_seconds: float  # validation images during training

    @property
    def total_seconds(self) -> float:
        return self.train_seconds + self.sample_seconds


def estimate_time(config: "Config", total_steps: int, n_sample_events: int, gpu: "str | GPU | None" = None,
                  step_seconds: float | None = None) -> TimeEstimate | None:
    """Training time from a measured step time, else from the per-GPU table scaled to this config.

    Table scaling: linear in latent tokens x batch x grad accumulation, x1.3 with checkpointing,
    x1.25 NF4 / x1.4 int8. Validation images: each denoising step ~1/3 of a training step (a forward
    pass without backward), twice with classifier-free guidance (SD1.5/SDXL).
    """
    gpu = resolve_gpu(gpu)
    if step_seconds is None:
        if gpu is None:
            return None
        col = _speed_column(gpu)
        s = STEP_SECONDS[config.family][col]
        s *= latent_tokens(config.family, config.resolution) / latent_tokens(
            config.family, _family(config.family)["native_resolution"])
        s *= config.train_batch_size * config.gradient_accumulation_steps
        if config.gradient_checkpointing:
            s *= SPEED_FACTORS["gradient_checkpointing"]
        if config.quantization != "none":
            s *= SPEED_FACTORS[config.quantization]
        source = f"table ({col}, rough)"
    else:
        s, source = step_seconds, "measured"
    per_micro = s / max(1, config.train_batch_size * config.gradient_accumulation_steps)
    cfg_mult = 1 if config.family == "flux" else 2  # Flux-dev uses its guidance embedding, no CFG pass
    per_image = config.sample_steps * per_micro / 3 * cfg_mult
    n_prompts = len(config.sample_prompts)
    return TimeEstimate(s, source, total_steps * s, n_sample_events * n_prompts * per_image)


def copy_calibration() -> dict:
    """A deep copy of the table (for bench scripts that try corrected values)."""
    return copy.deepcopy(CALIBRATION)
