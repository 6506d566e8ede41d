"""The tutorials' recipe rules, and the Flux LoRA guide §5's worked examples coming out of the advisor."""

import pytest

from lora_nb.config import Config
from lora_nb.errors import ConfigError
from lora_nb.planning.advice.concepts import concept_advice, find_identifiers
from lora_nb.planning.advice.rates import lr_for_rank, rank_file_sizes, recommend_alpha, recommend_rank
from lora_nb.planning.advice.recipe import advise, recommend
from lora_nb.planning.advice.steps import align_steps, recommend_steps, repeats_epochs
from lora_nb.planning.advice.tables import LR_BY_RANK


# --- Flux LoRA guide §5: the worked examples -------------------------------------------------------
def test_flux_guide_example1_twenty_portraits():
    rec = recommend(20, purpose="person", family="flux")
    (lora,) = rec.loras
    assert (lora.rank, lora.steps, lora.save_every) == (32, 500, 100)
    # The guide's table interpolated at rank 32 gives 8.9e-5; the example's 1e-4 is named in the reason.
    assert lora.learning_rate == pytest.approx(8.9e-5)
    assert "1e-4 at rank 32" in lora.reasons["learning_rate"]
    assert lora.alpha == 16
    close = recommend(20, purpose="person", family="flux", fit="close").loras[0]
    assert (close.steps, close.save_every) == (1500, 250)  # the guide saves every 500; 250 keeps 4+ checkpoints


def test_flux_guide_example2_two_similar_models_share_one_lora_with_two_identifiers():
    rec = recommend(concepts={"model_a": 30, "model_b": 30}, similar=True, purpose="person", family="flux")
    assert not rec.split
    (lora,) = rec.loras
    assert (lora.rank, lora.n_images, lora.steps, lora.save_every) == (32, 60, 1500, 250)
    ids = rec.identifiers  # Flux LoRA guide §2.2: one unique 10-letter identifier per concept
    assert set(ids) == {"model_a", "model_b"} and len(set(ids.values())) == 2
    assert all(len(i) == 10 and i.isalpha() for i in ids.values())
    (tip,) = [a for a in rec.advice if a.topic == "identifiers"]
    assert all(i in tip.message for i in ids.values())


def test_flux_guide_example3_three_loras_for_landscapes_camping_cars():
    rec = recommend(concepts={"landscape": 100, "camping": 30, "car": 1000}, purpose="scene", family="flux")
    assert rec.split
    got = {lo.concepts[0]: (lo.rank, lo.steps, lo.save_every) for lo in rec.loras}
    assert got == {"landscape": (32, 1500, 250), "camping": (32, 500, 100), "car": (32, 4000, 500)}
    warn = next(a for a in rec.advice if a.level == "warn")
    assert "vanish" in warn.reason and "§2.3" in warn.reason


# --- learning rate ---------------------------------------------------------------------------
def test_lr_by_rank_table_points_interpolation_and_optimizers():
    for r, lr in LR_BY_RANK.items():
        assert lr_for_rank(r) == pytest.approx(float(f"{lr:.2g}"))
    lrs = [lr_for_rank(r) for r in (1, 2, 8, 16, 24, 32, 48, 64, 100, 128, 200, 256)]
    assert lrs == sorted(lrs, reverse=True)  # higher rank, lower lr
    assert 8e-5 < lr_for_rank(32) < 1e-4
    assert lr_for_rank(1024) == lr_for_rank(256)  # clamped beyond the table
    assert lr_for_rank(16, "lion") == pytest.approx(1e-5)  # LoRA explainer: ~10x lower
    assert lr_for_rank(64, "prodigy") == 1.0 and lr_for_rank(8, "dadaptation") == 1.0
    with pytest.raises(ConfigError):
        lr_for_rank(0)


