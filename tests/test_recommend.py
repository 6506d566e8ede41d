"""Choosing the checkpoint and strength from measures (lora_nb.evaluate.recommend/scoring/metrics/report).

The decision rules on synthetic measures (fast); every code path with tiny CLIP/DINOv2 models and a
two-step run on the tiny SD1.5 model; the cache (a second evaluation draws and scores nothing).
The toy world's over-/under-trained runs: tests/test_recommend_toy.py.
"""

import json

import pytest

from lora_nb.evaluate.recommend import drift, read_val_losses, recommend_checkpoint
from lora_nb.evaluate.scoring import Measurements

PROMPT = "toycircle, a red circle, blue background"


def synthetic(concept, *, strengths=(0.0, 0.5, 1.0), se=0.01, extra=None, labels=None):
    """Measurements with the "star" scorer: concept[i][j] for checkpoint i at strengths[j] (j=0: strength 0)."""
    cells = []
    for i, row in enumerate(concept):
        cells.append([{"star": v, "star_se": se, **((extra or {}).get((i, j), {}))} for j, v in enumerate(row)])
    n = len(concept)
    return Measurements(labels or [f"step {100 * (i + 1)}" for i in range(n)], [100 * (i + 1) for i in range(n)],
                        list(strengths), cells, ["star"], [f"lora-{i}.safetensors" for i in range(n)])


def test_rising_at_the_last_checkpoint_is_under_fit_and_the_last_is_chosen():
    m = synthetic([[0.0, 0.1, 0.2], [0.0, 0.2, 0.4], [0.0, 0.4, 0.7]])
    r = recommend_checkpoint(m, lang="en")
    assert (r.checkpoint, r.strength, r.step) == ("step 300", 1.0, 300)
    assert set(r.warnings) == {"underfit"} and "train longer" in r.warnings["underfit"]
    assert "0.400 -> 0.700" in r.warnings["underfit"]
    assert "star is 0.700" in r.reason and "step 300" in r.reason


def test_nothing_learned_is_under_fit():
    r = recommend_checkpoint(synthetic([[0.0, 0.0, 0.0], [0.0, 0.0, 0.01]]), lang="en")
    assert "no checkpoint shows the concept" in r.warnings["underfit"] and "overfit" not in r.warnings


def test_peak_then_fall_and_rising_validation_loss_are_over_fit_and_an_earlier_checkpoint_wins():
    m = synthetic([[0.0, 0.3, 0.5], [0.0, 0.6, 0.8], [0.0, 0.5, 0.55]])
    r = recommend_checkpoint(m, [(100, 0.20), (200, 0.18), (300, 0.25)], lang="en")
    assert (r.checkpoint, r.strength) == ("step 200", 1.0)
    w = r.warnings["overfit"]
    assert "validation loss rose from 0.1800 (step 200) to 0.2500 (step 300)" in w
    assert "star peaked at 0.800 (step 200)" in w and "earlier checkpoint" in w
    assert "underfit" not in r.warnings


def test_within_the_noise_the_earliest_checkpoint_and_lowest_strength_win():
    m = synthetic([[0.0, 0.5, 0.52], [0.0, 0.51, 0.53]], se=0.02)  # tolerance 2 x 0.02
    r = recommend_checkpoint(m, lang="en")
    assert (r.checkpoint, r.strength) == ("step 100", 0.5)
    assert r.best == pytest.approx(0.53) and r.tolerance == pytest.approx(0.04)
    assert "Among equally good cells" in r.reason


