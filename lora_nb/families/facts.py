"""Every per-family fact in one torch-free table: what the rest of the kit reads instead of
comparing a family name with a string.

Sources: the reference repositories' model cards (native resolution, inference defaults), kohya's
sd-scripts (`ss_base_model_version`, LoRA key prefixes) and its `library/sai_model_spec.py`
(ModelSpec architecture and implementation ids), Black Forest Labs' reference code (Flux-dev's
distilled guidance 3.5, applied through an embedding rather than a second, unconditional pass).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class FamilyFacts:
    name: str
    base_model: str                         # the reference repository the tutorials train on
    resolution: int                         # native training side in px
    crop_resolutions: tuple[int, ...]       # sides step 2 offers, native first
    base_model_version: str                 # kohya ss_base_model_version
    modelspec_architecture: str             # ModelSpec 1.0 id when the exact variant is unknown
    modelspec_implementation: str           # ModelSpec implementation, as kohya writes it
    denoiser: str                           # pipeline component that gets the LoRA
    text_encoders: tuple[str, ...]          # text encoders that can get a LoRA (Flux's T5 never does)
    kohya_prefixes: dict[str, str]          # component -> kohya key prefix
    sample_steps: int                       # validation images and XY grids
    sample_cfg: float
    guidance_pass: bool                     # classifier-free guidance runs a second, unconditional pass
    typical_loss: tuple[float, float] | None  # the Kohya practice guide's "good" loss range, where one is known
    large: bool                             # 2.6B+ denoiser: one pipeline at a time on a < 24 GB GPU
    kohya_lora_module: str                  # ss_network_module of a plain LoRA, when kohya has its own
    prediction_type: str                    # the reference model's DDPM objective ("" for flow matching); a run
                                            # trains and records what its base model says (families.prediction)
    flux_guide: bool                        # the Flux LoRA guide's recipe covers it (else the SD tutorials')
    pipeline_prefix: str                    # diffusers pipeline classes start with it (longest match wins)
    micro_conditioning: bool                # SDXL's added conditions: pooled text embedding + size/crop ids
    text_stream_targets: tuple[str, ...]    # attention projections of a separate text stream (MM-DiT)
    fp16_overflows: bool                    # trained in bf16; fp16 activations overflow
    big_text_encoder: tuple[str, float] | None  # (name, GiB in 16 bits) of a frozen encoder worth caching away
    checkpoint_marker: str                  # a tensor-name prefix only its original single-file checkpoints have
    pixel_multiple: int                     # image sides divide by it: the VAE's 8x (Flux: x2, 2x2 latent packing)
    # UIs that load the family's kohya-format LoRA file (A1111 runs no Flux)
    kohya_file_uis: tuple[str, ...] = ("ComfyUI", "AUTOMATIC1111", "Forge")
    # kohya's down/mid/up_lr_weight lengths (sd-scripts networks/lora.py); None: sd-scripts has no block lr for it
    lr_blocks: tuple[int, int, int] | None = None
    # the LoRA Block Weight extension's block ids, one weight each (hako-mikan/sd-webui-lora-block-weight);
    # None: diffusers has no block-wise scaling for the denoiser (set_adapters scales UNets only)
    lbw_blocks: tuple[str, ...] | None = None


FACTS: dict[str, FamilyFacts] = {
    "sd15": FamilyFacts(
        name="sd15", base_model="stable-diffusion-v1-5/stable-diffusion-v1-5",
        resolution=512, crop_resolutions=(512,), base_model_version="sd_v1",
        modelspec_architecture="stable-diffusion-v1", modelspec_implementation="diffusers",
        denoiser="unet", text_encoders=("text_encoder",),
        kohya_prefixes={"unet": "lora_unet", "text_encoder": "lora_te"},
        sample_steps=20, sample_cfg=7.0, guidance_pass=True, typical_loss=(0.08, 0.10), large=False,
        kohya_lora_module="", prediction_type="epsilon", flux_guide=False, pipeline_prefix="StableDiffusion",
        micro_conditioning=False, text_stream_targets=(), fp16_overflows=False, big_text_encoder=None,
        checkpoint_marker="cond_stage_model.", pixel_multiple=8,
        lr_blocks=(12, 1, 12), lbw_blocks=("BASE", "IN01", "IN02", "IN04", "IN05", "IN07", "IN08", "M00", "OUT03",
                                           "OUT04", "OUT05", "OUT06", "OUT07", "OUT08", "OUT09", "OUT10", "OUT11")),
    "sdxl": FamilyFacts(
        name="sdxl", base_model="stabilityai/stable-diffusion-xl-base-1.0",
        resolution=1024, crop_resolutions=(1024, 768), base_model_version="sdxl_base_v1-0",
        modelspec_architecture="stable-diffusion-xl-v1-base",
        modelspec_implementation="https://github.com/Stability-AI/generative-models",
        denoiser="unet", text_encoders=("text_encoder", "text_encoder_2"),
        kohya_prefixes={"unet": "lora_unet", "text_encoder": "lora_te1", "text_encoder_2": "lora_te2"},
        sample_steps=25, sample_cfg=7.0, guidance_pass=True, typical_loss=None, large=True,
        kohya_lora_module="", prediction_type="epsilon", flux_guide=False, pipeline_prefix="StableDiffusionXL",
        micro_conditioning=True, text_stream_targets=(), fp16_overflows=False, big_text_encoder=None,
        checkpoint_marker="conditioner.embedders.", pixel_multiple=8,
        lr_blocks=(9, 3, 9), lbw_blocks=("BASE", "IN04", "IN05", "IN07", "IN08", "M00", "OUT00", "OUT01", "OUT02",
                                         "OUT03", "OUT04", "OUT05")),
    "flux": FamilyFacts(
        name="flux", base_model="black-forest-labs/FLUX.1-dev",
        resolution=1024, crop_resolutions=(1024, 768, 512), base_model_version="flux1",
        modelspec_architecture="flux-1", modelspec_implementation="https://github.com/black-forest-labs/flux",
        denoiser="transformer", text_encoders=("text_encoder",),
        # kohya's sd-scripts names (Black Forest Labs' modules, families/flux_names.py)
        kohya_prefixes={"transformer": "lora_unet", "text_encoder": "lora_te1"},
        sample_steps=20, sample_cfg=3.5, guidance_pass=False, typical_loss=None, large=True,
        kohya_lora_module="networks.lora_flux", prediction_type="", flux_guide=True, pipeline_prefix="Flux",
        micro_conditioning=False, text_stream_targets=("add_q_proj", "add_k_proj", "add_v_proj", "to_add_out"),
        fp16_overflows=True, big_text_encoder=("T5-XXL", 9.0),
        checkpoint_marker="double_blocks.", pixel_multiple=16,
        # Forge maps lora_unet_ + its BFL-named Flux modules (backend/nn/flux.py, comfyui_lora_collection)
        kohya_file_uis=("ComfyUI", "Forge")),
}


def facts(family: str) -> FamilyFacts:
    """The facts of `family`, with a what -> fix error for an unknown name."""
    if family not in FACTS:
        raise ConfigError(f"family: {family!r} is not supported in this version -> use one of {', '.join(FACTS)}")
    return FACTS[family]


def family_of_pipeline(class_name: str) -> str | None:
    """The family of a diffusers pipeline class name (StableDiffusionXLPipeline -> sdxl): the one whose
    `pipeline_prefix` is the longest the name starts with; None for another kind of pipeline."""
    matches = [f for f in FACTS.values() if class_name.startswith(f.pipeline_prefix)]
    return max(matches, key=lambda f: len(f.pipeline_prefix)).name if matches else None
