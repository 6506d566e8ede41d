"""The starting config from the advisor: what it fills, what it keeps, and a plan with no advice against it."""

from pathlib import Path

import pytest

from lora_nb.cli import main
from lora_nb.config import Config
from lora_nb.planning.advice.rates import lr_for_rank
from lora_nb.planning.advice.recipe import advise, recommend
from lora_nb.planning.advice.tables import MIN_CHECKPOINTS, checkpoint_interval
from lora_nb.planning.planner import plan, step_plan
from lora_nb.planning.starting import ADVISED_FIELDS, starting_config, user_set
from lora_nb.toy.testing import make_toy_dataset

SAMPLE = Path(__file__).resolve().parents[1] / "datasets_sample" / "20_zigzag_star"
FAMILIES = ("sd15", "sdxl", "flux")
# the sample's and the toy shapes' 128/64 px pictures fit these buckets
SMALL = dict(resolution=128, min_bucket_reso=64, max_bucket_reso=256, gpu_preset="none")
# the advice topics of the fields the advisor sets
TOPICS = {"learning rate", "alpha", "rank", "steps", "checkpoints"}


def _checks_aligned(cfg: Config, total: int) -> None:
    every = cfg.save_every_n_steps
    assert total % every == 0 and total // every >= MIN_CHECKPOINTS  # the last checkpoint lands on the final step
    assert cfg.effective_sample_every == every  # validation images at every checkpoint


def test_checkpoint_interval_leaves_at_least_four_checkpoints():
    for steps in (8, 40, 150, 375, 500, 1000, 1100, 1500, 2500, 4000, 12000):
        iv = checkpoint_interval(steps)
        assert steps // iv >= MIN_CHECKPOINTS, steps
    # the Flux LoRA guide's own intervals where they leave four or more: 100 for 500 steps, 500 for 4000
    assert (checkpoint_interval(500), checkpoint_interval(4000), checkpoint_interval(1500)) == (100, 500, 250)


def test_the_plan_asks_for_four_checkpoints():
    c = Config(max_train_steps=1500, save_every_n_steps=500, sample_prompts=["a", "b"])
    (adv,) = [a for a in advise(c, {"c": 100}, total_steps=1500) if a.topic == "checkpoints"]
    assert adv.level == "suggest" and adv.suggested == {"save_every_n_steps": 250} and "give 3" in adv.message
    assert not [a for a in advise(c.replace(save_every_n_steps=250), {"c": 100}, total_steps=1500)
                if a.topic == "checkpoints"]


@pytest.mark.parametrize("family", FAMILIES)
def test_steps_grow_with_the_dataset_and_checkpoints_line_up(family):
    # SD sets take the LoRA explainer's repeats x epochs (150 x the images) up to REFERENCE_SET images, that total
    # beyond until Flux LoRA guide's 4 epochs ask for more; Flux its steps by size (500 below 45)
    for sizes in ((10, 20, 40) if family != "flux" else (10, 100), (100, 500, 2000)):
        steps = []
        for n in sizes:
            st = starting_config(Config(family=family), counts={"thing": n}, purpose="object")
            rec = recommend(n, purpose="object", family=family).loras[0]
            assert st.config.max_train_steps == rec.steps  # as the advisor says
            assert (st.config.rank, st.config.alpha) == (rec.rank, rec.rank / 2)
            assert st.config.learning_rate == lr_for_rank(rec.rank, st.config.optimizer)
            assert set(st.advised) == set(ADVISED_FIELDS) and st.kept == []
            total = step_plan(st.config, {"thing": n}).total_steps
            _checks_aligned(st.config, total)
            steps.append(total)
        assert steps == sorted(steps) and steps[0] < steps[-1], steps


