"""One owner per run folder, runs never mix, nothing lost to a late check or a signal (real processes)."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lora_nb.config import Config
from lora_nb.errors import ConfigError, LoraNbError
from lora_nb.evaluate.lossplot import read_train_log
from lora_nb.fileio import leftovers
from lora_nb.training import runlock
from lora_nb.training.runfolder import next_run_dir, previous_run
from lora_nb.training.runlock import LOCK_NAME, STALE_AFTER_S, RunLock
from lora_nb.training.trainer import TrainCallback, train


@pytest.fixture
def base(tiny_sd15, tiny_dataset, tmp_path):
    return dict(pretrained_model=str(tiny_sd15), train_data_dir=str(tiny_dataset), resolution=64,
                optimizer="adamw", learning_rate=1e-3, max_train_steps=2, save_every_n_steps=2,
                output_dir=str(tmp_path / "run"), save_formats=["kohya"], sample_every_n_steps=0)


def _env():
    return {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1",
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _wait_for(cond, proc, timeout=240.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if proc.poll() is not None:
            raise AssertionError(f"the process ended early ({proc.returncode}): {proc.communicate()}")
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# --- the lock ------------------------------------------------------------------------------------
# A run that holds the lock until the test creates `go`: the second process is refused meanwhile.
HOLDER = """
import sys, time
from pathlib import Path
from lora_nb.config import Config
from lora_nb.training.trainer import TrainCallback, train

class Hold(TrainCallback):
    def on_step(self, step, logs):
        while step == 1 and not Path(sys.argv[2]).exists():
            time.sleep(0.05)

