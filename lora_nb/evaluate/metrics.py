"""Measures of generated pictures: concept fidelity, prompt fidelity, drift and diversity.

The DreamBooth paper (Ruiz et al. 2022, arXiv 2208.12242 §4.1) judges a subject LoRA by
- CLIP-I: mean cosine similarity of CLIP image embeddings of generated and real (training) pictures,
- DINO: the same with DINO ViT embeddings, which tell apart subjects of one class better than CLIP,
- CLIP-T: cosine similarity of the CLIP embeddings of the prompt and the picture.
Here they are computed with transformers' `CLIPModel` and `Dinov2Model`, loaded once per
`EvalModels` and fed in batches. A `ConceptScorer` adds a measure of one's own next to them (the toy
world's zigzag-star detector, `lora_nb.toy.detect.star_scorer`), so the same rules pick the checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ModelLoadError

DEFAULT_CLIP = "openai/clip-vit-base-patch32"
DEFAULT_DINO = "facebook/dinov2-small"
BATCH = 32  # pictures per forward pass of an evaluation model


@dataclass(frozen=True)
class ConceptScorer:
    """A measure of how much pictures show the concept: `score(images) -> one number per picture`
    (higher = more of the concept). `name` keys it in tables and in the cache."""

    name: str
    score: Callable[[Sequence[Any]], Sequence[float]]


def _features(out):
    """transformers 4 returns the projected features as a tensor, 5 as the output's pooler_output."""
    import torch

    return out if isinstance(out, torch.Tensor) else out.pooler_output


class EvalModels:
    """CLIP and DINOv2 loaded once; embeddings are L2-normalised float32 CPU tensors (rows = pictures).

    `clip`/`dino`: a hub id or local folder; "" leaves that model out (its measures are then absent).
    """

    def __init__(self, clip: str = DEFAULT_CLIP, dino: str = DEFAULT_DINO, device: str | None = None):
        import torch

        self.clip_id, self.dino_id = clip or "", dino or ""
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.clip = self.clip_processor = self.dino = self.dino_processor = None
        # here, not at the top: toy.detect imports ConceptScorer from this module, and the CLI must stay light
        from transformers import BitImageProcessor, CLIPModel, CLIPProcessor, Dinov2Model

        try:
            if self.clip_id:
                self.clip = CLIPModel.from_pretrained(self.clip_id).to(self.device).eval()
                self.clip_processor = CLIPProcessor.from_pretrained(self.clip_id)
            if self.dino_id:
                self.dino = Dinov2Model.from_pretrained(self.dino_id).to(self.device).eval()
                # DINOv2's own (PIL) processor class: transformers 5.15's AutoImageProcessor needs torchvision,
                # which a CPU-torch install (the Colab leg) may lack
                self.dino_processor = BitImageProcessor.from_pretrained(self.dino_id)
        except (OSError, ValueError) as e:
            raise ModelLoadError(f"cannot load the evaluation model: {str(e).splitlines()[0]} -> give a local folder "
                                 f"or hub id for clip_model/dino_model (CLI --clip-model/--dino-model), or '' to "
                                 f"leave that measure out; offline, set HF_HUB_OFFLINE=1 with a cached model"
                                 ) from None

    @property
    def key(self) -> str:
        """What the cache keys measures by: which models made them."""
        return f"clip={self.clip_id};dino={self.dino_id}"

    def _batched(self, items: Sequence, fn):
        import torch

        if not items:
            return torch.zeros(0, 0)
        with torch.inference_mode():
            parts = [fn(items[i:i + BATCH]) for i in range(0, len(items), BATCH)]
        out = torch.cat(parts).float().cpu()
        return out / out.norm(dim=-1, keepdim=True).clamp_min(1e-12)

    def clip_images(self, images: Sequence):
        return self._batched(list(images), lambda ims: _features(self.clip.get_image_features(
            **self.clip_processor(images=[im.convert("RGB") for im in ims], return_tensors="pt").to(self.device))))

    def clip_texts(self, texts: Sequence[str]):
        return self._batched(list(texts), lambda ts: _features(self.clip.get_text_features(
            **self.clip_processor(text=list(ts), return_tensors="pt", padding=True, truncation=True)
            .to(self.device))))

    def dino_images(self, images: Sequence):
        # the CLS token's final state, as the DreamBooth paper's DINO ViT-S/16 metric
        return self._batched(list(images), lambda ims: self.dino(
            **self.dino_processor(images=[im.convert("RGB") for im in ims], return_tensors="pt")
            .to(self.device)).pooler_output)

    def embed(self, images: Sequence) -> dict:
        """{"clip": ..., "dino": ...} embeddings of `images` for the models loaded."""
        out = {}
        if self.clip is not None:
            out["clip"] = self.clip_images(images)
        if self.dino is not None:
            out["dino"] = self.dino_images(images)
        return out


def mean_cross_similarity(a, b) -> float:
    """Mean cosine similarity of every row of `a` with every row of `b` (both normalised)."""
    return float((a @ b.T).mean())


def mean_pairwise_similarity(a) -> float | None:
    """Mean cosine similarity among the rows of `a`, self-pairs left out; None for fewer than 2 rows.
    High = the seeds of one cell all draw the same picture (collapse, a sign of over-fitting)."""
    n = a.shape[0]
    if n < 2:
        return None
    sim = a @ a.T
    return float((sim.sum() - sim.diagonal().sum()) / (n * (n - 1)))


def paired_similarity(a, b) -> float:
    """Mean cosine similarity of row i of `a` with row i of `b` (the same seed with and without the LoRA)."""
    return float((a * b).sum(dim=-1).mean())
