"""Measure every checkpoint x strength once: render with the XY engine, score, cache in the run folder.

Three kinds of prompt are drawn for every cell, with the same seeds (the same starting noise):
- the concept prompt (with the trigger word): concept fidelity (CLIP-I, DINO, plugged-in scorers),
  prompt fidelity (CLIP-T) and diversity (how alike the seeds' pictures are);
- the class prompt without the trigger word: is the concept there without its trigger (leak)?
- prompts unrelated to the concept: how far the LoRA moves them from the base model's own pictures
  for the same seeds (strength 0) - the forgetting check as numbers.

A cell's numbers are cached in `<run>/evaluation/measures.json` under a key made of the checkpoint
file (name, size, modification time), strength, prompt, seeds, drawing settings and evaluation
models, so a second evaluation (a new strength, one more checkpoint) only draws what is new.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..fileio import atomic_write_text
from .files import LoraFile
from .forgetting import image_difference, seed_noise
from .metrics import ConceptScorer, EvalModels, mean_cross_similarity, mean_pairwise_similarity, paired_similarity
from .settings import SampleSettings
from .xy import xy_grid

CACHE_FILE = Path("evaluation") / "measures.json"
CACHE_VERSION = 3  # 3: per-seed values (`<measure>_seeds`), seed-to-seed pixel noise and diversity
MAX_REFERENCES = 64  # training pictures the concept measures compare with (a sample of a big dataset)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


@dataclass
class Measurements:
    """Every cell's measures: `cells[i][j]` for checkpoint i at `strengths[j]` (strength 0 = the base model)."""

    labels: list[str]  # checkpoint labels ("step 75", ..., "lora")
    steps: list[int]  # training step of each checkpoint (the final file: the run's last step)
    strengths: list[float]
    cells: list[list[dict]]  # measure -> number; `<measure>_seeds` -> the per-seed numbers (concept prompt)
    scorers: list[str] = field(default_factory=list)  # names of the plugged-in concept scorers
    files: list[str] = field(default_factory=list)
    rendered: int = 0  # cells drawn and scored in this call (0 when everything came from the cache)

    def values(self, measure: str, strength: float) -> list[float | None]:
        """One measure over the checkpoints at one strength."""
        j = self.strengths.index(strength)
        return [row[j].get(measure) for row in self.cells]

    def to_json(self) -> dict:
        return {"labels": self.labels, "steps": self.steps, "strengths": self.strengths, "cells": self.cells,
                "scorers": self.scorers, "files": self.files}


def reference_images(folder: str | os.PathLike, limit: int = MAX_REFERENCES) -> list:
    """Up to `limit` training pictures of `folder` (recursively, sorted, evenly spread) as RGB images."""
    from PIL import Image

    paths = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if len(paths) > limit:
        paths = [paths[round(i * (len(paths) - 1) / (limit - 1))] for i in range(limit)]
    out = []
    for p in paths:
        with Image.open(p) as im:
            out.append(im.convert("RGB"))
    return out


def _file_key(lf: LoraFile) -> str:
    st = lf.path.stat()
    return f"{lf.path.name}:{st.st_size}:{st.st_mtime_ns}"


