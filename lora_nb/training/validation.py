"""Validation loss: the training objective measured on held-out images at every checkpoint.

The per-step training loss is too noisy to show overtraining (every step draws another timestep and
noise). Here each image gets a FIXED noise tensor and FIXED noise levels (EVAL_LEVELS per image, one in
each equal slice of the schedule, seeded from (seed, image)), identical at every evaluation, so the
curve moves only because the weights move (sd-scripts' validation loss and SimpleTuner's eval loss fix
timesteps and noise the same way). The same measurement on as many fixed TRAINING images shows the gap
that opens when the LoRA memorises its training set; the held-out curve falling then rising is the
U-curve of overtraining (`lora_nb.evaluate.lossplot.val_curve`).

Evaluation is in eval mode, without gradients, and draws nothing from the global RNG or the training
generators, so turning it on changes neither the trained weights nor a resumed run. Each checkpoint
step (and step 0 of a fresh run) logs one line to the run log:

    {"event": "val_loss", "step": N, "val_loss": float, "train_eval_loss": float, "n": held_out_count}
"""

from __future__ import annotations

import random
from contextlib import nullcontext
from dataclasses import dataclass

import torch

from ..config import Config
from ..families import Models
from .data import DatasetScan, LatentCache, Sample
from .holdout import train_eval_indices
from .noise import make_noise
from .runlog import RunLog

EVAL_LEVELS = 4  # noise levels per image: one in each quarter of the schedule


@dataclass
class EvalItem:
    """One image as measured: its latent repeated once per noise level, with that level's fixed noise."""

    latents: torch.Tensor  # [EVAL_LEVELS, C, h, w], CPU
    noise: torch.Tensor    # [EVAL_LEVELS, C, h, w], CPU
    levels: torch.Tensor   # [EVAL_LEVELS] in [0, 1)
    batch: dict            # captions and SDXL size conditioning, as the trainer's make_batch gives them


class ValidationLoss:
    """The held-out and training-subset items of a run, measured with `evaluate(step, log)`."""

    def __init__(self, family, models: Models, config: Config, held: list[EvalItem], train: list[EvalItem]):
        self.family, self.models, self.config = family, models, config
        self.held, self.train = held, train

    @classmethod
    def build(cls, family, models: Models, scan: DatasetScan, cache: LatentCache,
              config: Config) -> ValidationLoss | None:
        """None when nothing is held out. Latents come from the run's latent cache (encoded now on a miss)."""
        if not scan.held_out:
            return None
        picks = train_eval_indices(len(scan.samples), len(scan.held_out), config.seed)

        def items(samples: list[Sample], kind: str) -> list[EvalItem]:
            return [make_item(family, models, s, cache, config, f"{config.seed}-val-{kind}-{i}")
                    for i, s in enumerate(samples)]

        return cls(family, models, config, items(scan.held_out, "held"),
                   items([scan.samples[i] for i in picks], "train"))

    @torch.no_grad()
    def measure(self, items: list[EvalItem], accelerator=None) -> float:
        """Mean loss over the items and their fixed noise levels."""
        den = self.models.denoiser
        parts = [den] + list(self.models.text_encoders if self.config.train_text_encoder else [])
        modes = [p.training for p in parts]
        for p in parts:
            p.eval()  # no LoRA dropout: the same weights give the same number
        try:
            losses = [self._item_loss(it, accelerator) for it in items]
        finally:
            for p, mode in zip(parts, modes):
                p.train(mode)
        return float(sum(losses) / len(losses))

    def _item_loss(self, it: EvalItem, accelerator) -> float:
        from .trainer import conditioning  # the trainer imports this module

        m, device = self.models, self.models.device
        latents = it.latents.to(device)
        noise = it.noise.to(device=device, dtype=latents.dtype)
        # a generator of its own: nothing here may draw from the global RNG (the levels fix the timesteps)
        unused = torch.Generator().manual_seed(0)
        with accelerator.autocast() if accelerator is not None else nullcontext():
            noisy, t, target, weights = self.family.noisy_inputs(m, latents, noise, unused, self.config,
                                                                 levels=it.levels.to(device))
            cond = conditioning(self.family, m, it.batch["captions"], self.config)
            pred = self.family.predict(m, noisy, t, cond, {**it.batch, "latents": latents})
        loss = torch.nn.functional.mse_loss(pred.float(), target.float(), reduction="none").mean(dim=(1, 2, 3))
        if weights is not None:
            loss = loss * weights
        return loss.mean().item()

    def evaluate(self, step: int, log: RunLog, accelerator=None) -> dict:
        """Measure both sets now and log the `val_loss` event; returns the logged record."""
        rec = {"event": "val_loss", "step": step, "val_loss": self.measure(self.held, accelerator),
               "train_eval_loss": self.measure(self.train, accelerator), "n": len(self.held)}
        log.write(rec)
        return rec


def make_item(family, models: Models, s: Sample, cache: LatentCache, config: Config, key: str) -> EvalItem:
    """The image's latent (centre crop, no flip, as cached for training), its raw caption (no dropout or
    shuffle), and noise and levels from a generator seeded by `key` alone."""
    from .trainer import center_crop  # the trainer imports this module

    lat = cache.get(s, False, lambda px: family.encode_pixels(models, px)).float().cpu()
    gen = torch.Generator().manual_seed(random.Random(key).getrandbits(63))
    lats = lat.unsqueeze(0).repeat(EVAL_LEVELS, 1, 1, 1)
    noise = make_noise(lats, gen, config.noise_offset, config.multires_noise_iterations,
                       config.multires_noise_discount)
    levels = (torch.arange(EVAL_LEVELS) + torch.rand(EVAL_LEVELS, generator=gen)) / EVAL_LEVELS
    batch = {"captions": [s.caption] * EVAL_LEVELS, "original_sizes": [s.size[::-1]] * EVAL_LEVELS,
             "crop_top_lefts": [center_crop(s)] * EVAL_LEVELS, "target_size": s.bucket[::-1]}
    return EvalItem(lats, noise, levels, batch)


def validate(validator: ValidationLoss | None, step: int, log: RunLog, accelerator, callbacks) -> dict | None:
    """The trainer's one call: evaluate when validation is on and tell the callbacks (`on_validation`)."""
    if validator is None:
        return None
    rec = validator.evaluate(step, log, accelerator)
    for cb in callbacks:
        hook = getattr(cb, "on_validation", None)  # callbacks written before the hook existed lack it
        if hook is not None:
            hook(step, rec)
    return rec