def test_values_the_user_set_win():
    base = Config(family="flux")
    st = starting_config(base.replace(rank=64, max_train_steps=1234), counts={"c": 100}, purpose="person")
    cfg = st.config
    assert (cfg.rank, cfg.max_train_steps) == (64, 1234) and {"rank", "max_train_steps"} <= set(st.kept)
    assert cfg.alpha == 32 and cfg.learning_rate == lr_for_rank(64)  # alpha and lr follow the user's rank
    assert cfg.save_every_n_steps == checkpoint_interval(1234)
    # named explicitly (a notebook parameter, a CLI flag): kept even at the Config default
    st = starting_config(base, counts={"c": 100}, purpose="person", keep={"rank", "learning_rate"})
    assert (st.config.rank, st.config.learning_rate) == (16, 1e-4) and "rank" not in st.advised
    # the run's length in epochs: no max_train_steps over it; checkpoints for the epochs' total
    st = starting_config(base.replace(max_train_epochs=4), counts={"c": (1, 100)}, purpose="person")
    assert st.config.max_train_steps == 0 and "max_train_steps" not in st.advised
    _checks_aligned(st.config, 400)
    # the advisor's own value from last time is not the user's: it follows the purpose (and dataset) again
    first = starting_config(base, counts={"c": 100}, purpose="new")
    assert first.config.rank == 128
    again = starting_config(first.config, counts={"c": 100}, purpose="person", advised_before=first.advised)
    assert again.config.rank == 32 and not again.kept
    assert user_set(first.config) >= {"rank", "max_train_steps"}  # without the record they look hand-set
    # a user's sample interval stays, even one off the checkpoints
    st = starting_config(base.replace(sample_every_n_steps=50), counts={"c": 100}, purpose="person")
    assert st.config.sample_every_n_steps == 50 and "sample_every_n_steps" in st.kept


def _against_advised(p, advised) -> list:
    return [a for a in p.advice if a.level in ("suggest", "warn") and set(a.suggested) & set(advised)]


@pytest.mark.parametrize("family", FAMILIES)
def test_plan_of_the_starting_config_has_no_advice_against_it(family, tmp_path):
    big = make_toy_dataset(tmp_path / "big", {"toycircle": (10, 120)})  # 10 epochs x 10 repeats: 12000 steps
    for folder in (SAMPLE, big):
        cfg = Config(family=family, train_data_dir=str(folder), sample_prompts=["a star", "a dog"], **SMALL)
        st = starting_config(cfg, purpose="object")
        p = plan(st.config, purpose="object", gpu=None)
        assert not _against_advised(p, st.advised), folder
        assert {a.topic: a.level for a in p.advice if a.topic in TOPICS} == {t: "ok" for t in TOPICS - {"checkpoints"}}
        _checks_aligned(p.config, p.steps.total_steps)
        assert p.steps.checkpoint_steps[-1] == p.steps.total_steps and len(p.steps.checkpoint_steps) >= 4
        if folder == big:  # ... while the Config defaults draw advice against rank, steps and the one checkpoint
            default = plan(cfg, purpose="object", gpu=None)
            assert default.steps.total_steps == 12000 != p.steps.total_steps
            suggested = {k for a in default.advice for k in a.suggested}
            assert {"rank", "max_train_steps", "save_every_n_steps"} <= suggested


def test_sample_dataset_two_concepts_no_advice_against_advised_fields():
    cfg = Config(family="sd15", train_data_dir=str(SAMPLE.parent), **SMALL)
    st = starting_config(cfg, purpose="object")
    assert st.n_images == 24 and st.config.max_train_steps == recommend(24, purpose="object", family="sd15"
                                                                        ).loras[0].steps
    p = plan(st.config, purpose="object", gpu=None)
    assert not _against_advised(p, st.advised)
    assert "24 images" in st.why() and "at least 4" in st.why()


# --- the train notebook's helper ---------------------------------------------------------------------------
def _project(tmp_path, data: Path, **overrides):
    from lora_nb.notebook.project import Project

    proj = Project.create(tmp_path / "proj", family="sd15", config_overrides={**SMALL, **overrides})
    proj.record("collect", data)
    return proj


