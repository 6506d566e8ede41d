"""Which checkpoint, at which strength - chosen from measures, with the reasons and warnings.

The rules, in the order they apply (each threshold below says why it is what it is; the toy world's
numbers behind them: bench/README.md "Recommendation calibration", `bench/recommend_calibration.py`):
1. The concept measure (a plugged-in scorer such as the toy star detector, else DINO, else CLIP-I)
   is best at some cell. Cells within the noise of that best are equally good: more seeds would
   reorder them. Every cell is drawn from the same seeds, so the noise between two cells is that of
   their per-seed DIFFERENCE (paired): a seed that draws the concept at one checkpoint mostly draws
   it at the next, and the paired band is narrower than either cell's own spread. A candidate must
   also show the concept (above the base model by more than its own noise: with all-or-nothing seeds a
   cell at the base's level could "tie" the best); when none does, the best cell is taken, under-fit.
2. Of those, cells whose unrelated prompts stay the base model's pictures are preferred (a LoRA
   should not redraw everything; `forgetting.DRIFT_NOISE`), then the earliest checkpoint, then the
   lowest strength: the least training and the least weight that reach the concept leave the base
   model most intact.
3. Warnings: under-fit (the concept measure still rising at the last checkpoint: train longer);
   over-fit (validation loss rising, the concept measure falling after its peak, the seeds'
   pictures collapsing into one, unrelated prompts drifting: take an earlier checkpoint or a lower
   strength); concept leak (the class prompt without the trigger word shows the concept almost as
   much as with it: the trigger is not needed).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..i18n import t
from ..jsonlines import TRAIN_LOG, read_json_lines
from .forgetting import DRIFT_NOISE, relative_drift
from .scoring import Measurements

# two standard errors of the paired difference over the seeds (~95% of reruns with other seeds land within).
# Toy world, 4 seeds, normal recipe's 3 training seeds (8 cells each): the unpaired band (2 SE of the best cell,
# 0.18-0.21 wide) called 2, 7 and 7 cells equal to the best, the paired band 1, 4 and 4. Paired is narrower
# where the seeds agree (a seed drawing the star at two checkpoints); where one seed draws it and another does
# not (the star is all-or-nothing per seed), 4 seeds cannot tell and both bands stay ~0.18 wide.
NOISE_SE = 2.0
MIN_TOLERANCE = 0.02  # share of the LoRA's gain over the base below which two cells count as equal
VAL_RISE = 0.05  # validation loss 5% above its minimum at the last evaluation: rising, not noise
# the last checkpoint lost half the chosen one's diversity (1 - mean pairwise similarity of seeds), in the
# embeddings AND in pixels: the toy demo run's tiny random DINOv2 went 0.980 -> 0.992 (kept 42%) while its pixel
# diversity kept 95% (0.133 -> 0.127) - the embeddings alone do not make a collapse
COLLAPSE = 0.5
LEAK_RATIO = 0.8  # the class prompt without the trigger gets 80% of the trigger's gain: the trigger is not needed


@dataclass
class Recommendation:
    """The checkpoint and strength to use, why, and what to watch out for."""

    checkpoint: str  # label, e.g. "step 150"
    step: int
    strength: float
    file: str
    measure: str  # the concept measure that decided
    value: float
    best: float
    tolerance: float
    reason: str  # one paragraph in the learner's language
    warnings: dict[str, str] = field(default_factory=dict)  # underfit / overfit / leak -> one line each
    row: int = 0  # index of the checkpoint in the measurements
    numbers: dict[str, float] = field(default_factory=dict)  # the chosen cell's measures

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in ("checkpoint", "step", "strength", "file", "measure", "value", "best",
                                              "tolerance", "reason", "warnings", "numbers")}


def read_val_losses(run_dir: str | os.PathLike) -> list[tuple[int, float]]:
    """(step, validation loss) from the trainer's log events `{"event": "val_loss", ...}`, by step; [] without."""
    path = Path(run_dir) / TRAIN_LOG
    if not path.is_file():
        return []
    records, _ = read_json_lines(path)
    out = {}
    for r in records:
        if r.get("event") == "val_loss" and isinstance(r.get("step"), int) \
                and isinstance(r.get("val_loss"), (int, float)):
            out[r["step"]] = float(r["val_loss"])
    return sorted(out.items())


