"""Calibrate the recommendation's over-fit drift rule and noise band on the toy world (bench/README.md,
"Recommendation calibration").

Trains the tiny-shapes LoRA on the sample star as a normal run (the demo's recipe), an over-trained run
(10x the learning rate, tests/test_recommend_toy.py's) and an under-trained run (20 steps), each with
several training seeds; evaluates every checkpoint at strengths 0.5 and 1 (star scorer + tiny offline
CLIP/DINOv2, as the demo and the course do) and prints per checkpoint x strength:

- star: the concept measure (mean over the evaluation seeds) and its standard error;
- ratio: the unrelated prompt's pixel change / the concept prompt's (the old drift measure);
- noise: the unrelated prompt's pixel change / the base model's own seed-to-seed pixel difference on that
  prompt (1 = the LoRA changes the picture as much as drawing another seed would);
- bleed: the concept measure on the unrelated prompt, minus the base model's there;
- sim: seed similarity (diversity's complement, from the tiny DINOv2's embeddings);
- pdiv: pixel diversity (the concept prompt's mean pixel difference between seeds);
- val: validation loss at the checkpoint's step (with --val-split);
and per run the recommendation (checkpoint, strength, warnings) and how many cells the unpaired and the
paired noise bands call equal to the best.

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 python bench/recommend_calibration.py --out /tmp/rec-cal
    python bench/recommend_calibration.py --out /tmp/rec-cal --kinds normal --seeds 0,1,2   # reuses trained runs
    python bench/recommend_calibration.py --out /tmp/rec-demo --demo-timing   # the demo's added evaluation time

Runs already trained (their lora.safetensors exists) and cells already measured (the run's measures.json)
are reused, so a rerun only prints. Results also go to <out>/calibration.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UNRELATED = "a red circle on a blue background"


def kinds():
    from lora_nb.toy.demo import DEMO_RECIPE, DEMO_SAVE_EVERY, DEMO_STEPS

    lr = DEMO_RECIPE["learning_rate"]
    return {"normal": dict(steps=DEMO_STEPS, every=DEMO_SAVE_EVERY),
            "over": dict(steps=60, every=20, learning_rate=10 * lr),
            "under": dict(steps=20, every=10)}


def star_data(out: Path) -> Path:
    from lora_nb.dataset.crop import crop_folder

    root = out / "star"
    if not (root / "20_zigzag_star").is_dir():
        crop_folder(ROOT / "datasets_sample" / "20_zigzag_star", root / "20_zigzag_star", resolution=64,
                    mode="focus", focus="saliency", progress=False)
    return root


def train_run(out: Path, data: Path, kind: str, seed: int, val_split: float) -> tuple[Path, float]:
    from lora_nb.config import Config
    from lora_nb.toy.builtin import builtin_model_dir
    from lora_nb.toy.demo import DEMO_RECIPE, STAR_PROMPT
    from lora_nb.training.trainer import train

    spec = dict(kinds()[kind])
    steps, every = spec.pop("steps"), spec.pop("every")
    run = out / f"{kind}-seed{seed}{'-val' if val_split else ''}"
    if (run / "lora.safetensors").is_file():
        return run, 0.0
    cfg = Config(pretrained_model=str(builtin_model_dir()), train_data_dir=str(data), resolution=64,
                 **{**DEMO_RECIPE, **spec}, max_train_steps=steps, save_every_n_steps=every, seed=seed,
                 sample_prompts=[STAR_PROMPT, UNRELATED], sample_steps=1, output_dir=str(run),
                 validation_split=val_split, overwrite=True)
    t0 = time.perf_counter()
    train(cfg)
    return run, time.perf_counter() - t0


def paired_se(a: list[float], b: list[float]) -> float:
    """Standard error of the mean of a - b over the same seeds."""
    d = [x - y for x, y in zip(a, b)]
    n = len(d)
    mean = sum(d) / n
    return (sum((v - mean) ** 2 for v in d) / (n - 1) / n) ** 0.5 if n > 1 else 0.0


def summarise(rep) -> dict:
    from lora_nb.evaluate.recommend import NOISE_SE

    m, r = rep.measurements, rep.recommendation
    val = dict(rep.val_losses)
    base = m.cells[0][0]
    rows = []
    for i, row in enumerate(m.cells):
        for j, c in enumerate(row):
            if not m.strengths[j]:
                continue
            u, k, n = c.get("pixel_change"), c.get("concept_pixel_change"), c.get("pixel_noise")
            rows.append({"checkpoint": m.labels[i], "step": m.steps[i], "strength": m.strengths[j],
                         "star": c["star"], "star_se": c["star_se"], "ratio": u / k if k else None,
                         "noise": u / n if n else None, "bleed": c["unrelated_star"] - base["unrelated_star"],
                         "sim": c.get("seed_similarity"), "pdiv": c.get("pixel_diversity"), "val": val.get(m.steps[i]),
                         "u": u, "k": k, "n": n})
    # the noise band: how many cells count as equal to the best, unpaired (2 SE of the best cell) vs paired
    cells = [(i, j) for i in range(len(m.cells)) for j in range(len(m.strengths)) if m.strengths[j]]
    bi, bj = max(cells, key=lambda c: m.cells[c[0]][c[1]]["star"])
    best = m.cells[bi][bj]
    unpaired = NOISE_SE * best["star_se"]
    eq_unpaired = sum(best["star"] - m.cells[i][j]["star"] <= unpaired for i, j in cells)
    paired = {(i, j): NOISE_SE * paired_se(best["star_seeds"], m.cells[i][j]["star_seeds"]) for i, j in cells}
    eq_paired = sum(best["star"] - m.cells[i][j]["star"] <= paired[(i, j)] for i, j in cells)
    others = [v for c, v in paired.items() if c != (bi, bj)]
    return {"rows": rows, "cells": len(cells), "best": f"{m.labels[bi]} @ {m.strengths[bj]:g}",
            "unpaired_tol": unpaired, "paired_tol_mean": sum(others) / max(1, len(others)),
            "equal_unpaired": eq_unpaired, "equal_paired": eq_paired,
            "chosen": f"{r.checkpoint} @ {r.strength:g}", "tolerance": r.tolerance, "warnings": r.warnings,
            "val_losses": rep.val_losses}


def demo_timing(out: Path, strengths: str | None) -> None:
    """`lora-nb demo` as the CLI runs it, its evaluation (`evaluate_run`) timed inside it; `strengths`: the
    evaluation's instead of DEMO_EVAL_STRENGTHS (to time the alternatives)."""
    import lora_nb.toy.demo as demo

    if strengths:
        demo.DEMO_EVAL_STRENGTHS = tuple(float(s) for s in strengths.split(","))

    spent, real = [], demo.evaluate_run

    def timed(*args, **kw):
        t0 = time.perf_counter()
        try:
            return real(*args, **kw)
        finally:
            spent.append(time.perf_counter() - t0)

    demo.evaluate_run = timed
    t0 = time.perf_counter()
    res = demo.run_demo(out, progress=False)
    total = time.perf_counter() - t0
    r = res.recommendation
    print(f"evaluation strengths {demo.DEMO_EVAL_STRENGTHS}: demo {total:.1f} s, of which the evaluation "
          f"{spent[0]:.1f} s: +{spent[0] / (total - spent[0]):.0%} "
          f"on the demo without it; recommendation {r.checkpoint} at {r.strength:g}, warnings {sorted(r.warnings)}")


