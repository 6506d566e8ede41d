"""Step 6, measured: which checkpoint at which strength, with the measures that decided it.

Draws every checkpoint of a run at a few strengths for the run's concept prompt, the class prompt
without the trigger word and unrelated prompts, scores the pictures (CLIP-I, DINO, CLIP-T,
diversity, drift; `--scorer star` adds the toy world's star detector), and writes
RUN_DIR/evaluation/report.md with measures.png and grid.png (the chosen cell framed):

  lora-nb evaluate runs/my_lora
  lora-nb evaluate runs/my_lora --seeds 1,2,3,4 --strengths 0.6,0.8,1 --json
  lora-nb evaluate demo/4_run --scorer star --clip-model "" --dino-model ""

Numbers are cached in RUN_DIR/evaluation/measures.json: a second run draws only what is new.
"""

from __future__ import annotations

import argparse

# concept scorers the CLI knows by name (a notebook passes any ConceptScorer)
SCORERS = {"star": "the toy world's zigzag-star detector (lora_nb.toy.detect), for runs on the tiny-shapes model"}


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers separated by commas, e.g. 0.5,0.8,1") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..evaluate.metrics import DEFAULT_CLIP, DEFAULT_DINO
    from ..evaluate.report import EVAL_STRENGTHS
    from ..evaluate.settings import SampleSettings
    from ._option_flags import add_option_flags

    p.add_argument("run_dir", metavar="RUN_DIR", help="The training run's output folder (its checkpoints and config).")
    p.add_argument("--base", default=None, metavar="MODEL", help="Base model (default: the run's pretrained_model).")
    p.add_argument("--prompt", default=None, metavar="TEXT",
                   help="Concept prompt with the trigger word (default: the run's first validation prompt).")
    p.add_argument("--class-prompt", default=None, metavar="TEXT",
                   help="The prompt without the trigger word, to detect a concept leak (default: --prompt minus "
                        "the run's trigger_word).")
    p.add_argument("--unrelated", nargs="+", default=None, metavar="TEXT",
                   help="Prompts unrelated to the concept (default: the run's other validation prompts).")
    p.add_argument("--strengths", type=_floats, default=list(EVAL_STRENGTHS), metavar="LIST",
                   help=f"LoRA strengths to measure besides 0 (default {','.join(f'{v:g}' for v in EVAL_STRENGTHS)}).")
    p.add_argument("--references", default=None, metavar="DIR",
                   help="Training pictures to compare with (default: the run's train_data_dir).")
    p.add_argument("--clip-model", default=DEFAULT_CLIP, metavar="ID",
                   help=f"CLIP for CLIP-I/CLIP-T (default {DEFAULT_CLIP}); '' leaves it out.")
    p.add_argument("--dino-model", default=DEFAULT_DINO, metavar="ID",
                   help=f"DINOv2 for DINO similarity (default {DEFAULT_DINO}); '' leaves it out.")
    p.add_argument("--scorer", action="append", default=[], choices=sorted(SCORERS),
                   help="Add a concept scorer: " + "; ".join(f"{k}: {v}" for k, v in SCORERS.items()) + ".")
    p.add_argument("--no-grid", action="store_true", help="Skip the framed XY grid (grid.png).")
    p.add_argument("--out", default=None, metavar="DIR", help="Report folder (default RUN_DIR/evaluation).")
    p.add_argument("--no-progress", action="store_true", help="Hide the progress bars.")
    p.add_argument("--json", action="store_true", help="Print the recommendation and measures as one JSON object.")
    p.add_argument("--lang", default=None, choices=("en", "zh"), help="Language of the reason and warnings.")
    add_option_flags(p, SampleSettings, "sample_", "sample settings (every picture)")


def run(args) -> int:
    import json

    from ..evaluate.report import EVAL_SEEDS, evaluate_run
    from ..evaluate.settings import SampleSettings
    from ..fscheck import writable_folder
    from ._option_flags import options_from_args

    s = options_from_args(args, SampleSettings, "sample_", seeds=list(EVAL_SEEDS),
                          progress=not (args.json or args.no_progress))
    scorers = []
    if "star" in args.scorer:
        from ..toy.detect import STAR_SCORER

        scorers.append(STAR_SCORER)
    if args.out:
        writable_folder(args.out, "--out folder")
    rep = evaluate_run(args.run_dir, base=args.base, prompt=args.prompt, class_prompt=args.class_prompt,
                       unrelated=args.unrelated, strengths=args.strengths, references=args.references,
                       clip_model=args.clip_model, dino_model=args.dino_model, scorers=scorers,
                       grid=not args.no_grid, lang=args.lang, settings=s)
    path = rep.write(args.out)
    if args.json:
        print(json.dumps({**rep.to_json(), "report": str(path)}, ensure_ascii=False))
    else:
        r = rep.recommendation
        print(r.reason)
        for w in r.warnings.values():
            print(w)
        print(f"-> {path}")
    return 0