train(Config.load(sys.argv[1]), [Hold()])
"""


def test_a_second_process_into_the_same_folder_is_refused_and_the_first_finishes(base, tmp_path):
    path = Config(**{**base, "max_train_steps": 3}).save(tmp_path / "c.toml")
    go = tmp_path / "go"
    first = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(go)], env=_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for((tmp_path / "run" / "logs" / "train_log.jsonl").is_file, first)  # holding, mid-run
        second = subprocess.run([sys.executable, "-m", "lora_nb.cli", "train", str(path)], env=_env(),
                                capture_output=True, text=True, timeout=300)
        go.touch()
        out, err = first.communicate(timeout=300)
    finally:
        first.kill()
    assert second.returncode == 2
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert f"in use by another training run (pid {first.pid} on {socket.gethostname()}, since " in lines[0]
    assert "wait for it to finish" in lines[0] and "another folder" in lines[0]
    assert first.returncode == 0, err[-2000:]
    assert read_train_log(tmp_path / "run").steps == [1, 2, 3]  # each step once: nothing of the second run
    assert not (tmp_path / "run" / LOCK_NAME).exists()  # released at the end


def test_the_same_process_cannot_take_a_folder_twice(tmp_path):
    a, b = RunLock(tmp_path), RunLock(tmp_path)
    assert a.acquire() is None
    with pytest.raises(LoraNbError, match=f"pid {os.getpid()} on "):
        b.acquire()
    a.release()
    assert not (tmp_path / LOCK_NAME).exists()
    assert b.acquire() is None  # free again
    b.release()


def test_a_stale_lock_of_a_dead_process_is_taken_over(base, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    pid = _dead_pid()
    (out / LOCK_NAME).write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "started": 0.0}))
    res = train(Config(**base))
    assert res.steps == 2
    said = capsys.readouterr().out
    assert f"took over the lock of a run that is no longer running (pid {pid} on {socket.gethostname()}" in said
    assert not (out / LOCK_NAME).exists()


def test_reused_pids_and_other_hosts(tmp_path):
    lock = RunLock(tmp_path)
    # a live pid that started after the lock was written is not its owner (the pid was reused)
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname(),
                                                  "started": 1.0, "process_started": 1.0}))
    assert "no longer running" in lock.acquire()
    lock.release()
    # another machine's lock (a Colab runtime writing to Drive) with a fresh heartbeat: refused, with the way out
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": 12345, "host": "colab-vm-1", "started": time.time()}))
    with pytest.raises(LoraNbError) as e:
        RunLock(tmp_path).acquire()
    assert "pid 12345 on colab-vm-1" in str(e.value) and f"delete {tmp_path / LOCK_NAME}" in str(e.value)
    (tmp_path / LOCK_NAME).unlink()
    # an empty lock (killed between creating and writing it) is taken over
    (tmp_path / LOCK_NAME).write_text("")
    lock = RunLock(tmp_path)
    assert "unreadable lock file" in lock.acquire()
    lock.release()


def _other_hosts_lock(folder: Path, silent: float) -> Path:
    """A lock of pid 12345 on another machine (an older kit's format: no process_started), last touched `silent` s
    ago."""
    lock = folder / LOCK_NAME
    lock.write_text(json.dumps({"pid": 12345, "host": "colab-vm-1", "started": 1.0}))
    os.utime(lock, (time.time() - silent,) * 2)
    return lock


def test_another_machines_lock_is_taken_over_once_its_heartbeat_is_old(tmp_path):
    # a disconnected Colab runtime: the learner's new runtime (another hostname) resumes into the same Drive folder
    lock = _other_hosts_lock(tmp_path, STALE_AFTER_S + 60)
    mine = RunLock(tmp_path)
    note = mine.acquire()
    assert note.startswith("took over the lock of a run on another machine (pid 12345 on colab-vm-1, since ")
    assert note.endswith(f"), last alive 6m 00s ago, in {tmp_path}")
    assert json.loads(lock.read_text())["host"] == socket.gethostname()  # ours now
    mine.release()
    assert not lock.exists()


def test_a_recorded_beat_counts_when_the_synced_mtime_lags(tmp_path):
    """A synced folder may carry the new content but not the mtime: the record's own beat shows the run lives."""
    lock = _other_hosts_lock(tmp_path, STALE_AFTER_S + 600)
    lock.write_text(json.dumps({"pid": 12345, "host": "colab-vm-1", "started": 1.0, "beat": time.time() - 20}))
    os.utime(lock, (time.time() - STALE_AFTER_S - 600,) * 2)
    with pytest.raises(LoraNbError, match=r"last sign of life 2\ds ago"):
        RunLock(tmp_path).acquire()
    lock.write_text(json.dumps({"pid": 12345, "host": "colab-vm-1", "started": 1.0, "beat": "soon"}))
    os.utime(lock, (time.time() - STALE_AFTER_S - 600,) * 2)
    note = RunLock(tmp_path).acquire()  # a beat that is no time: judged by the mtime, stale
    assert note.startswith("took over the lock of a run on another machine") and "15m 00s ago" in note


def test_another_machines_fresh_lock_is_refused_saying_when_it_would_be_taken_over(tmp_path):
    lock = _other_hosts_lock(tmp_path, STALE_AFTER_S - 60)
    with pytest.raises(LoraNbError) as e:
        RunLock(tmp_path).acquire()
    assert str(e.value) == (
        f"output_dir {tmp_path} is in use by another training run (pid 12345 on colab-vm-1, since "
        f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(1.0))}) -> wait for it to finish, stop it (kill 12345, "
        f"or its notebook's Stop button), or set output_dir to another folder; if that run is gone (e.g. a closed "
        f"Colab runtime), run again in 1m 00s: its lock is taken over once silent for 5m 00s (last sign of life "
        f"4m 00s ago), or delete {lock}")
    assert lock.exists() and json.loads(lock.read_text())["pid"] == 12345  # untouched


def test_the_heartbeat_rewrites_the_lock_while_held_and_stops_at_release(tmp_path, monkeypatch):
    monkeypatch.setattr(runlock, "HEARTBEAT_S", 0.05)
    mine = RunLock(tmp_path)
    assert mine.acquire() is None
    lock = tmp_path / LOCK_NAME
    record = json.loads(lock.read_text())
    beats = [t for t in threading.enumerate() if t.name == f"lora-nb lock heartbeat {lock}"]
    assert len(beats) == 1 and beats[0].daemon
    os.utime(lock, (1000.0, 1000.0))  # as if silent since 1970: the main thread sleeps, like a long training step
    deadline = time.monotonic() + 1.0
    while lock.stat().st_mtime == 1000.0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert abs(lock.stat().st_mtime - time.time()) < 5  # rewritten now, without the training loop
    beat = json.loads(lock.read_text())
    assert abs(beat.pop("beat") - time.time()) < 5 and beat == record  # the same record with the time in it
    # from another machine this lock now looks alive
    monkeypatch.setattr(socket, "gethostname", lambda: "colab-vm-2")
    with pytest.raises(LoraNbError, match="in use by another training run"):
        RunLock(tmp_path).acquire()
    mine.release()
    assert not beats[0].is_alive() and beats[0] not in threading.enumerate()
    assert not lock.exists()


