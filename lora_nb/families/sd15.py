"""Stable Diffusion 1.x: UNet2DConditionModel + CLIP ViT-L text encoder + VAE (Rombach et al. 2022)."""

from __future__ import annotations

from pathlib import Path

import torch

from ..config import Config
from . import Models, ddpm, prediction
from .base import Family, freeze
from .loading import check_model_source, load_part
from .quantize import quantize_linears


class SD15(Family):
    name = "sd15"

    def load_parts(self, config: Config, device, dtype) -> Models:
        from diffusers import AutoencoderKL, DDPMScheduler
        from transformers import CLIPTextModel, CLIPTokenizer

        src = self.model_source(config)
        if Path(src).is_file():
            return self._load_single_file(src, config, device, dtype)
        tokenizer = load_part(CLIPTokenizer, src, "tokenizer", config)
        text_encoder = self.load_text_encoder(CLIPTextModel, src, "text_encoder", config, device, dtype)
        vae = (load_part(AutoencoderKL, check_model_source(config.vae, config.allow_pickle, "vae"), None, config)
               if config.vae else load_part(AutoencoderKL, src, "vae", config))
        noise_scheduler, pred = prediction.training_scheduler(load_part(DDPMScheduler, src, "scheduler", config),
                                                              config, where=f"{src}/scheduler/scheduler_config.json")
        m = Models(None, vae, [text_encoder], [tokenizer], noise_scheduler, src, device=device,
                   extra={"prediction": pred})
        return self.place_parts(m, config, device, dtype)

    def load_denoiser(self, m: Models, config: Config, device, dtype) -> None:
        from diffusers import UNet2DConditionModel

        if "single_file_unet" in m.extra:  # already read with the rest of a single-file checkpoint
            m.denoiser = freeze(m.extra.pop("single_file_unet"), device, dtype)
            if config.quantization != "none":  # quantised in place, on the device it now lives on
                quantize_linears(m.denoiser, config.quantization, dtype)
            return
        m.denoiser = self._load_denoiser_part(UNet2DConditionModel, m.model_id, "unet", config, device, dtype)

    def _load_single_file(self, path: str, config: Config, device, dtype) -> Models:
        """A single .safetensors checkpoint (as shared on model sites), via diffusers' converter."""
        from diffusers import StableDiffusionPipeline

        pipe = self.from_single_file(StableDiffusionPipeline, path, safety_checker=None)
        sched, pred = prediction.training_scheduler(pipe.scheduler, config, prediction.file_markers(path),
                                                    where=Path(path).name)
        m = Models(None, pipe.vae, [pipe.text_encoder], [pipe.tokenizer], sched, path, device=device,
                   extra={"single_file_unet": pipe.unet, "prediction": pred})
        freeze(pipe.text_encoder, self.text_encoder_device(config, device, config.train_text_encoder), dtype)
        return self.place_parts(m, config, device, dtype)

    # --- per-step pieces --------------------------------------------------------------------
    def encode_prompts(self, m: Models, captions: list[str], clip_skip: int = 1) -> dict:
        tok, te = m.tokenizers[0], m.text_encoders[0]
        ids = tok(captions, padding="max_length", max_length=tok.model_max_length, truncation=True,
                  return_tensors="pt").input_ids
        with m.running(te):
            ids = ids.to(m.device)
            if clip_skip > 1:
                # kohya/A1111 "clip skip": the n-th hidden state from the end, through the final layer norm
                out = te(ids, output_hidden_states=True)
                inner = getattr(te, "module", te)            # unwrap DDP
                inner = getattr(inner, "text_model", inner)  # transformers 4 nests the layers in text_model
                h = inner.final_layer_norm(out.hidden_states[-clip_skip])
            else:
                h = te(ids)[0]
        return {"encoder_hidden_states": h}

    def noisy_inputs(self, m: Models, latents, noise, generator, config: Config, levels=None):
        return ddpm.noisy_inputs(m.noise_scheduler, latents, noise, generator, config.min_snr_gamma, levels)

    def predict(self, m: Models, noisy, timesteps, cond: dict, batch: dict) -> torch.Tensor:
        return m.denoiser(noisy, timesteps, encoder_hidden_states=cond["encoder_hidden_states"]).sample

    def pipeline(self, m: Models, unet=None):
        """A StableDiffusionPipeline sharing the training modules (for validation images)."""
        from diffusers import DPMSolverMultistepScheduler, StableDiffusionPipeline

        return StableDiffusionPipeline(
            vae=m.vae, text_encoder=m.text_encoders[0] if m.text_encoders else None, tokenizer=m.tokenizers[0],
            unet=unet or m.denoiser,
            scheduler=prediction.sampler(DPMSolverMultistepScheduler, m.noise_scheduler.config),
            safety_checker=None, feature_extractor=None, requires_safety_checker=False)

    def prompt_kwargs(self, cond: dict, negative: dict) -> dict:
        """Pipeline arguments for precomputed embeddings (prompt and the empty negative prompt for CFG)."""
        return {"prompt_embeds": cond["encoder_hidden_states"],
                "negative_prompt_embeds": negative["encoder_hidden_states"]}


FAMILY = SD15()
