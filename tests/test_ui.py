"""Notebook widgets: the Config form (rendered, bound both ways, validated inline, lr follows rank),
parameters -> Config, image grids, friendly errors, and the live training display with its stop button."""

import html

import matplotlib
import numpy as np
import pytest
from ipywidgets.embed import embed_data

from lora_nb import i18n
from lora_nb.config import GROUPS, Config
from lora_nb.errors import ConfigError, DatasetError, LoraNbError
from lora_nb.notebook.display import dataset_grid, figure_png, image_grid
from lora_nb.notebook.form import config_form
from lora_nb.notebook.jobs import start_training
from lora_nb.notebook.live import LiveTrainDisplay
from lora_nb.notebook.params import apply_params
from lora_nb.notebook.start import friendly_errors
from lora_nb.planning.advice.rates import lr_for_rank

matplotlib.use("Agg")


pytestmark = pytest.mark.usefixtures("default_language")


# --- the form ----------------------------------------------------------------------------------
def test_form_renders_every_field_in_group_tabs_with_help_as_tooltips():
    form = config_form(Config())
    infos = Config.field_info()
    assert set(form.widgets) == {f["name"] for f in infos}
    assert tab_titles(form.tabs) == [i18n.group_title(g) for g in GROUPS]
    for f in infos:
        w = form.widgets[f["name"]]
        assert tooltip(w) == f["help"] and w.description == i18n.field_label(f["name"])
        if "choices" in f:
            assert list(w.options) == list(f["choices"])
    assert type(form.widgets["rank"]).__name__ == "IntSlider" and form.widgets["rank"].max == 1024
    assert form.widgets["resolution"].step == 64  # FluxTrainer walkthrough, Kohya practice guide: multiples of 64 only
    assert type(form.widgets["seed"]).__name__ == "BoundedIntText"  # 2**32 values: a text box, not a slider
    # renders: every widget of the form is in the embeddable widget state a frontend draws from
    state = embed_data(views=[form.widget])["manager_state"]["state"]
    assert form.widget.model_id in state and form.widgets["rank"].model_id in state
    assert form.summary.value.count("All values are valid")


def tab_titles(tabs) -> list[str]:
    """Tab titles through get_title, which ipywidgets 7 (older Colab images) and 8 both have."""
    return [tabs.get_title(i) for i in range(len(tabs.children))]


def tooltip(w) -> str:
    """Hover help: `tooltip` in ipywidgets 8, `description_tooltip` in 7."""
    return w.tooltip if w.has_trait("tooltip") else w.description_tooltip


def test_form_in_chinese():
    form = config_form(Config(), lang="zh")
    assert tab_titles(form.tabs)[0] == "模型"
    assert form.widgets["rank"].description == "秩 (network dim)"
    assert tooltip(form.widgets["rank"]) == i18n.FIELD_HELP_ZH["rank"]
    assert "所有参数有效" in form.summary.value


def test_changing_widgets_changes_the_config_and_set_config_changes_the_widgets():
    form = config_form(Config(), advisor=None)
    seen = []
    form.observe(lambda f: seen.append(f.valid))
    form.widgets["optimizer"].value = "lion"
    form.widgets["train_batch_size"].value = 4
    form.widgets["flip_aug"].value = True
    form.widgets["target_modules"].value = "to_q, to_v"
    form.widgets["sample_prompts"].value = "uehxbfklaq cat, on a sofa\n\na dog on a beach\n"
    form.widgets["output_name"].value = "my_cat"
    cfg = form.config
    assert (cfg.optimizer, cfg.train_batch_size, cfg.flip_aug, cfg.output_name) == ("lion", 4, True, "my_cat")
    assert cfg.target_modules == ["to_q", "to_v"]
    assert cfg.sample_prompts == ["uehxbfklaq cat, on a sofa", "a dog on a beach"]  # commas stay inside prompts
    assert seen and all(seen)

    other = Config(rank=64, alpha=32.0, resolution=1024, sample_prompts=["a", "b"], save_formats=["kohya"])
    form.set_config(other)
    assert form.widgets["rank"].value == 64 and form.widgets["alpha"].value == 32.0
    assert form.widgets["resolution"].value == 1024 and form.widgets["sample_prompts"].value == "a\nb"
    assert form.widgets["save_formats"].value == "kohya"
    assert form.config == other


