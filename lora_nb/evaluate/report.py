"""`evaluate_run(run_dir)`: measure a training run's checkpoints, recommend one, and show why.

    rep = evaluate_run("runs/my_lora", seeds=[1, 2, 3, 4])
    print(rep.recommendation.reason); rep.figure(); rep.grid   # chosen cell framed
    rep.write()   # <run>/evaluation/report.md, measures.png, grid.png, recommendation.json

Reads the run's config.toml (base model, training pictures, validation prompts, trigger word) and
its log's validation losses; everything can be given instead.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..fileio import atomic_path, atomic_write_text
from ..fonts import new_figure
from ..i18n import t
from ..prompts import UNRELATED_PROMPTS
from .files import lora_files
from .metrics import DEFAULT_CLIP, DEFAULT_DINO, ConceptScorer, EvalModels
from .recommend import Recommendation, read_val_losses, recommend_checkpoint
from .result import XYResult
from .scoring import Measurements, measure, reference_images
from .settings import SampleSettings
from .xy import xy_grid

EVAL_STRENGTHS = (0.5, 0.8, 1.0)  # FluxTrainer walkthrough §8: the best strength was near 0.8
EVAL_SEEDS = (0, 1, 2, 3)  # a seed either draws the concept or not: fewer leave a cell's mean to chance
FRAME = (230, 30, 30)  # the chosen cell's frame on the grid
# measures shown in the table and plotted over steps, in this order (those present)
SHOWN = ("clip_i", "dino", "clip_t", "seed_similarity", "drift", "pixel_change", "concept_pixel_change")
RUN_CONFIG = "config.toml"  # the trainer's copy of its Config (training.runfolder; evaluate may not import it)


@dataclass
class EvalReport:
    """A run's measurements, the recommendation and the XY grid with the chosen cell framed."""

    run_dir: Path
    measurements: Measurements
    recommendation: Recommendation
    val_losses: list[tuple[int, float]]
    grid: XYResult | None = None
    lang: str | None = None

    def measures(self) -> list[str]:
        present = set().union(*(c.keys() for row in self.measurements.cells for c in row))
        first = [self.recommendation.measure, f"class_{self.recommendation.measure}"]
        return [k for k in dict.fromkeys([*first, *SHOWN]) if k in present]

    def frame(self, result: XYResult) -> XYResult:
        """`result` (an XY grid of checkpoints x strengths) with the recommended cell framed in every panel;
        unchanged when the grid has no such row and column."""
        r = self.recommendation
        axes = {a.kind: a for a in (result.x, result.y)}
        if "lora" not in axes or "strength" not in axes or r.checkpoint not in axes["lora"].labels \
                or r.strength not in axes["strength"].values:
            return result
        at = {"lora": axes["lora"].labels.index(r.checkpoint), "strength": axes["strength"].values.index(r.strength)}
        for p in range(len(result.cells)):
            result = frame_cell(result, at[result.y.kind], at[result.x.kind], p)
        return result

    def markdown(self) -> str:
        m, r = self.measurements, self.recommendation
        names = self.measures()
        lines = [t("report.heading", self.lang, title=t("rec.title", self.lang), checkpoint=r.checkpoint,
                   strength=f"{r.strength:g}"), "", r.reason, ""]
        lines += [f"- {w}" for w in r.warnings.values()] or [f"- {t('rec.none', self.lang)}"]
        lines += ["", f"## {t('rec.table', self.lang)}", "",
                  "| " + " | ".join(t(k, self.lang) for k in ("report.checkpoint", "report.step", "report.strength"))
                  + " | " + " | ".join(names) + " |",
                  "|---|---|---|" + "---|" * len(names)]
        for i, row in enumerate(m.cells):
            for j, cell in enumerate(row):
                mark = " **←**" if (i, j) == (r.row, m.strengths.index(r.strength)) else ""
                vals = " | ".join(f"{cell[k]:.3f}" if k in cell else "–" for k in names)
                lines.append(f"| {m.labels[i]}{mark} | {m.steps[i]} | {m.strengths[j]:g} | {vals} |")
        if self.val_losses:
            lines += ["", f"| {t('report.step', self.lang)} | val_loss |", "|---|---|"]
            lines += [f"| {s} | {v:.4f} |" for s, v in self.val_losses]
        return "\n".join(lines) + "\n"

    def figure(self):
        """Each measure over the training steps, one line per strength (strength 0: the base model, dashed)."""
        m, names = self.measurements, self.measures()
        titles = [t("rec.plot_title", self.lang, measure=n) for n in names]
        cols = min(3, len(names))
        rows = math.ceil(len(names) / cols)
        fig = new_figure(titles, figsize=(4.2 * cols, 3.2 * rows), layout="constrained")
        for k, (name, title) in enumerate(zip(names, titles)):
            ax = fig.add_subplot(rows, cols, k + 1)
            for s in m.strengths:
                ys = [_nan(v) for v in m.values(name, s)]
                ax.plot(m.steps, ys, "--" if s == 0 else "-o", label=t("rec.strength", self.lang, strength=s),
                        markersize=3)
            if name == self.recommendation.measure:
                ax.plot([self.recommendation.step], [self.recommendation.value], "s", color="red", markersize=9,
                        fillstyle="none")
            ax.set_title(title, fontsize=9)
            ax.set_xlabel(t("plot.step", self.lang), fontsize=8)
            ax.tick_params(labelsize=7)
        fig.axes[0].legend(fontsize=7)
        return fig

    def write(self, folder: str | os.PathLike | None = None) -> Path:
        """report.md, measures.png, grid.png (if drawn) and recommendation.json into `folder`
        (default `<run>/evaluation`), atomically; returns the report's path."""
        folder = Path(folder) if folder is not None else self.run_dir / "evaluation"
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / "measures.png") as tmp:
            self.figure().savefig(tmp, format="png", dpi=110)
        extra = "\n![measures](measures.png)\n"
        if self.grid is not None:
            self.grid.save(folder / "grid.png")
            extra += "\n![grid](grid.png)\n"
        atomic_write_text(folder / "recommendation.json", json.dumps(self.to_json(), indent=1, ensure_ascii=False))
        return atomic_write_text(folder / "report.md", self.markdown() + extra)

    def to_json(self) -> dict:
        return {"run": str(self.run_dir), "recommendation": self.recommendation.to_json(),
                "measurements": self.measurements.to_json(), "val_losses": self.val_losses}

    def _repr_markdown_(self) -> str:
        return self.markdown()


