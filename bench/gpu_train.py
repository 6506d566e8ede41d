"""GPU training benchmark: full-size SD1.5, SDXL and Flux-dev with random weights, per memory preset.

For each family and GPU tier the script builds the real architecture from the hub config (random
weights, nothing downloaded), applies the tier's preset from `lora_nb.training.presets` (NF4 quantisation,
gradient checkpointing, resolution, 8-bit AdamW...), caps PyTorch's allocator to what such a GPU
offers (`torch.cuda.set_per_process_memory_fraction`) and runs LoRA training steps through the
trainer's own pieces: `family.noisy_inputs` / `family.predict`, `adapters.add_adapters`,
`optimizers.make_optimizer`. Text conditioning and latents are random tensors of the real shapes,
as the trainer's caches provide them once the encoders are freed (the cached run's steady state).

It prints, per run: seconds per step, peak GPU memory (allocated and reserved by PyTorch), and the
fraction of the GPU's peak FLOP/s reached (FLOPs of one step counted by torch's FlopCounterMode,
recomputation under checkpointing included, divided by step time and the datasheet peak).

    python bench/gpu_train.py                         # every family x 12GB, 16GB, 24GB
    python bench/gpu_train.py --families flux --tiers 16GB --steps 10 --out bench/gpu_results.json
    python bench/gpu_train.py --tiny                  # tiny shapes on the CPU: checks the script itself

Targets (issue 5): SD1.5 at 512, SDXL at 1024 and Flux-dev at 512 (NF4) each train at batch 1
under 15 GB peak on the 16GB (Colab T4) preset.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from lora_nb.families.reference import REFERENCE  # noqa: E402
from lora_nb.planning.memory.gpus import GPU_PRESETS  # noqa: E402

GiB = 2**30
# What each tier's GPU offers PyTorch: the memory its reference card reports
# (lora_nb.planning.memory.gpus.GPU_PRESETS, the first card of each tier) minus ~0.5 GiB of CUDA context.
TIER_CAP_GB: dict[str, float] = {}
for _gpu in GPU_PRESETS.values():
    TIER_CAP_GB.setdefault(_gpu.tier, round(_gpu.memory_gb - 0.5, 2))
# Dense 16-bit tensor-core peak FLOP/s from the datasheets (no sparsity).
PEAK_FLOPS = {"H200": 989e12, "H100 SXM": 989e12, "H100 80GB HBM3": 989e12, "H100 PCIe": 756e12, "H100": 756e12,
              "A100": 312e12, "L40S": 362e12, "L4": 121e12, "A10G": 70e12, "A10": 125e12, "RTX 4090": 165e12,
              "RTX 3090": 71e12, "T4": 65e12}

# Hub configs of the reference models (stable-diffusion-v1-5, stable-diffusion-xl-base-1.0, FLUX.1-dev),
# the same ones the memory prediction counts.
FULL = {family: ref["denoiser"] for family, ref in REFERENCE.items()}
TINY = {
    "sd15": ("UNet2DConditionModel", dict(
        sample_size=16, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32, attention_head_dim=4, norm_num_groups=8)),
    "sdxl": ("UNet2DConditionModel", dict(
        sample_size=16, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(16, 32, 32),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(2, 4, 4),
        transformer_layers_per_block=(1, 1, 2), use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=8, projection_class_embeddings_input_dim=80, cross_attention_dim=64,
        norm_num_groups=8)),
    "flux": ("FluxTransformer2DModel", dict(
        patch_size=1, in_channels=64, num_layers=2, num_single_layers=2, attention_head_dim=16, num_attention_heads=2,
        joint_attention_dim=32, pooled_projection_dim=32, guidance_embeds=True, axes_dims_rope=(4, 6, 6))),
}
# (text tokens, text channels, pooled channels, latent channels, VAE downscale) per family, full / tiny
_TINY_SHAPES = {"sd15": (77, 32, 0, 4, 4), "sdxl": (77, 64, 32, 4, 4), "flux": (32, 32, 32, 16, 4)}
SHAPES = {family: (tuple(ref[k] for k in ("text_tokens", "text_dim", "pooled_dim", "latent_channels", "vae_scale")),
                   _TINY_SHAPES[family]) for family, ref in REFERENCE.items()}


def peak_flops(name: str) -> float | None:
    for key in sorted(PEAK_FLOPS, key=len, reverse=True):
        if key.lower() in name.lower():
            return PEAK_FLOPS[key]
    return None


def flop_counter():
    """torch's FlopCounterMode, taught bitsandbytes' fused 4-bit GEMM (a custom op it cannot see into):
    2 x output elements x inner dimension, as for any matmul. The backward dequantises and uses
    torch.matmul, which is counted anyway."""
    from torch.utils.flop_counter import FlopCounterMode

    custom = {}
    op = getattr(getattr(torch.ops, "bitsandbytes", None), "gemm_4bit", None)
    if op is not None:
        def gemm_4bit_flops(a_shape, *args, out_shape=None, **kwargs) -> int:
            n = 1
            for d in out_shape:
                n *= d
            return 2 * n * a_shape[-1]

        custom[op] = gemm_4bit_flops
    return FlopCounterMode(display=False, custom_mapping=custom)


def build_denoiser(family: str, tiny: bool, device, dtype):
    """The denoiser with random weights, created directly in `dtype` on `device` (no fp32 copy)."""
    import diffusers

    cls_name, cfg = (TINY if tiny else FULL)[family]
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            torch.manual_seed(0)
            model = getattr(diffusers, cls_name)(**cfg)
    finally:
        torch.set_default_dtype(old)
    return model.requires_grad_(False).eval()


def random_models(family: str, config, tiny: bool, device, dtype):
    """A `Models` as the trainer holds it after caching: the denoiser, scheduler, no encoders."""
    from diffusers import DDPMScheduler, FlowMatchEulerDiscreteScheduler

    from lora_nb.families import Models, get_family
    from lora_nb.families.quantize import quantize_linears

    fam = get_family(family)
    den = build_denoiser(family, tiny, device, dtype)
    if config.quantization != "none":
        quantize_linears(den, config.quantization, dtype)
    if family == "flux":
        sched = FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15,
                                                base_image_seq_len=256, max_image_seq_len=4096)
    else:
        sched = DDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
    scale = SHAPES[family][1 if tiny else 0][4]
    blocks = int(scale).bit_length()  # VAE with 2**(blocks-1) downscaling, as family.predict reads it
    vae = SimpleNamespace(config=SimpleNamespace(block_out_channels=(1,) * blocks))
    m = Models(den, vae, [], [], sched, f"random-{family}", device=torch.device(device),
               extra={"guidance_scale": config.guidance_scale, "guidance_embeds": True, "t5_len": 512})
    return fam, m


def random_batch(family: str, config, tiny: bool, device, dtype, gen):
    tokens, dim, pooled, ch, scale = SHAPES[family][1 if tiny else 0]
    b, side = config.train_batch_size, config.resolution // scale
    latents = torch.randn(b, ch, side, side, generator=gen).to(device)
    cond = {"encoder_hidden_states": torch.randn(b, tokens, dim, generator=gen).to(device, dtype)}
    if family == "sdxl":
        cond["text_embeds"] = torch.randn(b, pooled, generator=gen).to(device, dtype)
    if family == "flux":
        cond["pooled_projections"] = torch.randn(b, pooled, generator=gen).to(device, dtype)
    res = config.resolution
    batch = {"latents": latents, "original_sizes": [(res, res)] * b, "crop_top_lefts": [(0, 0)] * b,
             "target_size": (res, res)}
    return batch, cond


def resolve_precision(tier: str, precision: str) -> str:
    """auto: the 16GB tier is the Colab T4 (fp16, no bf16), bf16 otherwise."""
    if precision == "auto":
        return "fp16" if tier == "16GB" else "bf16"
    return precision


def preset_config(family: str, tier: str, tiny: bool = False, overrides: dict | None = None):
    """The Config a run trains with: the tier's preset (rank 16), tiny shapes and `overrides` applied."""
    from lora_nb.config import Config
    from lora_nb.training.presets import choose_preset

    cfg = choose_preset(Config(family=family, rank=16, alpha=16.0, learning_rate=1e-4), tier=tier).config
    if tiny:
        cfg = cfg.replace(resolution=64, min_bucket_reso=64, optimizer="adamw")
    return cfg.replace(**overrides) if overrides else cfg


