"""Does a better decoder raise the star's ceiling? Fine-tune only tiny-shapes' VAE decoder and re-measure it.

    OMP_NUM_THREADS=2 python bench/vae_decoder.py --steps 1500 [--threads 2] [--out DIR]

The encoder stays frozen, so the UNet's latent space is unchanged and the new decoder would be a drop-in
(as Stability's ft-MSE VAE fine-tuned only SD's decoder). The decoder trains on the base's own procedural
scenes with `scripts/train_tiny_base.py`'s clutter (random patches and zigzag line textures, never a star)
at the full 64 px, L1 + MSE, cosine lr from 3e-4. Every 250 steps it prints the reconstruction L1 on 64
held-out scenes and the star ceiling (`lora_nb.toy.ceiling`: the sample's 20 stars encoded and decoded,
mean `star_score`). About 9 minutes for 1500 steps on 2 CPU threads. Nothing in the kit is changed; the
decoder is saved under --out.
"""

from __future__ import annotations

import argparse
import glob
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import train_tiny_base as ttb  # noqa: E402

from lora_nb.toy import scenes  # noqa: E402
from lora_nb.toy.builtin import builtin_model_dir  # noqa: E402
from lora_nb.toy.ceiling import vae_roundtrip  # noqa: E402
from lora_nb.toy.detect import star_score  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--scenes", type=int, default=4000)
    ap.add_argument("--out", type=Path, default=Path("/tmp/lora-nb-vae-decoder"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from diffusers import AutoencoderKL
    from PIL import Image

    vae = AutoencoderKL.from_pretrained(str(builtin_model_dir()), subfolder="vae").float()
    stars = [Image.open(f).convert("RGB") for f in sorted(glob.glob(str(ROOT / "datasets_sample" / "20_zigzag_star"
                                                                         / "*.png")))]
    rng = random.Random(123)
    images = torch.empty(args.scenes, 3, scenes.SIZE, scenes.SIZE, dtype=torch.uint8)
    for i in range(args.scenes):
        images[i] = torch.from_numpy(np.array(scenes.render_scene(scenes.random_scene(rng)))).permute(2, 0, 1)
    held = ttb.to_unit(images[-64:])

    def measure(step):
        vae.eval()
        with torch.no_grad():
            err = (vae.decode(vae.encode(held).latent_dist.mean).sample - held).abs().mean().item()
            ceiling = float(np.mean([star_score(vae_roundtrip(vae, im, 64)).score for im in stars]))
        print(f"step {step}: held-out L1 {err:.4f}, star ceiling {ceiling:.4f} ({time.time() - t0:.0f} s)", flush=True)
        vae.train()

    for p in (*vae.encoder.parameters(), *vae.quant_conv.parameters()):
        p.requires_grad_(False)
    opt = torch.optim.AdamW([p for p in vae.parameters() if p.requires_grad], lr=3e-4, weight_decay=0.0)
    t0 = time.time()
    measure(0)
    for step in range(args.steps):
        for g in opt.param_groups:
            g["lr"] = 3e-4 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / args.steps)))
        gen = torch.Generator().manual_seed(99 * step + 5)
        x = ttb.to_unit(ttb.clutter(images[torch.randint(0, args.scenes - 64, (16,), generator=gen)], gen, p=0.7))
        with torch.no_grad():
            z = vae.encode(x).latent_dist.sample(generator=gen)
        rec = vae.decode(z).sample
        loss = F.l1_loss(rec, x) + F.mse_loss(rec, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % 250 == 0:
            measure(step + 1)
    vae.eval()
    vae.save_pretrained(args.out)


if __name__ == "__main__":
    main()
