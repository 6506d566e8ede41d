"""Noise for the diffusion loss: plain Gaussian plus the two tweaks the tutorials teach (LoRA explainer).

- Noise offset (Guttenberg 2023, "Diffusion with Offset Noise"): a per-channel constant added to the
  noise lets the model learn very dark or bright images.
- Multi-resolution ("pyramid") noise (Whitaker 2023): upsampled low-resolution noise at decreasing
  strength; the LoRA explainer suggests 6-10 iterations with discount 0.3-0.8.
All randomness comes from the given generator, so a resumed run reproduces the same noise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def make_noise(latents: torch.Tensor, generator: torch.Generator, noise_offset: float = 0.0,
               multires_iterations: int = 0, multires_discount: float = 0.3) -> torch.Tensor:
    b, c, h, w = latents.shape
    noise = torch.randn((b, c, h, w), generator=generator)
    if noise_offset:
        noise = noise + noise_offset * torch.randn((b, c, 1, 1), generator=generator)
    if multires_iterations:
        for i in range(multires_iterations):
            r = 2 ** (i + 1)  # kohya: random scale in [2, 4) ** i; a fixed halving keeps it simple
            hh, ww = max(1, h // r), max(1, w // r)
            low = torch.randn((b, c, hh, ww), generator=generator)
            noise = noise + F.interpolate(low, size=(h, w), mode="bilinear") * multires_discount ** (i + 1)
            if hh == 1 and ww == 1:
                break
        noise = noise / noise.std()  # back to unit variance
    return noise.to(device=latents.device, dtype=latents.dtype)