def _fmt(v, spec=".3f"):
    return "–" if v is None else format(v, spec)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--kinds", default="normal,over,under")
    ap.add_argument("--seeds", default="0,1,2", help="training seeds")
    ap.add_argument("--eval-seeds", default="0,1,2,3")
    ap.add_argument("--strengths", default="0.5,1")
    ap.add_argument("--sample-steps", type=int, default=20, help="denoising steps of the evaluation pictures")
    ap.add_argument("--val-split", type=float, default=0.0, help="hold out images for a validation loss")
    ap.add_argument("--demo-timing", action="store_true", help="time `lora-nb demo` and its evaluation into --out")
    ap.add_argument("--demo-strengths", help="with --demo-timing: the evaluation's strengths, e.g. 0.5,1")
    a = ap.parse_args(argv)
    if a.demo_timing:
        demo_timing(a.out, a.demo_strengths)
        return 0

    import torch

    from lora_nb.evaluate.report import evaluate_run
    from lora_nb.toy.detect import STAR_SCORER
    from lora_nb.toy.testing import build_tiny_eval_models, default_tiny_model_dir

    torch.set_num_threads(1)
    a.out.mkdir(parents=True, exist_ok=True)
    data = star_data(a.out)
    clip, dino = build_tiny_eval_models(default_tiny_model_dir("eval"))
    results_path = a.out / "calibration.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    for kind in a.kinds.split(","):
        for seed in (int(s) for s in a.seeds.split(",")):
            run, train_s = train_run(a.out, data, kind, seed, a.val_split)
            t0 = time.perf_counter()
            rep = evaluate_run(run, clip_model=str(clip), dino_model=str(dino), scorers=[STAR_SCORER],
                               strengths=[float(s) for s in a.strengths.split(",")],
                               seeds=[int(s) for s in a.eval_seeds.split(",")], steps=a.sample_steps, cfg=5.0,
                               width=64, height=64, progress=False, grid=False, lang="en")
            res = summarise(rep)
            res["train_s"], res["eval_s"] = train_s, time.perf_counter() - t0
            results[run.name] = res
            print(f"\n## {run.name} (train {train_s:.0f} s, evaluate {res['eval_s']:.0f} s): chosen {res['chosen']}, "
                  f"warnings {sorted(res['warnings'])}; best {res['best']}; equal to the best: "
                  f"{res['equal_unpaired']}/{res['cells']} unpaired (tol {res['unpaired_tol']:.3f}), "
                  f"{res['equal_paired']}/{res['cells']} paired (mean tol {res['paired_tol_mean']:.3f})")
            print("| checkpoint | strength | star ± se | ratio | noise | bleed | sim | pdiv | val |")
            print("|---|---|---|---|---|---|---|---|---|")
            for r in res["rows"]:
                print(f"| {r['checkpoint']} | {r['strength']:g} | {r['star']:.3f} ± {r['star_se']:.3f} | "
                      f"{_fmt(r['ratio'], '.2f')} | {_fmt(r['noise'], '.2f')} | {r['bleed']:+.3f} | "
                      f"{_fmt(r['sim'])} | {_fmt(r.get('pdiv'))} | {_fmt(r['val'], '.4f')} |")
            for w in res["warnings"].values():
                print(f"- {w}")
            results_path.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
