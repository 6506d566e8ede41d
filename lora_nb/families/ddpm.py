"""The denoising-diffusion (DDPM) objective shared by SD1.5 and SDXL (Ho et al. 2020)."""

from __future__ import annotations

import torch


def noisy_inputs(scheduler, latents, noise, generator, min_snr_gamma: float = 0.0, levels=None):
    """Sample timesteps, noise the latents, and return the target (epsilon or v) and loss weights.
    `levels` (one per sample, in [0, 1)) fixes the timesteps instead: t = level x num_train_timesteps.

    Min-SNR weighting (Hang et al. 2023, "Efficient Diffusion Training via Min-SNR Weighting")
    caps the weight of easy low-noise timesteps at gamma. The scheduler decides the target: its
    `prediction_type` and, for zero terminal SNR, its rescaled betas (see `prediction`).
    """
    b = latents.shape[0]
    n_t = scheduler.config.num_train_timesteps
    if levels is None:
        t = torch.randint(0, n_t, (b,), generator=generator).to(latents.device)
    else:
        t = (levels * n_t).long().clamp(0, n_t - 1).to(latents.device)
    noisy = scheduler.add_noise(latents, noise, t)
    pred_type = scheduler.config.prediction_type
    if pred_type == "epsilon":
        target = noise
    elif pred_type == "v_prediction":
        target = scheduler.get_velocity(latents, noise, t)
    else:
        raise ValueError(f"unsupported prediction_type {pred_type!r}")
    weights = None
    if min_snr_gamma:
        from diffusers.training_utils import compute_snr

        snr = compute_snr(scheduler, t)
        w = torch.clamp(snr, max=min_snr_gamma)
        if pred_type == "epsilon":  # min(snr, gamma) / snr -> 1 as snr -> 0 (zero terminal SNR's last step)
            weights = torch.where(snr > 0, w / snr.clamp(min=1e-12), torch.ones_like(snr))
        else:
            weights = w / (snr + 1)
    return noisy, t, target, weights
