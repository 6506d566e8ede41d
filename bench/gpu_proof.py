"""The Python side of `bench/gpu_proof.sh` (issue 18): one benchmark row per process, and the report.

    python bench/gpu_proof.py row NAME FAMILY TIER --steps N --out DIR [--tiny]   # appends to DIR/rows.jsonl
    python bench/gpu_proof.py report --out DIR [--tiny]                          # DIR/results.json + results.md

A row is `bench/gpu_train.py`'s `run_one` (full-size random-weight denoiser, the tier's preset, the allocator
capped to the tier's GPU, fp16 on the 16GB/T4 tier and bf16 otherwise), plus the CUDA context measured
beside it. The report compares `lora_nb.planning.memory.predict.predict_memory` (its training phase: the
rows measure the cached steady state, encoders freed) with each measured peak in `bench/memory_fit.py`'s
row format, so its `markdown` and `calibration_hints` apply, and the bf16 step times with SimpleTuner's
published H100 figures. Everything it reads is in DIR, so a run cut short still reports what it measured.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gpu_train  # noqa: E402
import memory_fit  # noqa: E402

# SimpleTuner's published step times, H100, batch 1, bf16, no gradient checkpointing (issue 18).
SIMPLETUNER_H100_S = {"sd15": 0.18, "sdxl": 0.61}
LIMIT_GB = 15.0  # the promise: each 16GB-preset row trains under 15 GB (a Colab T4)
ROW_COLUMNS = ["name", "family", "tier", "resolution", "quantization", "checkpointing", "optimizer", "precision",
               "status", "verdict", "s_per_step", "peak_allocated_gb", "peak_reserved_gb", "cap_gb", "context_gb",
               "mfu", "wall_s"]


def cmd_row(args) -> int:
    t0 = time.time()
    import torch

    overrides = {}
    cfg = gpu_train.preset_config(args.family, args.tier, args.tiny)
    have_bnb = importlib.util.find_spec("bitsandbytes") is not None
    if not have_bnb and cfg.quantization != "none":
        row = {"name": args.name, "family": args.family, "tier": args.tier, "status": "skipped",
               "verdict": "not run: no bitsandbytes here (run this row in a second call carrying its wheel)"}
        return _append(args.out, row)
    if not have_bnb and cfg.optimizer.endswith("8bit"):
        overrides["optimizer"] = "adamw"  # noted in the row: the 8-bit optimizer needs bitsandbytes
    row = {"name": args.name, **gpu_train.run_one(args.family, args.tier, args.steps, args.tiny, args.precision,
                                                   overrides)}
    if overrides:
        row["note"] = "no bitsandbytes: adamw instead of " + cfg.optimizer
    if torch.cuda.is_available() and not args.tiny:
        free, total = torch.cuda.mem_get_info()
        row["context_gb"] = round((total - free - torch.cuda.memory_reserved()) / gpu_train.GiB, 2)
    if row.get("status") == "ok":
        peak = row.get("peak_reserved_gb")
        if peak is None:
            row["verdict"] = "ran (CPU: no memory figure)"
        elif args.tier == "16GB":
            total_gb = peak + row.get("context_gb", 0.0)
            word = "under" if total_gb < LIMIT_GB else "OVER"
            row["verdict"] = f"{word} {LIMIT_GB:g} GB ({total_gb:.2f} with context)"
        else:
            row["verdict"] = f"fits the {args.tier} cap"
    else:
        row["verdict"] = "does not fit" if row.get("status") == "OOM" else "failed"
    row["wall_s"] = round(time.time() - t0, 1)
    return _append(args.out, row)


def _append(out: Path, row: dict) -> int:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "rows.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
    print("ROW " + json.dumps(row), flush=True)
    return 0


def read_rows(out: Path) -> list[dict]:
    path = out / "rows.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def predictor_rows(rows: list[dict], tiny: bool) -> list[dict]:
    """predict_memory's training phase for each row's config, with the measured peak where there is one,
    as bench/memory_fit.py's rows."""
    from lora_nb.planning.memory.calibration import CALIBRATION
    from lora_nb.planning.memory.predict import predict_memory

    pred = []
    for r in rows:
        if "resolution" not in r:
            continue
        precision = gpu_train.resolve_precision(r["tier"], "auto" if tiny else r.get("precision", "auto"))
        precision = {"float16": "fp16", "bfloat16": "bf16", "float32": "fp16"}.get(precision, precision)
        cfg = gpu_train.preset_config(r["family"], r["tier"], tiny).replace(mixed_precision=precision)
        est = predict_memory(cfg, memory_fit.TIER_GPU[r["tier"]])
        training = est.phases["training"]
        p = dict(family=r["family"], tier=r["tier"], resolution=cfg.resolution, quantization=cfg.quantization,
                 checkpointing=cfg.gradient_checkpointing, precision=est.precision,
                 predicted_allocated_gb=round(training, 3),
                 predicted_total_gb=round(training * (1 + CALIBRATION["allocator_slack"])
                                          + CALIBRATION["cuda_context_gb"], 3),
                 predicted_phase="training", predicted_activations_gb=round(est.gpu_parts["activations"], 3),
                 predicted_training_gb=round(training, 3), predicted_overall_gb=round(est.allocated_gb, 3),
                 predicted_overall_phase=est.peak_phase, name=r["name"])
        if r.get("status") == "ok" and r.get("peak_allocated_gb"):
            meas = r["peak_allocated_gb"]
            ctx = r.get("context_gb", CALIBRATION["cuda_context_gb"])
            err = (training - meas) / meas
            p.update(measured_allocated_gb=meas, measured_reserved_gb=r["peak_reserved_gb"], context_gb=ctx,
                     measured_total_gb=round(r["peak_reserved_gb"] + ctx, 3), error_pct=round(100 * err, 1),
                     within_15pct=abs(err) <= 0.15, step_seconds=r.get("s_per_step"), device=r.get("device"))
        pred.append(p)
    return pred


