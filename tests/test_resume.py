"""Resume checks what it resumes: changed settings refused in one line, damaged states skipped, a torn log
line dropped, the resumed step's missing validation images drawn again. Tiny SD1.5 model, a few steps; the
expensive runs are trained once per module and copied per test."""

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from lora_nb.config import Config
from lora_nb.errors import LoraNbError
from lora_nb.evaluate.lossplot import read_train_log
from lora_nb.families.sd15 import SD15
from lora_nb.training.fingerprint import COMPARED_OTHERWISE, NOT_WEIGHTS, WEIGHT_FIELDS
from lora_nb.training.trainer import TrainCallback, train

PROMPTS = ["toycircle, a red circle", "a house"]


@pytest.fixture(scope="module")
def opts(tiny_sd15, tmp_path_factory):
    from lora_nb.toy.testing import make_toy_dataset

    data = make_toy_dataset(tmp_path_factory.mktemp("resume-data") / "data")
    return dict(pretrained_model=str(tiny_sd15), train_data_dir=str(data), resolution=64, optimizer="adamw",
                learning_rate=1e-3, max_train_steps=4, save_every_n_steps=2, save_formats=["kohya"], sample_steps=2,
                sample_prompts=PROMPTS, lr_scheduler="cosine")


class CrashAfterState(TrainCallback):
    """A kill right after the state of `step` was saved, while its validation images would be drawn."""

    def __init__(self, step):
        self.step = step

    def on_checkpoint(self, step, files):
        if step == self.step:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def run4(opts, tmp_path_factory):
    """A finished 4-step cosine run with states at steps 2 and 4."""
    out = tmp_path_factory.mktemp("run4") / "run"
    train(Config(**opts, output_dir=str(out)))
    return out


@pytest.fixture(scope="module")
def full6(opts, tmp_path_factory):
    """The uninterrupted 6-step run that resumed runs must reproduce."""
    return train(Config(**{**opts, "max_train_steps": 6, "output_dir": str(tmp_path_factory.mktemp("f6") / "r")}))


@pytest.fixture(scope="module")
def crashed6(opts, tmp_path_factory):
    """The same 6-step run killed after saving the step-4 state, before step 4's validation images."""
    out = tmp_path_factory.mktemp("c6") / "run"
    with pytest.raises(KeyboardInterrupt):
        train(Config(**{**opts, "max_train_steps": 6, "output_dir": str(out)}), [CrashAfterState(4)])
    return out


