"""Model families: everything that differs between SD1.5, SDXL and Flux, behind one small interface.

The training loop calls only these methods, so a new family is a new module here, not a new
`if` in the loop:

    load(config, device, dtype)       -> Models        the frozen parts + the denoiser
    encode_prompts(models, captions)  -> dict          text conditioning for a batch
    encode_pixels(models, pixels)     -> latents       VAE encode (scaled as the family expects)
    noisy_inputs(models, latents, noise, batch, generator) -> (noisy, timesteps, target, weights)
    predict(models, noisy, timesteps, cond, batch) -> prediction
    pipeline(models)                  -> a diffusers pipeline for validation images
    lora_targets / text_lora_targets / export_targets(...)
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

_FAMILY_MODULES = {"sd15": "sd15"}


@dataclass
class Models:
    """The loaded parts of a base model. `denoiser` is the UNet or transformer that gets the LoRA."""

    denoiser: Any
    vae: Any
    text_encoders: list
    tokenizers: list
    noise_scheduler: Any
    model_id: str
    extra: dict = field(default_factory=dict)


def get_family(name: str):
    """The family object for `name` ('sd15', ...), with a clear error for families not available yet."""
    from ..errors import ConfigError

    if name not in _FAMILY_MODULES:
        raise ConfigError(f"family: {name!r} is not supported in this version -> use one of "
                          f"{', '.join(_FAMILY_MODULES)}")
    mod = importlib.import_module(f".{_FAMILY_MODULES[name]}", __name__)
    return mod.FAMILY


def available_families() -> list[str]:
    return list(_FAMILY_MODULES)
