"""Time the seven notebooks in the CPU course mode and measure the star in 06_evaluate's grid.

    OMP_NUM_THREADS=1 python bench/course_notebooks.py [--work DIR]

Runs notebooks/00-06 top to bottom in a real kernel (nbclient, as tests/test_notebooks.py does) with
LORA_NB_COURSE=cpu, offline, one project under DIR; prints each notebook's wall time, then re-renders
the cells 06 measures (the same prompt, checkpoints, strengths, all 8 measured seeds and settings: the
same pictures; its grid shows 4 of those seeds) with `lora_nb.toy.detect.star_curve` and prints the star
score of every cell, raw and as a share of the base model's ceiling (`lora_nb.toy.ceiling`).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ["00_setup", "01_collect", "02_crop", "03_caption", "04_clean_tags", "05_train", "06_evaluate"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=None, help="folder for the project (default: a temporary one)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="lora-nb-course-"))
    env = {"LORA_NB_COURSE": "cpu", "LORA_NB_PROJECTS": str(work / "projects"), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
           "MPLBACKEND": "Agg", "TOKENIZERS_PARALLELISM": "false"}
    os.environ.update(env)
    for k in ("LORA_NB_SMOKE", "LORA_NB_LANG", "LORA_NB_PROJECT"):
        os.environ.pop(k, None)
    import nbclient
    import nbformat

    total, t_all = [], time.time()
    for name in NOTEBOOKS:
        nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        t0 = time.time()
        nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                                resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
        total.append((name, time.time() - t0))
        print(f"{name}: {total[-1][1]:.0f} s", flush=True)
    print(f"all seven: {time.time() - t_all:.0f} s ({(time.time() - t_all) / 60:.1f} min)")

    from lora_nb.notebook.modes import evaluate_settings
    from lora_nb.notebook.project import Project
    from lora_nb.toy.ceiling import star_ceiling
    from lora_nb.toy.detect import star_curve

    project = Project.open(work / "projects" / "my_lora")
    config, run = project.config(), project.require("train")  # what 06 draws: every LoRA file of the run
    ev = evaluate_settings(config)
    curve = star_curve(config.pretrained_model, run, ev["prompts"][0], strengths=ev["strengths"],
                       seeds=ev["measures"][0], steps=ev["steps"], cfg=ev["cfg"], size=config.resolution,
                       ceiling=star_ceiling(config.pretrained_model))
    print(f"06's measures, prompt {ev['prompts'][0]!r}, mean of {len(ev['measures'][0])} seeds, raw (share of the "
          f"ceiling {curve.ceiling}):\n{curve.markdown()}")
    print(f"project: {project.root}")


if __name__ == "__main__":
    main()
