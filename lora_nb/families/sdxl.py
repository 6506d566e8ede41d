"""Stable Diffusion XL (Podell et al. 2023): a larger UNet conditioned on two CLIP text encoders and on
image sizes ("micro-conditioning").

- Text: the penultimate hidden states of CLIP ViT-L (text_encoder) and OpenCLIP bigG
  (text_encoder_2), concatenated (768 + 1280 = 2048 channels), plus bigG's pooled, projected
  embedding. `clip_skip` counts from there: 1 is SDXL's own penultimate layer.
- Sizes: `add_time_ids` = original (h, w) of each image + the crop's top-left + the target
  (bucket) size, so the model learns what a crop looks like instead of drawing cut-off subjects.
- The VAE overflows in fp16 (black images, NaN): it runs in fp32 unless an fp16-safe VAE is used
  (`vae_dtype`).
- kohya files name the UNet's modules as the original (sgm) checkpoint does: input_blocks.N,
  middle_block.N, output_blocks.N; A1111 and ComfyUI read those.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import torch

from ..config import Config
from . import Models, ddpm, prediction
from .base import Family, freeze
from .loading import check_model_source, load_part
from .quantize import quantize_linears


class SDXL(Family):
    name = "sdxl"
    clip_skip_base = 1  # clip_skip 1 is SDXL's own penultimate layer (see the module docstring)

    def load_parts(self, config: Config, device, dtype) -> Models:
        from diffusers import AutoencoderKL, DDPMScheduler
        from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

        src = self.model_source(config)
        if Path(src).is_file():
            return self._load_single_file(src, config, device, dtype)
        toks = [load_part(CLIPTokenizer, src, "tokenizer", config),
                load_part(CLIPTokenizer, src, "tokenizer_2", config)]
        tes = [self.load_text_encoder(CLIPTextModel, src, "text_encoder", config, device, dtype),
               self.load_text_encoder(CLIPTextModelWithProjection, src, "text_encoder_2", config, device, dtype)]
        vae = (load_part(AutoencoderKL, check_model_source(config.vae, config.allow_pickle, "vae"), None, config)
               if config.vae else load_part(AutoencoderKL, src, "vae", config))
        # the hub repo ships EulerDiscrete; training reads its betas into DDPM (same schedule), with the
        # objective its config names (v-prediction, zero terminal SNR) unless the Config overrides it
        sched, pred = prediction.training_scheduler(load_part(DDPMScheduler, src, "scheduler", config), config,
                                                    where=f"{src}/scheduler/scheduler_config.json")
        return self.place_parts(Models(None, vae, tes, toks, sched, src, device=device, extra={"prediction": pred}),
                                config, device, dtype)

    def _load_single_file(self, path: str, config: Config, device, dtype) -> Models:
        from diffusers import StableDiffusionXLPipeline

        pipe = self.from_single_file(StableDiffusionXLPipeline, path, add_watermarker=False)
        # diffusers' converter assumes epsilon for every SDXL file: v-pred / zsnr checkpoints say so in marker keys
        sched, pred = prediction.training_scheduler(pipe.scheduler, config, prediction.file_markers(path),
                                                    where=Path(path).name)
        m = Models(None, pipe.vae, [pipe.text_encoder, pipe.text_encoder_2], [pipe.tokenizer, pipe.tokenizer_2],
                   sched, path, device=device, extra={"single_file_unet": pipe.unet, "prediction": pred})
        for te in m.text_encoders:
            freeze(te, self.text_encoder_device(config, device, config.train_text_encoder), dtype)
        return self.place_parts(m, config, device, dtype)

    def load_denoiser(self, m: Models, config: Config, device, dtype) -> None:
        from diffusers import UNet2DConditionModel

        if "single_file_unet" in m.extra:
            m.denoiser = freeze(m.extra.pop("single_file_unet"), device, dtype)
            if config.quantization != "none":
                quantize_linears(m.denoiser, config.quantization, dtype)
            return
        m.denoiser = self._load_denoiser_part(UNet2DConditionModel, m.model_id, "unet", config, device, dtype)

    # --- per-step pieces --------------------------------------------------------------------
    def encode_prompts(self, m: Models, captions: list[str], clip_skip: int = 1) -> dict:
        """Both encoders' hidden states (concatenated) and bigG's pooled embedding, as
        StableDiffusionXLPipeline.encode_prompt computes them."""
        hidden, pooled = [], None
        for tok, te in zip(m.tokenizers, m.text_encoders):
            ids = tok(captions, padding="max_length", max_length=tok.model_max_length, truncation=True,
                      return_tensors="pt").input_ids
            with m.running(te):
                out = te(ids.to(m.device), output_hidden_states=True)
            if out[0].ndim == 2:  # CLIPTextModelWithProjection: text_embeds (pooled + projected)
                pooled = out[0]
            hidden.append(out.hidden_states[-(clip_skip + self.clip_skip_base)])
        return {"encoder_hidden_states": torch.cat(hidden, dim=-1), "text_embeds": pooled}

    def noisy_inputs(self, m: Models, latents, noise, generator, config: Config, levels=None):
        return ddpm.noisy_inputs(m.noise_scheduler, latents, noise, generator, config.min_snr_gamma, levels)

    @staticmethod
    def time_ids(batch: dict, device, dtype) -> torch.Tensor:
        """SDXL micro-conditioning per sample: original (h, w) + crop (top, left) + target (h, w)."""
        rows = [list(o) + list(c) + list(batch["target_size"])
                for o, c in zip(batch["original_sizes"], batch["crop_top_lefts"])]
        return torch.tensor(rows, device=device, dtype=dtype)

    def predict(self, m: Models, noisy, timesteps, cond: dict, batch: dict) -> torch.Tensor:
        added = {"text_embeds": cond["text_embeds"], "time_ids": self.time_ids(batch, noisy.device, noisy.dtype)}
        return m.denoiser(noisy, timesteps, encoder_hidden_states=cond["encoder_hidden_states"],
                          added_cond_kwargs=added).sample

    def pipeline(self, m: Models, unet=None):
        from diffusers import DPMSolverMultistepScheduler, StableDiffusionXLPipeline

        tes = list(m.text_encoders) + [None] * (2 - len(m.text_encoders))
        return StableDiffusionXLPipeline(
            vae=m.vae, text_encoder=tes[0], text_encoder_2=tes[1], tokenizer=m.tokenizers[0],
            tokenizer_2=m.tokenizers[1], unet=unet or m.denoiser,
            scheduler=prediction.sampler(DPMSolverMultistepScheduler, m.noise_scheduler.config),
            force_zeros_for_empty_prompt=True, add_watermarker=False)

    def prompt_kwargs(self, cond: dict, negative: dict) -> dict:
        # SDXL base uses zeros, not the encoded empty prompt, as the CFG negative (force_zeros_for_empty_prompt)
        return {"prompt_embeds": cond["encoder_hidden_states"], "pooled_prompt_embeds": cond["text_embeds"]}

    # --- file names -------------------------------------------------------------------------
    def kohya_name_map(self, component: str, module):
        return sgm_names(module) if component == "unet" else None


_RESNET = {"norm1": "in_layers.0", "conv1": "in_layers.2", "time_emb_proj": "emb_layers.1",
           "norm2": "out_layers.0", "conv2": "out_layers.3", "conv_shortcut": "skip_connection"}
_TOP = {"conv_in": "input_blocks.0.0", "time_embedding.linear_1": "time_embed.0",
        "time_embedding.linear_2": "time_embed.2", "add_embedding.linear_1": "label_emb.0.0",
        "add_embedding.linear_2": "label_emb.0.2", "conv_norm_out": "out.0", "conv_out": "out.2"}


def _resnet(rest: str) -> str:
    head, _, tail = rest.partition(".")
    return _RESNET.get(head, head) + (f".{tail}" if tail else "")


def sgm_names(unet) -> Callable[[str], str]:
    """`unet_name_to_sgm` for this UNet's layout (layers per block, which up blocks have attention)."""
    cfg = getattr(unet, "config", None)
    layers = getattr(cfg, "layers_per_block", 2)
    up_types = tuple(getattr(cfg, "up_block_types", ()))
    return lambda name: unet_name_to_sgm(name, layers, up_types)