def test_learning_rate_follows_rank_until_edited_by_hand():
    form = config_form(Config(rank=16, learning_rate=1e-4))  # the default advisor: Flux LoRA guide's table
    assert form.lr_follows_rank
    form.widgets["rank"].value = 64
    assert form.config.learning_rate == pytest.approx(lr_for_rank(64)) == pytest.approx(8e-5)
    assert "rank 64" in form.lr_advice.value and form.lr_apply.layout.display == "none"
    form.widgets["learning_rate"].value = 2e-4  # the user types a rate: it stays
    assert not form.lr_follows_rank
    form.widgets["rank"].value = 128
    assert form.config.learning_rate == pytest.approx(2e-4)
    assert form.lr_apply.layout.display == "" and "set by you" in form.lr_advice.value
    form.lr_apply.click()  # "Use suggestion"
    assert form.lr_follows_rank and form.config.learning_rate == pytest.approx(lr_for_rank(128))
    form.widgets["optimizer"].value = "prodigy"  # LoRA explainer: Prodigy takes lr = 1
    assert form.config.learning_rate == 1.0
    assert "alpha = rank/2 -> 64" in html.unescape(form.alpha_advice.value)  # LoRA explainer's hint beside alpha


def test_invalid_values_show_inline_and_block_the_config():
    form = config_form(Config(), advisor=None)
    form.widgets["random_crop"].value = True  # with the default latent cache: invalid
    assert not form.valid
    msg = form.messages["random_crop"]
    assert "cache_latents='none'" in html.unescape(msg.value) and msg.layout.display == ""
    assert "Fix these values" in form.summary.value
    with pytest.raises(ConfigError, match="random_crop"):
        form.config
    form.widgets["cache_latents"].value = "none"
    assert form.valid and form.messages["random_crop"].layout.display == "none"
    assert form.config.random_crop and form.config.cache_latents == "none"


# --- parameters cell -> Config -----------------------------------------------------------------
def test_apply_params_keeps_none_and_lets_lr_follow_a_new_rank():
    base = Config(rank=16, learning_rate=1e-4)
    assert apply_params(base, {"rank": None, "alpha": None}) == base
    c = apply_params(base, {"rank": 64, "alpha": 32.0})
    assert c.rank == 64 and c.alpha == 32.0 and c.learning_rate == pytest.approx(8e-5)
    assert apply_params(base, {"rank": 64, "learning_rate": 3e-4}).learning_rate == 3e-4
    manual = Config(rank=16, learning_rate=5e-4)  # set by hand earlier (differs from the rule): kept
    assert apply_params(manual, {"rank": 64}).learning_rate == 5e-4
    with pytest.raises(ConfigError, match="unknown field 'rnak'"):
        apply_params(base, {"rnak": 8})