def test_alpha_and_rank_by_purpose():
    assert recommend_alpha(32) == 16
    assert recommend_rank("anime", "sd15")[:2] == (16, (8, 32))
    assert recommend_rank("person", "sd15")[:2] == (32, (32, 64))
    assert recommend_rank("style", "sdxl")[:2] == (64, (64, 128))
    assert recommend_rank("style", "flux")[0] == 32  # Flux LoRA guide uses 32 on Flux unless teaching new content
    rank, rng, why = recommend_rank("new", "flux", n_images=500)
    assert (rank, rng) == (128, (128, 256)) and "6000" in why
    with pytest.raises(ConfigError, match="purpose"):
        recommend_rank("portrait", "sd15")


# --- steps -----------------------------------------------------------------------------------
@pytest.mark.parametrize("n,normal,close", [(20, 500, 1500), (100, 1500, 2500), (500, 2500, 3500),
                                            (1000, 4000, 4000), (1234, 5000, 5000)])
def test_steps_from_dataset_size(n, normal, close):
    assert recommend_steps(n).steps == normal
    assert recommend_steps(n, fit="close").steps == close


def test_steps_divide_by_batch_and_align_with_checkpoints():
    s = recommend_steps(100, batch=2, grad_accum=2)  # 1500 images-steps / 4 = 375 -> interval 100
    assert s.raw_steps == 375 and s.steps == 400 and s.save_every == 100
    assert s.steps % s.save_every == 0
    assert align_steps(1234, 500) == (1000, 1000, 1500)  # Flux LoRA guide §4.4: 1234 -> 1000 or 1500
    assert align_steps(1300, 500)[0] == 1500
    with pytest.raises(ConfigError):
        recommend_steps(0)


def test_repeats_epochs_by_dataset_type():
    anime = repeats_epochs("anime", 20)
    assert (anime["repeats"], anime["epochs"], anime["steps"]) == (8, 20, 3200)
    real = repeats_epochs("realistic", 20, batch=2)
    assert (real["repeats"], real["epochs"], real["steps"]) == (15, 10, 1500)
    assert repeats_epochs("person", 10)["kohya_guide_repeats"] == (20, 30)
    # SD families take their step count from the LoRA explainer's repeats x epochs, and name Flux LoRA guide's figure
    lo = recommend(20, purpose="person", family="sd15").loras[0]
    assert lo.steps == 3000 and "Flux LoRA guide" in lo.reasons["steps"]
    big = recommend(1000, purpose="person", family="sdxl").loras[0]  # larger sets: fewer epochs, the same total
    assert big.steps == 4500 and "lower the epochs" in big.reasons["steps"]


def test_repeats_advice_scales_down_where_the_seeds_disagree():
    c = Config(family="flux", rank=32, alpha=16.0)
    rep = next(a for a in advise(c, {"chars": 20}, purpose="anime") if a.topic == "repeats")
    assert "8 repeats x 20 epochs" in rep.message  # LoRA explainer's anime figures: 3200 steps
    assert "1 repeat(s) x 25 epochs gives 500 steps" in rep.message  # vs Flux LoRA guide's 500 on Flux
    sd = next(a for a in advise(c.replace(family="sd15"), {"chars": 20}, purpose="anime") if a.topic == "repeats")
    assert "But" not in sd.message  # a small SD set is what LoRA explainer's numbers are for


# --- concepts --------------------------------------------------------------------------------
def test_concepts_single_many_and_balance_by_repeats():
    adv, split, _ = concept_advice({"cat": 40})
    assert not split and adv[0].level == "ok"
    adv, split, _ = concept_advice({"a": 10, "b": 10, "c": 10, "d": 10}, similar=True)
    assert split  # more than ~3 concepts
    adv, split, _ = concept_advice({"a": 20, "b": 80}, similar=True)
    assert split
    balance = next(a for a in adv if "repeats" in a.message)
    assert "4_a" in balance.message and "1_b" in balance.message
    # repeats that already balance samples per epoch: one LoRA is fine
    adv, split, _ = concept_advice({"a": (4, 20), "b": (1, 80)}, similar=True)
    assert not split


