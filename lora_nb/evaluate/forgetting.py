"""Step 6's forgetting check: does a LoRA leak into prompts it was not trained for?

Renders unrelated prompts (and the concept prompt) without and with the LoRA, on the same noise,
and measures how much each picture changes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..i18n import t
from ..prompts import UNRELATED_PROMPTS
from .axes import _as_list, _layout, make_axis
from .engine import _base_params, _render, check_before_loading
from .files import lora_files
from .pipeline import _open, loras_loaded
from .result import XYResult
from .settings import SampleSettings

# The forgetting check's one-seed verdict: unrelated prompts changing almost as much as the concept prompt.
# A bare ratio mixes two things (how far the concept moved, how far the rest moved) and does not separate:
# on the toy world (3 training seeds each) the normal demo recipe measured 0.53-1.18, the over-trained
# 1.18-2.86 and even the under-trained 0.26-0.88 (bench/README.md "Recommendation calibration").
# With several seeds the recommendation and this check use DRIFT_NOISE instead.
DRIFT_RATIO = 0.8
# Drift against the base model's own seed-to-seed noise: an unrelated prompt's picture changed by the LoRA,
# per how much the same prompt's picture changes between two seeds of the base model (both mean |pixel
# difference|); 1 = the LoRA changes it as much as drawing another seed would. Read per unit of LoRA strength.
# Toy world, 3 training seeds, 4 evaluation seeds, every checkpoint: the normal recipe 0.53-0.98 at strength 1
# (0.27-0.48 at 0.5), the over-trained (10x lr) 1.82-2.40 at 1 (1.07-2.43 at 0.5), the under-trained at most
# 0.60. 1.35 sits between the normal's highest (0.98 per unit strength) and the over-trained's lowest (1.82)
# with about a third to spare either way.
DRIFT_NOISE = 1.35


@dataclass
class ForgettingReport:
    """With vs without the LoRA on prompts unrelated to its concept.

    `change[i]`: mean absolute pixel difference (0 = identical, 1 = inverted) for prompt i,
    averaged over the seeds. There is no universal threshold; compare it with `concept_change`
    (the same measure on the LoRA's own prompt, when given): an unrelated prompt that changes
    almost as much as the concept prompt means the LoRA overrides everything (overfitting, too
    high a strength or rank; LoRA explainer's over-fitting signs). With several seeds `noise[i]` is
    the base model's own seed-to-seed difference on prompt i, and the verdict uses `DRIFT_NOISE`.
    """

    grid: XYResult
    prompts: list[str]
    change: list[float]
    concept_prompt: str | None = None
    concept_change: float | None = None
    noise: list[float] | None = None
    strength: float = 1.0

    @property
    def drift(self) -> float | None:
        """Largest unrelated change per the base model's seed-to-seed noise (`relative_drift`; None with one seed)."""
        d = [relative_drift(c, n) for c, n in zip(self.change, self.noise or [])]
        d = [v for v in d if v is not None]
        return max(d) if d else None

    @property
    def worst(self) -> tuple[str, float]:
        i = max(range(len(self.change)), key=self.change.__getitem__)
        return self.prompts[i], self.change[i]

    @property
    def ratio(self) -> float | None:
        """Largest unrelated change per concept-prompt change (None without a concept prompt)."""
        if self.concept_change is None:
            return None
        return self.worst[1] / self.concept_change if self.concept_change > 0 else math.inf

    def verdict(self, lang: str | None = None) -> str | None:
        """One line: the drift against the seeds' noise (`DRIFT_NOISE`, several seeds), else the ratio to the
        concept prompt's change (`DRIFT_RATIO`), and whether it is fine or too much; None with neither."""
        d = self.drift
        if d is not None:
            limit = DRIFT_NOISE * self.strength
            return t("rec.forgetting_noise", lang, ratio=d, limit=limit,
                     verdict=t("rec.forgetting_ok" if d <= limit else "rec.forgetting_bad", lang))
        r = self.ratio
        if r is None:
            return None
        ok = r <= DRIFT_RATIO
        return t("rec.forgetting", lang, ratio=r, verdict=t("rec.forgetting_ok" if ok else "rec.forgetting_bad", lang))

    def summary(self, lang: str | None = None) -> str:
        lines = [f"{c:.3f}  {p}" for p, c in sorted(zip(self.prompts, self.change), key=lambda pc: -pc[1])]
        if self.concept_change is not None:
            lines.append(f"{self.concept_change:.3f}  {t('forget.concept', lang)} {self.concept_prompt}")
        if self.verdict(lang) is not None:
            lines.append(self.verdict(lang))
        return "\n".join([t("forget.head", lang), *lines])

    def show(self):
        self.grid.show()

    def save(self, path: str | os.PathLike) -> Path:
        return self.grid.save(path)

    def _repr_png_(self) -> bytes:
        return self.grid._repr_png_()


def forgetting_check(
    base,
    lora: str | os.PathLike,
    prompts: str | Sequence[str] | None = None,
    *,
    strength: float = 1.0,
    concept_prompt: str | None = None,
    settings: SampleSettings | None = None,
    quantize: str | None = None,
    **overrides,
) -> ForgettingReport:
    """Does the LoRA leak into prompts it was not trained for? Rows: prompts unrelated to the concept
    (default `UNRELATED_PROMPTS`) plus the concept prompt if given; columns: without / with the LoRA.
    `settings` (or keyword arguments) and `quantize` as in `xy_grid`."""
    s = SampleSettings.resolve(settings, overrides, "forgetting_check")
    files = lora_files(lora, sort=False)
    if len(files) != 1:
        raise ConfigError("forgetting_check takes one LoRA file -> pick the checkpoint to check")
    unrelated = _as_list(prompts) if prompts else list(UNRELATED_PROMPTS)
    rows = unrelated + ([concept_prompt] if concept_prompt else [])
    labels = unrelated + ([f"(concept) {concept_prompt}"] if concept_prompt else [])
    builtins = {
        "lora": make_axis("lora", files),
        "strength": make_axis("strength", [0.0, strength], ["without LoRA", f"with LoRA ({strength:g})"]),
        "prompt": make_axis("prompt", rows, labels),
        "seed": make_axis("seed", s.seeds),
    }
    ax, ay, panels, fixed = _layout(builtins, "strength", "prompt", ())
    check_before_loading(base, s, (ax, ay, *panels, *fixed))
    pipe, label = _open(base, s, quantize)
    params = _base_params(pipe, rows[0], s)
    with loras_loaded(pipe, files):
        res = _render(pipe, ax, ay, panels, fixed, params, files, s, title=None,
                      base_label=f"{label} · forgetting check", desc="forgetting check")
    diffs = [[image_difference(res.cells[p][r][0], res.cells[p][r][1]) for p in range(len(res.cells))]
             for r in range(len(rows))]
    change = [sum(d) / len(d) for d in diffs]
    n = len(unrelated)
    panels = range(len(res.cells))
    noise = [seed_noise([res.cells[p][r][0] for p in panels]) for r in range(n)] if len(res.cells) > 1 else None
    return ForgettingReport(res, unrelated, change[:n], concept_prompt, change[n] if concept_prompt else None,
                            noise, strength)


def relative_drift(change: float | None, noise: float | None) -> float | None:
    """`change` (the LoRA's pixel change of an unrelated prompt) per `noise` (the base model's seed-to-seed
    pixel difference there); None without both (one seed has no seed-to-seed noise)."""
    return change / noise if change is not None and noise else None


def seed_noise(images) -> float:
    """Mean pixel difference between the pictures of different seeds (`image_difference`, 0-1): how much a
    picture changes when only the starting noise does - the yardstick of a LoRA's drift on one prompt."""
    pairs = [(a, b) for k, a in enumerate(images) for b in images[k + 1:]]
    return sum(image_difference(a, b) for a, b in pairs) / len(pairs) if pairs else 0.0


def image_difference(a, b) -> float:
    """Mean absolute per-pixel difference of two RGB images, on a 0-1 scale."""
    import numpy as np

    if a.size != b.size:
        b = b.resize(a.size)
    x = np.asarray(a.convert("RGB"), dtype=np.float32)
    y = np.asarray(b.convert("RGB"), dtype=np.float32)
    return float(np.abs(x - y).mean() / 255.0)
