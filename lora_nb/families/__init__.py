"""Model families: everything that differs between SD1.5, SDXL and Flux, behind one small interface.

The training loop calls only these methods, so a new family is a new module here, named as its key
in `facts.FACTS`, not a new `if` in the loop:

    load_parts(config, device, dtype) -> Models    frozen VAE, text encoders, tokenizers, scheduler
    load_denoiser(models, config, device, dtype)   the UNet/transformer (quantised if asked), loaded
                                                   after the caches so T5 and the denoiser never
                                                   share the GPU; load() does both
    encode_prompts(models, captions, clip_skip) -> dict          text conditioning for a batch
    encode_pixels(models, pixels) -> latents       VAE encode (scaled/shifted as the family expects)
    noisy_inputs(models, latents, noise, generator, config, levels=None) -> (noisy, timesteps, target, weights)
                                                   levels in [0, 1) fix the noise levels (validation loss)
    predict(models, noisy, timesteps, cond, batch) -> prediction  (same shape as the target)
    pipeline(models, unet) / prompt_kwargs(cond, negative)        validation images from embeddings
    lora_targets(denoiser, config) / conv_targets(denoiser)       exact module names for adapters
    problems(config) -> list[str]                  family-specific settings that cannot work

`base.Family` holds the shared parts; `sd15`, `sdxl` and `flux` fill in the rest.
"""

from __future__ import annotations

import importlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from . import adapters, blocks, prediction, quantize
from .facts import FACTS, facts
from .textcache import problems as cache_problems


def sample_guidance(config) -> float:
    """The validation CFG scale: the config's, or the family's usual value when it is 0."""
    return config.sample_guidance_scale or facts(config.family).sample_cfg


@dataclass
class Models:
    """The loaded parts of a base model. `denoiser` is the UNet or transformer that gets the LoRA.

    `device` is where the parts run. Parts listed in `offloaded` wait in CPU RAM and visit `device`
    only inside `running(...)` (cpu_offload, or the VAE after its latents are cached).
    `text_cache` holds precomputed text-encoder outputs once the encoders are freed.
    """

    denoiser: Any
    vae: Any
    text_encoders: list
    tokenizers: list
    noise_scheduler: Any
    model_id: str
    extra: dict = field(default_factory=dict)
    device: Any = None
    offloaded: list = field(default_factory=list)
    text_cache: Any = None

    def offload(self, *parts) -> None:
        """Keep `parts` in CPU RAM between uses (they move to `device` inside `running`)."""
        import torch

        for p in parts:
            if p is not None and not any(p is o for o in self.offloaded):
                p.to("cpu")
                self.offloaded.append(p)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    @contextmanager
    def running(self, *parts):
        """Move offloaded `parts` to the device for the block, and back to CPU after it."""
        moved = [p for p in parts if p is not None and any(p is o for o in self.offloaded)]
        for p in moved:
            p.to(self.device)
        try:
            yield
        finally:
            for p in moved:
                p.to("cpu")


def get_family(name: str):
    """The family object for `name` ('sd15', 'sdxl', 'flux'), with a clear error for unknown ones."""
    facts(name)  # the what -> fix error for an unknown name
    mod = importlib.import_module(f".{name}", __name__)  # the family's module has its name
    return mod.FAMILY


def available_families() -> list[str]:
    return list(FACTS)


def check_config(config) -> None:
    """Every setting combination the family, adapter, quantisation and caching cannot run, in one
    ConfigError (before anything is loaded)."""
    family = get_family(config.family)
    probs = family.problems(config) + adapters.problems(config, family) + quantize.problems(config)
    probs += blocks.problems(config, family.facts)
    probs += cache_problems(config) + prediction.problems(config)
    if probs:
        raise ConfigError("invalid config: " + "; ".join(probs))