def unet_name_to_sgm(name: str, layers_per_block: int = 2, up_block_types: tuple = ()) -> str:
    """diffusers UNet module name -> the original (sgm/ldm) checkpoint's name, e.g.
    'down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q' ->
    'input_blocks.4.1.transformer_blocks.0.attn1.to_q' (SDXL: 2 layers per block)."""
    n = layers_per_block + 1
    if name in _TOP:
        return _TOP[name]
    if m := re.fullmatch(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", name):
        i, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
        idx = 1 + i * n + j
        return f"input_blocks.{idx}.0.{_resnet(rest)}" if kind == "resnets" else f"input_blocks.{idx}.1.{rest}"
    if m := re.fullmatch(r"down_blocks\.(\d+)\.downsamplers\.0\.conv(.*)", name):
        return f"input_blocks.{(int(m[1]) + 1) * n}.0.op{m[2]}"
    if m := re.fullmatch(r"mid_block\.resnets\.(\d+)\.(.+)", name):
        return f"middle_block.{2 * int(m[1])}.{_resnet(m[2])}"
    if m := re.fullmatch(r"mid_block\.attentions\.0\.(.+)", name):
        return f"middle_block.1.{m[1]}"
    if m := re.fullmatch(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", name):
        i, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
        idx = i * n + j
        return f"output_blocks.{idx}.0.{_resnet(rest)}" if kind == "resnets" else f"output_blocks.{idx}.1.{rest}"
    if m := re.fullmatch(r"up_blocks\.(\d+)\.upsamplers\.0\.conv(.*)", name):
        i = int(m[1])
        has_attn = i < len(up_block_types) and "CrossAttn" in up_block_types[i]
        return f"output_blocks.{i * n + layers_per_block}.{2 if has_attn else 1}.conv{m[2]}"
    return name


FAMILY = SDXL()
