"""The one `Config` dataclass: every training parameter, its default, help text and allowed values.

Widgets, TOML/JSON files, CLI flags and the trainer all read and write this class, so a value
means the same thing everywhere. Each field carries `metadata` in the style of peft's config
classes: ``help`` (also the widget tooltip and the ``--help`` text), ``group`` (widget tab /
TOML section), and optionally ``choices``, ``min``, ``max``.
"""

from __future__ import annotations

import dataclasses
import json
import os

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, as a package
    import tomli as tomllib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .blockweights import notation_problems as block_weight_problems
from .errors import ConfigError, DatasetError
from .fileio import file_name_problems
from .fscheck import file_problem
from .options import coerce, field_info, field_problems, unknown_fields
from .options import option as _f
from .textio import CAPTION_EXT, decode_text

GROUPS = ("model", "dataset", "network", "optimizer", "schedule", "training", "saving", "sampling")

FAMILIES = ("sd15", "sdxl", "flux")  # the keys of families.facts.FACTS (tests/test_families.py checks)
OPTIMIZERS = ("adamw", "adamw8bit", "lion", "prodigy", "adafactor", "dadaptation")
# estimate one step size for all parameter groups and stop at the first step when group lrs differ
ADAPTIVE_OPTIMIZERS = ("prodigy", "dadaptation")
SCHEDULERS = ("constant", "constant_with_warmup", "cosine", "cosine_with_restarts", "linear", "polynomial")
PRECISIONS = ("auto", "no", "fp16", "bf16")
NETWORK_TYPES = ("lora", "locon", "loha", "lokr", "dora")
QUANTIZATIONS = ("none", "nf4", "int8")
GPU_PRESETS = ("auto", "none", "12GB", "16GB", "24GB", "40GB")
TIMESTEP_SAMPLINGS = ("sigmoid", "uniform", "shift", "flux_shift")
AUTO_YES_NO = ("auto", "yes", "no")  # read from the base model, or overridden