def test_unrelated_drift_is_avoided_and_flagged():
    from lora_nb.evaluate.forgetting import DRIFT_NOISE

    # unrelated pictures change 0.6x (step 100) and 1.2x (step 200) DRIFT_NOISE x strength the base model's
    # seed-to-seed noise
    changes = {(i, j): {"pixel_change": 0.1 * (0.6, 1.2)[i] * s * DRIFT_NOISE, "pixel_noise": 0.1} for i in range(2)
               for j, s in ((1, 0.5), (2, 1.0))}
    m = synthetic([[0.0, 0.6, 0.6], [0.0, 0.6, 0.6]], extra=changes)
    r = recommend_checkpoint(m, lang="en")
    assert (r.checkpoint, r.strength) == ("step 100", 0.5)
    w, last = r.warnings["overfit"], drift(m.cells[1][1])
    assert last == pytest.approx(0.6 * DRIFT_NOISE) and drift(r.numbers) == pytest.approx(0.3 * DRIFT_NOISE)
    assert f"strength 0.5 unrelated prompts change {last:.2f} times as much as another seed" in w
    assert f"under {0.5 * DRIFT_NOISE:.2f}" in w and "underfit" not in r.warnings
    assert f"{drift(r.numbers):.2f} times as much as another seed" in r.reason


def test_paired_seeds_separate_cells_that_the_unpaired_band_calls_equal():
    """The same seeds in every cell: a checkpoint that is better in every seed is better, however much
    the seeds differ among themselves (bench/README.md "Recommendation calibration")."""
    early, late = [0.1, 0.5, 0.2, 0.8], [0.2, 0.6, 0.3, 0.9]  # late = early + 0.1 in each seed
    se = (sum((v - 0.65) ** 2 for v in late) / 3 / 4) ** 0.5  # 0.16: two of it is 0.32, more than the gap
    m = synthetic([[0.0, 0.4], [0.0, 0.5]], strengths=(0.0, 1.0), se=se,
                  extra={(0, 0): {"star_seeds": [0.0] * 4}, (1, 0): {"star_seeds": [0.0] * 4},
                         (0, 1): {"star_seeds": early}, (1, 1): {"star_seeds": late}})
    r = recommend_checkpoint(m, lang="en")
    assert (r.checkpoint, r.strength) == ("step 200", 1.0) and r.tolerance < 0.05
    unpaired = synthetic([[0.0, 0.4], [0.0, 0.5]], strengths=(0.0, 1.0), se=se)  # no per-seed values
    assert recommend_checkpoint(unpaired, lang="en").checkpoint == "step 100"


def test_collapsed_seeds_are_over_fit():
    sims = {(0, 2): {"seed_similarity": 0.6}, (1, 2): {"seed_similarity": 0.9}}
    r = recommend_checkpoint(synthetic([[0.0, 0.5, 0.8], [0.0, 0.6, 0.8]], extra=sims), lang="en")
    assert (r.checkpoint, r.strength) == ("step 100", 1.0)
    assert "kept only 25% of the chosen checkpoint's diversity" in r.warnings["overfit"]
    # the embeddings alone moved (the toy run's tiny DINOv2: 0.980 -> 0.992, while its pixel diversity kept 95%)
    sims[(0, 2)]["pixel_diversity"], sims[(1, 2)]["pixel_diversity"] = 0.133, 0.127
    r = recommend_checkpoint(synthetic([[0.0, 0.5, 0.8], [0.0, 0.6, 0.8]], extra=sims), lang="en")
    assert "overfit" not in r.warnings
    sims[(1, 2)]["pixel_diversity"] = 0.05  # alike in pixels too: collapse
    r = recommend_checkpoint(synthetic([[0.0, 0.5, 0.8], [0.0, 0.6, 0.8]], extra=sims), lang="en")
    assert "kept only 25%" in r.warnings["overfit"]


def test_concept_without_the_trigger_is_a_leak():
    leak = {(1, 2): {"class_star": 0.72}}
    r = recommend_checkpoint(synthetic([[0.0, 0.5, 0.6], [0.0, 0.6, 0.8]], extra=leak), lang="en")
    assert (r.checkpoint, r.strength) == ("step 200", 1.0)
    assert "90%" in r.warnings["leak"] and "trigger is not needed" in r.warnings["leak"]
    r = recommend_checkpoint(synthetic([[0.0, 0.5, 0.6], [0.0, 0.6, 0.8]], extra={(1, 2): {"class_star": 0.1}}))
    assert "leak" not in r.warnings