def test_image_and_dataset_grids(tiny_dataset):
    from PIL import Image

    paths = sorted(tiny_dataset.glob("*/*.png"))
    grid = image_grid(paths[:5], ["a", "b", "c", "d", "e"], cols=3, cell_size=64, title="t")
    assert isinstance(grid, Image.Image) and grid.width >= 3 * 64 and grid.height >= 2 * 64
    sheet = dataset_grid(tiny_dataset, max_images=4, cols=2, cell_size=64)
    assert sheet.width >= 2 * 64 and sheet.height >= 2 * 64
    side = max(Image.open(p).size[0] for p in paths[:4])
    big = dataset_grid(tiny_dataset, max_images=4, cols=2, cell_size=4 * side)  # the course's 64 px crops at 256
    assert big.width >= 2 * 4 * side and big.height >= 2 * 4 * side
    first = sorted(tiny_dataset.glob("*/*.png"))[0]  # dataset_grid's first tile
    shown = np.asarray(Image.open(first).convert("RGB").resize((4 * side, 4 * side), Image.NEAREST))
    px = np.asarray(big.convert("RGB"))
    h, w = shown.shape[:2]
    hits = [(y, x) for y in range(px.shape[0] - h) for x in range(px.shape[1] - w)
            if (px[y, x] == shown[0, 0]).all() and np.array_equal(px[y:y + h, x:x + w], shown)]
    assert hits, "the picture is shown enlarged x4, pixel for pixel"
    empty = image_grid([], cell_size=32)
    assert empty.width > 0
    png = figure_png(__import__("matplotlib.figure").figure.Figure(figsize=(2, 1)))
    assert png.startswith(b"\x89PNG")


