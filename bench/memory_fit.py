"""Memory-fit benchmark: the prediction of `lora_nb.planning.memory` against real peaks, per family x preset tier.

For each family the script writes the full-size reference model (the hub configs in
`lora_nb.families.reference.REFERENCE`: SD1.5, SDXL, FLUX.1-dev) with random weights into a cache
folder -- real classes, tokenizers from `lora_nb.toy.testing`, nothing downloaded -- and a small dataset at
the tier's resolution. Each (family, tier) then runs in its own process (a fresh CUDA context):
`lora_nb.planning.memory.measure.measure_peak` trains 2 real steps through `lora_nb.training.trainer.train`
with the tier's preset (`lora_nb.training.presets`), and the prediction (`memory_fit`) is made for the same
config.

Printed per run: predicted vs measured peak allocated by PyTorch (error; target within +-15%),
predicted total vs measured reserved + CUDA context, and which phase the prediction puts the peak
in. Then, per family, the `CALIBRATION["activation_factor"]` that would make its runs exact, and the
measured CUDA context and allocator slack -- the values to copy into `lora_nb/planning/memory/calibration.py`.

    python bench/memory_fit.py                                    # every family x tier
    python bench/memory_fit.py --families sd15 sdxl --tiers 16GB 24GB --out bench/memory_fit.json
    python bench/memory_fit.py --tiny                             # the script itself, tiny models (CPU ok)

The 16GB tier stands for the Colab T4, so its runs train in fp16 (the T4 has no bf16); the others
use the GPU's default (bf16). Peaks are measured without capping the allocator, so a run of a
tier larger than the GPU is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GiB = 2**30
TIER_GPU = {"12GB": "12GB", "16GB": "T4-16GB", "24GB": "24GB", "40GB": "A100-40GB"}  # smallest GPU of each tier
N_IMAGES = 8


# --- the full-size reference models, random weights ------------------------------------------------
def build_reference_model(family: str, path: Path, tiny: bool = False) -> Path:
    """A diffusers pipeline folder of the family's reference architecture with random weights.

    Weights are created on the GPU in bf16 when there is one (12B Flux parameters initialise in
    seconds there) and saved as safetensors; the trainer then loads it like a hub download.
    `tiny` builds lora_nb.toy.testing's tiny model instead (for checking this script anywhere).
    """
    if (path / "model_index.json").is_file():
        return path
    from lora_nb.toy.testing import build_tiny_model

    if tiny:
        return build_tiny_model(family, path)

    import diffusers
    import torch
    import transformers

    from lora_nb.families.reference import REFERENCE
    from lora_nb.fileio import atomic_dir
    from lora_nb.toy.testing import build_tiny_clip_tokenizer, build_tiny_t5_tokenizer

    ref = REFERENCE[family]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32

    def make(cls, *args, **kw):
        old = torch.get_default_dtype()
        torch.set_default_dtype(dtype)
        try:
            with torch.device(device):
                torch.manual_seed(0)
                return cls(*args, **kw)
        finally:
            torch.set_default_dtype(old)

    with atomic_dir(path) as tmp:
        toks = [build_tiny_clip_tokenizer(tmp / "tokenizer")]
        if family == "sdxl":
            toks.append(build_tiny_clip_tokenizer(tmp / "tokenizer_2"))
        if family == "flux":
            toks.append(build_tiny_t5_tokenizer(tmp / "tokenizer_2", max_length=512))
        encoders = []
        for (cls_name, cfg), tok in zip(ref["text_encoders"], toks):
            if cls_name.startswith("T5"):
                conf = transformers.T5Config(**cfg, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
            else:
                conf = transformers.CLIPTextConfig(**cfg, bos_token_id=tok.bos_token_id,
                                                   eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
            encoders.append(make(getattr(transformers, cls_name), conf))
        denoiser = make(getattr(diffusers, ref["denoiser"][0]), **ref["denoiser"][1])
        vae_cfg = dict(ref["vae"])
        if family == "flux":
            vae_cfg.update(scaling_factor=0.3611, shift_factor=0.1159)
        elif family == "sdxl":
            vae_cfg.update(scaling_factor=0.13025)
        vae = make(diffusers.AutoencoderKL, **vae_cfg)
        if family == "sd15":
            sched = diffusers.PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                            skip_prk_steps=True, steps_offset=1, set_alpha_to_one=False)
            pipe = diffusers.StableDiffusionPipeline(vae=vae, text_encoder=encoders[0], tokenizer=toks[0],
                                                     unet=denoiser, scheduler=sched, safety_checker=None,
                                                     feature_extractor=None, requires_safety_checker=False)
        elif family == "sdxl":
            sched = diffusers.EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012,
                                                     beta_schedule="scaled_linear", steps_offset=1,
                                                     timestep_spacing="leading")
            pipe = diffusers.StableDiffusionXLPipeline(vae=vae, text_encoder=encoders[0], text_encoder_2=encoders[1],
                                                       tokenizer=toks[0], tokenizer_2=toks[1], unet=denoiser,
                                                       scheduler=sched, add_watermarker=False)
        else:
            sched = diffusers.FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True, base_shift=0.5,
                                                              max_shift=1.15, base_image_seq_len=256,
                                                              max_image_seq_len=4096)
            pipe = diffusers.FluxPipeline(scheduler=sched, vae=vae, text_encoder=encoders[0], tokenizer=toks[0],
                                          text_encoder_2=encoders[1], tokenizer_2=toks[1], transformer=denoiser)
        pipe.save_pretrained(tmp, safe_serialization=True)
        del pipe, denoiser, encoders, vae
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return path


def bench_config(family: str, tier: str, model: Path, data: Path, out: Path, tiny: bool):
    from lora_nb.config import Config
    from lora_nb.training.presets import choose_preset

    kw = dict(family=family, pretrained_model=str(model), train_data_dir=str(data), output_dir=str(out),
              rank=32, alpha=16.0, gpu_preset=tier, mixed_precision="fp16" if tier == "16GB" else "auto",
              save_formats=["kohya"], sample_prompts=[])
    if tiny:
        kw.update(resolution=64, min_bucket_reso=64, gpu_preset="none")
    config = Config(**kw)
    return choose_preset(config).config  # what the trainer will run (it applies the same preset)


def dataset_for(config, root: Path) -> Path:
    from lora_nb.toy.testing import make_toy_dataset

    folder = root / f"data-{config.resolution}"
    if not folder.is_dir():
        make_toy_dataset(folder, {"bench": (1, N_IMAGES)}, size=(config.resolution, config.resolution))
    return folder


# --- one measurement, in its own process ------------------------------------------------------------
def run_one(family: str, tier: str, cache: Path, tiny: bool) -> dict:
    import torch

    from lora_nb.planning.memory.fit import memory_fit
    from lora_nb.planning.memory.measure import measure_peak

    model = build_reference_model(family, cache / (f"tiny-{family}" if tiny else f"full-{family}"), tiny)
    probe = bench_config(family, tier, model, cache, cache / "run", tiny)
    data = dataset_for(probe, cache)
    config = bench_config(family, tier, model, data, cache / "run", tiny)
    fit = memory_fit(config, TIER_GPU[tier], n_images=N_IMAGES)
    est = fit.estimate
    row = dict(family=family, tier=tier, resolution=config.resolution, quantization=config.quantization,
               checkpointing=config.gradient_checkpointing, precision=est.precision,
               predicted_allocated_gb=round(est.allocated_gb, 3), predicted_total_gb=round(est.total_gb, 3),
               predicted_phase=est.peak_phase, predicted_activations_gb=round(est.gpu_parts["activations"], 3),
               predicted_training_gb=round(est.phases["training"], 3))
    if not torch.cuda.is_available():
        row["measured"] = "skipped (no CUDA GPU)"
        return row
    m = measure_peak(config, steps=2)
    err = (est.allocated_gb - m.peak_allocated_gb) / m.peak_allocated_gb
    row.update(device=m.device, measured_allocated_gb=round(m.peak_allocated_gb, 3),
               measured_reserved_gb=round(m.peak_reserved_gb, 3), context_gb=round(m.context_gb, 3),
               measured_total_gb=round(m.total_gb, 3), error_pct=round(100 * err, 1),
               within_15pct=abs(err) <= 0.15, step_seconds=m.step_seconds, wall_seconds=round(m.wall_seconds, 1))
    return row


def calibration_hints(rows: list[dict]) -> dict:
    """The table values these runs ask for: activation_factor per family (from runs whose peak is the
    training step), CUDA context and allocator slack."""
    from lora_nb.planning.memory.calibration import CALIBRATION

    hints: dict = {"activation_factor": {}}
    for fam in sorted({r["family"] for r in rows}):
        ratios = []
        for r in rows:
            if r["family"] != fam or "measured_allocated_gb" not in r or r["predicted_phase"] != "training":
                continue
            other = r["predicted_training_gb"] - r["predicted_activations_gb"]
            if r["predicted_activations_gb"] > 0.05:
                ratios.append((r["measured_allocated_gb"] - other) / r["predicted_activations_gb"])
        if ratios:
            factor = CALIBRATION["activation_factor"][fam] * statistics.median(ratios)
            hints["activation_factor"][fam] = round(factor, 3)
    measured = [r for r in rows if "measured_allocated_gb" in r]
    if measured:
        hints["cuda_context_gb"] = round(statistics.median(r["context_gb"] for r in measured), 2)
        hints["allocator_slack"] = round(statistics.median(
            r["measured_reserved_gb"] / r["measured_allocated_gb"] - 1 for r in measured), 3)
    return hints


def markdown(rows: list[dict]) -> str:
    cols = ["family", "tier", "px", "quant", "ckpt", "prec", "predicted alloc", "measured alloc", "error",
            "predicted total", "measured total", "peak phase", "s/step"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        step = r.get("step_seconds")
        cells = [r["family"], r["tier"], r["resolution"], r["quantization"], r["checkpointing"], r["precision"],
                 f"{r['predicted_allocated_gb']:.2f}", r.get("measured_allocated_gb", "-"),
                 f"{r['error_pct']:+.1f}%" if "error_pct" in r else "-", f"{r['predicted_total_gb']:.2f}",
                 r.get("measured_total_gb", "-"), r["predicted_phase"], f"{step:.2f}" if step else "-"]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    from lora_nb.training.presets import TIERS

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--families", nargs="+", default=["sd15", "sdxl", "flux"], choices=["sd15", "sdxl", "flux"],
                    help="Model families to measure.")
    ap.add_argument("--tiers", nargs="+", default=list(TIERS), choices=list(TIERS),
                    help="GPU-memory preset tiers to measure (each with its preset's settings).")
    ap.add_argument("--cache", default=os.environ.get("LORA_NB_BENCH_CACHE", "/tmp/lora-nb-bench"),
                    help="Folder for the random-weight reference models and datasets (Flux needs ~35 GB).")
    ap.add_argument("--tiny", action="store_true", help="Tiny models: checks the script itself (any machine).")
    ap.add_argument("--out", default=None, help="Also write the rows and calibration hints as JSON here.")
    ap.add_argument("--timeout", type=int, default=1800, help="Seconds allowed per (family, tier) run.")
    ap.add_argument("--one", nargs=2, metavar=("FAMILY", "TIER"), help=argparse.SUPPRESS)  # child process
    args = ap.parse_args(argv)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)

    if args.one:
        print("ROW " + json.dumps(run_one(args.one[0], args.one[1], cache, args.tiny)), flush=True)
        return 0

    import torch

    gpu_gb = torch.cuda.get_device_properties(0).total_memory / GiB if torch.cuda.is_available() else None
    rows = []
    for fam in args.families:
        for tier in args.tiers:
            from lora_nb.planning.memory.gpus import resolve_gpu

            if gpu_gb is not None and resolve_gpu(TIER_GPU[tier]).memory_gb > gpu_gb + 0.5:
                print(f"skip {fam}/{tier}: this GPU has {gpu_gb:.1f} GiB", flush=True)
                continue
            t0 = time.time()
            cmd = [sys.executable, __file__, "--one", fam, tier, "--cache", str(cache)] + (["--tiny"] if args.tiny
                                                                                           else [])
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, cwd=ROOT)
            row = next((json.loads(ln[4:]) for ln in proc.stdout.splitlines() if ln.startswith("ROW ")), None)
            if row is None:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
                row = {"family": fam, "tier": tier, "error": "\n".join(tail)}
                print(f"{fam}/{tier}: FAILED\n" + row["error"], flush=True)
            else:
                print(f"{fam}/{tier} ({time.time() - t0:.0f}s): " + json.dumps(row), flush=True)
            rows.append(row)
    ok = [r for r in rows if "predicted_allocated_gb" in r]
    print()
    print(markdown(ok))
    hints = calibration_hints(ok)
    print("\ncalibration hints for lora_nb/planning/memory/calibration.py CALIBRATION:", json.dumps(hints, indent=2))
    errs = [abs(r["error_pct"]) for r in ok if "error_pct" in r]
    if errs:
        print(f"\nworst error {max(errs):.1f}% (target 15%); {sum(e <= 15 for e in errs)}/{len(errs)} within target")
    if args.out:
        Path(args.out).write_text(json.dumps({"rows": rows, "hints": hints}, indent=2), encoding="utf-8")
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
