"""One-line translated summaries of each course step's report, printed after the step's cell."""

from __future__ import annotations

from typing import Any

from ..i18n import t


def step_summary(step: str, report: Any, lang: str | None = None) -> str:
    """A short translated summary of a step's report (CollectReport, CropReport, CaptionReport,
    CleanReport, TrainResult, XYResult path)."""
    if step == "collect":
        return t("summary.collect", lang, n=len(report.imported), concepts=len(report.concept_folders),
                 rejected=len(report.rejected), dups=len(report.duplicates))
    if step == "crop":
        return t("summary.crop", lang, n=len(report.items), mode=report.mode, resolution=report.resolution,
                 skipped=len(report.skipped))
    if step == "caption":
        return t("summary.caption", lang, written=len(report.written), skipped=len(report.skipped))
    if step == "clean":
        trig = ", ".join(f"{k} -> {v}" for k, v in report.triggers.items()) or "-"
        return t("summary.clean", lang, changed=len(report.changes), triggers=trig)
    if step == "train":
        return t("summary.train", lang, steps=report.steps, loss=report.last_loss, ckpts=len(report.checkpoints),
                 path=report.output_dir)
    if step == "evaluate":
        return t("summary.evaluate", lang, path=report)
    raise KeyError(step)