def speed_rows(rows: list[dict], tiny: bool = False) -> list[dict]:
    out = []
    for r in rows:
        ref = SIMPLETUNER_H100_S.get(r.get("family"))
        half = (r.get("precision"), r.get("tier") != "16GB") == ("float32", True) if tiny else \
            r.get("precision") == "bfloat16"
        if ref and half and not r.get("checkpointing") and r.get("status") == "ok":
            out.append(dict(name=r["name"], family=r["family"], resolution=r["resolution"], device=r.get("device"),
                            s_per_step=r["s_per_step"], simpletuner_h100_s=ref,
                            ratio=round(r["s_per_step"] / ref, 2), mfu=r.get("mfu"),
                            gflop_per_step=r.get("gflop_per_step")))
    return out


def cmd_report(args) -> int:
    import torch

    rows = read_rows(args.out)
    pred = predictor_rows(rows, args.tiny)
    measured = [p for p in pred if "measured_allocated_gb" in p]
    hints = memory_fit.calibration_hints(measured) if measured else {}
    speed = speed_rows(rows, args.tiny)
    pytest_txt = args.out / "pytest.txt"
    pytest_summary = None
    if pytest_txt.is_file():
        lines = [ln for ln in pytest_txt.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
        pytest_summary = lines[-1] if lines else ""
    meta = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "tiny": args.tiny, "torch": torch.__version__,
            "device": next((r["device"] for r in rows if r.get("device")), None)}
    for mod in ("diffusers", "bitsandbytes", "peft", "accelerate"):
        try:
            meta[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - a missing package is what the report says
            meta[mod] = None
    result = {"meta": meta, "rows": rows, "predictor": pred, "calibration_hints": hints, "speed": speed,
              "pytest": pytest_summary}
    (args.out / "results.json").write_text(json.dumps(result, indent=2), encoding="utf-8")

    md = [f"GPU proof ({'--tiny, CPU' if args.tiny else 'GPU'}): {meta['device']}, {meta['date']}, torch "
          f"{meta['torch']}, diffusers {meta['diffusers']}, bitsandbytes {meta['bitsandbytes']}", "",
          "### Training rows (batch 1, allocator capped to the tier's GPU; 16GB = Colab T4, fp16)", "",
          gpu_train.markdown(rows, ROW_COLUMNS), "",
          "### predict_memory (training phase) vs measured peak allocated", "",
          memory_fit.markdown(pred) if pred else "(no rows)", ""]
    errs = [abs(p["error_pct"]) for p in measured]
    if errs:
        md.append(f"worst error {max(errs):.1f}% (target 15%); {sum(e <= 15 for e in errs)}/{len(errs)} within")
    md += ["", "calibration hints for `CALIBRATION`: `" + json.dumps(hints) + "`", "",
           "### bf16 step time vs SimpleTuner (H100, batch 1, no checkpointing)", ""]
    md.append(gpu_train.markdown(speed, ["name", "resolution", "device", "s_per_step", "simpletuner_h100_s", "ratio",
                                         "mfu", "gflop_per_step"]) if speed else "(no rows)")
    md += ["", f"pytest -m gpu: {pytest_summary or 'not run'}", ""]
    (args.out / "results.md").write_text("\n".join(md), encoding="utf-8")
    print("\n".join(md), flush=True)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    row = sub.add_parser("row", help="Run one benchmark row and append it to OUT/rows.jsonl.")
    row.add_argument("name")
    row.add_argument("family", choices=["sd15", "sdxl", "flux"])
    row.add_argument("tier", choices=list(gpu_train.TIER_CAP_GB))
    row.add_argument("--steps", type=int, default=3)
    row.add_argument("--precision", default="auto", choices=["auto", "fp16", "bf16"])
    rep = sub.add_parser("report", help="Write OUT/results.json and OUT/results.md from OUT/rows.jsonl.")
    for p in (row, rep):
        p.add_argument("--out", type=Path, required=True)
        p.add_argument("--tiny", action="store_true")
    args = ap.parse_args(argv)
    return cmd_row(args) if args.cmd == "row" else cmd_report(args)


if __name__ == "__main__":
    sys.exit(main())