PARAMS = dict(rank=None, alpha=None, learning_rate=None, max_train_steps=None, save_every_n_steps=None,
              sample_prompts=None)


def test_start_config_fills_from_the_advisor_and_says_so(tmp_path, capsys, monkeypatch):
    from lora_nb.notebook.params import start_config
    from lora_nb.notebook.project import Project

    for k in ("LORA_NB_SMOKE", "LORA_NB_COURSE", "LORA_NB_LANG"):
        monkeypatch.delenv(k, raising=False)
    data = make_toy_dataset(tmp_path / "data", {"toycircle": (1, 20)})
    proj = _project(tmp_path, data)
    cfg = start_config(proj, dict(PARAMS, rank=64), {"train_batch_size": 1}, purpose="object")
    line = capsys.readouterr().out
    assert line.startswith("From the advisor") and "rank=" not in line and "alpha=32" in line
    assert cfg.rank == 64 and cfg.alpha == 32 and cfg.learning_rate == lr_for_rank(64)
    rec = recommend(20, purpose="object", family="sd15").loras[0]
    assert cfg.max_train_steps == rec.steps
    assert Project.open(proj.root).advised == {k: getattr(cfg, k) for k in ADVISED_FIELDS if k != "rank"}
    # the run saved the advised values; the dataset grows: the steps follow it, the user's form edit stays
    proj.save_config(cfg.replace(rank=64, lr_scheduler="cosine"))
    make_toy_dataset(data, {"toycircle": (1, 80)}, seed=3)
    again = start_config(Project.open(proj.root), PARAMS, {}, purpose="object")
    assert again.max_train_steps == recommend(80, purpose="object", family="sd15").loras[0].steps != rec.steps
    assert again.rank == 64  # differs from the default and was never the advisor's: the user's


@pytest.mark.parametrize("mode", ["smoke", "course"])
def test_the_course_modes_recipe_wins(tmp_path, capsys, monkeypatch, mode):
    from lora_nb.notebook.modes import mode_overrides
    from lora_nb.notebook.params import start_config

    monkeypatch.delenv("LORA_NB_SMOKE", raising=False)
    monkeypatch.delenv("LORA_NB_COURSE", raising=False)
    monkeypatch.setenv(*(("LORA_NB_SMOKE", "1") if mode == "smoke" else ("LORA_NB_COURSE", "cpu")))
    data = make_toy_dataset(tmp_path / "data", {"toycircle": (1, 20)})
    ours = mode_overrides()
    proj = _project(tmp_path, data, **ours)
    cfg = start_config(proj, PARAMS, {}, purpose="object")
    for k in set(ours) & set(ADVISED_FIELDS):
        assert getattr(cfg, k) == ours[k], k


# --- lora-nb config ------------------------------------------------------------------------------------------
def test_cli_config_starts_from_the_advisor(tmp_path, capsys):
    data = make_toy_dataset(tmp_path / "data", {"toycircle": (1, 20)})
    out = tmp_path / "c.toml"
    flags = ["--train-data-dir", str(data), "--resolution", "128", "--min-bucket-reso", "64"]
    assert main(["config", "--out", str(out), *flags, "--purpose", "object", "--rank", "16"]) == 0
    assert "advisor (object, 20 images)" in capsys.readouterr().err
    cfg = Config.load(out)
    rec = recommend(20, purpose="object", family="sd15").loras[0]
    assert cfg.rank == 16 and cfg.alpha == 8 and cfg.max_train_steps == rec.steps  # --rank given: kept
    assert cfg.save_every_n_steps == rec.save_every
    assert main(["config", "--out", str(out), *flags, "--no-advisor"]) == 0
    assert Config.load(out).max_train_steps == 0
    assert main(["config", "--train-data-dir", str(tmp_path / "nope")]) == 2
    assert "--no-advisor" in capsys.readouterr().err
