"""Train `lora_nb/models/tiny-shapes`, the kit's built-in base model, from scratch on a CPU.

    python scripts/train_tiny_base.py                 # ~1 h on 2 CPU cores; writes lora_nb/models/tiny-shapes
    python scripts/train_tiny_base.py --quick --out /tmp/m   # a 1-minute smoke run of every stage

A latent diffusion model in Stable Diffusion 1.5's exact layout (Rombach et al. 2022), only tiny:
64x64 RGB pictures, an AutoencoderKL with a factor-4 latent (8x16x16), a 2-layer CLIP text encoder
(hidden 64) with a small BPE vocabulary, and a UNet2DConditionModel with cross-attention at the
16x16 and 8x8 levels (where SD1.5 has it: not at the coarsest level). Its world is the procedural
scenes of `lora_nb.toy.scenes` (shapes, colours, sizes, positions, backgrounds - no stars), so
"a red circle on a blue background" comes out as one, and the course's zigzag-star toy is a
concept it has never seen.

Stages, each cached in --work so an interrupted run picks up where it stopped:
  1. scenes      render --scenes pictures (fixed seed) to a uint8 tensor
  2. vae         reconstruction (L1 + MSE) with a small KL term, on random crops then full pictures
  3. latents     encode every scene once (posterior mean and std, sampled afresh each step)
  4. unet        UNet + text encoder jointly on DDPM's epsilon objective (Ho et al. 2020) with
                 Min-SNR-5 weighting (Hang et al. 2023: ~3x faster convergence), offset noise 0.1
                 (Guttenberg 2023: lets the prompt, not the seed, set the background colour),
                 10% empty captions for classifier-free guidance (Ho & Salimans 2022), EMA weights
  5. export      StableDiffusionPipeline.save_pretrained with SD1.5's PNDM scheduler config, fp16
                 safetensors (a few MB)

Fixed seeds throughout; the result reproduces in quality, not bit for bit (thread counts change
float summation order). Progress goes to stdout and <work>/log.txt.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lora_nb.toy import scenes  # noqa: E402
from lora_nb.toy.ceiling import write_star_ceiling  # noqa: E402

DEFAULT_OUT = ROOT / "lora_nb" / "models" / "tiny-shapes"

LATENT_CHANNELS = 8

# SD1.5's noise schedule, so the kit's SD1.5 training path runs on this model unchanged.
SCHEDULE = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000)


# --------------------------------------------------------------------------------------------------
# Components (configs are the model's definition; sizes chosen for ~1 h of CPU training)
# --------------------------------------------------------------------------------------------------
def build_tokenizer(path: Path):
    """A CLIPTokenizer (CLIP's byte-level BPE) whose merges spell every scene word as one token.

    Same construction as `lora_nb.toy.testing.build_tiny_clip_tokenizer`, over the scene vocabulary plus
    the tiny model's general word list; merges run until every corpus word is a single token, so
    unknown words (the sample's trigger 'donpzishnk') still tokenise, into pieces, as with CLIP.
    """
    from lora_nb.toy.testing import _CORPUS, build_tiny_clip_tokenizer

    # merges run until every corpus word is one symbol (_learn_bpe stops when nothing is left to merge)
    return build_tiny_clip_tokenizer(path, num_merges=100_000, words=sorted(set(_CORPUS) | set(scenes.VOCABULARY)))


def build_text_encoder(tokenizer):
    from transformers import CLIPTextConfig, CLIPTextModel

    from lora_nb.toy.testing import tiny_clip_text_config

    return CLIPTextModel(CLIPTextConfig(**tiny_clip_text_config(tokenizer, hidden=64, layers=2)))


def build_vae():
    from diffusers import AutoencoderKL

    # Factor 4 (three levels). 8 latent channels where SD has 4: at 64 px the sample toy's zigzag
    # stripes are as fine as one 4x4 latent cell, and 4 numbers per cell (mean colour and little
    # more) blur yellow-and-navy stripes into olive; 8 keep them. No mid-block attention: the model is
    # fully convolutional, so it trains on crops and works at any size.
    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=LATENT_CHANNELS, layers_per_block=1, norm_num_groups=8,
        block_out_channels=(16, 32, 64), sample_size=64, mid_block_add_attention=False,
        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3)


def build_unet():
    from diffusers import UNet2DConditionModel

    # Cross-attention at 16x16 and 8x8 (SD1.5 has it at its three finest levels, not at the coarsest),
    # head dim 32 (`attention_head_dim` is the head count in this class, a known misnomer).
    return UNet2DConditionModel(
        sample_size=16, in_channels=LATENT_CHANNELS, out_channels=LATENT_CHANNELS, layers_per_block=1,
        block_out_channels=(32, 64, 128),
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=64, attention_head_dim=(1, 2, 4), norm_num_groups=16)


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------
class Log:
    def __init__(self, path: Path):
        self.path = path
        self.t0 = time.time()

    def __call__(self, msg: str) -> None:
        line = f"[{time.time() - self.t0:7.0f}s] {msg}"
        print(line, flush=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], the range diffusers' VAEs work in."""
    return x.float().div(127.5).sub(1.0)


def ema_update(ema: dict, model: torch.nn.Module, decay: float) -> None:
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                ema[k].mul_(decay).add_(v.detach(), alpha=1 - decay)
            else:
                ema[k].copy_(v)


def save_state(path: Path, **parts) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(parts, tmp)
    tmp.replace(path)


def load_state(path: Path) -> dict | None:
    return torch.load(path, map_location="cpu", weights_only=False) if path.is_file() else None


def check_work(args) -> None:
    """Refuse to mix cached stages of a run with different settings (the caches are per stage)."""
    keep = {k: str(v) for k, v in vars(args).items()
            if k not in ("out", "work", "threads", "save_every", "evaluate", "evaluate_only")}
    path = args.work / "settings.json"
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        diff = sorted(k for k in keep if old.get(k) != keep[k])
        if diff:
            raise SystemExit(f"{args.work} holds a run with other settings ({', '.join(diff)}) -> delete it to "
                             f"start over, or pass another --work")
    path.write_text(json.dumps(keep, indent=1), encoding="utf-8")


# --------------------------------------------------------------------------------------------------
# 1. scenes
# --------------------------------------------------------------------------------------------------
def render_scenes(work: Path, n: int, seed: int, log: Log):
    cache = work / f"scenes_{n}_{seed}.pt"
    if cache.is_file():
        d = torch.load(cache, weights_only=False)
        log(f"scenes: {n} from cache")
        return d["images"], d["specs"]
    import numpy as np

    rng = random.Random(seed)
    images = torch.empty(n, 3, scenes.SIZE, scenes.SIZE, dtype=torch.uint8)
    specs = []
    for i in range(n):
        spec = scenes.random_scene(rng)
        images[i] = torch.from_numpy(np.array(scenes.render_scene(spec))).permute(2, 0, 1)
        specs.append(spec)
    torch.save({"images": images, "specs": specs}, cache)
    log(f"scenes: rendered {n}")
    return images, specs


def clutter(batch: torch.Tensor, gen: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Random colour patches, line textures and scribbles over some pictures, for the VAE only.

    An autoencoder should reconstruct any picture, as SD's VAE does, not only our scenes: a LoRA's
    new concept (the sample toy has fine navy zigzags on yellow) must survive the VAE round trip.
    So half the VAE's pictures get 1-3 random items in random colours: a polyline, or a triangle /
    quadrilateral filled plainly or with straight or zigzag lines of a second colour. The UNet and
    the text encoder never see these; nothing here is star-shaped.
    """
    import numpy as np
    from PIL import Image, ImageDraw

    def r(*shape):
        return torch.rand(shape, generator=gen) if shape else float(torch.rand((), generator=gen))

    def colour():
        return tuple(int(c) for c in torch.randint(0, 256, (3,), generator=gen))

    out = batch.clone()
    s = batch.shape[-1]
    for i in range(len(batch)):
        if r() >= p:
            continue
        img = Image.fromarray(batch[i].permute(1, 2, 0).numpy())
        d = ImageDraw.Draw(img)
        for _ in range(int(torch.randint(1, 4, (), generator=gen))):
            cx, cy, size = s * (0.15 + 0.7 * r()), s * (0.15 + 0.7 * r()), s * (0.12 + 0.3 * r())
            n = int(torch.randint(3, 5, (), generator=gen))  # a convex triangle or quadrilateral
            angles = sorted((2 * math.pi * r(n)).tolist())
            pts = [(cx + size * (0.6 + 0.4 * r()) * math.cos(a), cy + size * (0.6 + 0.4 * r()) * math.sin(a))
                   for a in angles]
            if r() < 0.35:  # a scribble
                d.line(pts, fill=colour(), width=1 + int(r() * 2))
                continue
            mask = Image.new("L", img.size, 0)
            ImageDraw.Draw(mask).polygon(pts, fill=255)
            patch = Image.new("RGB", img.size, colour())
            if r() < 0.6:  # a line texture, straight or zigzag, in a second colour
                pd = ImageDraw.Draw(patch)
                a, step, amp = math.pi * r(), 2.5 + 4 * r(), (r() < 0.5) * (0.5 + 2 * r())
                ca, sa, col, w = math.cos(a), math.sin(a), colour(), 1 + int(r() * 2)
                for k in range(-int(s / step) - 2, int(s / step) + 3):
                    line = []
                    for j in range(-20, 21):
                        u, v = j * 2.0, k * step + (amp if j % 2 else -amp)
                        line.append((cx + u * ca - v * sa, cy + u * sa + v * ca))
                    pd.line(line, fill=col, width=w)
            img.paste(patch, mask=mask)
        out[i] = torch.from_numpy(np.array(img)).permute(2, 0, 1)
    return out


# --------------------------------------------------------------------------------------------------
# 2. VAE
# --------------------------------------------------------------------------------------------------
def train_vae(work: Path, images: torch.Tensor, args, log: Log):
    final = work / "vae_final.pt"
    vae = build_vae()
    if final.is_file():
        vae.load_state_dict(torch.load(final, weights_only=True))
        log("vae: from cache")
        return vae
    torch.manual_seed(args.seed + 2)
    vae = build_vae()
    opt = torch.optim.AdamW(vae.parameters(), lr=args.vae_lr, weight_decay=0.0)
    state_path, start = work / "vae_state.pt", 0
    st = load_state(state_path)
    if st:
        vae.load_state_dict(st["model"]), opt.load_state_dict(st["opt"])
        start = st["step"]
        log(f"vae: resuming at step {start}")
    steps = args.vae_steps
    full_from = int(steps * 0.95)  # 32 px crops first (4x cheaper), full 64x64 pictures at the end
    held_out = min(64, len(images) // 4)  # the last scenes check reconstruction on unseen pictures
    n_train = len(images) - held_out
    vae.train()
    t0, run = time.time(), 0.0
    for step in range(start, steps):
        lr = args.vae_lr * min(1.0, (step + 1) / 100) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        gen = torch.Generator().manual_seed(args.seed * 1_000_003 + 7919 * step)  # resumable: per-step seed
        idx = torch.randint(0, n_train, (args.vae_batch,), generator=gen)
        x = clutter(images[idx], gen)
        if torch.rand((), generator=gen) < 0.5:
            x = x.flip(-1)
        if step < full_from:
            c = 32
            i, j = (int(v) for v in torch.randint(0, scenes.SIZE - c + 1, (2,), generator=gen) // 4 * 4)
            x = x[..., i:i + c, j:j + c]
        x = to_unit(x)
        post = vae.encode(x).latent_dist
        z = post.sample(generator=gen)
        rec = vae.decode(z).sample
        # L1 keeps edges sharp, MSE the colours; the KL term only keeps latents tame for the UNet
        kl = post.kl().mean() / z[0].numel()
        loss = F.l1_loss(rec, x) + F.mse_loss(rec, x) + args.vae_kl * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        run = 0.98 * run + 0.02 * loss.item() if step > start else loss.item()
        if (step + 1) % 50 == 0 or step + 1 == steps:
            eta = (time.time() - t0) / (step + 1 - start) * (steps - step - 1)
            log(f"vae step {step + 1}/{steps} loss {run:.4f} (kl {kl.item():.2f}) lr {lr:.2e} eta {eta / 60:.1f} min")
        if (step + 1) % 500 == 0:
            save_state(state_path, model=vae.state_dict(), opt=opt.state_dict(), step=step + 1)
            with torch.no_grad():  # the held-out scenes: never in a VAE batch
                held = to_unit(images[n_train:])
                err = (vae.decode(vae.encode(held).latent_dist.mean).sample - held).abs().mean().item()
            log(f"vae step {step + 1}: reconstruction L1 {err:.4f} on {held_out} held-out scenes")
    vae.eval()
    torch.save(vae.state_dict(), final)
    return vae


# --------------------------------------------------------------------------------------------------
# 3. latents
# --------------------------------------------------------------------------------------------------
@torch.no_grad()
def encode_all(work: Path, vae, images: torch.Tensor, log: Log):
    cache = work / "latents.pt"
    if cache.is_file():
        d = torch.load(cache, weights_only=True)
        log("latents: from cache")
        return d["mean"], d["std"], float(d["scale"])
    means, stds = [], []
    for i in range(0, len(images), 256):
        post = vae.encode(to_unit(images[i:i + 256])).latent_dist
        means.append(post.mean)
        stds.append(post.std)
    mean, std = torch.cat(means), torch.cat(stds)
    # SD's 0.18215 is 1/std of its latents: scale ours the same way, so the UNet sees unit variance
    sample = mean + std * torch.randn_like(mean)
    scale = float(1.0 / sample.std())
    rec = vae.decode(mean[:64]).sample
    err = (rec - to_unit(images[:64])).abs().mean().item()
    log(f"latents: {tuple(mean.shape)}, std {sample.std():.3f} -> scaling_factor {scale:.4f}; "
        f"reconstruction L1 {err:.4f} (of 2.0 range)")
    torch.save({"mean": mean.half(), "std": std.half(), "scale": scale}, cache)
    return mean.half(), std.half(), scale


# --------------------------------------------------------------------------------------------------
# 4. UNet + text encoder
# --------------------------------------------------------------------------------------------------
def snr_weights(alphas_cumprod: torch.Tensor, t: torch.Tensor, gamma: float) -> torch.Tensor:
    """Min-SNR-gamma loss weights for epsilon prediction: min(SNR, gamma) / SNR (Hang et al. 2023)."""
    snr = alphas_cumprod[t] / (1 - alphas_cumprod[t])
    return torch.clamp(snr, max=gamma) / snr


def train_unet(work: Path, tokenizer, specs, lat_mean, lat_std, scale: float, args, log: Log):
    from diffusers import DDPMScheduler

    torch.manual_seed(args.seed)
    text_encoder = build_text_encoder(tokenizer)
    torch.manual_seed(args.seed + 1)
    unet = build_unet()
    final = work / "unet_final.pt"
    if final.is_file():
        d = torch.load(final, weights_only=True)
        unet.load_state_dict(d["unet"]), text_encoder.load_state_dict(d["text_encoder"])
        log("unet: from cache")
        return unet, text_encoder
    sched = DDPMScheduler(**SCHEDULE)
    acp = sched.alphas_cumprod
    params = list(unet.parameters()) + list(text_encoder.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.99), weight_decay=0.01)
    ema_u = {k: v.detach().clone() for k, v in unet.state_dict().items()}
    ema_t = {k: v.detach().clone() for k, v in text_encoder.state_dict().items()}
    state_path, start = work / "unet_state.pt", 0
    st = load_state(state_path)
    if st:
        unet.load_state_dict(st["unet"]), text_encoder.load_state_dict(st["text_encoder"])
        opt.load_state_dict(st["opt"])
        ema_u, ema_t, start = st["ema_unet"], st["ema_text_encoder"], st["step"]
        log(f"unet: resuming at step {start}")
    steps, bs = args.unet_steps, args.batch
    unet.train(), text_encoder.train()
    t0, run = time.time(), None
    for step in range(start, steps):
        # per-step randomness from (seed, step), so a resumed run continues as an uninterrupted one
        gen = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
        rng = random.Random(f"{args.seed}-{step}")
        warm = min(1.0, (step + 1) / args.warmup)
        lr = args.lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = torch.randint(0, len(specs), (bs,), generator=gen)
        caps = ["" if rng.random() < args.caption_dropout else scenes.caption(specs[i], rng) for i in idx.tolist()]
        ids = tokenizer(caps, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
        lat = (lat_mean[idx].float() + lat_std[idx].float() * torch.randn(bs, *lat_mean.shape[1:], generator=gen))
        lat = lat * scale
        noise = torch.randn(lat.shape, generator=gen)
        if args.noise_offset:
            # Offset noise (Guttenberg 2023): at t=999 SD's schedule leaves sqrt(0.0047) = 7% of the
            # signal, and on a 16x16 latent the noise's own mean (std 1/16) is as large as that - so
            # without it the seed's noise decides the background colour and the prompt cannot.
            noise = noise + args.noise_offset * torch.randn(bs, noise.shape[1], 1, 1, generator=gen)
        t = torch.randint(0, sched.config.num_train_timesteps, (bs,), generator=gen)
        noisy = sched.add_noise(lat, noise, t)
        ehs = text_encoder(ids)[0]
        pred = unet(noisy, t, encoder_hidden_states=ehs).sample
        per = F.mse_loss(pred, noise, reduction="none").mean(dim=(1, 2, 3))
        loss = (per * snr_weights(acp, t, args.min_snr_gamma)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        decay = min(args.ema, (1 + step) / (10 + step))
        ema_update(ema_u, unet, decay)
        ema_update(ema_t, text_encoder, decay)
        run = loss.item() if run is None else 0.98 * run + 0.02 * loss.item()
        if (step + 1) % 25 == 0 or step + 1 == steps:
            eta = (time.time() - t0) / (step + 1 - start) * (steps - step - 1)
            log(f"unet step {step + 1}/{steps} loss {run:.4f} lr {lr:.2e} eta {eta / 60:.1f} min")
        if (step + 1) % args.save_every == 0 and step + 1 < steps:
            save_state(state_path, unet=unet.state_dict(), text_encoder=text_encoder.state_dict(),
                       opt=opt.state_dict(), ema_unet=ema_u, ema_text_encoder=ema_t, step=step + 1)
            log(f"unet: state saved at step {step + 1}")
    unet.load_state_dict(ema_u), text_encoder.load_state_dict(ema_t)
    unet.eval(), text_encoder.eval()
    torch.save({"unet": unet.state_dict(), "text_encoder": text_encoder.state_dict()}, final)
    return unet, text_encoder


# --------------------------------------------------------------------------------------------------
# 5. export
# --------------------------------------------------------------------------------------------------
MODEL_CARD = """# tiny-shapes

A tiny text-to-image latent diffusion model in Stable Diffusion 1.5's diffusers layout, trained
from scratch on a CPU by `scripts/train_tiny_base.py` on procedural scenes from `lora_nb.toy.scenes`:
one shape (circle, square, triangle, diamond, tilted at most {tilt:g} degrees; plain, striped or
dotted) in a colour, size and position, on a background (plain, gradient, checker, stripes, dots,
wall and floor). 64x64 pixels.

- Prompts it knows: "a red circle on a blue background", "a yellow triangle, small, top left,
  plain green background", "a toy square", ... (see `lora_nb/scenes.py` for the vocabulary).
- It has never seen a star: the course's zigzag-star toy (`datasets_sample/20_zigzag_star`) is a new
  concept for it, which a LoRA learns in a few minutes on a CPU.
- Components: AutoencoderKL (factor 4, latents 8x16x16, scaling_factor {scale:.4f}),
  CLIPTextModel (2 layers, hidden 64), CLIPTokenizer (byte-level BPE, {vocab} tokens),
  UNet2DConditionModel (channels 32/64/128, cross-attention at 16x16 and 8x8), PNDM scheduler with
  SD1.5's betas. {params:.2f}M parameters; UNet and VAE stored as fp16 safetensors (loaded as
  fp32 by default), the text encoder as fp32.
- Training: {vae_steps} VAE steps, {unet_steps} UNet+text-encoder steps of batch {batch} on {scenes} scenes
  (seed {seed}, offset noise {noise_offset}), {minutes:.0f} min on this machine ({threads} CPU threads).
- `star_ceiling.json`: what the sample's own star drawings score (`lora_nb.toy.detect.star_score`) after
  this VAE at 64 px - the most a LoRA's star can score (`lora_nb.toy.ceiling`; re-measure with
  `python -m lora_nb.toy.ceiling lora_nb/models/tiny-shapes datasets_sample/20_zigzag_star`).

License: Apache-2.0, as the kit. The training data is generated by the kit (no third-party images).
"""


def export(out: Path, tokenizer_dir: Path, vae, unet, text_encoder, scale: float, args, log: Log, t_start: float):
    from diffusers import PNDMScheduler, StableDiffusionPipeline
    from transformers import CLIPTokenizer

    from lora_nb.fileio import atomic_dir

    vae.register_to_config(scaling_factor=round(scale, 5))
    tokenizer = CLIPTokenizer.from_pretrained(tokenizer_dir)
    # SD1.5 ships PNDM with these settings; the kit's trainer reads the betas into a DDPMScheduler
    scheduler = PNDMScheduler(**SCHEDULE, skip_prk_steps=True, steps_offset=1, set_alpha_to_one=False)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    # fp16 files for the UNet and VAE (diffusers loads them as fp32 unless asked otherwise); the text
    # encoder stays fp32 because transformers 5 loads a checkpoint in its stored dtype, and a default
    # from_pretrained would then mix fp16 and fp32 modules
    unet.to(torch.float16), vae.to(torch.float16)
    n = sum(p.numel() for m in (vae, unet, text_encoder) for p in m.parameters()) / 1e6
    with atomic_dir(out) as tmp:
        pipe.save_pretrained(tmp, safe_serialization=True)
        (Path(tmp) / "README.md").write_text(MODEL_CARD.format(
            scale=scale, vocab=len(tokenizer), params=n, vae_steps=args.vae_steps, unet_steps=args.unet_steps,
            batch=args.batch, scenes=args.scenes, seed=args.seed, minutes=(time.time() - t_start) / 60,
            threads=args.threads, noise_offset=args.noise_offset, tilt=scenes.MAX_TILT), encoding="utf-8")
        for name in ("vocab.json", "merges.txt"):  # the slow-tokenizer files too, for transformers 4
            (Path(tmp) / "tokenizer" / name).write_bytes((tokenizer_dir / name).read_bytes())
    unet.to(torch.float32), vae.to(torch.float32)
    ceiling = write_star_ceiling(  # a new VAE has a new ceiling
        out, ROOT / "datasets_sample" / "20_zigzag_star")
    log(f"export: star ceiling {ceiling.ceiling} (the sample as drawn: {ceiling.raw})")
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e6
    log(f"export: {out} ({n:.2f}M parameters, {size:.1f} MB)")


@torch.no_grad()
def preview(model: Path, path: Path, log: Log, steps: int = 20):
    """A few prompts through the saved pipeline, as a PNG strip: what the model draws."""
    from diffusers import StableDiffusionPipeline
    from PIL import Image

    pipe = StableDiffusionPipeline.from_pretrained(model)
    pipe.set_progress_bar_config(disable=True)
    prompts = ["a red circle on a blue background", "a green square on a yellow background",
               "a yellow triangle, large, center, plain purple background", "a blue diamond, small, top left",
               "a white striped circle on a pink checker background", "a black square, bottom right",
               "an orange dotted triangle, green and white gradient background", "a toy circle"]
    ims = [pipe(p, num_inference_steps=steps, guidance_scale=5.0,
                generator=torch.Generator().manual_seed(i)).images[0] for i, p in enumerate(prompts)]
    strip = Image.new("RGB", (64 * len(ims), 64))
    for i, im in enumerate(ims):
        strip.paste(im, (64 * i, 0))
    strip.save(path)
    log(f"preview: {path} ({' | '.join(prompts)})")


# The measurements reported in bench/README.md (`--evaluate`): prompt following of the base, and
# the zigzag-star score of a LoRA trained on datasets_sample with the kit's own trainer and XY grid.
EVAL_CASES = [("red", "circle", "blue"), ("green", "square", "yellow"), ("yellow", "triangle", "purple"),
              ("blue", "diamond", "pink"), ("white", "circle", "teal"), ("black", "square", "orange"),
              ("orange", "triangle", "green"), ("purple", "diamond", "gray")]


def evaluate(model: Path, work: Path, log: Log, seeds: int = 8, star_seeds: int = 16, quick: bool = False) -> str:
    from diffusers import StableDiffusionPipeline

    from lora_nb.config import Config
    from lora_nb.dataset.crop import crop_folder
    from lora_nb.toy.demo import DEMO_RECIPE, DEMO_SAVE_EVERY, DEMO_STEPS, STAR_PROMPT
    from lora_nb.toy.detect import check_prompts, star_curve
    from lora_nb.training.trainer import train

    seed_list = tuple(range(2 if quick else seeds))
    pipe = StableDiffusionPipeline.from_pretrained(model)
    pipe.set_progress_bar_config(disable=True)
    t0 = time.time()
    prompts = check_prompts(pipe, EVAL_CASES[:2] if quick else EVAL_CASES, seeds=seed_list, steps=20, cfg=5.0)
    log(f"evaluate: prompt check in {time.time() - t0:.0f}s\n{prompts.markdown()}")
    data = work / "eval" / "data" / "20_zigzag_star"
    crop_folder(ROOT / "datasets_sample" / "20_zigzag_star", data, resolution=64, mode="focus", focus="saliency",
                overwrite=True, progress=False)
    steps, every = (4, 2) if quick else (DEMO_STEPS, DEMO_SAVE_EVERY)
    cfg = Config(pretrained_model=str(model), train_data_dir=str(data.parent), resolution=64, **DEMO_RECIPE,
                 max_train_steps=steps, save_every_n_steps=every, seed=0, sample_prompts=[],
                 output_dir=str(work / "eval" / "run"))
    t0 = time.time()
    result = train(cfg)
    t_train = time.time() - t0
    ckpts = [files["kohya"] for _, files in result.checkpoints]
    t0 = time.time()
    # more seeds for the star: whether a seed's picture gets a star is nearly all-or-nothing, so the mean
    # over 8 seeds moves by ~0.08 from chance alone - as much as one checkpoint differs from the next
    star_list = seed_list if quick else tuple(range(star_seeds))
    curve = star_curve(str(model), ckpts, STAR_PROMPT, strengths=(0.0, 0.5, 1.0), seeds=star_list, steps=20, cfg=5.0)
    curve.grid.save(work / "eval" / "star_xy.png")
    log(f"evaluate: LoRA {steps} steps in {t_train:.0f}s, XY grid in {time.time() - t0:.0f}s -> "
        f"{work / 'eval' / 'star_xy.png'}\n{curve.markdown()}")
    recipe = ", ".join(f"{k} {v}" for k, v in DEMO_RECIPE.items())
    report = (f"## Prompt following ({len(seed_list)} seeds, 20 steps, CFG 5)\n\n{prompts.markdown()}\n\n"
              f"## Zigzag-star score (lora_nb.toy.demo.DEMO_RECIPE: {recipe}; {steps} steps; {len(star_list)} seeds)"
              f"\n\n{curve.markdown()}\n")
    (work / "eval" / "eval.md").write_text(report, encoding="utf-8")
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="model folder to write (diffusers layout)")
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "tiny-base",
                    help="cache folder for stages and resumable state")
    ap.add_argument("--scenes", type=int, default=20000, help="number of procedural training scenes")
    ap.add_argument("--seed", type=int, default=0, help="seed of scenes, initialisation and batches")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--vae-steps", type=int, default=10000, help="VAE optimizer steps")
    ap.add_argument("--vae-batch", type=int, default=8, help="VAE batch size")
    ap.add_argument("--vae-lr", type=float, default=1.5e-3, help="VAE peak learning rate (cosine to 10%%)")
    ap.add_argument("--vae-kl", type=float, default=1e-4, help="weight of the VAE's KL term (per latent element)")
    ap.add_argument("--unet-steps", type=int, default=4000, help="UNet + text encoder optimizer steps")
    ap.add_argument("--batch", type=int, default=32, help="UNet batch size")
    ap.add_argument("--lr", type=float, default=1e-3, help="UNet/text-encoder peak learning rate (cosine to 10%%)")
    ap.add_argument("--warmup", type=int, default=100, help="linear warmup steps")
    ap.add_argument("--ema", type=float, default=0.999, help="EMA decay of the exported weights")
    ap.add_argument("--min-snr-gamma", type=float, default=5.0, help="Min-SNR loss weighting gamma")
    ap.add_argument("--noise-offset", type=float, default=0.1,
                    help="per-channel noise offset, so prompts can set the background colour")
    ap.add_argument("--caption-dropout", type=float, default=0.1, help="share of empty captions (for CFG)")
    ap.add_argument("--save-every", type=int, default=500, help="save resumable UNet state every N steps")
    ap.add_argument("--quick", action="store_true", help="smoke run: 64 scenes, a few steps per stage")
    ap.add_argument("--evaluate", action="store_true",
                    help="after training, measure the model (bench/README.md figures) into <work>/eval/eval.md")
    ap.add_argument("--evaluate-only", action="store_true", help="only measure the model already at --out")
    args = ap.parse_args(argv)
    if args.quick:
        args.scenes, args.vae_steps, args.unet_steps, args.batch, args.vae_batch = 64, 4, 4, 4, 4
        args.warmup, args.save_every = 2, 2
        if args.work == ap.get_default("work"):
            args.work = args.out.parent / (args.out.name + ".work")
    torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    log = Log(args.work / "log.txt")
    check_work(args)
    log(f"args: {json.dumps({k: str(v) for k, v in vars(args).items()})}")
    t_start = time.time()
    if args.evaluate_only:
        evaluate(args.out, args.work, log, quick=args.quick)
        return 0
    tokenizer = build_tokenizer(args.work / "tokenizer")
    images, specs = render_scenes(args.work, args.scenes, args.seed, log)
    vae = train_vae(args.work, images, args, log)
    lat_mean, lat_std, scale = encode_all(args.work, vae, images, log)
    unet, text_encoder = train_unet(args.work, tokenizer, specs, lat_mean, lat_std, scale, args, log)
    export(args.out, args.work / "tokenizer", vae, unet, text_encoder, scale, args, log, t_start)
    preview(args.out, args.work / "preview.png", log, steps=4 if args.quick else 20)
    log(f"done in {(time.time() - t_start) / 60:.1f} min")
    if args.evaluate:
        evaluate(args.out, args.work, log, quick=args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