def test_friendly_errors_show_the_message_not_a_traceback(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    try:
        assert friendly_errors()
        res = ip.run_cell("from lora_nb.errors import LoraNbError\n"
                          "raise LoraNbError('run 01_collect first: no dataset in /x')")
        assert isinstance(res.error_in_exec, LoraNbError)
        out = capsys.readouterr()
        text = out.out + out.err
        assert "run 01_collect first" in text and "Traceback" not in text
        res = ip.run_cell("1/0")  # other errors keep their traceback (they are bugs)
        assert "ZeroDivisionError" in capsys.readouterr().out
    finally:
        friendly_errors(False)
        InteractiveShell.clear_instance()


# --- live training display ---------------------------------------------------------------------
def _config(tiny_sd15, data, out, **kw):
    return Config(pretrained_model=str(tiny_sd15), train_data_dir=str(data), resolution=64, min_bucket_reso=64,
                  max_bucket_reso=64, optimizer="adamw", learning_rate=1e-3, output_dir=str(out),
                  save_formats=["kohya"], save_state=False, **kw)


def test_live_display_stop_button_saves_a_checkpoint_then_stops(tiny_sd15, tiny_dataset, tmp_path, capsys):
    from lora_nb.training.trainer import TrainCallback

    live = LiveTrainDisplay(every=1, headless=True)
    assert isinstance(live, TrainCallback)

    class User(TrainCallback):  # clicks Stop during step 1, as a learner would
        def on_step(self, step, logs):
            if step == 1:
                live.stop_button.click()

    cfg = _config(tiny_sd15, tiny_dataset, tmp_path / "run", max_train_steps=5, sample_prompts=["toycircle"],
                  sample_every_n_steps=1, sample_steps=1)
    job = start_training(cfg, live, callbacks=[User()], background=True)
    result = job.wait(timeout=300)
    assert job.done and result.stopped_early and result.steps == 1
    assert [s for s, _ in result.checkpoints] == [1] and result.files["kohya"].is_file()
    assert live.stop_button.disabled and live.should_stop()
    assert live.steps == [1] and live.checkpoints[0][0] == 1 and live.samples[0][0] == 1
    out = capsys.readouterr().out
    assert "step 1/5" in out and "checkpoint saved at step 1" in out and "Stopped at step 1" in out
    fig = live.loss_figure()
    assert fig.axes[0].lines and live.plot_updates >= 2


def test_training_errors_reach_wait(tmp_path, tiny_sd15):
    cfg = _config(tiny_sd15, tmp_path / "nothing", tmp_path / "run", max_train_steps=1)
    job = start_training(cfg, LiveTrainDisplay(headless=True), background=True)
    with pytest.raises(DatasetError):
        job.wait(timeout=120)


def test_interrupting_wait_stops_the_run_cleanly(tiny_sd15, tiny_dataset, tmp_path):
    cfg = _config(tiny_sd15, tiny_dataset, tmp_path / "run", max_train_steps=50)
    job = start_training(cfg, None, background=True)  # no display: job.stop() still works

    class Interrupted:  # the kernel's interrupt button while the cell waits in job.wait()
        def __init__(self, thread):
            self.thread, self.calls = thread, 0

        def is_alive(self):
            return self.thread.is_alive()

        def join(self, timeout=None):
            self.calls += 1
            if self.calls == 1:
                raise KeyboardInterrupt
            return self.thread.join(timeout)

    job.thread = Interrupted(job.thread)
    result = job.wait(timeout=300)
    assert job.stop_event.is_set() and result.stopped_early
    assert result.steps < 50 and result.checkpoints[-1][0] == result.steps and result.files["kohya"].is_file()


def test_live_validation_images_are_shown_enlarged_with_prompt_and_seed(tmp_path, monkeypatch):
    import numpy as np
    from PIL import Image

    import lora_nb.notebook.live as live_mod

    run = tmp_path / "run"
    (run / "samples").mkdir(parents=True)
    Config(sample_prompts=["toycircle", "a photo of a cat"], sample_seed=1234).save(run / "config.toml")
    paths = []
    for i, colour in enumerate(((200, 0, 0), (0, 0, 200))):
        paths.append(run / "samples" / f"step00000020-p{i}.png")
        Image.new("RGB", (64, 64), colour).save(paths[-1])
    seen = {}

    def spy(images, labels=None, **kw):
        seen["labels"] = labels
        seen["image"] = image_grid(images, labels, **kw)
        return seen["image"]

    class Handle:
        def update(self, obj):
            seen["shown"] = obj

    monkeypatch.setattr(live_mod, "image_grid", spy)
    live = LiveTrainDisplay(headless=False)
    live._sample_handle = Handle()
    live.on_sample(20, paths)
    assert seen["labels"] == ["toycircle · seed 1234", "a photo of a cat · seed 1235"]
    arr = np.asarray(seen["shown"])
    red = np.where((arr == (200, 0, 0)).all(axis=2))
    assert red[0].max() - red[0].min() + 1 == 256 and red[1].max() - red[1].min() + 1 == 256  # 64 px shown ×4


# --- the Train cell trains what the form shows (notebook/since_plan.py) ---------------------------
def test_train_config_takes_the_form_edited_after_the_plan_and_names_the_change(capsys):
    from lora_nb import i18n
    from lora_nb.notebook.since_plan import plan_config, train_config

    form = config_form(Config(rank=16, alpha=8), advisor=None)
    planned = plan_config(form)  # the Plan cell
    assert planned.rank == 16 and capsys.readouterr().out == ""
    assert train_config(form).rank == 16 and capsys.readouterr().out == ""  # nothing changed: nothing said
    form.widgets["rank"].value = 4  # edited after planning
    trained = train_config(form)  # the Train cell
    assert trained.rank == 4 and trained.alpha == 8
    out = capsys.readouterr().out.strip()
    assert out == i18n.t("nb.since_plan", fields="rank 16 → 4")
    assert out.startswith("Changed in the form since the Plan cell: rank 16 → 4 -> training uses the form's values")
    plan_config(form)  # planned again: the form and the plan agree
    assert train_config(form).rank == 4 and capsys.readouterr().out == ""
    form.widgets["output_name"].value = "a/b"  # invalid: refused, never trained with a stale config
    with pytest.raises(ConfigError, match="output_name"):
        train_config(form)


def test_train_config_says_it_in_chinese(capsys):
    from lora_nb.notebook.since_plan import plan_config, train_config

    form = config_form(Config(rank=16), lang="zh", advisor=None)
    plan_config(form)
    form.widgets["optimizer"].value = "lion"
    assert train_config(form, lang="zh").optimizer == "lion"
    out = capsys.readouterr().out
    assert out.startswith("规划单元格运行后表单有改动：optimizer") and "'lion'" in out
