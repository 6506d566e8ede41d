"""Project state: project.json + config.toml in one folder, friendly 'run step N first' errors, portability."""

import json
import shutil

import pytest

from lora_nb import i18n
from lora_nb.errors import ConfigError, LoraNbError
from lora_nb.families.facts import FACTS
from lora_nb.notebook.project import PROJECT_FILE, Project, open_project, project_dir, projects_root


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path, default_language):
    monkeypatch.setenv("LORA_NB_PROJECTS", str(tmp_path / "projects"))
    monkeypatch.delenv("LORA_NB_PROJECT", raising=False)


def test_create_writes_project_json_and_config_and_reopens(tmp_path):
    p = Project.create(tmp_path / "cat", family="sd15", language="zh")
    assert (p.root / PROJECT_FILE).is_file() and p.config_path.is_file()
    data = json.loads((p.root / PROJECT_FILE).read_text(encoding="utf-8"))
    assert data["family"] == "sd15" and data["language"] == "zh" and "setup" in data["steps"]
    cfg = p.config()
    assert cfg.pretrained_model == FACTS["sd15"].base_model and cfg.resolution == 512
    assert cfg.output_dir == str(p.root / "runs" / "lora")  # runs live inside the project
    assert "output_dir = \"runs/lora\"" in p.config_path.read_text(encoding="utf-8")  # stored relative
    assert not [f for f in p.root.iterdir() if f.name.startswith(".")]  # atomic writes leave no temp files

    i18n.set_language("en")
    again = Project.open(tmp_path / "cat")
    assert again.data == p.data and again.config() == cfg
    assert i18n.get_language() == "zh"  # opening a project switches to its language


def test_recreate_keeps_steps_and_config_and_changes_only_what_is_passed(tmp_path):
    p = Project.create(tmp_path / "x")
    p.save_config(p.config().replace(rank=32, learning_rate=9e-5))
    (p.root / "dataset").mkdir()
    p.record("collect", p.root / "dataset", summary="3 images")
    q = Project.create(tmp_path / "x", family="sd15", language="en", pretrained_model="/models/my-sd15")
    assert q.config().rank == 32 and q.config().pretrained_model == "/models/my-sd15"
    assert q.output("collect") == p.root / "dataset"
    r = Project.create(tmp_path / "x", family="sdxl")
    assert r.config().resolution == 1024 and r.config().pretrained_model == FACTS["sdxl"].base_model
    assert r.family == "sdxl" and r.config().rank == 32


def test_missing_project_and_missing_step_give_friendly_errors(tmp_path):
    with pytest.raises(LoraNbError, match="no project in .* -> run 00_setup first"):
        Project.open(tmp_path / "nothing")
    p = Project.create(tmp_path / "p")
    with pytest.raises(LoraNbError, match=r"run 01_collect first: no dataset in .*dataset"):
        p.require("collect")
    with pytest.raises(LoraNbError, match="run 01_collect first"):
        p.training_data()
    p.record("crop", p.root / "cropped")  # recorded, but the folder was deleted since
    with pytest.raises(LoraNbError, match="run 02_crop first: no cropped images in .*cropped"):
        p.require("crop")
    i18n.set_language("zh")
    with pytest.raises(LoraNbError, match="请先运行 01_collect"):
        p.require("collect")


def test_training_data_is_the_newest_step_along_the_chain(tmp_path):
    p = Project.create(tmp_path / "p")
    for step, folder in (("collect", "dataset"), ("crop", "cropped")):
        (p.root / folder).mkdir()
        p.record(step, p.root / folder)
    p.record("caption", p.root / "cropped")
    assert p.training_data() == p.root / "cropped"
    (p.root / "clean").mkdir()
    p.record("clean", p.root / "clean", triggers={"20_cat": "uehxbfklaq"})
    assert p.training_data() == p.root / "clean"
    assert p.step_info("clean")["triggers"] == {"20_cat": "uehxbfklaq"}
    assert p.done_steps() == ["setup", "collect", "crop", "caption", "clean"] and p.next_notebook() == "05_train"
    assert "Next: open 05_train." in p.status()


def test_a_moved_project_still_finds_its_outputs(tmp_path):
    p = Project.create(tmp_path / "a" / "p")
    (p.root / "dataset").mkdir()
    p.record("collect", p.root / "dataset")
    p.save_config(p.config().replace(train_data_dir=str(p.root / "dataset")))
    moved = shutil.move(str(p.root), str(tmp_path / "b"))  # e.g. Drive mounted elsewhere, or a copied folder
    q = Project.open(moved)
    assert q.require("collect") == tmp_path / "b" / "dataset"
    assert q.config().train_data_dir == str(tmp_path / "b" / "dataset")


def test_names_resolve_under_the_projects_root(tmp_path):
    assert projects_root() == tmp_path / "projects"
    assert project_dir("my_lora") == tmp_path / "projects" / "my_lora"
    assert project_dir(str(tmp_path / "elsewhere")) == tmp_path / "elsewhere"
    made = open_project("my_lora", create=True, family="sd15")
    assert made.root == tmp_path / "projects" / "my_lora"
    assert open_project("my_lora").name == "my_lora"
    with pytest.raises(LoraNbError, match="empty project name"):
        project_dir("  ")


def test_broken_project_file_and_bad_values_are_explained(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    (root / PROJECT_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(LoraNbError, match="not valid JSON .* run 00_setup again"):
        Project.open(root)
    with pytest.raises(LoraNbError, match="family 'sd3'"):
        Project.create(tmp_path / "q", family="sd3")
    with pytest.raises(LoraNbError, match="language"):
        Project.create(tmp_path / "q", language="de")
    p = Project.create(tmp_path / "r")
    with pytest.raises(KeyError):
        p.record("paint", None)
    bad = p.config()
    bad.rank = 0  # e.g. set on the object by hand
    with pytest.raises(ConfigError, match="rank"):  # an invalid Config is never written
        p.save_config(bad)
    assert Project.open(tmp_path / "r").config().rank == 16


def test_language_follows_lora_nb_lang_unless_given_and_is_kept_on_a_rerun(tmp_path, monkeypatch):
    monkeypatch.setenv(i18n.ENV_VAR, "zh")  # 00_setup with LANGUAGE = "" (its default) on a zh machine
    p = Project.create(tmp_path / "zh", family="sd15", language="")
    assert p.language == "zh" and json.loads((p.root / PROJECT_FILE).read_text(encoding="utf-8"))["language"] == "zh"
    monkeypatch.delenv(i18n.ENV_VAR)
    i18n.set_language("en")
    assert Project.create(tmp_path / "zh", family="sd15").language == "zh"  # a re-run keeps the project's
    assert i18n.get_language() == "zh"
    assert Project.create(tmp_path / "zh", family="sd15", language="en").language == "en"  # given: changed
    i18n.set_language(None)
    assert Project.create(tmp_path / "new", family="sd15").language == "en"  # nothing set anywhere: English
