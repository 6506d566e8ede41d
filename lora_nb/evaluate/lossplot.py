"""The loss view: per-step training loss from the trainer's log, smoothed, with checkpoint and sample markers.

The trainer appends one JSON object per line to `<output_dir>/logs/train_log.jsonl`:

    {"step": 12, "epoch": 1, "loss": 0.113, "lr": 0.0001, "time": 5.2}        one per optimizer step
    {"event": "checkpoint", "step": 500, "path": "lora-step00000500.safetensors"}
    {"event": "sample", "step": 500, "paths": ["samples/step00000500_0.png", ...]}
    {"event": "resume", "step": 500, "state": "step-00000500", "notes": [...]}  a resumed run (not plotted)
    {"event": "val_loss", "step": 500, "val_loss": 0.11, "train_eval_loss": 0.09, "n": 3}   validation loss
                                                   (lora_nb.training.validation), at step 0 and each checkpoint

A line cut off by a full disk or a disconnect is skipped and named in `TrainLog.note`.

Diffusion loss is noisy by nature: every step draws a random timestep, and the loss at t close to
1000 is far larger than at t close to 0. So the raw curve is drawn faintly and an EMA (TensorBoard's
debiased form) carries the trend. Kohya practice guide's "0.08-0.1 is typical for SD1.5, 0.08 is good" is
drawn as a shaded band and labelled as what it is: an orientation hint, not a target to train to
(the loss level depends on the data, the noise schedule and the model family; the sample images
and the XY grid of step 6 decide which checkpoint is good).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LoraNbError
from ..families.facts import FACTS, facts
from ..fonts import new_figure
from ..i18n import STRINGS, t
from ..jsonlines import TRAIN_LOG, bad_lines_note, read_json_lines

LOG_RELPATH = TRAIN_LOG
SD15_BAND = FACTS["sd15"].typical_loss  # Kohya practice guide: "LOSS 0.08~0.1 is good, 0.08 better" (SD1.5)
BAND_LABEL = STRINGS["plot.band"]["en"]


@dataclass
class TrainLog:
    """The parsed training log. Step lists are aligned; a resumed run's re-logged steps replace the old ones."""

    path: Path
    steps: list[int] = field(default_factory=list)
    epochs: list[float] = field(default_factory=list)  # fractional: step / steps per epoch
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    time: list[float] = field(default_factory=list)
    checkpoints: list[tuple[int, str]] = field(default_factory=list)  # (step, path)
    samples: list[tuple[int, list[str]]] = field(default_factory=list)  # (step, image paths)
    val_steps: list[int] = field(default_factory=list)  # validation loss: held-out images, fixed noise
    val_loss: list[float] = field(default_factory=list)
    train_eval_loss: list[float] = field(default_factory=list)  # the same measure on as many training images
    skipped_lines: int = 0  # lines that were not valid JSON (e.g. cut off by a Colab disconnect)
    note: str = ""  # one line saying which lines were skipped and why, '' when none were

    @property
    def run_dir(self) -> Path:
        """The run folder the log belongs to; relative paths in events are resolved against it."""
        return self.path.parent.parent if self.path.parent.name == "logs" else self.path.parent

    def resolve(self, p: str) -> Path:
        q = Path(p)
        return q if q.is_absolute() else self.run_dir / q


def find_log(run: str | os.PathLike) -> Path:
    """`run` is a run folder (its logs/train_log.jsonl is used) or the .jsonl file itself."""
    p = Path(run)
    if p.is_dir():
        p = p / LOG_RELPATH
    if not p.is_file():
        raise LoraNbError(f"no training log at {p} -> train first (step 5), or pass the run folder "
                          f"(output_dir) or its {LOG_RELPATH.as_posix()} file")
    return p