def run_one(family: str, tier: str, steps: int, tiny: bool, precision: str, overrides: dict | None = None) -> dict:
    from lora_nb.families.adapters import add_adapters
    from lora_nb.training.optimizers import make_optimizer

    cuda = torch.cuda.is_available() and not tiny
    device = "cuda" if cuda else "cpu"
    precision = resolve_precision(tier, precision)
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[precision if cuda else "fp32"]
    cfg = preset_config(family, tier, tiny, overrides)
    row = {"family": family, "tier": tier, "resolution": cfg.resolution, "batch": cfg.train_batch_size,
           "quantization": cfg.quantization, "checkpointing": cfg.gradient_checkpointing,
           "optimizer": cfg.optimizer, "precision": str(dtype).removeprefix("torch."), "rank": cfg.rank,
           "device": torch.cuda.get_device_name(0) if cuda else "cpu (tiny shapes)"}
    t_build = time.perf_counter()
    fam, m = random_models(family, cfg, tiny, device, dtype)
    groups = add_adapters(fam, m, cfg)
    if cfg.gradient_checkpointing:
        m.denoiser.enable_gradient_checkpointing()
    m.denoiser.train()
    opt = make_optimizer(cfg, groups)
    params = [p for g in groups for p in g["params"]]
    row["lora_params"] = sum(p.numel() for p in params)
    row["build_s"] = round(time.perf_counter() - t_build, 1)
    scaler = torch.amp.GradScaler("cuda") if cuda and dtype == torch.float16 else None
    if cuda:
        gc.collect()
        torch.cuda.empty_cache()
        row["weights_gb"] = round(torch.cuda.memory_allocated() / GiB, 2)
        cap = TIER_CAP_GB[tier] * GiB / torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, cap))
        row["cap_gb"] = TIER_CAP_GB[tier]
        torch.cuda.reset_peak_memory_stats()
    gen = torch.Generator().manual_seed(0)

    def step():
        batch, cond = random_batch(family, cfg, tiny, device, dtype, gen)
        latents = batch["latents"]
        noise = torch.randn(latents.shape, generator=gen).to(device)
        with torch.autocast(device, dtype=dtype, enabled=cuda):
            noisy, t, target, w = fam.noisy_inputs(m, latents, noise, gen, cfg)
            pred = fam.predict(m, noisy, t, cond, batch)
            loss = torch.nn.functional.mse_loss(pred.float(), target.float())
        (scaler.scale(loss) if scaler else loss).backward()
        if scaler:
            scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        scaler.step(opt) if scaler else opt.step()
        if scaler:
            scaler.update()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    try:
        for _ in range(2):  # warm-up: allocator, cuDNN/flash kernels, optimizer states
            step()
        times = []
        for _ in range(steps):
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            loss = step()
            if cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        counter = flop_counter()
        with counter:
            step()
        flops = counter.get_total_flops()
        s = sorted(times)[len(times) // 2]
        row.update(status="ok", s_per_step=round(s, 3), loss=round(loss, 4), gflop_per_step=round(flops / 1e9, 1))
        if cuda:
            row["peak_allocated_gb"] = round(torch.cuda.max_memory_allocated() / GiB, 2)
            row["peak_reserved_gb"] = round(torch.cuda.max_memory_reserved() / GiB, 2)
            peak = peak_flops(row["device"])
            row["mfu"] = round(flops / s / peak, 3) if peak else None
    except torch.cuda.OutOfMemoryError as e:
        row.update(status="OOM", error=str(e).splitlines()[0][:200])
        if cuda:
            row["peak_reserved_gb"] = round(torch.cuda.max_memory_reserved() / GiB, 2)
    finally:
        opt = groups = params = m = fam = None  # drop the model, adapters and optimizer state before the next run
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.set_per_process_memory_fraction(1.0)
    return row


COLUMNS = ["family", "tier", "resolution", "quantization", "checkpointing", "optimizer", "precision", "status",
           "s_per_step", "peak_allocated_gb", "peak_reserved_gb", "cap_gb", "gflop_per_step", "mfu", "device"]


def markdown(rows: list[dict], columns: list[str] = COLUMNS) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--families", nargs="+", default=["sd15", "sdxl", "flux"], choices=["sd15", "sdxl", "flux"],
                   help="Families to benchmark.")
    p.add_argument("--tiers", nargs="+", default=["12GB", "16GB", "24GB"], choices=list(TIER_CAP_GB),
                   help="GPU memory presets (each run is capped to that much memory).")
    p.add_argument("--steps", type=int, default=5, help="Timed steps per run (after 2 warm-up steps).")
    p.add_argument("--precision", default="auto", choices=["auto", "fp16", "bf16"],
                   help="auto: fp16 for the 16GB (T4) tier, bf16 otherwise.")
    p.add_argument("--tiny", action="store_true", help="Tiny shapes on the CPU, to check the script.")
    p.add_argument("--out", type=Path, default=None, help="Also write the rows as JSON here.")
    args = p.parse_args(argv)
    if not args.tiny and not torch.cuda.is_available():
        print("no CUDA GPU: run with --tiny to check the script, or on a GPU machine", file=sys.stderr)
        return 2
    rows = []
    for family in args.families:
        for tier in args.tiers:
            row = run_one(family, tier, args.steps, args.tiny, args.precision)
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(markdown(rows))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