# --- runs never mix ------------------------------------------------------------------------------
def test_a_new_run_into_a_used_folder_is_refused_and_overwrite_starts_over(base, tmp_path):
    cfg = Config(**{**base, "cache_latents": "disk"})
    first = train(cfg)
    cached = {p: p.stat().st_mtime_ns for p in (first.output_dir / "cache").rglob("*.safetensors")}
    assert cached
    with pytest.raises(LoraNbError) as e:
        train(cfg)
    msg = str(e.value)
    assert msg.startswith(f"output_dir {first.output_dir} already holds a previous run (log, resume state, LoRA")
    assert "resume = 'latest'" in msg and "overwrite = true" in msg and "another folder" in msg
    (first.output_dir / "notes.txt").write_text("mine")
    (first.output_dir / "base.safetensors").write_text("a model, not this run's")
    again = train(cfg.replace(overwrite=True, max_train_steps=3, save_every_n_steps=3))
    out = again.output_dir
    assert read_train_log(out).steps == [1, 2, 3]  # each step once
    assert sorted(p.name for p in out.glob("*.safetensors")) == ["base.safetensors", "lora.safetensors"]
    assert sorted(p.name for p in (out / "state").iterdir()) == ["step-00000003"]
    assert Config.load(out / "config.toml").max_train_steps == 3
    assert (out / "notes.txt").read_text() == "mine"  # not a run's files: kept (the step-2 file of run 1 went)
    assert {p: p.stat().st_mtime_ns for p in (out / "cache").rglob("*.safetensors")} == cached  # reused


def test_a_crash_before_the_first_checkpoint_points_at_overwrite(base):
    class Crash(TrainCallback):
        def on_step(self, step, logs):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(Config(**base), [Crash()])
    assert previous_run(base["output_dir"]) == ["log"]
    with pytest.raises(LoraNbError, match="no saved state to continue from: set overwrite = true"):
        train(Config(**base))
    assert read_train_log(train(Config(**base, overwrite=True)).output_dir).steps == [1, 2]


@pytest.mark.parametrize("name", ["a/b", "", "..", ".", "a\\b", "bad:name", " ", ".hidden", "x" * 201])
def test_output_names_that_are_not_file_names_are_refused_by_the_config(base, name):
    with pytest.raises(ConfigError) as e:
        Config(**{**base, "output_name": name})
    assert f"output_name: {name!r}" in str(e.value) and "-> use a plain file name" in str(e.value)
    assert not Path(base["output_dir"]).exists()


