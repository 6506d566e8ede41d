"""The whole course in one call, on CPU and offline: collect -> crop -> tags -> plan -> train -> XY grid.

Uses `datasets_sample/` (the single-concept zigzag-star set) and the built-in tiny model, so it
runs anywhere in a few minutes. Each step writes its own folder under `out`, exactly as the
notebooks do, and nothing in the sample folder is modified.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import LoraNbError

SAMPLE_CONCEPT = "20_zigzag_star"


def sample_data_dir() -> Path:
    """`datasets_sample/` next to the package (a source checkout or an editable install)."""
    here = Path(__file__).resolve().parent.parent / "datasets_sample"
    if not here.is_dir():
        raise LoraNbError("datasets_sample/ not found next to the package -> run the demo from a clone of the "
                          "repository, or pass --data with a folder of captioned images")
    return here


@dataclass
class DemoResult:
    out: Path
    model: Path
    dataset: Path
    lora_files: dict
    checkpoints: list[Path]
    grid: Path
    summary: list[str] = field(default_factory=list)


def run_demo(out: str | Path, data: str | Path | None = None, model: str | Path | None = None, steps: int = 60,
             save_every: int = 20, resolution: int = 64, seed: int = 0, progress: bool = True) -> DemoResult:
    from .collector import collect
    from .config import Config
    from .crop import crop_folder
    from .evaluate import xy_grid
    from .planner import plan, render_markdown
    from .tags import CleanOptions, clean_folder
    from .testing import build_tiny_model
    from .trainer import train

    import torch

    if not torch.cuda.is_available():
        # the tiny model gains nothing from threads, and on a busy CPU OpenMP threads waiting on
        # each other make every small op cost a scheduler time slice
        torch.set_num_threads(1)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary: list[str] = []

    def say(line: str) -> None:
        summary.append(line)
        print(line)

    data = Path(data) if data else sample_data_dir() / SAMPLE_CONCEPT
    model_dir = Path(model) if model else build_tiny_model("sd15", out / "model")
    say(f"base model: {model_dir}")

    rep = collect(data, out / "1_dataset", min_side=resolution, progress=progress)
    say(f"collect: {len(rep.imported)} images imported, {len(rep.rejected)} rejected -> {out / '1_dataset'}")
    crop = crop_folder(out / "1_dataset", out / "2_cropped", resolution=resolution, mode="focus",
                       focus="saliency", progress=progress, overwrite=True)
    say(f"crop: {len(crop.items)} images focus-cropped to {resolution}px -> {out / '2_cropped'}")
    tags = clean_folder(out / "2_cropped", CleanOptions(dedupe=True), out=out / "3_captions", overwrite=True)
    say(f"tags: {tags.summary().splitlines()[0]}")

    first_caption = next((out / "3_captions").rglob("*.txt")).read_text(encoding="utf-8")
    trigger = first_caption.split("labeled as ")[-1].split(".")[0] if "labeled as" in first_caption else ""
    cfg = Config(pretrained_model=str(model_dir), train_data_dir=str(out / "3_captions"), resolution=resolution,
                 optimizer="adamw", learning_rate=1e-3, rank=8, alpha=4.0, max_train_steps=steps,
                 save_every_n_steps=save_every, lr_scheduler="constant", seed=seed, output_dir=str(out / "4_run"),
                 sample_prompts=[f"This image is labeled as {trigger}. a toy star", "a red circle"],
                 sample_steps=10, training_comment="lora-nb demo on datasets_sample")
    cfg.save(out / "config.toml")
    the_plan = plan(cfg, purpose="object")
    say(f"plan: {the_plan.steps.formula}; checkpoints at {the_plan.steps.checkpoint_steps}")
    (out / "plan.md").write_text(render_markdown(the_plan), encoding="utf-8")
    result = train(cfg)
    ckpts = [files.get("kohya") for _, files in result.checkpoints]
    say(f"train: {result.steps} steps, final loss {result.last_loss:.4f}; files: "
        + ", ".join(str(p) for p in result.files.values()))

    grid = xy_grid(str(model_dir), ckpts, f"This image is labeled as {trigger}. a toy star",
                   strengths=[0.0, 0.5, 1.0], seeds=seed, steps=10, width=resolution, height=resolution,
                   progress=progress, title="lora-nb demo: checkpoint x strength")
    grid_path = out / "xy_grid.png"
    grid.save(grid_path)
    say(f"xy: {grid.shape[1]} checkpoints x {grid.shape[2]} strengths -> {grid_path}")
    return DemoResult(out, model_dir, out / "3_captions", result.files, ckpts, grid_path, summary)
