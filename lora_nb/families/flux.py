"""FLUX.1 dev and schnell (Black Forest Labs 2024): a 12B rectified-flow transformer (MM-DiT blocks
then single-stream blocks) on 2x2-packed 16-channel latents, conditioned on T5-XXL tokens and
CLIP-L's pooled embedding; dev also takes the guidance scale as an input (guidance distillation).

Training is flow matching (Lipman et al. 2023; Esser et al. 2024): for a noise level t in (0, 1)
the input is x_t = (1 - t) x0 + t noise and the model predicts the velocity noise - x0. Noise
levels are drawn logit-normal ("sigmoid"), optionally shifted towards noise (`timestep_sampling`).

T5-XXL is ~10 GB in bf16 and is never trained: captions are encoded once before the transformer
is loaded and the encoders are freed (`cache_text_embeddings`), which with an NF4 transformer is
what fits Flux-dev into 12-16 GB. Adapters go on the attention projections of both streams (an
attention name such as to_q covers its text-stream twin add_q_proj) and, with `train_mlp`, on the
feed-forward layers. Files: diffusers `transformer.*` keys (FluxPipeline.load_lora_weights) and
kohya's `lora_unet_*` keys with Black Forest Labs' module names, q/k/v fused as in BFL's checkpoint
(`flux_names`; ComfyUI, Forge and FluxPipeline.load_lora_weights load them). LoKr is refused: its
Kronecker factors of separate q/k/v layers cannot be written as one fused layer.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from ..config import Config
from ..env import hf_token
from ..errors import ModelLoadError
from . import Models
from .base import Family, adapter_layers
from .flux_names import bfl_name, fused_groups
from .loading import check_model_source, load_part

# An attention projection named in target_modules also targets its text-stream twin (double blocks).
TWINS = {"to_q": "add_q_proj", "to_k": "add_k_proj", "to_v": "add_v_proj", "to_out.0": "to_add_out"}
# train_mlp: feed-forward layers of the double blocks (image and text stream) and of the single blocks,
# whose proj_out mixes attention and MLP outputs (SimpleTuner's "all+ffs"; the attention set is its "all").
MLP_TARGETS = ["ff.net.0.proj", "ff.net.2", "ff_context.net.0.proj", "ff_context.net.2", "proj_mlp", "proj_out"]
BLOCKS = ("transformer_blocks.", "single_transformer_blocks.")


class Flux(Family):
    name = "flux"
    has_conv_layers = False

    def problems(self, config: Config) -> list[str]:
        out = []
        if config.min_snr_gamma:
            out.append("min_snr_gamma: Min-SNR weights the DDPM loss; Flux trains with flow matching -> set "
                       "min_snr_gamma = 0 (timestep_sampling shapes the noise levels instead)")
        if config.clip_skip != 1:
            out.append("clip_skip: Flux reads only CLIP's pooled output (and T5), so clip_skip changes nothing -> "
                       "set clip_skip = 1")
        if config.network_type == "lokr":
            out.append("network_type: LoKr's Kronecker factors of Flux's separate q/k/v layers cannot be written as "
                       "the fused qkv/linear1 layers ComfyUI and Forge load, and diffusers ignores a LoKr Flux file "
                       "without a word -> use network_type 'lora', 'dora' or 'loha'")
        return out

    def kohya_metadata(self, config: Config) -> dict:
        """flux_train_network.py's `update_metadata` keys, with what this trainer really does: no T5 attention
        mask, equal loss weights, the model's output taken as the velocity as is ("raw"). logit_mean/std and
        mode_scale are kohya's defaults; kohya reads them only for timestep_sampling 'sigma', which is not offered."""
        return {"ss_model_type": "flux", "ss_apply_t5_attn_mask": False, "ss_weighting_scheme": "uniform",
                "ss_logit_mean": 0.0, "ss_logit_std": 1.0, "ss_mode_scale": 1.29,
                "ss_guidance_scale": config.guidance_scale, "ss_timestep_sampling": config.timestep_sampling,
                "ss_sigmoid_scale": config.sigmoid_scale, "ss_model_prediction_type": "raw",
                "ss_discrete_flow_shift": config.flow_shift}

    # --- loading ------------------------------------------------------------------------------
    def load_parts(self, config: Config, device, dtype) -> Models:
        from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler
        from transformers import CLIPTextModel, CLIPTokenizer, T5EncoderModel, T5TokenizerFast

        src = self.model_source(config)
        if Path(src).is_file():
            raise ModelLoadError(f"pretrained_model: {src} is a single file; Flux needs the diffusers folder "
                                 f"(transformer/, text_encoder_2/, ...) -> use black-forest-labs/FLUX.1-dev or a "
                                 f"local copy of it")
        toks = [load_part(CLIPTokenizer, src, "tokenizer", config),
                load_part(T5TokenizerFast, src, "tokenizer_2", config)]
        tes = [self.load_text_encoder(CLIPTextModel, src, "text_encoder", config, device, dtype),
               self.load_text_encoder(T5EncoderModel, src, "text_encoder_2", config, device, dtype, trained=False)]
        vae = (load_part(AutoencoderKL, check_model_source(config.vae, config.allow_pickle, "vae"), None, config)
               if config.vae else load_part(AutoencoderKL, src, "vae", config))
        sched = load_part(FlowMatchEulerDiscreteScheduler, src, "scheduler", config)
        m = Models(None, vae, tes, toks, sched, src, device=device, extra=self._settings(src, config))
        return self.place_parts(m, config, device, dtype)

    def load_denoiser(self, m: Models, config: Config, device, dtype) -> None:
        from diffusers import FluxTransformer2DModel

        m.denoiser = self._load_denoiser_part(FluxTransformer2DModel, m.model_id, "transformer", config, device,
                                              dtype)

    def architecture(self, m: Models) -> str:
        # from the loaded transformer's config, not the repository's name: schnell has no guidance embedding
        return "flux-1-dev" if m.extra["guidance_embeds"] else "flux-1-schnell"  # ModelSpec ids (kohya)

    # --- conditioning -------------------------------------------------------------------------
    @staticmethod
    def _settings(src: str, config: Config) -> dict:
        """What the per-step methods need: dev or schnell (read from the transformer's config before it
        loads), T5 length (512 dev, 256 schnell, as FluxPipeline's docs use) and the training guidance."""
        from diffusers import FluxTransformer2DModel

        try:
            kw = {"revision": config.revision} if config.revision else {}
            if hf_token() and not Path(src).exists():
                kw["token"] = hf_token()
            dev = bool(FluxTransformer2DModel.load_config(src, subfolder="transformer", **kw).get("guidance_embeds"))
        except (OSError, ValueError):  # reported properly when the transformer itself loads
            dev = True
        return {"guidance_embeds": dev, "guidance_scale": config.guidance_scale,
                "t5_len": config.t5_max_length or (512 if dev else 256)}

    def encode_prompts(self, m: Models, captions: list[str], clip_skip: int = 1) -> dict:
        """CLIP-L's pooled embedding and T5's token embeddings, as FluxPipeline.encode_prompt makes them."""
        clip_tok, t5_tok = m.tokenizers
        clip, t5 = m.text_encoders[0], m.text_encoders[1]
        ids = clip_tok(captions, padding="max_length", max_length=clip_tok.model_max_length, truncation=True,
                       return_tensors="pt").input_ids
        with m.running(clip):
            pooled = clip(ids.to(m.device), output_hidden_states=False).pooler_output
        ids = t5_tok(captions, padding="max_length", max_length=m.extra["t5_len"], truncation=True,
                     return_tensors="pt").input_ids
        with m.running(t5), torch.no_grad():
            hidden = t5(ids.to(m.device), output_hidden_states=False)[0]
        return {"encoder_hidden_states": hidden, "pooled_projections": pooled}

    # --- flow matching ------------------------------------------------------------------------
    def sample_sigmas(self, b: int, generator: torch.Generator, config: Config, seq_len: int,
                      scheduler_config) -> torch.Tensor:
        """Noise levels t in (0, 1) for a batch, as `config.timestep_sampling` says."""
        if config.timestep_sampling == "uniform":
            t = torch.rand(b, generator=generator)
        else:  # logit-normal (SD3 §3.1 "lognorm(0, s)"), the basis of sigmoid/shift/flux_shift
            t = torch.sigmoid(config.sigmoid_scale * torch.randn(b, generator=generator))
        if config.timestep_sampling == "shift":
            s = config.flow_shift
            t = s * t / (1 + (s - 1) * t)
        elif config.timestep_sampling == "flux_shift":
            # the resolution-dependent shift Flux samples with (FluxPipeline calculate_shift: mu is linear in
            # the number of image tokens between base_image_seq_len and max_image_seq_len)
            c = scheduler_config
            base_len, max_len = c.get("base_image_seq_len", 256), c.get("max_image_seq_len", 4096)
            base_s, max_s = c.get("base_shift", 0.5), c.get("max_shift", 1.15)
            mu = base_s + (max_s - base_s) * (seq_len - base_len) / (max_len - base_len)
            t = math.exp(mu) / (math.exp(mu) + (1 / t - 1))
        return t.clamp(1e-5, 1 - 1e-5)

    def noisy_inputs(self, m: Models, latents, noise, generator, config: Config, levels=None):
        b, _, h, w = latents.shape
        if levels is None:
            t = self.sample_sigmas(b, generator, config, (h // 2) * (w // 2), m.noise_scheduler.config)
        else:  # fixed noise levels (validation loss): the sigma itself
            t = levels.clamp(1e-5, 1 - 1e-5)
        t = t.to(latents.device)
        tt = t.view(-1, 1, 1, 1)
        noisy = (1 - tt) * latents + tt * noise       # rectified flow: straight path from data to noise
        target = noise - latents                       # its velocity
        return noisy, t, target, None

    def predict(self, m: Models, noisy, timesteps, cond: dict, batch: dict) -> torch.Tensor:
        from diffusers import FluxPipeline

        b, c, h, w = noisy.shape
        den = m.denoiser
        inner = getattr(den, "module", den)  # DDP
        dtype = noisy.dtype
        packed = FluxPipeline._pack_latents(noisy, b, c, h, w)
        img_ids = FluxPipeline._prepare_latent_image_ids(b, h // 2, w // 2, noisy.device, dtype)
        txt_ids = torch.zeros(cond["encoder_hidden_states"].shape[1], 3, device=noisy.device, dtype=dtype)
        guidance = None
        if inner.config.guidance_embeds:  # dev: the guidance value is an input (kohya trains with 1.0)
            guidance = torch.full((b,), m.extra["guidance_scale"], device=noisy.device, dtype=torch.float32)
        out = den(hidden_states=packed, timestep=timesteps.to(packed.dtype), guidance=guidance,
                  pooled_projections=cond["pooled_projections"], encoder_hidden_states=cond["encoder_hidden_states"],
                  txt_ids=txt_ids, img_ids=img_ids, return_dict=False)[0]
        vae_scale = 2 ** (len(m.vae.config.block_out_channels) - 1)
        return FluxPipeline._unpack_latents(out, h * vae_scale, w * vae_scale, vae_scale)

    # --- validation images ----------------------------------------------------------------------
    def pipeline(self, m: Models, unet=None):
        from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline

        tes = list(m.text_encoders) + [None] * (2 - len(m.text_encoders))
        return FluxPipeline(scheduler=FlowMatchEulerDiscreteScheduler.from_config(m.noise_scheduler.config),
                            vae=m.vae, text_encoder=tes[0], tokenizer=m.tokenizers[0], text_encoder_2=tes[1],
                            tokenizer_2=m.tokenizers[1], transformer=unet or m.denoiser)

    def prompt_kwargs(self, cond: dict, negative: dict) -> dict:
        # dev is guidance-distilled (no CFG pass); schnell ignores guidance_scale
        return {"prompt_embeds": cond["encoder_hidden_states"], "pooled_prompt_embeds": cond["pooled_projections"]}

    # --- adapters -------------------------------------------------------------------------------
    def lora_targets(self, denoiser, config: Config) -> list[str]:
        names = list(config.target_modules)
        names += [TWINS[n] for n in config.target_modules if n in TWINS and TWINS[n] not in names]
        if config.train_mlp:
            names += [n for n in MLP_TARGETS if n not in names]
        # only inside the blocks: the embedders and the final proj_out stay as trained
        return [n for n in adapter_layers(denoiser, names) if n.startswith(BLOCKS)]

    def conv_targets(self, denoiser) -> list[str]:
        return []

    def kohya_name_map(self, component: str, module):
        return bfl_name if component == self.facts.denoiser else None

    def kohya_fused(self, component: str):
        return fused_groups if component == self.facts.denoiser else None


FAMILY = Flux()
