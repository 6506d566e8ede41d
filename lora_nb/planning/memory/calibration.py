"""The calibration table: every constant of the memory prediction a measurement can correct, in one
place. `bench/memory_fit.py` prints measured/predicted per preset and the values to put here."""

from __future__ import annotations

import copy
from typing import Any

GiB = 2**30

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


def copy_calibration() -> dict:
    """A deep copy of the table (for bench scripts that try corrected values)."""
    return copy.deepcopy(CALIBRATION)
