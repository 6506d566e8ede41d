"""Trainer overhead: lora_nb's step time against a bare PyTorch loop doing the same work.

Both sides use the same tiny SD1.5 model, the same LoRA (peft, same targets/rank), the same
batch size and resolution, AdamW, grad clipping, and per-step text encoding. The bare loop is
what a minimal diffusers example does: noise -> add_noise -> UNet -> MSE -> backward -> step,
on one fixed batch of latents. The trainer runs through `lora_nb.training.trainer.train` (data order,
caption processing, latent cache, logging, progress bar, schedule) and its per-step times are
read from its own log. Both are measured in this one process, alternating, and the ratio of
medians is printed (target <= 1.05), plus peak memory (CUDA) or max RSS (CPU).

    python bench/train_step.py [--steps 30] [--resolution 128] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402


def trainer_step_times(model: Path, data: Path, out: Path, steps: int, res: int, batch: int) -> list[float]:
    from lora_nb.config import Config
    from lora_nb.evaluate.lossplot import read_train_log
    from lora_nb.training.trainer import train

    cfg = Config(pretrained_model=str(model), train_data_dir=str(data), resolution=res, optimizer="adamw",
                 max_train_steps=steps, train_batch_size=batch, output_dir=str(out), save_formats=["kohya"],
                 save_state=False, lr_scheduler="constant", seed=0, sample_every_n_steps=0,
                 cache_text_embeddings="no")  # encode captions every step, as the bare loop does
    train(cfg)
    t = read_train_log(out).time
    return [b - a for a, b in zip(t, t[1:])][3:]  # drop warm-up steps


def bare_step_times(model: Path, data: Path, steps: int, res: int, batch: int) -> list[float]:
    """The same step without the kit: a fixed batch, plain PyTorch."""
    import numpy as np
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from peft import LoraConfig
    from PIL import Image
    from transformers import CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    tok = CLIPTokenizer.from_pretrained(model, subfolder="tokenizer")
    te = CLIPTextModel.from_pretrained(model, subfolder="text_encoder").requires_grad_(False)
    vae = AutoencoderKL.from_pretrained(model, subfolder="vae").requires_grad_(False)
    unet = UNet2DConditionModel.from_pretrained(model, subfolder="unet").requires_grad_(False)
    sched = DDPMScheduler.from_pretrained(model, subfolder="scheduler")
    unet.add_adapter(LoraConfig(r=16, lora_alpha=8, target_modules=["to_q", "to_k", "to_v", "to_out.0"],
                                init_lora_weights="gaussian"))
    params = [p for p in unet.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    imgs = sorted(p for p in Path(data).rglob("*.png"))[:batch]
    px = torch.stack([torch.from_numpy(np.asarray(Image.open(p).convert("RGB").resize((res, res)),
                                                  dtype=np.float32)).permute(2, 0, 1) / 127.5 - 1 for p in imgs])
    with torch.no_grad():
        latents = vae.encode(px).latent_dist.mode() * vae.config.scaling_factor
    captions = [p.with_suffix(".txt").read_text() for p in imgs]
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        ids = tok(captions, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
        with torch.no_grad():
            ehs = te(ids)[0]
        noise = torch.randn_like(latents)
        t = torch.randint(0, 1000, (latents.shape[0],))
        pred = unet(sched.add_noise(latents, noise, t), t, encoder_hidden_states=ehs).sample
        loss = torch.nn.functional.mse_loss(pred.float(), noise.float())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()
        times.append(time.perf_counter() - t0)
    return times[3:]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="alternating trainer/bare rounds")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 avoids OpenMP stalls on a busy CPU)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    from lora_nb.toy.testing import build_tiny_model, make_toy_dataset

    tmp = Path(tempfile.mkdtemp(prefix="lora-nb-bench-"))
    model = build_tiny_model("sd15", tmp / "model")
    data = make_toy_dataset(tmp / "data", {"benchshape": (1, 8)}, size=(args.resolution, args.resolution))
    ours, bare = [], []
    for r in range(args.repeats):
        ours += trainer_step_times(model, data, tmp / f"run{r}", args.steps, args.resolution, args.batch)
        bare += bare_step_times(model, data, args.steps, args.resolution, args.batch)
    mo, mb = statistics.median(ours), statistics.median(bare)
    peak = (f"peak CUDA memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB" if torch.cuda.is_available()
            else f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(f"device: {'cuda' if torch.cuda.is_available() else 'cpu'} x{torch.get_num_threads()} threads; "
          f"resolution {args.resolution}, batch {args.batch}, {len(ours)} + {len(bare)} timed steps")
    print(f"trainer step: median {mo * 1000:.1f} ms   bare loop: median {mb * 1000:.1f} ms   "
          f"ratio {mo / mb:.3f} (target <= 1.05)")
    print(peak)
    return 0


if __name__ == "__main__":
    sys.exit(main())