def copy_run(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(src, dst)
    return dst


def assert_same_weights(a: Path, b: Path):
    x, y = load_file(str(a)), load_file(str(b))
    assert x.keys() == y.keys()
    for k in x:
        assert torch.equal(x[k], y[k]), k


# --- 1. the fingerprint --------------------------------------------------------------------------------
def test_every_config_field_is_placed_once():
    names = {f.name for f in dataclasses.fields(Config)}
    groups = [set(WEIGHT_FIELDS), set(COMPARED_OTHERWISE), set(NOT_WEIGHTS)]
    assert set.union(*groups) == names
    assert sum(map(len, groups)) == len(names) == len(set(WEIGHT_FIELDS)) + len(COMPARED_OTHERWISE) + len(NOT_WEIGHTS)


@pytest.mark.parametrize("change, shown", [
    ({"learning_rate": 2e-3}, "learning_rate 0.001 -> 0.002"),
    ({"seed": 7}, "seed 42 -> 7"),
    ({"alpha": 4.0}, "alpha 8.0 -> 4.0"),
    ({"optimizer": "lion"}, 'optimizer "adamw" -> "lion"'),
    ({"rank": 8}, "rank 16 -> 8"),
    ({"network_type": "loha"}, 'network_type "lora" -> "loha"'),
    ({"train_text_encoder": True}, "train_text_encoder false -> true"),
    ({"lr_scheduler": "constant"}, 'lr_scheduler "cosine" -> "constant"'),
    ({"target_modules": ["to_q", "to_v"]}, "target_modules ["),
    ({"train_batch_size": 2}, "train_batch_size 1 -> 2"),
    ({"noise_offset": 0.05}, "noise_offset 0.0 -> 0.05"),
    ({"resolution": 128, "upscale_small": True}, "resolution 64 -> 128; upscale_small false -> true"),
    ({"trigger_word": "zzk"}, "trigger_word"),
])
def test_a_changed_setting_is_refused_in_one_line_before_models_load(run4, opts, tmp_path, monkeypatch, change,
                                                                      shown):
    out = copy_run(run4, tmp_path)
    saved = (out / "config.toml").read_bytes()
    monkeypatch.setattr(SD15, "load_parts", lambda *a, **k: pytest.fail("a model was loaded before the check"))
    with pytest.raises(LoraNbError) as e:
        train(Config(**{**opts, **change, "output_dir": str(out), "resume": "latest"}))
    assert (out / "config.toml").read_bytes() == saved  # still describes the weights in the run folder
    msg = str(e.value)
    assert "\n" not in msg and shown in msg, msg
    assert "step-00000004" in msg and "set them back" in msg and "start a new run" in msg


def test_several_changes_are_listed_together(run4, opts, tmp_path):
    out = copy_run(run4, tmp_path)
    with pytest.raises(LoraNbError, match=r"rank 16 -> 32; learning_rate 0.001 -> 0.0005 -> set them back"):
        train(Config(**{**opts, "learning_rate": 5e-4, "rank": 32, "output_dir": str(out), "resume": "latest"}))


def test_changed_dataset_is_refused_and_a_moved_copy_is_not(run4, opts, tmp_path):
    out = copy_run(run4, tmp_path)
    moved = tmp_path / "moved-data"
    shutil.copytree(opts["train_data_dir"], moved)
    cfg = Config(**{**opts, "train_data_dir": str(moved), "output_dir": str(out), "resume": "latest"})
    with pytest.raises(LoraNbError, match="ends at step 4 but the saved state step-00000004 is at step 4"):
        train(cfg)  # same images and captions under another path: the fingerprint matches (the run is finished)
    (moved / "2_toycircle" / "001.txt").write_text("toycircle, a purple circle", encoding="utf-8")
    (moved / "1_toysquare" / "002.png").unlink()
    with pytest.raises(LoraNbError) as e:
        train(cfg)
    assert ("train_data_dir contents: 1 removed (1_toysquare/002.png); 1 changed (2_toycircle/001.png (caption))"
            in str(e.value)), str(e.value)


def test_other_base_model_is_refused(run4, opts, tmp_path):
    out = copy_run(run4, tmp_path)
    other = tmp_path / "other-model"
    shutil.copytree(opts["pretrained_model"], other)
    cfg = Config(**{**opts, "pretrained_model": str(other), "output_dir": str(out), "resume": "latest"})
    with pytest.raises(LoraNbError, match="ends at step 4"):
        train(cfg)  # a moved copy of the same files is the same base model
    weights = next((other / "unet").glob("*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # another fine-tune: same names and sizes, other numbers
    weights.write_bytes(bytes(data))
    with pytest.raises(LoraNbError, match=r"pretrained_model \".*tiny-sd15\" -> \".*other-model\" \(other files\)"):
        train(cfg)


# --- 2. accepted changes --------------------------------------------------------------------------------
def test_longer_run_with_the_same_schedule_equals_the_uninterrupted_one(opts, tmp_path, capsys):
    const = {**opts, "lr_scheduler": "constant"}
    train(Config(**{**const, "output_dir": str(tmp_path / "a")}))
    capsys.readouterr()
    res = train(Config(**{**const, "max_train_steps": 6, "output_dir": str(tmp_path / "a"), "resume": "latest",
                          "sample_prompts": ["a house"], "save_every_n_steps": 3}))
    out = capsys.readouterr().out
    assert ("note: resume: the run now ends at step 6 instead of 4; the constant lr schedule gave steps 1-4 the same "
            "lr either way, so the result is what an uninterrupted 6-step run gives") in out
    assert ('note: resume: settings that do not change the weights are used as now set: save_every_n_steps 2 -> 3; '
            'sample_prompts ["toycircle, a red circle", "a house"] -> ["a house"]') in out
    full = train(Config(**{**const, "max_train_steps": 6, "output_dir": str(tmp_path / "b")}))
    assert res.steps == 6 and read_train_log(tmp_path / "a").steps == [1, 2, 3, 4, 5, 6]
    assert_same_weights(full.files["kohya"], res.files["kohya"])
    assert Config.load(tmp_path / "a" / "config.toml").max_train_steps == 6  # config.toml describes the weights


def test_longer_cosine_run_says_the_schedule_differs_and_follows_the_new_one(run4, full6, opts, tmp_path, capsys):
    out = copy_run(run4, tmp_path)
    capsys.readouterr()
    train(Config(**{**opts, "max_train_steps": 6, "output_dir": str(out), "resume": "latest"}))
    printed = capsys.readouterr().out
    assert ("note: resume: the run now ends at step 6 instead of 4; from step 5 the lr follows the 6-step cosine "
            "schedule, but steps 1-4 were trained on the 4-step one (lr at step 4: 1.46e-04 there, 5.00e-04 on the "
            "new one), so the result differs from an uninterrupted 6-step run") in printed
    resumed, full = read_train_log(out), read_train_log(full6.output_dir)
    assert resumed.lr[4:] == full.lr[4:]  # steps 5 and 6 on the 6-step schedule
    assert resumed.lr[:4] != full.lr[:4]


def test_another_thread_count_resumes_with_a_note_on_bitwise(crashed6, opts, tmp_path, capsys):
    """A CPU run's state records torch's thread count; a resume with another count continues (not refused) and
    says in one line that it is not bitwise and how to make it so."""
    out = copy_run(crashed6, tmp_path)
    state = json.loads((out / "state" / "step-00000004" / "state.json").read_text(encoding="utf-8"))
    assert state["fingerprint"]["run"]["cpu_threads"] == torch.get_num_threads() == 1  # conftest: one thread
    capsys.readouterr()
    torch.set_num_threads(2)  # as OMP_NUM_THREADS=2 would
    try:
        res = train(Config(**{**opts, "max_train_steps": 6, "output_dir": str(out), "resume": "latest"}))
    finally:
        torch.set_num_threads(1)
    printed = [line for line in capsys.readouterr().out.splitlines() if "thread" in line]
    assert res.steps == 6 and printed == [
        "note: resume: the saved run trained with 1 torch thread(s), this one with 2: training continues correctly, "
        "but not bitwise as the uninterrupted run would have -> for a bitwise resume start it with OMP_NUM_THREADS=1"]


def test_thread_notes_only_for_two_known_different_counts():
    from lora_nb.training.fingerprint import _threads_note

    run = {"total_steps": 6, "warmup_steps": 0, "num_processes": 1}
    assert _threads_note({**run, "cpu_threads": 4}, {**run, "cpu_threads": 4}) == ""
    assert _threads_note(run, {**run, "cpu_threads": 4}) == ""  # a state from before thread counts were recorded
    assert _threads_note({**run, "cpu_threads": None}, {**run, "cpu_threads": 4}) == ""  # a GPU run's state
    assert "OMP_NUM_THREADS=4" in _threads_note({**run, "cpu_threads": 4}, {**run, "cpu_threads": 2})


def test_a_run_already_past_its_end_is_refused(run4, opts, tmp_path):
    out = copy_run(run4, tmp_path)
    with pytest.raises(LoraNbError, match="raise max_train_steps .* above 4"):
        train(Config(**{**opts, "max_train_steps": 3, "output_dir": str(out), "resume": "latest"}))


# --- 3. damaged states ------------------------------------------------------------------------------------
def _truncate(p: Path):
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


DAMAGE = {
    "truncated adapter": (lambda s: _truncate(s / "adapter.safetensors"), "adapter.safetensors is"),
    "zero-byte adapter": (lambda s: (s / "adapter.safetensors").write_bytes(b""), "adapter.safetensors is 0 bytes"),
    "truncated trainer.pt": (lambda s: _truncate(s / "trainer.pt"), "trainer.pt is"),
    "garbage state.json": (lambda s: (s / "state.json").write_text("{garbage"), "state.json unreadable"),
    "no manifest": (lambda s: (s / "manifest.json").unlink(), "manifest.json missing"),
}


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_newest_state_falls_back_to_the_previous_one(crashed6, full6, opts, tmp_path, capsys, kind):
    out = copy_run(crashed6, tmp_path)
    damage, why = DAMAGE[kind]
    damage(out / "state" / "step-00000004")
    capsys.readouterr()
    res = train(Config(**{**opts, "max_train_steps": 6, "output_dir": str(out), "resume": "latest"}))
    printed = capsys.readouterr().out
    assert "note: resume: skipped the damaged state step-00000004 (" in printed and why in printed, printed
    assert "; continuing from step-00000002" in printed and "resuming at step 2" in printed
    assert res.steps == 6
    assert_same_weights(full6.files["kohya"], res.files["kohya"])


def test_no_intact_state_and_a_damaged_explicit_state_are_one_line_errors(crashed6, opts, tmp_path):
    out = copy_run(crashed6, tmp_path)
    for s in ("step-00000002", "step-00000004"):
        (out / "state" / s / "adapter.safetensors").write_bytes(b"")
    cfg = dict(opts, max_train_steps=6, output_dir=str(out))
    with pytest.raises(LoraNbError, match=r"every saved state .* is damaged: step-00000004 \(adapter.safetensors is "
                                          r"0 bytes.*\); step-00000002 .*-> start a new run") as e:
        train(Config(**cfg, resume="latest"))
    assert "\n" not in str(e.value)
    explicit = out / "state" / "step-00000004"
    with pytest.raises(LoraNbError, match=r"the state .*step-00000004 is damaged \(adapter.safetensors is 0 bytes"
                                          r".*\) -> use resume='latest'"):
        train(Config(**cfg, resume=str(explicit)))


def test_a_state_from_before_manifests_is_used_when_it_loads(crashed6, full6, opts, tmp_path, capsys):
    out = copy_run(crashed6, tmp_path)
    state = out / "state" / "step-00000004"
    (state / "manifest.json").unlink()
    (state / "state.json").write_text(json.dumps({"step": 4}))  # the old format: the step only
    capsys.readouterr()
    res = train(Config(**{**opts, "max_train_steps": 6, "output_dir": str(out), "resume": "latest"}))
    printed = capsys.readouterr().out
    assert "note: resume: step-00000004 was saved by an older lora-nb without a checksum manifest" in printed
    assert "resuming at step 4" in printed
    assert_same_weights(full6.files["kohya"], res.files["kohya"])


# --- 4. the log and the samples -----------------------------------------------------------------------
def test_torn_last_log_line_is_dropped_and_reported(crashed6, full6, opts, tmp_path, capsys):
    out = copy_run(crashed6, tmp_path)
    log_path = out / "logs" / "train_log.jsonl"
    with open(log_path, "a", encoding="utf-8") as fh:
        fh.write('{"step": 5, "epoch": 0.45, "lo')  # what a full disk or a power cut leaves
    torn = read_train_log(out)
    assert torn.steps == [1, 2, 3, 4] and torn.skipped_lines == 1
    assert torn.note.startswith("train_log.jsonl: skipped 1 unreadable line (line ") and "cut off" in torn.note
    capsys.readouterr()
    res = train(Config(**{**opts, "max_train_steps": 6, "output_dir": str(out), "resume": "latest"}))
    assert "note: train_log.jsonl: dropped 1 unreadable line (line " in capsys.readouterr().out
    log = read_train_log(out)
    assert log.steps == [1, 2, 3, 4, 5, 6] and log.skipped_lines == 0 and log.note == ""
    assert log.loss == read_train_log(full6.output_dir).loss
    assert res.steps == 6


def test_missing_samples_of_the_resumed_step_are_drawn_again(crashed6, full6, opts, tmp_path, capsys):
    out = copy_run(crashed6, tmp_path)
    assert not list((out / "samples").glob("step00000004-*"))  # killed before step 4's images
    (out / "samples" / "step00000002-p1.png").unlink()  # and one of step 2 lost as well
    capsys.readouterr()
    res = train(Config(**{**opts, "max_train_steps": 6, "output_dir": str(out), "resume": "latest"}))
    printed = capsys.readouterr().out
    assert "note: resume: drew the 2 missing validation images of step 4 again" in printed
    assert ("note: resume: validation images of step 2 are missing and cannot be drawn again (only the weights of "
            "step 4 were kept)") in printed
    for i in range(len(PROMPTS)):
        a = np.asarray(Image.open(out / "samples" / f"step00000004-p{i}.png"))
        b = np.asarray(Image.open(full6.output_dir / "samples" / f"step00000004-p{i}.png"))
        assert np.array_equal(a, b)  # seeded sampling from the same weights: the same pixels
    assert dict(read_train_log(out).samples)[4] == [str(out / "samples" / f"step00000004-p{i}.png") for i in (0, 1)]
    assert res.steps == 6
    assert_same_weights(full6.files["kohya"], res.files["kohya"])


def test_cli_prints_the_refusal_as_one_line(run4, opts, tmp_path, capsys):
    from lora_nb.cli import main

    out = copy_run(run4, tmp_path)
    path = Config(**opts, output_dir=str(out)).save(tmp_path / "c.toml")
    capsys.readouterr()
    assert main(["train", str(path), "--resume", "latest", "--seed", "7", "--max-train-steps", "6"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "seed 42 -> 7" in err[0], err