def test_identifiers_found_in_captions_or_suggested():
    caps = {"cat": ["uehxbfklaq, a cat on a sofa", "uehxbfklaq, a cat, garden"],
            "dog": ["qpwoeirutz, a dog", "qpwoeirutz, a dog running"]}
    assert find_identifiers(caps) == {"cat": "uehxbfklaq", "dog": "qpwoeirutz"}
    assert find_identifiers({"cat": ["a cat"], "dog": ["a cat"]}) == {"cat": None, "dog": None}
    adv, _, ids = concept_advice({"cat": 2, "dog": 2}, similar=True, identifiers={"cat": "uehxbfklaq", "dog": None})
    assert any(a.level == "warn" and "dog" in a.message and ids["dog"] in a.message for a in adv)
    assert ids["cat"] == "uehxbfklaq" and len(ids["dog"]) == 10
    from lora_nb.dataset.identifiers import identifier_problems

    assert identifier_problems(ids["dog"]) == []  # a fresh 10-letter id that means nothing yet


# --- advice on a config ----------------------------------------------------------------------
def test_advise_flags_what_the_seeds_warn_about():
    cfg = Config(family="flux", rank=64, alpha=128.0, learning_rate=5e-4, random_crop=True, cache_latents="none",
                 train_batch_size=4,
                 gradient_accumulation_steps=2, save_every_n_steps=500, sample_every_n_steps=250,
                 lr_scheduler="cosine_with_restarts", lr_scheduler_num_cycles=1)
    adv = advise(cfg, {"cat": 5}, purpose="person", total_steps=1234)
    by_topic = {}
    for a in adv:
        by_topic.setdefault(a.topic, []).append(a)
    assert by_topic["learning rate"][0].suggested == {"learning_rate": 8e-5}
    assert any(a.suggested.get("alpha") == 32 for a in by_topic["alpha"])
    assert any(a.level == "warn" for a in by_topic["alpha"])  # alpha above rank
    assert by_topic["cropping"][0].suggested == {"random_crop": False}
    assert any("duplicate" in a.message for a in by_topic["dataset size"])  # 5 images < 4 x 2
    msgs = " ".join(a.message for a in by_topic["checkpoints"])
    assert "1000 or 1500" in msgs and "same interval" in msgs
    assert by_topic["schedule"][0].suggested == {"lr_scheduler_num_cycles": 3}
    assert all(a.source and a.reason for a in adv)


def test_advise_accepts_a_matching_config():
    cfg = Config(family="flux", rank=32, alpha=16.0, learning_rate=1e-4, save_every_n_steps=100,
                 sample_prompts=["uehxbfklaq, a woman", "a city street"])
    adv = advise(cfg, {"portraits": 20}, purpose="person", total_steps=500)
    levels = {a.topic: a.level for a in adv if a.topic in ("learning rate", "alpha", "rank", "steps")}
    assert levels == {"learning rate": "ok", "alpha": "ok", "rank": "ok", "steps": "ok"}
    assert not [a for a in adv if a.level == "warn"]


# --- file sizes by rank (from the real layer shapes) -----------------------------------------
@pytest.mark.parametrize("family,tol", [("flux", 0.03), ("sdxl", 0.10), ("sd15", 0.12)])
def test_file_sizes_match_the_seeds_with_their_targets(family, tol):
    rows = rank_file_sizes(Config(family=family))
    quoted = [r for r in rows if r["guide_quoted_mb"]]
    assert len(quoted) >= 3
    for r in quoted:
        assert r["guide_targets_mb"] == pytest.approx(r["guide_quoted_mb"], rel=tol)
    mbs = [r["mb"] for r in rows]
    assert mbs[-1] == pytest.approx(2 * mbs[-2], rel=5e-3)  # linear in rank (256 vs 128)
    if family == "flux":  # the kit's Flux targets are the guide's: attention of both streams
        assert [r["mb"] for r in rows] == [r["guide_targets_mb"] for r in rows]
    else:  # kohya also trains proj_in/out, the feed-forward layers and the text encoder
        assert all(r["mb"] < r["guide_targets_mb"] for r in rows)
