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

from pathlib import Path
from typing import TYPE_CHECKING

from ..fileio import atomic_path

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Config


def impossible_reason(config: Config) -> str | None:
    """Why the captions cannot be cached for this config, or None when they can."""
    if config.train_text_encoder:
        return "the text encoder is trained, so its outputs change every step"
    if config.shuffle_caption:
        return "shuffle_caption makes a new caption every step"
    return None


def problems(config: Config) -> list[str]:
    why = impossible_reason(config)
    if config.cache_text_embeddings in ("yes", "disk") and why:
        return [f"cache_text_embeddings: cannot cache because {why} -> set cache_text_embeddings = 'auto' or "
                f"'no', or turn off train_text_encoder/shuffle_caption"]
    return []


def enabled(config: Config) -> bool:
    return config.cache_text_embeddings != "no" and impossible_reason(config) is None


def captions_to_cache(captions, config: Config) -> list[str]:
    """Every distinct text the run will encode: training captions ('' with caption dropout),
    validation prompts and the empty negative prompt."""
    out = list(dict.fromkeys(captions))
    out += [p for p in config.sample_prompts if p not in out]
    if "" not in out:
        out.append("")
    return out


class TextEmbeddingCache:
    """{caption: {name: tensor without batch dim}} on the CPU; `get` stacks a batch on the device.

    With a `folder` (cache_text_embeddings = 'disk') each caption's tensors live in a safetensors file
    instead (`entries` maps caption -> file): host RAM holds one batch (a Flux caption is ~4 MB of T5
    output in bf16, so 1000 captions would be 4 GB of Colab's ~12), and files already there - from an
    interrupted run - are not encoded again. The file name hashes the caption with what decides its encoding
    (the model, clip skip, Flux's T5 length), so a run with another of them never reads them.
    """

    def __init__(self, entries: dict[str, dict | Path], folder: Path | None = None):
        self.entries, self.folder = entries, folder

    @staticmethod
    def file_for(folder: Path, caption: str, model_key: str, clip_skip: int, t5_max_length: int = 0) -> Path:
        import hashlib

        key = f"{model_key}|{clip_skip}|{caption}" + (f"|t5={t5_max_length}" if t5_max_length else "")
        return folder / f"{hashlib.sha1(key.encode()).hexdigest()}.safetensors"

    @classmethod
    def build(cls, family, models, captions: list[str], clip_skip: int = 1, batch_size: int = 8,
              progress: bool = True, folder: Path | None = None, model_key: str = "",
              t5_max_length: int = 0) -> TextEmbeddingCache:
        import torch

        from ..progress import tqdm

        entries: dict = {}
        todo = list(captions)
        if folder is not None:
            entries = {c: cls.file_for(folder, c, model_key, clip_skip, t5_max_length) for c in captions}
            todo = [c for c in captions if not _readable(entries[c])]
        chunks = [todo[i:i + batch_size] for i in range(0, len(todo), batch_size)]
        with torch.no_grad():
            for chunk in tqdm(chunks, desc="caching text embeddings", disable=not progress or len(chunks) < 2):
                cond = family.encode_prompts(models, chunk, clip_skip)
                for i, cap in enumerate(chunk):
                    tensors = {k: v[i].detach().cpu().contiguous() for k, v in cond.items()}
                    if folder is None:
                        entries[cap] = tensors
                    else:
                        _save(entries[cap], tensors)
        return cls(entries, folder)

    def __contains__(self, caption: str) -> bool:
        return caption in self.entries

    def _tensors(self, caption: str) -> dict:
        e = self.entries[caption]
        if self.folder is None:
            return e
        from safetensors.torch import load_file

        return load_file(str(e))

    def get(self, captions: list[str], device) -> dict:
        missing = [c for c in captions if c not in self.entries]
        if missing:
            raise KeyError(f"caption not in the text-embedding cache: {missing[0]!r}")
        rows = [self._tensors(c) for c in captions]
        return {k: torch_stack([r[k] for r in rows]).to(device) for k in rows[0]}

    @property
    def nbytes(self) -> int:
        """Host RAM the cache holds (0 on disk: files are read per batch)."""
        if self.folder is not None:
            return 0
        return sum(t.numel() * t.element_size() for e in self.entries.values() for t in e.values())


def _readable(path) -> bool:
    """A complete cache file (atomic writes leave no half files, but a foreign or damaged one is re-made)."""
    if not path.is_file():
        return False
    try:
        from safetensors import safe_open

        with safe_open(str(path), "pt") as f:
            return bool(list(f.keys()))
    except Exception:
        return False


def _save(path, tensors: dict) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp))


def torch_stack(tensors):
    import torch

    return torch.stack(tensors)