def concept_measure(m: Measurements) -> str:
    """The measure that decides: the first plugged-in scorer, else DINO (DreamBooth: tells subjects of a
    class apart better than CLIP), else CLIP-I."""
    present = set().union(*(c.keys() for row in m.cells for c in row))
    for name in [*m.scorers, "dino", "clip_i"]:
        if name in present:
            return name
    from ..errors import ConfigError

    raise ConfigError("no concept measure -> load an evaluation model (clip_model/dino_model) or pass a "
                      "concept scorer")


def _f(v) -> float:
    return float("nan") if v is None else float(v)


def _paired_se(a, b) -> float | None:
    """Standard error of the mean of a - b over the same seeds (None without per-seed values for both)."""
    if not isinstance(a, list) or not isinstance(b, list) or len(a) != len(b) or len(a) < 2:
        return None
    d = [x - y for x, y in zip(a, b)]
    mean = sum(d) / len(d)
    return (sum((v - mean) ** 2 for v in d) / (len(d) - 1) / len(d)) ** 0.5


def recommend_checkpoint(m: Measurements, val_losses: list[tuple[int, float]] = (), lang: str | None = None
                         ) -> Recommendation:
    """Apply the module's rules to measured cells; `val_losses`: (step, loss) from `read_val_losses`."""
    name = concept_measure(m)
    j0 = m.strengths.index(0.0)
    cols = [j for j, s in enumerate(m.strengths) if s != 0]
    base = _f(m.cells[0][j0].get(name))
    cells = [(i, j) for i in range(len(m.cells)) for j in cols]
    value = {(i, j): _f(m.cells[i][j].get(name)) for i, j in cells}
    value[(0, j0)] = base
    bi, bj = max(cells, key=lambda c: (value[c], -c[0], -c[1]))
    best = value[(bi, bj)]
    floor = max(MIN_TOLERANCE * abs(best - base), 1e-9)

    def tol(c, d=(bi, bj)) -> float:
        """How far apart cells c and d may lie from the seeds alone: paired over the seeds when both have
        per-seed values, else the standard error of d's mean."""
        se = _paired_se(m.cells[c[0]][c[1]].get(f"{name}_seeds"), m.cells[d[0]][d[1]].get(f"{name}_seeds"))
        if se is None:
            se = _f(m.cells[d[0]][d[1]].get(f"{name}_se", 0.0))
        return max(NOISE_SE * se, floor)

    # a candidate must also show the concept: above the base model by more than its own seed noise (a cell
    # at the base's level "ties" the best only because its band is wide); none does: the best cell, under-fit
    shows = [c for c in cells if value[c] - base > tol((0, j0), c)]
    near = [c for c in shows if value[c] >= best - tol(c)] or [(bi, bj)]
    ci, cj = min(near, key=lambda c: (drifts(m.cells[c[0]][c[1]], m.strengths[c[1]]), c[0], m.strengths[c[1]]))
    chosen = m.cells[ci][cj]
    warnings: dict[str, str] = {}
    # under-fit: at the chosen strength the last checkpoint still gains over the one before
    curve = [value[(i, cj)] for i in range(len(m.cells))]
    learned = best - base > tol((0, j0))
    over = _overfit_signs(m, name, value, tol, ci, cj, val_losses, lang, learned)
    last, prev = (len(m.cells) - 1, cj), (len(m.cells) - 2, cj)
    # with over-fit signs "train longer" would be harmful advice, even when the concept is not there yet
    if not over and not learned:
        warnings["underfit"] = t("rec.not_learned", lang, measure=name, best=best, base=base)
    elif not over and len(curve) > 1 and curve[-1] - curve[-2] > tol(last, prev) and curve[-1] >= best - tol(last):
        warnings["underfit"] = t("rec.underfit", lang, measure=name, prev=curve[-2], last=curve[-1],
                                 label=m.labels[-1])
    if over:
        warnings["overfit"] = t("rec.overfit", lang, signs="; ".join(over))
    # the band that decided: the chosen cell's to the best, or (the best chosen) the runner-up's
    runner = max((c for c in cells if c != (bi, bj)), key=lambda c: value[c], default=None)
    ctol = tol((ci, cj)) if (ci, cj) != (bi, bj) or runner is None else tol(runner)
    leak = _leak(chosen, name, base, value[(ci, cj)], ctol)
    if leak is not None:
        warnings["leak"] = t("rec.leak", lang, ratio=leak, measure=name)
    reason = _reason(m, name, ci, cj, value[(ci, cj)], best, (bi, bj), ctol, base, drift(chosen), lang)
    return Recommendation(m.labels[ci], m.steps[ci], m.strengths[cj], m.files[ci] if m.files else "", name,
                          value[(ci, cj)], best, ctol, reason, warnings, ci, dict(chosen))