def read_train_log(run: str | os.PathLike) -> TrainLog:
    """Parse the JSON-lines log; tolerant of a half-written last line (skipped and reported in `note`) and of
    resumed runs."""
    path = find_log(run)
    by_step: dict[int, dict] = {}
    ckpts: dict[int, str] = {}
    samples: dict[int, list[str]] = {}
    vals: dict[int, dict] = {}
    records, bad = read_json_lines(path)
    stepless = 0
    for rec in records:
        try:
            step = int(rec["step"])
        except (KeyError, TypeError, ValueError):
            stepless += 1
            continue
        event = rec.get("event")
        if event == "checkpoint" and "path" in rec:
            ckpts[step] = str(rec["path"])
        elif event == "sample":
            samples[step] = [str(p) for p in rec.get("paths", [])]
        elif event == "val_loss":
            vals[step] = rec
        elif event is None and "loss" in rec:
            by_step[step] = rec  # a resumed run logs the step again: the later record wins
    note = bad_lines_note(path, bad)
    if stepless:
        note = (note + "; " if note else f"{path.name}: ") + f"skipped {stepless} record(s) without a step"
    log = TrainLog(path=path, skipped_lines=len(bad) + stepless, note=note)
    for step in sorted(by_step):
        rec = by_step[step]
        log.steps.append(step)
        log.loss.append(_float(rec.get("loss")))
        log.lr.append(_float(rec.get("lr")))
        log.epochs.append(_float(rec.get("epoch", 0)))
        log.time.append(_float(rec.get("time")))
    log.checkpoints = sorted(ckpts.items())
    log.samples = sorted(samples.items())
    for step in sorted(vals):
        log.val_steps.append(step)
        log.val_loss.append(_float(vals[step].get("val_loss")))
        log.train_eval_loss.append(_float(vals[step].get("train_eval_loss")))
    return log


def _float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def ema(values: Sequence[float], smoothing: float = 0.9) -> list[float]:
    """Debiased exponential moving average (as TensorBoard's smoothing slider).

    `smoothing` 0 returns the values unchanged; 0.99 averages over roughly the last 100 steps.
    Non-finite values (a NaN step) are skipped and the previous average is carried over.
    """
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
    out, acc, n = [], 0.0, 0
    for v in values:
        if math.isfinite(v):
            acc = acc * smoothing + (1.0 - smoothing) * v
            n += 1
        out.append(acc / (1.0 - smoothing ** n) if n else math.nan)
    return out


def loss_summary(log: TrainLog | str | os.PathLike, smoothing: float = 0.9) -> dict:
    """Numbers a notebook prints under the plot: steps, last/min smoothed loss, checkpoints, NaN steps."""
    log = log if isinstance(log, TrainLog) else read_train_log(log)
    sm = ema(log.loss, smoothing)
    finite = [(s, v) for s, v in zip(log.steps, sm) if math.isfinite(v)]
    best = min(finite, key=lambda t: t[1]) if finite else (None, math.nan)
    return {
        "steps": log.steps[-1] if log.steps else 0,
        "last_loss_smoothed": finite[-1][1] if finite else math.nan,
        "min_loss_smoothed": best[1],
        "min_loss_step": best[0],
        "checkpoints": [s for s, _ in log.checkpoints],
        "sample_steps": [s for s, _ in log.samples],
        "nan_steps": [s for s, v in zip(log.steps, log.loss) if not math.isfinite(v)],
        "skipped_lines": log.skipped_lines,
        "note": log.note,
    }