def _cell_key(file_key: str, strength: float, role: str, prompt: str, seeds: Sequence[int], drawing: dict,
              models: str) -> str:
    blob = json.dumps([file_key if strength else "base", strength, role, prompt, list(seeds), drawing, models],
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _se(values: list[float]) -> float:
    """Standard error of the mean over seeds: how far a cell's mean may move with other seeds."""
    n = len(values)
    if n < 2:
        return 0.0
    m = sum(values) / n
    return (sum((v - m) ** 2 for v in values) / (n - 1) / n) ** 0.5


class _Scorer:
    """Turns one cell's pictures into numbers; the training pictures' embeddings are made on first use."""

    def __init__(self, models: EvalModels, scorers: Sequence[ConceptScorer], references: Sequence, prompt: str):
        self.models, self.scorers, self.references, self.prompt = models, scorers, references, prompt
        self._refs = self._text = None

    def refs(self) -> dict:
        if self._refs is None:
            self._refs = self.models.embed(self.references) if self.references else {}
        return self._refs

    def concept(self, images: list, emb: dict, with_text: bool) -> dict[str, float]:
        out: dict[str, float] = {}
        refs = self.refs()
        for name in ("clip", "dino"):
            if name in emb and name in refs:
                per = (emb[name] @ refs[name].T).mean(dim=1).tolist()
                key = "clip_i" if name == "clip" else "dino"
                out[key], out[f"{key}_se"], out[f"{key}_seeds"] = sum(per) / len(per), _se(per), per
        if with_text and "clip" in emb:
            if self._text is None:
                self._text = self.models.clip_texts([self.prompt])
            out["clip_t"] = mean_cross_similarity(emb["clip"], self._text)
        for sc in self.scorers:
            per = [float(v) for v in sc.score(images)]
            out[sc.name], out[f"{sc.name}_se"], out[f"{sc.name}_seeds"] = sum(per) / len(per), _se(per), per
        return out


def measure(base, checkpoints: Sequence[LoraFile], *, prompt: str, class_prompt: str | None,
            unrelated: Sequence[str], strengths: Sequence[float], references: Sequence, models: EvalModels,
            scorers: Sequence[ConceptScorer] = (), settings: SampleSettings, cache_dir: str | os.PathLike,
            final_step: int | None = None) -> Measurements:
    """Measures of every checkpoint x strength (strength 0 added: the base model), from the cache where
    present. `base`: a loaded pipeline (or model folder / hub id, loaded on first need)."""
    strengths = sorted({0.0, *(float(s) for s in strengths)})
    if len(strengths) < 2:
        raise ConfigError("strengths: only 0 given -> give the LoRA strengths to measure, e.g. 0.5,0.8,1 (0, the "
                          "base model, is always added)")
    seeds = list(settings.seeds)
    drawing = {k: getattr(settings, k) for k in ("negative_prompt", "steps", "cfg", "sampler", "width", "height")}
    drawing["base"] = str(base) if isinstance(base, (str, os.PathLike)) else str(getattr(base, "name_or_path", ""))
    mkey = ";".join([models.key, *sorted(sc.name for sc in scorers)])
    cache_path = Path(cache_dir) / CACHE_FILE
    cache = _read_cache(cache_path)
    roles = [("concept", prompt)] + ([("class", class_prompt)] if class_prompt else []) + \
        [("unrelated", p) for p in unrelated]
    keys = {(i, s, r, p): _cell_key(_file_key(lf), s, r, p, seeds, drawing, mkey)
            for i, lf in enumerate(checkpoints) for s in strengths for r, p in roles}
    missing = [k for k, key in keys.items() if key not in cache]
    rendered = 0
    if missing:
        rendered = _fill(base, checkpoints, missing, keys, cache, roles, seeds, settings, models,
                         _Scorer(models, scorers, references, prompt))
        atomic_write_text(cache_path, json.dumps({"version": CACHE_VERSION, "cells": cache}, indent=1))
    cells = [[_combine(i, s, roles, keys, cache, scorers) for s in strengths] for i in range(len(checkpoints))]
    steps = [lf.step if lf.step is not None else (final_step or 0) for lf in checkpoints]
    return Measurements([lf.label for lf in checkpoints], steps, strengths, cells, [sc.name for sc in scorers],
                        [str(lf.path) for lf in checkpoints], rendered)


def _read_cache(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # none yet, or unreadable: measure again (the cache is only a shortcut)
    return data.get("cells", {}) if isinstance(data, dict) and data.get("version") == CACHE_VERSION else {}


def _render(pipe, lf: LoraFile, strengths: list[float], prompts: list[str], settings: SampleSettings):
    """{(strength, prompt): [picture per seed]} for one checkpoint, drawn by the XY engine (seeds as panels)."""
    res = xy_grid(pipe, [lf.path], prompts, strengths=strengths, x="strength", y="prompt", axes=["seed"],
                  settings=settings)
    return {(s, p): [res.cells[k][r][c] for k in range(len(res.cells))]
            for r, p in enumerate(prompts) for c, s in enumerate(strengths)}


def _fill(base, checkpoints, missing, keys, cache, roles, seeds, settings, models, scorer) -> int:
    """Draw and score the missing cells (and the base pictures the unrelated prompts are compared with)."""
    from .pipeline import _open

    pipe, _ = _open(base, settings)
    settings = settings.changed(device=None, batch=max(settings.batch, len(seeds)), progress=False)
    base_images = _render(pipe, checkpoints[0], [0.0], [p for _, p in roles], settings)
    base_emb = {p: models.embed(ims) for (_, p), ims in base_images.items()}
    todo: dict[int, set[float]] = {}
    for i, s, _, _ in missing:
        todo.setdefault(i, set()).add(s)
    count = 0
    for i, ss in sorted(todo.items()):
        nonzero = sorted(s for s in ss if s)
        images = _render(pipe, checkpoints[i], nonzero, [p for _, p in roles], settings) if nonzero else {}
        for s in sorted(ss):
            for role, p in roles:
                ims = images[(s, p)] if s else base_images[(0.0, p)]
                emb = models.embed(ims) if s else base_emb[p]
                cache[keys[(i, s, role, p)]] = _cell_numbers(role, ims, emb, base_images[(0.0, p)], base_emb[p],
                                                             scorer)
                count += 1
    return count


def _cell_numbers(role: str, images, emb, base_images, base_emb, scorer: _Scorer) -> dict[str, float]:
    out = scorer.concept(images, emb, with_text=role == "concept")
    if role == "concept":
        name = "dino" if "dino" in emb else "clip" if "clip" in emb else None
        sim = mean_pairwise_similarity(emb[name]) if name else None
        if sim is not None:
            out["seed_similarity"] = sim
        out["pixel_diversity"] = seed_noise(images)  # the same in pixels: needs no evaluation model
    if role != "class":  # the forgetting check's measure; the concept prompt's is its yardstick
        out["pixel_change"] = sum(image_difference(a, b) for a, b in zip(base_images, images)) / len(images)
    if role == "unrelated":
        out["pixel_noise"] = seed_noise(base_images)
        for name in ("dino", "clip"):
            if name in emb:
                out[f"drift_{name}"] = 1.0 - paired_similarity(emb[name], base_emb[name])
    return out


_PER_SEED = ("_se", "_seeds")  # keys about the seeds, kept for the concept prompt only


def _combine(i, s, roles, keys, cache, scorers) -> dict:
    """One cell's table entry: concept measures as they are, class measures prefixed `class_`, and the
    unrelated prompts' measures averaged and prefixed `unrelated_` (their drift as `drift`). Per-seed lists
    (`<measure>_seeds`) only for the concept prompt: the paired noise of recommend compares those."""
    out: dict[str, float] = {}
    unrelated: list[dict] = []
    for role, p in roles:
        nums = cache[keys[(i, s, role, p)]]
        if role == "concept":
            out.update({k if k != "pixel_change" else "concept_pixel_change": v for k, v in nums.items()})
        elif role == "class":
            out.update({f"class_{k}": v for k, v in nums.items() if not k.endswith(_PER_SEED)})
        else:
            unrelated.append(nums)
    if unrelated:
        for k in unrelated[0]:
            if not k.endswith(_PER_SEED):
                vals = [u[k] for u in unrelated if k in u]
                out[k if k.startswith(("drift", "pixel")) else f"unrelated_{k}"] = sum(vals) / len(vals)
        drift = out.get("drift_dino", out.get("drift_clip"))
        if drift is not None:
            out["drift"] = drift
    return out