def test_reason_and_warnings_in_chinese():
    r = recommend_checkpoint(synthetic([[0.0, 0.1, 0.2], [0.0, 0.2, 0.4], [0.0, 0.4, 0.7]]), lang="zh")
    assert r.reason.startswith("选 step 300，强度 1") and "欠拟合" in r.warnings["underfit"]


def test_validation_losses_from_the_train_log(tmp_path):
    (tmp_path / "logs").mkdir()
    lines = [{"event": "val_loss", "step": 20, "val_loss": 0.3, "train_eval_loss": 0.2, "n": 4},
             {"step": 21, "loss": 0.1}, {"event": "val_loss", "step": 10, "val_loss": 0.4, "n": 4}]
    (tmp_path / "logs" / "train_log.jsonl").write_text(
        "\n".join(json.dumps(x) for x in lines) + '\n{"event": "val_lo', encoding="utf-8")
    assert read_val_losses(tmp_path) == [(10, 0.4), (20, 0.3)]
    assert read_val_losses(tmp_path / "nothing") == []


# ------------------------------------------------------------------------------------------------
# real code paths: tiny CLIP/DINOv2, a two-step run on the tiny SD1.5 model
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run(tiny_sd15, tmp_path_factory):
    from lora_nb import Config
    from lora_nb.toy.testing import make_toy_dataset
    from lora_nb.training.trainer import train

    root = tmp_path_factory.mktemp("recommend")
    data = make_toy_dataset(root / "data")
    cfg = Config(pretrained_model=str(tiny_sd15), train_data_dir=str(data), output_dir=str(root / "run"),
                 resolution=64, min_bucket_reso=64, max_bucket_reso=64, max_train_steps=2, save_every_n_steps=1,
                 optimizer="adamw", learning_rate=1e-2, rank=4, alpha=4, trigger_word="toycircle",
                 sample_prompts=[PROMPT, "a green square, yellow background"], sample_steps=1)
    train(cfg)
    return root / "run"


def test_eval_models_embed_in_batches_normalised(tiny_eval_models):
    from PIL import Image

    from lora_nb.evaluate import metrics

    models = metrics.EvalModels(*map(str, tiny_eval_models), device="cpu")
    ims = [Image.new("RGB", (64, 48), (40 * k, 90, 200 - 30 * k)) for k in range(5)]
    emb = models.embed(ims)
    assert emb["clip"].shape == (5, 16) and emb["dino"].shape == (5, 32)
    assert emb["dino"].norm(dim=-1).tolist() == pytest.approx([1.0] * 5, abs=1e-5)
    assert models.clip_texts(["a", "a red circle"]).shape == (2, 16)
    assert metrics.mean_pairwise_similarity(emb["dino"][:1]) is None
    same = metrics.mean_pairwise_similarity(models.embed([ims[0]] * 3)["dino"])
    assert same == pytest.approx(1.0, abs=1e-5)
    assert metrics.paired_similarity(emb["clip"], emb["clip"]) == pytest.approx(1.0, abs=1e-5)
    only_dino = metrics.EvalModels("", str(tiny_eval_models[1]), device="cpu")
    assert set(only_dino.embed(ims[:2])) == {"dino"}


def test_missing_evaluation_model_is_one_line():
    from lora_nb.errors import LoraNbError
    from lora_nb.evaluate.metrics import EvalModels

    with pytest.raises(LoraNbError, match="cannot load the evaluation model.*clip_model/dino_model"):
        EvalModels("/nonexistent/clip", "", device="cpu")