def test_cli_refuses_a_bad_output_name_in_one_line(base, tmp_path, capsys):
    from lora_nb.cli import main

    path = Config(**base).save(tmp_path / "c.toml")
    assert main(["train", str(path), "--output-name", "a/b"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "output_name: 'a/b'" in err[0]
    assert not (tmp_path / "run").exists()
    from lora_nb.cli import build_parser
    from lora_nb.commands._option_flags import config_from_args

    args = build_parser().parse_args(["train", str(path), "--overwrite", "true"])  # the field is a flag too
    assert config_from_args(args, args.config).overwrite is True


def test_an_output_folder_that_cannot_be_made_is_reported_before_any_model_loads(base, tmp_path):
    (tmp_path / "file").write_text("x")
    cfg = Config(**{**base, "output_dir": str(tmp_path / "file" / "run"), "pretrained_model": str(tmp_path / "no")})
    with pytest.raises(LoraNbError, match=r"^output_dir: cannot create .*file/run .* -> choose a folder"):
        train(cfg)


def test_a_run_that_cannot_start_leaves_no_folder(base, tmp_path):
    with pytest.raises(LoraNbError):
        train(Config(**{**base, "output_dir": str(tmp_path / "a" / "b"), "pretrained_model": str(tmp_path / "no")}))
    assert not (tmp_path / "a").exists()


# --- leftovers of killed writes ------------------------------------------------------------------
KILLED_WRITES = """
import os, sys
from pathlib import Path
from lora_nb.fileio import atomic_dir, atomic_path
out = Path(sys.argv[1])
with atomic_path(out / "lora.safetensors") as a, atomic_path(out / "logs" / "train_log.jsonl") as b:
    a.write_bytes(b"half")
    with atomic_dir(out / "state" / "step-00000002") as d:
        (d / "adapter.safetensors").write_bytes(b"half")
        os._exit(9)  # killed inside the writes: no finally runs
"""


def test_leftovers_of_killed_writes_are_removed_at_start_and_nothing_else(base, tmp_path, capsys):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITES, str(out)], env=_env(), capture_output=True)
    assert proc.returncode == 9
    made = leftovers(out)
    assert len(made) == 3 and all(p.name.startswith(".") for p in made)
    keep = [out / ".notes.txt", out / "notes.tmp", out / ".ipynb_checkpoints" / "x.ipynb", out / "a.b.c.tmp"]
    for p in keep:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("mine")
    res = train(Config(**base))
    assert f"removed 3 temporary file(s) left by interrupted writes in {out}" in capsys.readouterr().out
    assert res.steps == 2 and not leftovers(out) and all(p.read_text() == "mine" for p in keep)


def test_a_folder_swapped_out_by_a_killed_atomic_dir_is_put_back(tmp_path):
    from lora_nb.fileio import remove_leftovers

    old = tmp_path / "state" / ".step-00000002.old"  # killed between the two renames: the only full copy
    old.mkdir(parents=True)
    (old / "state.json").write_text("{}")
    assert remove_leftovers(tmp_path) == 1
    assert (tmp_path / "state" / "step-00000002" / "state.json").is_file() and not old.exists()


# --- signals -------------------------------------------------------------------------------------
# The CLI, each step slowed (time only: the numbers are the same) so the signal lands mid-run.
SLOW_CLI = """
import sys, time
import lora_nb.training.trainer as T
real = T.family_loss
def slow(*a, **k):
    time.sleep(0.3)
    return real(*a, **k)
T.family_loss = slow
from lora_nb.cli import main
sys.exit(main(["train", *sys.argv[1:]]))
"""


def _start_slow_cli(path: Path, log: Path, steps: int = 2):
    proc = subprocess.Popen([sys.executable, "-c", SLOW_CLI, str(path)], env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: log.is_file() and len(read_train_log(log.parents[1]).steps) >= steps, proc)
    return proc


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_saves_a_checkpoint_and_resume_continues_bitwise(base, tmp_path, sig):
    opts = dict(base, max_train_steps=8, save_every_n_steps=0, lr_scheduler="cosine", shuffle_caption=True)
    path = Config(**opts).save(tmp_path / "c.toml")
    out = Path(opts["output_dir"])
    proc = _start_slow_cli(path, out / "logs" / "train_log.jsonl")
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 128 + sig, stderr[-2000:]
    step = read_train_log(out).steps[-1]
    assert 2 <= step < 8
    ckpt = out / f"lora-step{step:08d}.safetensors"
    assert f"stopped by {sig.name} at step {step}; checkpoint: {ckpt} -> continue with --resume latest" in stdout
    assert f"{sig.name} received: finishing this step and saving a checkpoint" in stderr
    assert ckpt.is_file() and json.loads((out / "state" / f"step-{step:08d}" / "state.json").read_text())["step"] \
        == step
    assert not (out / LOCK_NAME).exists()

    resumed = train(Config(**opts, resume="latest"))
    full = train(Config(**{**opts, "output_dir": str(tmp_path / "full")}))
    assert resumed.steps == full.steps == 8 and read_train_log(out).steps == list(range(1, 9))
    a, b = load_file(str(full.files["kohya"])), load_file(str(resumed.files["kohya"]))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_a_second_signal_exits_at_once(base, tmp_path):
    path = Config(**{**base, "max_train_steps": 50, "save_every_n_steps": 0}).save(tmp_path / "c.toml")
    out = Path(base["output_dir"])
    proc = _start_slow_cli(path, out / "logs" / "train_log.jsonl", steps=1)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "stopped by" not in stdout
    assert not (out / LOCK_NAME).exists()  # the lock is still released on the way out