@dataclass
class Config:
    # --- model -------------------------------------------------------------------------------
    family: str = _f("sd15", "Model family of the base model: sd15 (Stable Diffusion 1.5), sdxl or flux.",
                     "model", choices=FAMILIES)
    pretrained_model: str = _f(
        "stable-diffusion-v1-5/stable-diffusion-v1-5",
        "Base model: a Hugging Face repo id or a local folder in diffusers layout "
        "(model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/).", "model")
    revision: str = _f("", "Hub revision (branch, tag or commit) of the base model; empty for the default.", "model")
    vae: str = _f("", "Optional separate VAE (repo id or folder), e.g. an fp16-safe VAE; empty uses the base model's.",
                  "model")
    allow_pickle: bool = _f(False, "Allow loading pickle weights (.ckpt/.pt/.bin). Pickle files can run code when "
                                   "loaded; only enable for files you trust.", "model")
    quantization: str = _f("none", "Load the frozen UNet/transformer quantised with bitsandbytes (QLoRA, Dettmers et "
                                   "al. 2023): nf4 (4-bit, ~3.5x smaller; Flux-dev fits 12-16 GB) or int8; the LoRA "
                                   "trains in full precision on top. none keeps 16-bit weights.", "model",
                           choices=QUANTIZATIONS)
    vae_dtype: str = _f("auto", "Precision of the VAE. auto: fp32 when the VAE asks for it (SDXL's VAE gives black "
                                "images/NaN in fp16), else the training precision; an fp16-safe VAE such as "
                                "madebyollin/sdxl-vae-fp16-fix (set vae) runs in fp16.", "model",
                        choices=("auto", "fp32", "fp16", "bf16"))
    v_parameterization: str = _f("auto", "SD1.5/SDXL: train the v objective (v-prediction; kohya "
                                         "v_parameterization). auto: as the base model says (scheduler_config.json "
                                         "prediction_type, or the v_pred key of a single .safetensors file such as "
                                         "NoobAI-XL v-pred); yes/no override it.", "model", choices=AUTO_YES_NO)
    zero_terminal_snr: str = _f("auto", "SD1.5/SDXL: noise schedule rescaled to zero terminal SNR (Lin et al. "
                                        "2023; kohya zero_terminal_snr; needs v-prediction). auto: as the base model "
                                        "says (rescale_betas_zero_snr, or a single file's ztsnr key); yes/no "
                                        "override it.", "model", choices=AUTO_YES_NO)

    # --- dataset -----------------------------------------------------------------------------
    train_data_dir: str = _f("", "Folder of training images with .txt captions, or of kohya concept folders "
                                 "named N_name (N = repeats).", "dataset")
    reg_data_dir: str = _f("", "Optional folder of regularization (class) images in N_class folders; captions hold "
                               "the class words only (no trigger), a missing .txt means the folder's class. kohya "
                               "balances them to as many samples per epoch as the training images, so an epoch "
                               "has twice the steps. Empty: none.",
                           "dataset")
    resolution: int = _f(512, "Training resolution: the longest bucket side (SD1.5 512, SDXL/Flux 1024). "
                              "Must be a multiple of 64.", "dataset", min=64, max=4096)
    enable_bucket: bool = _f(True, "Aspect-ratio buckets: keep each image's shape instead of cropping to a square.",
                             "dataset")
    min_bucket_reso: int = _f(256, "Smallest bucket side in pixels (multiple of 64).", "dataset", min=64, max=4096)
    max_bucket_reso: int = _f(1024, "Largest bucket side in pixels (multiple of 64).", "dataset", min=64, max=8192)
    upscale_small: bool = _f(False, "Allow upscaling images smaller than their bucket. Off by default: small images "
                                    "are reported instead of silently blurred.", "dataset")
    random_crop: bool = _f(False, "Random instead of centre crop into the bucket. Off: the tutorials warn random "
                                  "cropping teaches distorted, cut-off subjects.", "dataset")
    flip_aug: bool = _f(False, "Random horizontal flips. Do not use for asymmetric subjects (text, logos, faces "
                               "with a parting).", "dataset")
    default_repeats: int = _f(1, "Repeats for images not inside an N_name concept folder.", "dataset", min=1,
                              max=10000)
    caption_extension: str = _f(CAPTION_EXT, "Extension of caption sidecar files.", "dataset")
    missing_caption: str = _f("warn_trigger", "What to do for an image without a caption file: error, "
                                              "warn_empty (train with an empty caption) or warn_trigger (caption = "
                                              "the trigger word).", "dataset",
                              choices=("error", "warn_empty", "warn_trigger"))
    trigger_word: str = _f("", "Trigger word or unique identifier put first in every caption that lacks it "
                               "(Flux LoRA guide: a 10-letter random id per concept).", "dataset")
    shuffle_caption: bool = _f(False, "Shuffle comma-separated tags each step, so tag order carries no weight "
                                      "(LoRA explainer: earlier tags weigh more).", "dataset")
    keep_tokens: int = _f(0, "Number of leading comma-separated tags kept fixed when shuffling (e.g. 1 keeps "
                             "the trigger first).", "dataset", min=0, max=75)
    caption_dropout_rate: float = _f(0.0, "Probability of training a step with an empty caption (helps "
                                          "unconditional generation).", "dataset", min=0.0, max=1.0)
    cache_latents: str = _f("memory", "Encode each image with the VAE once and keep the latents: memory, disk "
                                      "(next to the run, reused across runs) or none. Caching disables "
                                      "random_crop and flip_aug variety per step.", "dataset",
                            choices=("memory", "disk", "none"))
    cache_text_embeddings: str = _f("auto", "Encode every caption once before training and free the text encoders "
                                            "(Flux's T5 alone is ~10 GB). auto: whenever possible (text encoder not "
                                            "trained, captions not shuffled); yes: required (error if impossible); "
                                            "disk: required, kept in files next to the run instead of host RAM "
                                            "(large Flux sets; a resumed run skips encoding); no: encode every "
                                            "step.", "dataset", choices=("auto", "yes", "disk", "no"))

    validation_split: float = _f(0.0, "Hold out training images to measure a validation loss at every checkpoint "
                                      "(the curve falls, then rises when the LoRA starts to overtrain): a fraction "
                                      "(0.1 = a tenth, at least 1 image) or a whole count (3 = three images), drawn "
                                      "with the seed and removed from training, as sd-scripts' validation_split. "
                                      "Recommended 0.1 when you have 10+ images; 0 turns it off.", "dataset",
                                 min=0.0, max=100_000.0)
    validation_data_dir: str = _f("", "Folder of held-out images (same layout as train_data_dir) to measure the "
                                      "validation loss on instead of a validation_split; never trained on. Empty: "
                                      "none.", "dataset")

    # --- network -----------------------------------------------------------------------------
    network_type: str = _f("lora", "Adapter kind (Kohya practice guide §1.4). lora: attention layers "
                                   "(kohya 'standard'); locon: LoRA on the UNet's conv layers too; "
                                   "loha: Hadamard product (FedPara); lokr: Kronecker product; "
                                   "dora: weight-decomposed LoRA (Liu et al. 2024).", "network",
                           choices=NETWORK_TYPES)
    rank: int = _f(16, "LoRA rank (network dim): capacity and file size. Seeds: 8-32 anime/characters, 32-64 "
                       "people/objects, 64-128 complex styles and real scenes.", "network", min=1, max=1024)
    alpha: float = _f(8.0, "LoRA alpha; the update is scaled by alpha/rank. LoRA explainer: rank/2 by default; "
                           "lower alpha means smaller, slower-moving updates.", "network", min=0.0, max=4096.0)
    network_dropout: float = _f(0.0, "Dropout on the LoRA path during training.", "network", min=0.0, max=0.9)
    target_modules: list = _f(["to_q", "to_k", "to_v", "to_out.0"],
                              "Module names in the UNet/transformer that get a LoRA (attention projections).",
                              "network")
    train_text_encoder: bool = _f(False, "Also train a LoRA on the text encoder(s) (kohya lora_te_*).", "network")
    conv_rank: int = _f(0, "Rank on conv layers for locon/loha/lokr (kohya 'conv_dim'; "
                           "Kohya practice guide: LoCon <= 64, LoHa <= 32); 0 uses rank.", "network", min=0, max=1024)
    conv_alpha: float = _f(0.0, "Alpha on conv layers (Kohya practice guide: 1 or lower); 0 uses alpha.", "network",
                           min=0.0, max=4096.0)
    train_mlp: bool = _f(False, "Flux: also put the adapter on the MLP (feed-forward) layers, not only attention: "
                                "more capacity, larger file.", "network")
    down_lr_weight: str = _f("", "SD1.5/SDXL: learning-rate weight per UNet input block, shallow -> deep (kohya "
                                 "down_lr_weight): 12 numbers for SD1.5, 9 for SDXL, or a curve: cosine, sine, "
                                 "linear, reverse_linear, zeros (+0.25 lifts it). 0 leaves a block without LoRA; "
                                 "empty = all 1.", "network")
    mid_lr_weight: str = _f("", "SD1.5/SDXL: learning-rate weight of the UNet middle block (kohya mid_lr_weight): "
                                "1 number for SD1.5, 3 for SDXL; empty = 1.", "network")
    up_lr_weight: str = _f("", "SD1.5/SDXL: learning-rate weight per UNet output block, deep -> shallow (kohya "
                               "up_lr_weight): 12 numbers for SD1.5, 9 for SDXL, or a curve as down_lr_weight; "
                               "empty = all 1.", "network")

    # --- optimizer ---------------------------------------------------------------------------
    optimizer: str = _f("adamw8bit", "Optimizer. adamw8bit (LoRA explainer's recommendation) saves memory; lion needs "
                                     "~10x lower lr; prodigy/dadaptation adapt the lr themselves (set lr 1.0).",
                        "optimizer", choices=OPTIMIZERS)
    learning_rate: float = _f(1e-4, "Base learning rate (Flux LoRA guide: rank 16 -> 1e-4, rank 64 -> 8e-5).",
                              "optimizer", min=0.0, max=10.0)
    unet_lr: float = _f(0.0, "Learning rate for the UNet/transformer LoRA; 0 uses learning_rate.", "optimizer",
                        min=0.0, max=10.0)
    text_encoder_lr: float = _f(0.0, "Learning rate for the text-encoder LoRA; 0 uses learning_rate/2 "
                                     "(Kohya practice guide: 1/2 to 1/10 of the UNet lr), or the UNet lr with "
                                     "prodigy/dadaptation, which need one lr for all weights.", "optimizer",
                                min=0.0, max=10.0)
    weight_decay: float = _f(0.01, "Weight decay (decoupled, as in AdamW).", "optimizer", min=0.0, max=1.0)
    max_grad_norm: float = _f(1.0, "Clip gradients to this norm; 0 disables clipping.", "optimizer", min=0.0,
                              max=1000.0)

    # --- schedule ----------------------------------------------------------------------------
    lr_scheduler: str = _f("cosine", "Learning-rate schedule (diffusers get_scheduler). "
                                     "LoRA explainer: cosine by default; cosine_with_restarts with 3-5 cycles.",
                           "schedule", choices=SCHEDULERS)
    lr_warmup_steps: int = _f(0, "Warmup steps; overrides lr_warmup_ratio when > 0.", "schedule", min=0,
                              max=10_000_000)
    lr_warmup_ratio: float = _f(0.0, "Warmup as a fraction of total steps.", "schedule", min=0.0, max=1.0)
    lr_scheduler_num_cycles: int = _f(1, "Restarts for cosine_with_restarts (LoRA explainer: 3-5).", "schedule",
                                      min=1, max=100)
    lr_scheduler_power: float = _f(1.0, "Power of the polynomial schedule.", "schedule", min=0.0, max=10.0)

    # --- training ----------------------------------------------------------------------------
    max_train_epochs: int = _f(10, "Epochs (one epoch = every image x its repeats once). Used when "
                                   "max_train_steps is 0.", "training", min=0, max=100_000)
    max_train_steps: int = _f(0, "Total optimizer steps; 0 derives them from epochs.", "training", min=0,
                              max=10_000_000)
    train_batch_size: int = _f(1, "Images per step (Kohya practice guide: larger batches are faster "
                                  "but learn each image less precisely).", "training", min=1, max=256)
    gradient_accumulation_steps: int = _f(1, "Batches accumulated per optimizer step.", "training", min=1,
                                          max=1024)
    mixed_precision: str = _f("auto", "auto picks fp16 on T4/Turing, bf16 on Ampere and newer, no on CPU.",
                              "training", choices=PRECISIONS)
    gradient_checkpointing: bool = _f(False, "Recompute activations in the backward pass: less memory, ~30% "
                                             "slower.", "training")
    noise_offset: float = _f(0.0, "Noise offset (helps very dark/bright images); typical 0.05-0.1.",
                             "training", min=0.0, max=1.0)
    multires_noise_iterations: int = _f(0, "Multi-resolution (pyramid) noise iterations; LoRA explainer: 6-10.",
                                        "training", min=0, max=20)
    multires_noise_discount: float = _f(0.3, "Discount of multires noise; LoRA explainer: 0.3-0.8.", "training",
                                        min=0.0, max=1.0)
    min_snr_gamma: float = _f(0.0, "Min-SNR loss weighting gamma (Hang et al. 2023, typical 5); 0 disables.",
                              "training", min=0.0, max=100.0)
    prior_loss_weight: float = _f(1.0, "Loss weight of the regularization images (reg_data_dir) against the "
                                       "training images' 1.0 (kohya's prior_loss_weight).", "training", min=0.0,
                                  max=100.0)
    clip_skip: int = _f(1, "Use the text encoder's n-th layer from the end (1 = last; 2 is common for anime "
                           "models).", "training", min=1, max=12)
    timestep_sampling: str = _f("sigmoid", "Flux (flow matching): how training noise levels are drawn. sigmoid: "
                                           "logit-normal, most samples at mid noise (Esser et al. 2024); uniform; "
                                           "shift: sigmoid then shifted towards noise by flow_shift; flux_shift: "
                                           "the resolution-dependent shift Flux samples with.", "training",
                                choices=TIMESTEP_SAMPLINGS)
    sigmoid_scale: float = _f(1.0, "Flux: spread of the logit-normal timestep sampling (1.0 = SD3's default).",
                              "training", min=0.01, max=10.0)
    flow_shift: float = _f(3.0, "Flux: shift for timestep_sampling='shift' (kohya discrete_flow_shift; 3.0 as SD3, "
                                "~3.16 for Flux); higher trains more at high noise (composition).", "training",
                           min=0.1, max=20.0)
    guidance_scale: float = _f(1.0, "Flux-dev: the guidance value fed to its guidance embedding while training "
                                    "(kohya recommends 1.0); ignored by schnell and SD models.", "training",
                               min=0.0, max=30.0)
    t5_max_length: int = _f(0, "Flux: T5 tokens per caption; 0 = the model's default (512 dev, 256 schnell). "
                               "Shorter is faster; longer captions are cut.", "training", min=0, max=512)
    gpu_preset: str = _f("auto", "Memory preset for the GPU size (12GB, 16GB = Colab T4, 24GB, 40GB+): sets "
                                 "quantization, checkpointing, caches and 8-bit optimizer for the family. auto "
                                 "picks from the detected GPU; fields you changed from their defaults are kept; "
                                 "none turns presets off.", "training", choices=GPU_PRESETS)
    cpu_offload: bool = _f(False, "Keep the frozen VAE and text encoders in CPU RAM and move each to the GPU only "
                                  "while it runs (caching, validation images, or every step when not cached).",
                           "training")
    seed: int = _f(42, "Random seed for data order, noise and timesteps.", "training", min=0, max=2**32 - 1)

    # --- saving ------------------------------------------------------------------------------
    output_dir: str = _f("output", "Run folder for checkpoints, samples, logs and resume state.", "saving")
    output_name: str = _f("lora", "File name stem of the saved LoRA files.", "saving")
    save_every_n_steps: int = _f(0, "Save a checkpoint every N steps (0: only at the end). Flux LoRA guide: keep "
                                    "checkpoint and validation intervals equal.", "saving", min=0,
                                 max=10_000_000)
    save_precision: str = _f("fp16", "Precision of saved LoRA weights.", "saving", choices=("fp16", "bf16", "fp32"))
    save_formats: list = _f(["kohya", "diffusers"], "File formats written for each checkpoint: kohya "
                                                    "(A1111/Forge/ComfyUI) and diffusers.", "saving")
    save_dora_a1111: bool = _f(False, "DoRA only: also write <name>.a1111.safetensors, each adapted layer's full "
                                      "weight change, exact in AUTOMATIC1111 too (its dora_scale form cannot hold "
                                      "DoRA's magnitude); large: about 240 MB for SD1.5, 2.4 GB for SDXL in fp16.",
                               "saving")
    save_state: bool = _f(True, "Save optimizer/scheduler/RNG state with each checkpoint so the run can resume.",
                          "saving")
    resume: str = _f("", "Resume from 'latest' (newest state in output_dir) or a state folder; empty starts anew.",
                     "saving")
    overwrite: bool = _f(False, "Start over in an output_dir that holds an earlier run: its log, resume state, "
                                "checkpoints, samples and config.toml are deleted first (cache/ is kept). Off: "
                                "such a folder is refused, so two runs never mix. Ignored with resume.", "saving")
    training_comment: str = _f("", "Free text stored as ss_training_comment in the LoRA metadata.", "saving")

    # --- sampling ----------------------------------------------------------------------------
    sample_every_n_steps: int = _f(-1, "Generate validation images every N steps; -1 follows "
                                        "save_every_n_steps (Flux LoRA guide: same interval), 0 disables.", "sampling",
                                   min=-1, max=10_000_000)
    sample_prompts: list = _f([], "Validation prompts. Include the concept and one unrelated prompt to watch "
                                  "forgetting (Flux LoRA guide). On the command line separate prompts with '|'.",
                              "sampling", sep="|")
    sample_seed: int = _f(1234, "Fixed seed for validation images, so changes come from training only.",
                          "sampling", min=0, max=2**32 - 1)
    sample_steps: int = _f(20, "Denoising steps for validation images.", "sampling", min=1, max=200)
    sample_guidance_scale: float = _f(0.0, "CFG scale for validation images; 0 = the family's usual value (7 for "
                                           "SD1.5/SDXL, 3.5 for Flux-dev, whose guidance is distilled).", "sampling",
                                      min=0.0, max=50.0)

    # ------------------------------------------------------------------------------------------
    def __post_init__(self):
        for name in ("v_parameterization", "zero_terminal_snr"):  # kohya's flags are booleans: accept those too
            v = getattr(self, name)
            if isinstance(v, bool) or (isinstance(v, str) and v.lower() in ("true", "false")):
                setattr(self, name, "yes" if str(v).lower() == "true" else "no")
        self.validate()

    # --- derived values (never stored) -----------------------------------------------------------
    @property
    def effective_unet_lr(self) -> float:
        return self.unet_lr or self.learning_rate

    @property
    def effective_text_encoder_lr(self) -> float:
        if self.text_encoder_lr:
            return self.text_encoder_lr
        # Prodigy / D-Adaptation: one lr (1.0) for every group, as their authors advise
        return self.effective_unet_lr if self.optimizer in ADAPTIVE_OPTIMIZERS else self.learning_rate / 2

    @property
    def effective_sample_every(self) -> int:
        return self.save_every_n_steps if self.sample_every_n_steps < 0 else self.sample_every_n_steps

    # --- validation ----------------------------------------------------------------------------
    def problems(self) -> list[str]:
        """Every invalid value, each as 'field: what is wrong -> how to fix'."""
        out = field_problems(self)
        if out:
            return out  # cross-field checks assume well-typed values
        for name in ("resolution", "min_bucket_reso", "max_bucket_reso"):
            if getattr(self, name) % 64:
                v = getattr(self, name)
                out.append(f"{name}: {v} is not a multiple of 64 -> use {max(64, round(v / 64) * 64)}")
        if self.random_crop and self.cache_latents != "none":
            out.append("random_crop: a latent cache stores one crop per image -> set cache_latents='none' to use "
                       "random_crop (or keep the centre crop the tutorials recommend)")
        out += block_weight_problems(self)  # the notation; the count per family: families.blocks
        if self.min_bucket_reso > self.max_bucket_reso:
            out.append("min_bucket_reso: larger than max_bucket_reso -> lower it or raise max_bucket_reso")
        if self.max_train_steps == 0 and self.max_train_epochs == 0:
            out.append("max_train_steps: both max_train_steps and max_train_epochs are 0 -> set one of them")
        bad = [s for s in self.save_formats if s not in ("kohya", "diffusers")]
        if bad or not self.save_formats:
            out.append(f"save_formats: {bad or 'empty'} -> use a list of 'kohya' and/or 'diffusers'")
        if any(not isinstance(p, str) for p in self.sample_prompts):
            out.append("sample_prompts: every prompt must be a string")
        if not self.target_modules or any(not isinstance(m, str) for m in self.target_modules):
            out.append("target_modules: must be a non-empty list of module names, e.g. ['to_q', 'to_k']")
        if self.validation_split >= 1 and self.validation_split != int(self.validation_split):
            out.append(f"validation_split: {self.validation_split:g} is neither a fraction below 1 nor a whole count "
                       f"of images -> use e.g. 0.1 (10%) or {int(self.validation_split)} (images)")
        if self.validation_split and self.validation_data_dir.strip():
            out.append("validation_split: set together with validation_data_dir -> hold out images one way: set "
                       "validation_split to 0 or validation_data_dir to ''")
        out += file_name_problems(self.output_name, "output_name", "my_lora")
        if not self.output_dir.strip() or any(ord(c) < 32 for c in self.output_dir):
            out.append(f"output_dir: {self.output_dir!r} is not a folder path -> set it to e.g. 'runs/my_lora'")
        if self.optimizer in ("prodigy", "dadaptation") and self.learning_rate < 0.1:
            out.append(f"learning_rate: {self.optimizer} adapts the step size itself and expects "
                       f"learning_rate=1.0 (LoRA explainer), not {self.learning_rate}")
        if (self.optimizer in ADAPTIVE_OPTIMIZERS and self.train_text_encoder
                and self.effective_text_encoder_lr != self.effective_unet_lr):
            out.append(f"text_encoder_lr: {self.optimizer} estimates one step size for all weights and cannot "
                       f"train the text encoder at {self.effective_text_encoder_lr:g} next to the UNet/transformer "
                       f"at {self.effective_unet_lr:g} -> set unet_lr and text_encoder_lr to 0 so both use "
                       f"learning_rate (1.0, as its authors advise)")
        return out

    def validate(self) -> Config:
        probs = self.problems()
        if probs:
            raise ConfigError("invalid config: " + "; ".join(probs))
        return self

    # --- (de)serialisation ---------------------------------------------------------------------
    def to_dict(self, grouped: bool = False) -> dict[str, Any]:
        flat = dataclasses.asdict(self)
        if not grouped:
            return flat
        out: dict[str, dict] = {g: {} for g in GROUPS}
        for f in dataclasses.fields(self):
            out[f.metadata["group"]][f.name] = flat[f.name]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> Config:
        """Build from a flat or grouped ({section: {field: value}}) dict; unknown keys are errors."""
        flat: dict[str, Any] = {}
        for k, v in data.items():
            if k in GROUPS and isinstance(v, dict):
                flat.update(v)
            else:
                flat[k] = v
        unknown_fields(cls, flat, source)
        hints = typing.get_type_hints(cls)
        seps = {f.name: f.metadata.get("sep", ",") for f in dataclasses.fields(cls)}
        for k, v in list(flat.items()):
            flat[k] = coerce(k, hints[k], v, source, seps[k])
        try:
            return cls(**flat)
        except ConfigError as e:
            raise ConfigError(f"{source}: {e}") from None

    def replace(self, **changes) -> Config:
        return Config.from_dict({**self.to_dict(), **changes})

    def save(self, path: str | os.PathLike) -> Path:
        """Write TOML (grouped into sections) or JSON, by extension, atomically."""
        path = Path(path)
        if path.suffix == ".json":
            text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False)
        else:
            import tomli_w
            text = tomli_w.dumps(self.to_dict(grouped=True))
        from .fileio import atomic_write_text
        atomic_write_text(path, text)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, **overrides) -> Config:
        path = Path(path)
        if not path.is_file():
            if path.exists() or path.is_symlink():  # a FIFO would block the read, a device never end
                raise ConfigError(f"config file {path}: {file_problem(path)} -> pass a .toml or .json file")
            raise ConfigError(f"config file not found: {path} -> check the path, or create one with "
                              f"`lora-nb config --out {path.name}`")
        text = _read_utf8(path)
        try:
            if path.suffix == ".json":
                data = json.loads(text)
            else:
                data = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as e:
            raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'} ({e}) "
                              f"-> fix the syntax at the position shown") from None
        if overrides:
            flat = cls.from_dict(data, source=str(path)).to_dict()
            flat.update(overrides)
            return cls.from_dict(flat, source=str(path))
        return cls.from_dict(data, source=str(path))

    # --- introspection for widgets and CLI -------------------------------------------------------
    @classmethod
    def field_info(cls) -> list[dict[str, Any]]:
        """One dict per field: name, type, default, help, group, choices/min/max when given."""
        return field_info(cls)


# what `textio.decode_text` names an encoding, as a learner's editor would name it
_ENCODING_NAMES = {"gb18030": "GBK/GB18030", "utf-16": "UTF-16"}


def _read_utf8(path: Path) -> str:
    """The config file's text. TOML is UTF-8 by its spec (JSON too, RFC 8259), so a file saved in a
    local code page is refused with the fix rather than guessed at: a wrong guess would change values."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        try:
            looks = _ENCODING_NAMES.get(decode_text(data, str(path))[1], "another encoding")
        except DatasetError:
            looks = "an unknown encoding"
        raise ConfigError(f"{path}: not UTF-8 (byte 0x{data[e.start]:02x} at position {e.start}; the file looks "
                          f"like {looks}) -> config files must be UTF-8: open it in a text editor and save it as "
                          f"UTF-8") from None