def _nan(v):
    return float("nan") if v is None else v


def frame_cell(result: XYResult, row: int, col: int, panel: int = 0, colour=FRAME) -> XYResult:
    """The grid with one cell framed (a copy of the sheet; the cells stay as drawn)."""
    from PIL import ImageDraw

    image = result.image.copy()
    left, top, right, bottom = result.boxes[panel][row][col]
    w = max(2, (right - left) // 40)
    ImageDraw.Draw(image).rectangle((left - w, top - w, right + w - 1, bottom + w - 1), outline=colour, width=w)
    return XYResult(image, result.cells, result.x, result.y, result.panels, result.params, result.title,
                    result.boxes)


def class_prompt_of(prompt: str, trigger: str) -> str | None:
    """The prompt without its trigger word (None when the trigger is not in it)."""
    if not trigger or trigger not in prompt:
        return None
    return re.sub(r"\s+", " ", re.sub(r"\s*\b" + re.escape(trigger) + r"\b[,.]?", "", prompt)).strip(" ,.") or None


def evaluate_run(run_dir: str | os.PathLike, *, base=None, prompt: str | None = None,
                 class_prompt: str | None = None, trigger: str | None = None,
                 unrelated: Sequence[str] | None = None, strengths: Sequence[float] | None = None,
                 references: str | os.PathLike | Sequence[Any] | None = None,
                 clip_model: str = DEFAULT_CLIP, dino_model: str = DEFAULT_DINO, models: EvalModels | None = None,
                 scorers: Sequence[ConceptScorer] = (), grid: bool = True, lang: str | None = None,
                 settings: SampleSettings | None = None, **overrides) -> EvalReport:
    """Measure every checkpoint of `run_dir` at `strengths` (None: `EVAL_STRENGTHS`; 0, the base model, is
    always added), recommend one, draw the framed grid.

    Defaults from the run's config.toml: `base` its pretrained_model, `prompt` its first validation
    prompt, `unrelated` the other validation prompts (else the kit's unrelated prompts), `trigger`
    its trigger_word (the class prompt is the prompt without it), `references` its training pictures.
    `scorers`: extra concept measures (`ConceptScorer`); `models` an `EvalModels` already loaded.
    `settings`/keyword arguments: how pictures are drawn (`SampleSettings`; seeds default `EVAL_SEEDS`).
    """
    run_dir = Path(run_dir)
    cfg = _run_config(run_dir)
    if settings is None:
        overrides.setdefault("seeds", list(EVAL_SEEDS))
    s = SampleSettings.resolve(settings, overrides, "evaluate_run")
    files = lora_files(run_dir)
    base = base if base is not None else cfg.get("pretrained_model")
    prompt = prompt or next(iter(cfg.get("sample_prompts") or []), None)
    if not base or not prompt:
        raise ConfigError(f"{run_dir}: no base model or prompt in {RUN_CONFIG} -> pass base=... and prompt=... "
                          f"(CLI --base, --prompt)")
    if class_prompt is None:
        class_prompt = class_prompt_of(prompt, trigger if trigger is not None else cfg.get("trigger_word", ""))
    if unrelated is None:
        unrelated = list(cfg.get("sample_prompts") or [])[1:] or list(UNRELATED_PROMPTS[:2])
    if references is None or isinstance(references, (str, os.PathLike)):
        folder = references or cfg.get("train_data_dir")
        references = reference_images(folder) if folder and Path(folder).is_dir() else []
    models = models or EvalModels(clip_model, dino_model, device=s.device)
    if not references and models.clip is None and models.dino is None and not scorers:
        raise ConfigError("nothing to measure the concept with -> give the training pictures (references=, CLI "
                          "--references) with an evaluation model, or a concept scorer")
    from .pipeline import _open

    pipe, _ = _open(base, s)
    s = s.changed(device=None)
    final_step = cfg.get("max_train_steps") if isinstance(cfg.get("max_train_steps"), int) else None
    m = measure(pipe, files, prompt=prompt, class_prompt=class_prompt, unrelated=unrelated,
                strengths=EVAL_STRENGTHS if strengths is None else strengths,
                references=references, models=models, scorers=scorers, settings=s, cache_dir=run_dir,
                final_step=final_step)
    val = read_val_losses(run_dir)
    rec = recommend_checkpoint(m, val, lang=lang)
    sheet = None
    if grid:
        res = xy_grid(pipe, [f.path for f in files], prompt, strengths=m.strengths, seeds=s.seeds[:1],
                      settings=s.changed(seeds=s.seeds[:1], progress=False))
        sheet = frame_cell(res, rec.row, m.strengths.index(rec.strength))
    return EvalReport(run_dir, m, rec, val, sheet, lang)


def _run_config(run_dir: Path) -> dict:
    """The run's config.toml as a dict ({} when there is none: everything is then given by the caller)."""
    if not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: not a folder -> give the training run's output folder (output_dir)")
    path = run_dir / RUN_CONFIG
    if not path.is_file():
        return {}
    from ..config import Config

    return Config.load(path).to_dict()