def test_evaluate_run_measures_every_cell_once_and_caches(run, tiny_eval_models, monkeypatch):
    from lora_nb.evaluate import report, scoring
    from lora_nb.evaluate.metrics import ConceptScorer, EvalModels

    calls = {"render": 0, "score": 0}
    real = scoring._render

    def counting(*a, **k):
        calls["render"] += 1
        return real(*a, **k)

    monkeypatch.setattr(scoring, "_render", counting)

    def red(images):
        calls["score"] += 1
        return [sum(p[0] > 150 and p[2] < 100 for p in im.convert("RGB").getdata()) / 4096 for im in images]

    models = EvalModels(*map(str, tiny_eval_models), device="cpu")
    kw = dict(models=models, scorers=[ConceptScorer("red", red)], strengths=[1.0], seeds=[0, 1], steps=2,
              progress=False)
    rep = report.evaluate_run(run, **kw)
    m = rep.measurements
    assert m.labels == ["step 1", "step 2"] and m.steps == [1, 2] and m.strengths == [0.0, 1.0]
    assert m.rendered == 2 * 2 * 3  # checkpoints x strengths x (concept, class, unrelated) prompts
    cell = m.cells[1][1]
    for key in ("red", "red_se", "clip_i", "dino", "clip_t", "seed_similarity", "class_red", "class_dino",
                "drift", "drift_dino", "drift_clip", "pixel_change", "concept_pixel_change", "unrelated_red"):
        assert key in cell, key
    assert m.cells[0][0] == m.cells[1][0]  # strength 0 is the base model for every checkpoint
    assert m.cells[0][0]["drift"] == pytest.approx(0.0, abs=1e-6) and m.cells[0][0]["pixel_change"] == 0.0
    assert rep.recommendation.measure == "red" and rep.recommendation.checkpoint in m.labels
    assert rep.grid.shape == (1, 2, 2)  # checkpoints x strengths, the first seed, the chosen cell framed
    first = dict(calls)
    assert first["render"] == 3  # the base pictures once, then one XY call per checkpoint

    again = report.evaluate_run(run, grid=False, **kw)
    assert calls == first and again.measurements.rendered == 0  # from measures.json: nothing drawn or scored
    assert again.measurements.cells == m.cells
    more = report.evaluate_run(run, grid=False, **{**kw, "strengths": [0.5, 1.0]})
    assert more.measurements.rendered == 2 * 3  # only the new strength, for both checkpoints
    path = rep.write()
    text = path.read_text(encoding="utf-8")
    assert path == run / "evaluation" / "report.md" and "| step 2 |" in text and "**←**" in text
    assert rep.recommendation.reason in text
    assert {p.name for p in path.parent.iterdir()} >= {"report.md", "measures.png", "grid.png",
                                                       "recommendation.json", "measures.json"}
    saved = json.loads((run / "evaluation" / "recommendation.json").read_text(encoding="utf-8"))
    assert saved["recommendation"]["checkpoint"] == rep.recommendation.checkpoint


def test_strength_zero_alone_is_refused(run, tiny_eval_models):
    from lora_nb.errors import LoraNbError
    from lora_nb.evaluate.report import evaluate_run

    with pytest.raises(LoraNbError, match="only 0 given"):
        evaluate_run(run, clip_model=str(tiny_eval_models[0]), dino_model="", strengths=[0], steps=1,
                     progress=False)


def test_class_prompt_is_the_prompt_without_its_trigger():
    from lora_nb.evaluate.report import class_prompt_of

    assert class_prompt_of("This image is labeled as donpzishnk. a toy star", "donpzishnk") == \
        "This image is labeled as a toy star"
    assert class_prompt_of("toycircle, a red circle", "toycircle") == "a red circle"
    assert class_prompt_of("a red circle", "toycircle") is None