def loss_figure(
    log: TrainLog | str | os.PathLike,
    smoothing: float = 0.9,
    band: tuple[float, float] | None = SD15_BAND,
    family: str | None = None,
    show_raw: bool = True,
    show_lr: bool = True,
    title: str | None = None,
    figsize: tuple[float, float] = (9.0, 4.5),
    lang: str | None = None,
):
    """A matplotlib Figure of the loss: raw (faint), EMA-smoothed, checkpoint lines, sample markers.

    `band` shades Kohya practice guide's SD1.5 range; it is dropped automatically when `family` names another
    model family (Flux/SDXL losses sit at other levels). `show_lr` adds the learning rate on a
    second axis. The Figure is built without pyplot, so it never leaks into global state; a
    notebook displays it inline, `fig.savefig(path)` writes it. Labels are in `lang` (default: the kit's
    language); Chinese is drawn with the font `lora_nb.fonts` chooses.
    """
    log = log if isinstance(log, TrainLog) else read_train_log(log)
    if family is not None and facts(family).typical_loss is None:
        band = None
    title = title or t("plot.loss_title", lang, run=log.run_dir.name)
    fig = new_figure([title], figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    ax.set_xlabel(t("plot.step", lang))
    ax.set_ylabel(t("plot.loss", lang))
    ax.set_title(title, wrap=True)
    ax.grid(True, alpha=0.3)
    if band is not None:
        ax.axhspan(band[0], band[1], color="tab:green", alpha=0.15, label=t("plot.band", lang), zorder=0)
    if not log.steps:
        ax.text(0.5, 0.5, t("plot.no_steps", lang), transform=ax.transAxes, ha="center", va="center")
        if band is not None:
            fig.legend(loc="outside lower center", fontsize=8, frameon=False)
        return fig

    smooth = ema(log.loss, smoothing)
    if show_raw:
        ax.plot(log.steps, log.loss, color="tab:blue", alpha=0.25, linewidth=0.8, label=t("plot.raw", lang))
    ax.plot(log.steps, smooth, color="tab:blue", linewidth=2.0, label=t("plot.ema", lang, smoothing=smoothing))
    nan_steps = [s for s, v in zip(log.steps, log.loss) if not math.isfinite(v)]
    if nan_steps:
        ax.plot(nan_steps, [0.0] * len(nan_steps), "x", color="tab:red", label=t("plot.nan", lang), clip_on=False)

    for i, (step, path) in enumerate(log.checkpoints):
        ax.axvline(step, color="tab:gray", linestyle="--", linewidth=1.0,
                   label=t("plot.checkpoint", lang) if i == 0 else None)
        ax.annotate(str(step), (step, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -10),
                    textcoords="offset points", fontsize=7, color="tab:gray")
    if log.val_steps:
        ax.plot(log.val_steps, log.val_loss, "o-", color="tab:red", linewidth=1.5, markersize=5,
                label=t("plot.val_loss", lang), zorder=4)
        ax.plot(log.val_steps, log.train_eval_loss, "s--", color="tab:green", linewidth=1.0, markersize=4,
                label=t("plot.train_eval_loss", lang), zorder=4)
        curve = val_curve(log)
        if curve is not None and curve.rising:
            ax.plot([curve.best_step], [curve.best_loss], "*", color="tab:red", markersize=14, zorder=5,
                    label=t("plot.val_best", lang, step=curve.best_step))
    if log.samples:
        xs = [s for s, _ in log.samples]
        ys = [_value_at(log.steps, smooth, s) for s in xs]
        ax.plot(xs, ys, "v", color="tab:orange", markersize=8, label=t("plot.samples", lang), zorder=3)

    handles, labels = ax.get_legend_handles_labels()
    if show_lr and any(math.isfinite(v) for v in log.lr):
        ax2 = ax.twinx()
        ax2.plot(log.steps, log.lr, color="tab:purple", linestyle=":", linewidth=1.2, label=t("plot.lr", lang))
        ax2.set_ylabel(t("plot.lr", lang), color="tab:purple")
        ax2.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    # below the axes, so it never hides the curve or the checkpoint step numbers
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    return fig


@dataclass
class ValCurve:
    """Where the validation loss is lowest, and whether it has been rising since (overtraining)."""

    best_step: int
    best_loss: float
    rising: bool      # the last value is above the minimum by more than the margin, and so are 2+ points
    last_step: int
    last_loss: float


VAL_RISE_MARGIN = 0.03  # relative: the fixed-noise measurement moves by ~1% between close checkpoints


def val_curve(log: TrainLog | str | os.PathLike, margin: float = VAL_RISE_MARGIN) -> ValCurve | None:
    """The U-curve of overtraining in the validation loss: its minimum, and `rising` when the curve has
    clearly turned up after it - the last value exceeds the minimum by more than `margin` (relative) AND at
    least two points after the minimum do, so one noisy point is not read as a turn. None without points."""
    log = log if isinstance(log, TrainLog) else read_train_log(log)
    pts = [(s, v) for s, v in zip(log.val_steps, log.val_loss) if math.isfinite(v)]
    if not pts:
        return None
    i = min(range(len(pts)), key=lambda k: pts[k][1])  # the first minimum when tied
    best_step, best = pts[i]
    limit = best + abs(best) * margin
    above = sum(v > limit for _, v in pts[i + 1:])
    return ValCurve(best_step, best, pts[-1][1] > limit and above >= 2, pts[-1][0], pts[-1][1])


def _value_at(steps: list[int], values: list[float], step: int) -> float:
    """The value logged at `step`, or at the closest logged step before it."""
    import bisect

    i = bisect.bisect_right(steps, step) - 1
    return values[max(i, 0)]


def sample_labels(run_dir: str | os.PathLike, n: int, lang: str | None = None) -> list[str]:
    """What each validation-image row shows: its prompt and seed, from the run's config.toml (the
    trainer draws prompt i with seed sample_seed + i); "prompt 1".. when the run has no config."""
    from ..config import Config

    try:
        cfg = Config.load(Path(run_dir) / "config.toml")
    except (LoraNbError, OSError):
        cfg = None
    prompts = list(cfg.sample_prompts) if cfg is not None else []
    return [t("samples.row", lang, prompt=prompts[i], seed=cfg.sample_seed + i) if i < len(prompts)
            else t("samples.row_unknown", lang, n=i + 1) for i in range(n)]


def samples_grid(log: TrainLog | str | os.PathLike, cell_size: int | None = 256, max_columns: int | None = None,
                 show_at: int | None = 256, lang: str | None = None, **grid_kwargs):
    """The sample images side by side: one column per sampling step, one row per sample prompt
    (labelled with the prompt and its seed). Pictures smaller than `show_at` px are enlarged for display.

    Returns a `grids.Grid` (None when no samples were logged). Missing image files leave an empty
    cell rather than failing, so a run that was cut off can still be looked at.
    """
    from PIL import Image

    from ..grids import labelled_grid

    log = log if isinstance(log, TrainLog) else read_train_log(log)
    events = log.samples
    if max_columns and len(events) > max_columns:  # keep the first, the last and evenly spaced ones
        if max_columns == 1:
            events = events[-1:]
        else:
            idx = sorted({round(i * (len(events) - 1) / (max_columns - 1)) for i in range(max_columns)})
            events = [events[i] for i in idx]
    if not events:
        return None
    n_rows = max(len(paths) for _, paths in events)
    cols = []
    for _, paths in events:
        col = []
        for r in range(n_rows):
            p = log.resolve(paths[r]) if r < len(paths) else None
            if p is not None and p.is_file():
                with Image.open(p) as im:
                    col.append(im.convert("RGB"))
            else:
                col.append(None)
        cols.append(col)
    rows = [[cols[c][r] for c in range(len(cols))] for r in range(n_rows)]
    grid_kwargs.setdefault("col_title", t("samples.axis_x", lang))
    grid_kwargs.setdefault("row_title", t("samples.axis_y", lang))
    return labelled_grid(rows, col_labels=[t("samples.col", lang, step=s) for s, _ in events],
                         row_labels=sample_labels(log.run_dir, n_rows, lang), cell_size=cell_size, show_at=show_at,
                         **grid_kwargs)
