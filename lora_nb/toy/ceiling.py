"""The star score's ceiling: what the sample's own drawings score after the base model's VAE.

A generated picture is decoded by the model's VAE, so no LoRA can score higher than the training
images do once encoded and decoded: at 64 px the tiny-shapes VAE blurs the navy zigzag stripes into
olive and shrinks the small stars (measured in bench/README.md: the drawings score ~0.99 as they are,
~0.43 through the VAE). `star_score / ceiling` is then the share of the reachable star a picture shows
(1 = as starry as the sample itself through the VAE), the number the demo and the course report.

The ceiling is a fact of a model, measured once and stored next to it (`star_ceiling.json` in the
model folder); `python -m lora_nb.toy.ceiling MODEL_DIR IMAGES_DIR` re-measures and rewrites it.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ..errors import LoraNbError
from ..fileio import atomic_write_text
from .detect import star_score

CEILING_FILE = "star_ceiling.json"


@dataclass
class Ceiling:
    """Mean star score of the images as drawn (`raw`) and through the VAE (`ceiling`), and per image."""

    ceiling: float
    raw: float
    images: int
    size: int
    per_image: list[float]


def vae_roundtrip(vae, image: Image.Image, size: int) -> np.ndarray:
    """`image` fitted to size x size, encoded (latent mean) and decoded by `vae`: uint8 HxWx3."""
    import torch

    img = ImageOps.fit(image.convert("RGB"), (size, size), Image.LANCZOS)
    x = torch.from_numpy(np.array(img)).float().permute(2, 0, 1)[None] / 127.5 - 1
    with torch.no_grad():
        y = vae.decode(vae.encode(x).latent_dist.mode()).sample
    return ((y[0].permute(1, 2, 0).clamp(-1, 1) + 1) * 127.5).round().byte().numpy()


def measure_star_ceiling(model_dir: str | Path, images_dir: str | Path, size: int = 64) -> Ceiling:
    """Score every image of `images_dir` as drawn and after the VAE of `model_dir`, at `size` px."""
    from diffusers import AutoencoderKL

    files = sorted(p for p in Path(images_dir).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"))
    if not files:
        raise LoraNbError(f"no images in {images_dir} -> point the ceiling at the concept folder the LoRA trains on")
    vae = AutoencoderKL.from_pretrained(str(model_dir), subfolder="vae").float().eval()
    raw, through = [], []
    for f in files:
        with Image.open(f) as im:
            raw.append(star_score(ImageOps.fit(im.convert("RGB"), (size, size), Image.LANCZOS)).score)
            through.append(star_score(vae_roundtrip(vae, im, size)).score)
    return Ceiling(round(float(np.mean(through)), 4), round(float(np.mean(raw)), 4), len(files), size,
                   [round(v, 4) for v in through])


def star_ceiling(model_dir: str | Path) -> float | None:
    """The stored ceiling of `model_dir` (None for a model without one: report raw scores then)."""
    path = Path(model_dir) / CEILING_FILE
    if not path.is_file():
        return None
    try:
        value = float(json.loads(path.read_text(encoding="utf-8"))["ceiling"])
    except (ValueError, KeyError, TypeError) as e:
        raise LoraNbError(f"{path} is unreadable ({e}) -> re-measure it with "
                          f"`python -m lora_nb.toy.ceiling {model_dir} datasets_sample/20_zigzag_star`") from e
    if not 0 < value <= 1:
        raise LoraNbError(f"{path}: ceiling {value} is outside (0, 1] -> re-measure it with `python -m "
                          f"lora_nb.toy.ceiling`")
    return value


def write_star_ceiling(model_dir: str | Path, images_dir: str | Path, size: int = 64) -> Ceiling:
    """Measure and store the ceiling next to the model (atomically)."""
    c = measure_star_ceiling(model_dir, images_dir, size)
    atomic_write_text(Path(model_dir) / CEILING_FILE, json.dumps(
        {**asdict(c), "measured_on": Path(images_dir).name,
         "how": "mean lora_nb.toy.detect.star_score of the images fitted to size px, encoded and decoded by the "
                "model's VAE (lora_nb.toy.ceiling)"}, indent=1) + "\n")
    return c


if __name__ == "__main__":  # python -m lora_nb.toy.ceiling MODEL_DIR IMAGES_DIR
    if len(sys.argv) != 3:
        sys.exit("usage: python -m lora_nb.toy.ceiling MODEL_DIR IMAGES_DIR")
    got = write_star_ceiling(sys.argv[1], sys.argv[2])
    print(f"star ceiling {got.ceiling} (as drawn {got.raw}, {got.images} images at {got.size} px) -> "
          f"{Path(sys.argv[1]) / CEILING_FILE}")
