"""Text-encoder outputs computed once per caption, so the encoders can leave the GPU.

Without a trained text encoder its output for a caption never changes: encoding every caption
once before training (kohya: ``cache_text_encoder_outputs``) gives exactly the same conditioning
and frees the encoders' memory for the whole run. For Flux that is T5-XXL, ~10 GB in bf16.
Validation prompts (and the empty prompt, for classifier-free guidance) are cached with the
captions, so sampling needs no encoder either.

The captions a step can see are known in advance as long as tags are not shuffled: each image's
caption, plus '' when caption dropout is on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Config


def impossible_reason(config: "Config") -> str | None:
    """Why the captions cannot be cached for this config, or None when they can."""
    if config.train_text_encoder:
        return "the text encoder is trained, so its outputs change every step"
    if config.shuffle_caption:
        return "shuffle_caption makes a new caption every step"
    return None


def problems(config: "Config") -> list[str]:
    why = impossible_reason(config)
    if config.cache_text_embeddings == "yes" and why:
        return [f"cache_text_embeddings: cannot cache because {why} -> set cache_text_embeddings = 'auto' or "
                f"'no', or turn off train_text_encoder/shuffle_caption"]
    return []


def enabled(config: "Config") -> bool:
    return config.cache_text_embeddings != "no" and impossible_reason(config) is None


def captions_to_cache(captions, config: "Config") -> list[str]:
    """Every distinct text the run will encode: training captions ('' with caption dropout),
    validation prompts and the empty negative prompt."""
    out = list(dict.fromkeys(captions))
    out += [p for p in config.sample_prompts if p not in out]
    if "" not in out:
        out.append("")
    return out


class TextEmbeddingCache:
    """{caption: {name: tensor without batch dim}} on the CPU; `get` stacks a batch on the device."""

    def __init__(self, entries: dict[str, dict]):
        self.entries = entries

    @classmethod
    def build(cls, family, models, captions: list[str], clip_skip: int = 1, batch_size: int = 8,
              progress: bool = True) -> "TextEmbeddingCache":
        import torch
        from tqdm.auto import tqdm

        entries: dict[str, dict] = {}
        chunks = [captions[i:i + batch_size] for i in range(0, len(captions), batch_size)]
        with torch.no_grad():
            for chunk in tqdm(chunks, desc="caching text embeddings", disable=not progress or len(chunks) < 2):
                cond = family.encode_prompts(models, chunk, clip_skip)
                for i, cap in enumerate(chunk):
                    entries[cap] = {k: v[i].detach().cpu() for k, v in cond.items()}
        return cls(entries)

    def __contains__(self, caption: str) -> bool:
        return caption in self.entries

    def get(self, captions: list[str], device) -> dict:
        missing = [c for c in captions if c not in self.entries]
        if missing:
            raise KeyError(f"caption not in the text-embedding cache: {missing[0]!r}")
        keys = self.entries[captions[0]].keys()
        return {k: torch_stack([self.entries[c][k] for c in captions]).to(device) for k in keys}

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for e in self.entries.values() for t in e.values())


def torch_stack(tensors):
    import torch

    return torch.stack(tensors)