def test_under_a_launcher_its_sigterm_echo_of_ctrl_c_is_not_a_second_signal(monkeypatch, capfd):
    from lora_nb.training.signals import SignalStop

    stop = SignalStop()
    monkeypatch.setenv("LOCAL_RANK", "0")  # what torchrun / accelerate launch set in each worker
    stop._handle(signal.SIGINT, None)
    stop._handle(signal.SIGTERM, None)  # torchrun passing the Ctrl-C on: the step still finishes
    assert stop.should_stop() and stop.exit_code == 130
    with pytest.raises(KeyboardInterrupt):
        stop._handle(signal.SIGINT, None)  # the same signal again is the user's second request
    monkeypatch.delenv("LOCAL_RANK")
    plain = SignalStop()
    plain._handle(signal.SIGINT, None)
    with pytest.raises(SystemExit):  # without a launcher any second signal exits at once
        plain._handle(signal.SIGTERM, None)


def test_signal_handlers_are_restored_and_not_installed_off_the_main_thread():
    from lora_nb.training.signals import SignalStop

    before = signal.getsignal(signal.SIGTERM)
    stop = SignalStop()
    with stop.installed():
        assert signal.getsignal(signal.SIGTERM) == stop._handle
    assert signal.getsignal(signal.SIGTERM) == before
    seen = []
    t = threading.Thread(target=lambda: seen.append(stop.installed().__enter__() is stop))
    t.start()
    t.join()
    assert seen == [True] and signal.getsignal(signal.SIGTERM) == before


# --- notebooks: a new run beside the old one, one live job per kernel ------------------------------
def test_the_projects_train_starts_a_new_run_folder_beside_a_used_one(base, tmp_path, capsys):
    from lora_nb.notebook.project import Project

    proj = Project.create(tmp_path / "proj")
    cfg = proj.config(**{k: v for k, v in base.items() if k != "output_dir"})
    assert proj.new_run(cfg) == cfg  # nothing there yet
    first = train(cfg)
    proj.record("train", first.output_dir)
    capsys.readouterr()
    cfg2 = proj.new_run(cfg)
    assert cfg2.output_dir == str(proj.root / "runs" / "lora-2")
    assert capsys.readouterr().out.strip() == ("runs/lora already holds a run: this training starts a new run "
                                               "folder, runs/lora-2 (to continue the old one set resume = 'latest', "
                                               "to replace it overwrite = True).")
    proj.save_config(cfg2)
    second = train(cfg2)
    proj.record("train", second.output_dir)
    assert proj.require("train") == proj.root / "runs" / "lora-2"  # what 06_evaluate reads
    assert proj.config().output_dir == str(proj.root / "runs" / "lora-2")  # what resume = 'latest' continues
    assert proj.new_run(proj.config()).output_dir == str(proj.root / "runs" / "lora-3")
    assert proj.new_run(cfg.replace(resume="latest")) == cfg.replace(resume="latest")
    assert read_train_log(first.output_dir).steps == read_train_log(second.output_dir).steps == [1, 2]
    assert next_run_dir(tmp_path / "sdxl-1024") == tmp_path / "sdxl-1024-2"  # a name's own number is kept


def test_start_training_refuses_a_second_live_job_in_the_kernel(base, tmp_path):
    from lora_nb.notebook.jobs import start_training

    release = threading.Event()

    class Hold(TrainCallback):
        def on_step(self, step, logs):
            release.wait(120)

    job = start_training(Config(**base), None, callbacks=[Hold()], background=True)
    try:
        with pytest.raises(LoraNbError, match=f"already running in this notebook \\(into {base['output_dir']}\\)"):
            start_training(Config(**{**base, "output_dir": str(tmp_path / "other")}), None)
    finally:
        release.set()
    assert job.wait(timeout=300).steps == 2
    assert start_training(Config(**{**base, "output_dir": str(tmp_path / "other")}), None,
                          background=False).result.steps == 2