def test_cli_evaluate_json_and_bad_run_dir(run, tiny_eval_models, tmp_path, capsys):
    from lora_nb.cli import main

    clip, dino = map(str, tiny_eval_models)
    rc = main(["evaluate", str(run), "--clip-model", clip, "--dino-model", dino, "--strengths", "1",
               "--seeds", "0,1", "--steps", "2", "--no-grid", "--json", "--out", str(tmp_path / "rep")])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["recommendation"]["checkpoint"] in ("step 1", "step 2") and out["report"].endswith("report.md")
    assert (tmp_path / "rep" / "report.md").is_file() and (tmp_path / "rep" / "measures.png").is_file()
    rc = main(["evaluate", str(tmp_path / "missing"), "--clip-model", clip])
    err = capsys.readouterr().err
    assert rc == 2 and "not a folder" in err and len(err.strip().splitlines()) == 1


def test_forgetting_check_gives_a_verdict_not_a_bare_percentage():
    from lora_nb.evaluate.forgetting import DRIFT_RATIO, ForgettingReport

    ok = ForgettingReport(None, ["a dog", "a city"], [0.02, 0.05], "toycircle", 0.1)
    assert ok.ratio == pytest.approx(0.5) and DRIFT_RATIO > 0.5
    assert ok.verdict("en") == "unrelated prompts change 50% as much as the concept prompt: fine, the LoRA keeps to " \
                               "its concept"
    bad = ForgettingReport(None, ["a dog"], [0.09], "toycircle", 0.1)
    assert "too much" in bad.verdict("en") and "earlier checkpoint" in bad.summary()
    assert "过多" in bad.verdict("zh")
    assert ForgettingReport(None, ["a dog"], [0.09]).verdict() is None
    # several seeds: the drift against the base model's seed-to-seed noise decides (DRIFT_NOISE per unit strength)
    from lora_nb.evaluate.forgetting import DRIFT_NOISE

    seeds = ForgettingReport(None, ["a dog", "a city"], [0.05, 0.09], "toycircle", 0.1, noise=[0.1, 0.1],
                             strength=0.5)
    assert seeds.drift == pytest.approx(0.9) and 0.9 > DRIFT_NOISE * 0.5 and "too much" in seeds.verdict("en")
    assert f"(limit {DRIFT_NOISE * 0.5:.2f} at this strength)" in seeds.verdict("en")
    seeds.strength = 1.0
    assert "another seed" in seeds.verdict("en") and "fine" in seeds.verdict("en") and "上限" in seeds.verdict("zh")


def test_a_cell_at_the_base_models_level_never_ties_the_best():
    """All-or-nothing seeds (the toy star with 4 seeds: bench/README.md, the CPU course's 06) make the band
    wider than the best cell's gain; the earliest, weakest cell then 'tied' it with a star of 0.000. A
    candidate must beat the base model by its own noise; with none, the best cell is taken, under-fit."""
    none, best = [0.0] * 4, [0.0, 0.45, 0.0, 0.38]  # mean 0.21, paired 2 SE to the base 0.24
    m = synthetic([[0.0, 0.0, 0.05], [0.0, 0.0, 0.21]], se=0.12,
                  extra={(i, 0): {"star_seeds": none} for i in range(2)}
                  | {(0, 1): {"star_seeds": none}, (1, 1): {"star_seeds": none},
                     (0, 2): {"star_seeds": [0.0, 0.2, 0.0, 0.0]}, (1, 2): {"star_seeds": best}})
    r = recommend_checkpoint(m, lang="en")
    assert (r.checkpoint, r.strength) == ("step 200", 1.0) and r.value == pytest.approx(0.21)
    assert "no checkpoint shows the concept" in r.warnings["underfit"]
    clear = synthetic([[0.0, 0.0, 0.3], [0.0, 0.0, 0.32]], se=0.1,  # both clearly above the base, tied
                      extra={(i, j): {"star_seeds": v} for (i, j), v in
                             {(0, 0): none, (1, 0): none, (0, 1): none, (1, 1): none,
                              (0, 2): [0.3, 0.28, 0.32, 0.3], (1, 2): [0.34, 0.28, 0.36, 0.3]}.items()})
    assert recommend_checkpoint(clear, lang="en").checkpoint == "step 100"  # earliest of the equals