def drift(cell: dict) -> float | None:
    """Unrelated prompts' pixel change per the base model's seed-to-seed pixel difference (`relative_drift`)."""
    return relative_drift(cell.get("pixel_change"), cell.get("pixel_noise"))


def drifts(cell: dict, strength: float) -> bool:
    """The cell's unrelated prompts drift: `drift` above DRIFT_NOISE per unit of strength (a LoRA's change is
    about linear in its strength; a normal run's drift at 0.5 was about half its drift at 1)."""
    d = drift(cell)
    return d is not None and d > DRIFT_NOISE * strength


def _overfit_signs(m, name, value, tol, ci, cj, val_losses, lang, learned) -> list[str]:
    """Validation loss and unrelated drift always count; the concept's own signs (peak, collapse) only
    once the concept is there (before that they are the LoRA starting to learn)."""
    signs = []
    if len(val_losses) >= 2:
        low_step, low = min(val_losses, key=lambda sv: (sv[1], sv[0]))
        last_step, last = val_losses[-1]
        if last_step > low_step and last > low * (1 + VAL_RISE):
            signs.append(t("rec.sign_val", lang, low=low, low_step=low_step, last=last, last_step=last_step))
    # at the lowest strength measured: if a lower strength keeps unrelated prompts, that is the fix, not a sign
    low = min((j for j in range(len(m.strengths)) if m.strengths[j]), key=lambda j: m.strengths[j])
    if drifts(m.cells[-1][low], m.strengths[low]):
        signs.append(t("rec.sign_drift", lang, ratio=drift(m.cells[-1][low]), strength=m.strengths[low],
                       limit=DRIFT_NOISE * m.strengths[low]))
    if not learned:
        return signs
    curve = [value[(i, cj)] for i in range(len(m.cells))]
    peak = max(range(len(curve)), key=lambda i: (curve[i], -i))
    if peak < len(curve) - 1 and curve[-1] < curve[peak] - tol((len(curve) - 1, cj), (peak, cj)):
        signs.append(t("rec.sign_peak", lang, measure=name, peak=curve[peak], label=m.labels[peak], last=curve[-1]))
    # diversity lost after the chosen checkpoint (training on made the seeds' pictures alike)
    chosen, last = m.cells[ci][cj], m.cells[-1][cj]
    if ci < len(m.cells) - 1 and chosen.get("seed_similarity", 1) < 1 and "seed_similarity" in last:
        kept = (1 - last["seed_similarity"]) / (1 - chosen["seed_similarity"])
        # pictures that became alike are alike in pixels too: without that the embeddings' similarity moved alone
        pixels = last.get("pixel_diversity", 0) / chosen["pixel_diversity"] if chosen.get("pixel_diversity") else 0
        if kept < COLLAPSE and pixels < COLLAPSE:
            signs.append(t("rec.sign_collapse", lang, kept=kept))
    return signs


def _leak(cell: dict, name: str, base: float, value: float, tol: float) -> float | None:
    """Share of the trigger's gain that the class prompt gets without it, when that share is a leak."""
    without = cell.get(f"class_{name}")
    gain = value - base
    if without is None or gain <= tol:
        return None
    share = (without - base) / gain
    return share if share >= LEAK_RATIO else None


def _reason(m, name, ci, cj, value, best, best_cell, tol, base, drift_, lang) -> str:
    parts = [t("rec.reason", lang, label=m.labels[ci], strength=m.strengths[cj], measure=name, value=value,
               base=base, best=best, best_label=m.labels[best_cell[0]], best_strength=m.strengths[best_cell[1]],
               tol=tol)]
    if (ci, cj) != best_cell:
        parts.append(t("rec.reason_earlier", lang))
    cell = m.cells[ci][cj]
    extra = [f"{k} {cell[k]:.3f}" for k in ("clip_i", "dino", "clip_t", "seed_similarity") if k in cell and k != name]
    if extra:
        parts.append(t("rec.reason_other", lang, values=", ".join(extra)))
    if drift_ is not None:
        parts.append(t("rec.reason_drift", lang, ratio=drift_))
    return " ".join(parts)
