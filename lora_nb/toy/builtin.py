"""The base model that ships inside the package: `tiny-shapes`.

A 64x64 text-to-image latent diffusion model in Stable Diffusion 1.5's diffusers layout (AutoencoderKL,
UNet2DConditionModel, CLIPTextModel, CLIPTokenizer, PNDMScheduler), trained by
`scripts/train_tiny_base.py` on the procedural scenes of `lora_nb.toy.scenes` ("a red circle on a blue
background"). It has never seen the sample dataset's zigzag star, so a LoRA trained on
`datasets_sample/20_zigzag_star` visibly teaches it something - on a CPU, in minutes. The demo and
the notebooks' smoke mode train on it; `lora_nb.toy.testing.build_tiny_model` (random weights) stays for
fast unit tests.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ModelLoadError

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
TINY_SHAPES = "tiny-shapes"
TINY_SHAPES_RESOLUTION = 64  # what it was trained at (latents 16x16, VAE scale factor 4)


def builtin_model_dir(name: str = TINY_SHAPES) -> Path:
    """The folder of a built-in model, loadable with `StableDiffusionPipeline.from_pretrained`."""
    path = MODELS_DIR / name
    if not (path / "model_index.json").is_file():
        known = sorted(p.name for p in MODELS_DIR.iterdir() if (p / "model_index.json").is_file()) \
            if MODELS_DIR.is_dir() else []
        raise ModelLoadError(f"built-in model {name!r} not found at {path} -> use one of {known or 'none'}; if the "
                             f"folder is missing, reinstall lora-nb (its weights ship in the package) or rebuild it "
                             f"with `python scripts/train_tiny_base.py`")
    return path
