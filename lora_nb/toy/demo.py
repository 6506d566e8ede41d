"""The whole course in one call, on CPU and offline: collect -> crop -> tags -> plan -> train -> XY grid.

Uses `datasets_sample/` (the single-concept zigzag-star set) and the built-in `tiny-shapes` base
model (`lora_nb.toy.builtin`), which draws coloured shapes but has never seen the star: the XY grid shows
the LoRA teaching it (absent at strength 0, present at 1), `star_scores.md` measures every cell
(`lora_nb.toy.detect`) and the run's evaluation (`lora_nb.evaluate.report`, the course's offline measures)
recommends a checkpoint and strength with its reason. It runs anywhere in a few minutes. Each step writes
its own folder under `out`, exactly as the notebooks do, and nothing in the sample folder is modified.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config
from ..dataset.clean import CleanOptions, clean_folder
from ..dataset.collector import collect
from ..dataset.crop import crop_folder
from ..errors import LoraNbError
from ..evaluate.recommend import Recommendation
from ..evaluate.report import evaluate_run
from ..evaluate.xy import xy_grid
from ..fileio import atomic_write_text
from ..planning.planner import plan, render_markdown
from .builtin import builtin_model_dir
from .ceiling import star_ceiling
from .detect import STAR_SCORER, star_curve

SAMPLE_CONCEPT = "20_zigzag_star"
SAMPLE_TEMPLATE = "This image is labeled as {trigger}. {caption}"  # the sample's captions (Flux LoRA guide)
STAR_PROMPT_TEMPLATE = SAMPLE_TEMPLATE.replace("{caption}", "a toy star")  # the sample's trigger id + class word
STAR_PROMPT = STAR_PROMPT_TEMPLATE.format(trigger="donpzishnk")

# The LoRA recipe for the tiny-shapes model at 64 px (measured in bench/README.md; the training
# script's --evaluate and tests/test_tiny_base.py use it too). A 4M-parameter model wants a far
# higher learning rate than the Flux LoRA guide's 1e-4 for SD1.5's 860M-parameter UNet; batch 4 steadies it,
# and the text-encoder LoRA gives the new trigger id a meaning (the tiny CLIP has never seen it).
# The LoRA trains on the objective the base was trained on (offset noise 0.1, Min-SNR 5): with it the
# star grows over the checkpoints instead of jumping about; at 5e-3 it peaked at step 75 already. A cosine
# decay from 3e-3 learns faster early and settles late: at 2e-3 constant the star peaked at step 225 and
# fell by step 300; with the decay it grew to step 300 (bench/README.md, "CPU course").
DEMO_RECIPE = dict(optimizer="adamw", learning_rate=3e-3, rank=8, alpha=8.0, lr_scheduler="cosine",
                   train_batch_size=4, train_text_encoder=True, noise_offset=0.1, min_snr_gamma=5.0)
DEMO_STEPS, DEMO_SAVE_EVERY = 300, 75
DEMO_STRENGTHS = (0.0, 0.5, 1.0)  # the grid's: the star appears between 0.5 and 1
# the evaluation's (0, the base model, is always added): at 0.5 the recipe's star scored 0.000-0.040 in every run
# measured, and with 0.5 too the evaluation added 35-39% to the demo's time, at 1 alone 14% (bench/README.md,
# "Recommendation calibration"; the target is at most 30%)
DEMO_EVAL_STRENGTHS = (1.0,)
DEMO_CFG = 5.0


def toy_eval_models() -> tuple[str, str]:
    """(CLIP folder, DINOv2 folder): tiny offline stand-ins, built once in the user cache (random weights: they
    run every code path of the evaluation; on the toy world the star detector is the measure that decides)."""
    # lazy: toy.testing imports torch and transformers (+1.6 s to importing this module, measured 2026-12-07)
    from .testing import build_tiny_eval_models, default_tiny_model_dir

    clip, dino = build_tiny_eval_models(default_tiny_model_dir("eval"))
    return str(clip), str(dino)


def sample_data_dir() -> Path:
    """`datasets_sample/` next to the package (a source checkout or an editable install)."""
    here = Path(__file__).resolve().parents[2] / "datasets_sample"
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
    star_scores: str | None = None  # markdown table, when trained on the sample star
    recommendation: Recommendation | None = None  # the evaluation's choice, when trained on the sample star


def run_demo(out: str | Path, data: str | Path | None = None, model: str | Path | None = None,
             steps: int = DEMO_STEPS, save_every: int = DEMO_SAVE_EVERY, resolution: int = 64, seed: int = 0,
             progress: bool = True, grid_seeds: int = 4, grid_steps: int = 20) -> DemoResult:
    """Every course step on the sample star (or `data`) and the built-in model (or `model`), into `out`.

    With the sample data the XY grid has `grid_seeds` seeds and every cell gets a zigzag-star score
    (`star_scores.md`): the concept should be absent at strength 0 and appear towards strength 1."""
    import torch

    from ..training.trainer import train
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

    data_is_sample = data is None
    data = Path(data) if data else sample_data_dir() / SAMPLE_CONCEPT
    model_dir = Path(model) if model else builtin_model_dir()
    say(f"base model: {model_dir}")

    rep = collect(data, out / "1_dataset", min_side=resolution, progress=progress)
    say(f"collect: {len(rep.imported)} images imported, {len(rep.rejected)} rejected -> {out / '1_dataset'}")
    crop = crop_folder(out / "1_dataset", out / "2_cropped", resolution=resolution, mode="focus",
                       focus="saliency", progress=progress, overwrite=True)
    say(f"crop: {len(crop.items)} images focus-cropped to {resolution}px -> {out / '2_cropped'}")
    tags = clean_folder(out / "2_cropped", CleanOptions(dedupe=True), out=out / "3_captions", overwrite=True)
    say(f"tags: {tags.summary().splitlines()[0]}")

    first_caption = next((out / "3_captions").rglob("*.txt")).read_text(encoding="utf-8").strip()
    if data_is_sample:  # the trigger id as the tags step left it, with the class word
        trigger = first_caption.split("labeled as ")[-1].split(".")[0]
        prompt = STAR_PROMPT_TEMPLATE.format(trigger=trigger)
    else:
        prompt = first_caption
    cfg = Config(pretrained_model=str(model_dir), train_data_dir=str(out / "3_captions"), resolution=resolution,
                 **DEMO_RECIPE, max_train_steps=steps, save_every_n_steps=save_every, seed=seed,
                 output_dir=str(out / "4_run"), sample_prompts=[prompt, "a red circle on a blue background"],
                 sample_steps=10, overwrite=True,  # the demo replaces its earlier run, as its other steps do
                 training_comment=f"lora-nb demo on {'datasets_sample' if data_is_sample else data.name}")
    cfg.save(out / "config.toml")
    the_plan = plan(cfg, purpose="object")
    say(f"plan: {the_plan.steps.formula}; checkpoints at {the_plan.steps.checkpoint_steps}")
    atomic_write_text(out / "plan.md", render_markdown(the_plan))
    result = train(cfg)
    ckpts = [files.get("kohya") for _, files in result.checkpoints]
    say(f"train: {result.steps} steps, final loss {result.last_loss:.4f}; files: "
        + ", ".join(str(p) for p in result.files.values()))

    star_table = None
    if data_is_sample:
        # measured, not just shown: the zigzag-star detector scores every cell, averaged over seeds
        ceiling = star_ceiling(model_dir)
        curve = star_curve(str(model_dir), ckpts, prompt, strengths=DEMO_STRENGTHS,
                           seeds=tuple(range(seed, seed + grid_seeds)), steps=grid_steps, cfg=DEMO_CFG,
                           size=resolution, progress=progress, ceiling=ceiling)
        grid, star_table = curve.grid, curve.markdown()
        star_note = (f"0 = no zigzag star; in brackets the share of the ceiling {ceiling:.2f}, what the sample's own "
                     f"drawings score through the base model's VAE (lora_nb.toy.ceiling): 1.00 is as starry as "
                     f"{resolution} px allows" if ceiling else "0 = no zigzag star, 1 = the sample's drawings")
        atomic_write_text(out / "star_scores.md", f"# Zigzag-star score (lora_nb.toy.detect.star_score), mean of "
                                                  f"{grid_seeds} seeds\n\n{star_note}\n\n{star_table}\n")
    else:
        grid = xy_grid(str(model_dir), ckpts, prompt, strengths=list(DEMO_STRENGTHS), seeds=seed, steps=grid_steps,
                       width=resolution, height=resolution, progress=progress, show_at=256,
                       title="lora-nb demo: checkpoint x strength")
    grid_path = out / "xy_grid.png"
    grid.save(grid_path)
    say(f"xy: {grid.shape[1]} checkpoints x {grid.shape[2]} strengths x {grid.shape[0]} seeds -> {grid_path}")
    rec = None
    if star_table:
        say(f"star score ({star_note}); rows: checkpoints, columns: LoRA strength\n{star_table}")
        # step 6 measured, as the CPU course does it: the star detector decides, unrelated prompts show drift
        clip, dino = toy_eval_models()
        report = evaluate_run(cfg.output_dir, clip_model=clip, dino_model=dino, scorers=[STAR_SCORER],
                              strengths=list(DEMO_EVAL_STRENGTHS), seeds=list(range(seed, seed + grid_seeds)),
                              steps=grid_steps, cfg=DEMO_CFG, width=resolution, height=resolution,
                              progress=progress, grid=False, lang="en")
        rec = report.recommendation
        path = report.write()
        say(f"recommend: {rec.checkpoint} at strength {rec.strength:g} ({rec.file}) -> {path}\n{rec.reason}")
        for w in rec.warnings.values():
            say(f"  {w}")
    return DemoResult(out, model_dir, out / "3_captions", result.files, ckpts, grid_path, summary, star_table, rec)
