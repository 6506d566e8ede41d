"""The trainer end to end on the tiny SD1.5 model: files, logs, samples, resume, stop, NaN, bad input."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lora_nb.config import Config
from lora_nb.errors import DatasetError, ModelLoadError, TrainingDiverged
from lora_nb.evaluate.lossplot import read_train_log
from lora_nb.training.trainer import TrainCallback, train


@pytest.fixture
def base(tiny_sd15, tiny_dataset, tmp_path):
    return dict(pretrained_model=str(tiny_sd15), train_data_dir=str(tiny_dataset), resolution=64,
                optimizer="adamw", learning_rate=1e-3, max_train_steps=4, save_every_n_steps=2,
                output_dir=str(tmp_path / "run"), save_formats=["kohya"], sample_steps=2)


def test_train_writes_checkpoints_log_samples_and_changes_the_model(base):
    cfg = Config(**{**base, "sample_prompts": ["toycircle, a red circle", "a house"], "sample_steps": 2,
                    "save_formats": ["kohya", "diffusers"], "trigger_word": "toyid"})
    seen = []

    class Rec(TrainCallback):
        def on_start(self, run):
            seen.append(("start", run.total_steps, run.steps_per_epoch))

        def on_step(self, step, logs):
            seen.append(("step", step))

        def on_sample(self, step, paths):
            seen.append(("sample", step, len(paths)))

    res = train(cfg, [Rec()])
    out = res.output_dir
    assert res.steps == 4 and not res.stopped_early
    assert [s for s, _ in res.checkpoints] == [2, 4]
    assert (out / "lora-step00000002.safetensors").is_file() and res.files["kohya"] == out / "lora.safetensors"
    assert res.files["diffusers"].is_file()
    assert ("start", 4, 11) in seen and ("sample", 2, 2) in seen and ("sample", 4, 2) in seen
    assert sorted(p.name for p in (out / "samples").iterdir()) == [
        "step00000002-p0.png", "step00000002-p1.png", "step00000004-p0.png", "step00000004-p1.png"]
    log = read_train_log(out)
    assert log.steps == [1, 2, 3, 4] and all(v > 0 for v in log.loss) and not log.skipped_lines
    assert [s for s, _ in log.checkpoints] == [2, 4] and [s for s, _ in log.samples] == [2, 4]
    from lora_nb.families.lorafiles import read_lora_file

    sd, meta = read_lora_file(res.files["kohya"])
    assert json.loads(meta["ss_tag_frequency"])["2_toycircle"]["toycircle"] == 4
    ups = [v for k, v in sd.items() if k.endswith("lora_up.weight")]
    assert ups and any(v.abs().sum() > 0 for v in ups)  # training moved the zero-initialised B
    assert Config.load(out / "config.toml") == cfg


def test_resume_after_crash_gives_same_weights(base, tmp_path):
    opts = dict(base, max_train_steps=6, save_every_n_steps=2, shuffle_caption=True, caption_dropout_rate=0.3,
                noise_offset=0.05, train_text_encoder=True)
    full = train(Config(**{**opts, "output_dir": str(tmp_path / "a")}))

    class Crash(TrainCallback):
        def on_step(self, step, logs):
            if step == 5:
                raise KeyboardInterrupt  # a Colab disconnect between checkpoints

    with pytest.raises(KeyboardInterrupt):
        train(Config(**{**opts, "output_dir": str(tmp_path / "b")}), [Crash()])
    resumed = train(Config(**{**opts, "output_dir": str(tmp_path / "b"), "resume": "latest"}))
    a, b = load_file(str(full.files["kohya"])), load_file(str(resumed.files["kohya"]))
    assert a.keys() == b.keys() and any(k.startswith("lora_te_") for k in a)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    steps = read_train_log(tmp_path / "b").steps
    assert steps == [1, 2, 3, 4, 5, 6]  # steps past the resumed state were dropped and redone


def test_resume_restores_the_fp16_loss_scaler(base, tmp_path):
    """The fp16 (T4) path: accelerate's GradScaler (`accelerator.scaler`) is saved with the state and restored
    on resume, so scale and growth tracker continue as if never interrupted. Here a CPU GradScaler stands in
    for the CUDA one (growth every 3 steps: the step-4 state holds a tracker of 1 that a fresh scaler lacks)."""
    from accelerate import Accelerator

    def accelerator():
        acc = Accelerator(cpu=True)
        acc.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10, growth_interval=3)
        return acc

    opts = dict(base, max_train_steps=6, save_every_n_steps=2)
    full_acc = accelerator()
    train(Config(**{**opts, "output_dir": str(tmp_path / "a")}), accelerator=full_acc)

    class Crash(TrainCallback):
        def on_step(self, step, logs):
            if step == 5:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(Config(**{**opts, "output_dir": str(tmp_path / "b")}), [Crash()], accelerator=accelerator())
    saved = torch.load(tmp_path / "b" / "state" / "step-00000004" / "trainer.pt", weights_only=True)["scaler"]
    assert saved["scale"] == 2.0**11 and saved["_growth_tracker"] == 1
    resumed_acc = accelerator()
    train(Config(**{**opts, "output_dir": str(tmp_path / "b"), "resume": "latest"}), accelerator=resumed_acc)
    assert full_acc.scaler.state_dict() == resumed_acc.scaler.state_dict()
    assert full_acc.scaler.get_scale() == 2.0**12 and full_acc.scaler._get_growth_tracker() == 0


def test_stop_button_saves_then_stops(base):
    class Stop(TrainCallback):
        def should_stop(self):
            return True

    res = train(Config(**{**base, "save_every_n_steps": 0}), [Stop()])
    assert res.stopped_early and res.steps == 1
    assert res.checkpoints[0][0] == 1 and res.files["kohya"].is_file()


def test_nan_loss_stops_with_advice_and_keeps_last_checkpoint(base, monkeypatch):
    from lora_nb.families import sd15

    real = sd15.SD15.predict
    calls = {"n": 0}

    def predict(self, m, noisy, t, cond, batch):
        calls["n"] += 1
        out = real(self, m, noisy, t, cond, batch)
        return out * float("nan") if calls["n"] >= 3 else out

    monkeypatch.setattr(sd15.SD15, "predict", predict)
    with pytest.raises(TrainingDiverged, match="step 3.*step 2.*lower learning_rate"):
        train(Config(**base))
    assert (Path(base["output_dir"]) / "lora-step00000002.safetensors").is_file()


def test_many_options_together(base):
    cfg = Config(**{**base, "max_train_steps": 2, "clip_skip": 2, "min_snr_gamma": 5.0, "noise_offset": 0.1,
                    "multires_noise_iterations": 4, "gradient_checkpointing": True, "train_batch_size": 2,
                    "gradient_accumulation_steps": 2, "lr_scheduler": "cosine_with_restarts",
                    "lr_scheduler_num_cycles": 2, "lr_warmup_ratio": 0.5, "cache_latents": "disk",
                    "flip_aug": True, "train_text_encoder": True, "save_precision": "bf16"})
    res = train(cfg)
    assert res.steps == 2
    sd = load_file(str(res.files["kohya"]))
    assert all(v.dtype == torch.bfloat16 for k, v in sd.items() if not k.endswith(".alpha"))
    lrs = read_train_log(res.output_dir).lr
    assert 0 < lrs[0] and lrs[1] < lrs[0]  # warmed up to the peak in 1 step, then cosine decay
    cached = list((res.output_dir / "cache" / "latents").glob("*.safetensors"))
    assert cached  # a second run reuses them
    mtimes = {p: p.stat().st_mtime_ns for p in cached}
    train(cfg.replace(output_dir=str(res.output_dir), max_train_steps=1, overwrite=True))
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items())


def test_bad_inputs_fail_before_training(base, tmp_path):
    with pytest.raises(ModelLoadError, match="neither an existing folder"):
        train(Config(**{**base, "pretrained_model": str(tmp_path / "no-model")}))
    with pytest.raises(ModelLoadError, match="pickle"):
        (tmp_path / "m.ckpt").write_bytes(b"x")
        train(Config(**{**base, "pretrained_model": str(tmp_path / "m.ckpt")}))
    with pytest.raises(DatasetError, match="not found"):
        train(Config(**{**base, "train_data_dir": str(tmp_path / "nodata")}))
    with pytest.raises(DatasetError, match="batch"):
        train(Config(**{**base, "train_batch_size": 64}))
    with pytest.raises(ModelLoadError, match="HF_HUB_OFFLINE|cannot load"):
        train(Config(**{**base, "pretrained_model": "someone/not-a-cached-model"}))
    assert not (tmp_path / "run").exists()  # nothing written for a run that could not start


def test_cli_train_and_one_line_error(base, tmp_path, capsys):
    from lora_nb.cli import main

    path = Config(**base).save(tmp_path / "c.toml")
    assert main(["train", str(path), "--max-train-steps", "1", "--output-dir", str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli" / "lora.safetensors").is_file()
    capsys.readouterr()
    assert main(["train", str(path), "--rank", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "rank" in err[0] and "minimum" in err[0]


@pytest.mark.slow
def test_accelerate_launch_two_processes(base, tmp_path):
    path = Config(**{**base, "output_dir": str(tmp_path / "ddp")}).save(tmp_path / "c.toml")
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "-m", "lora_nb.cli", "train", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "x 2 processes" in proc.stdout
    assert (tmp_path / "ddp" / "lora.safetensors").is_file()
    steps = read_train_log(tmp_path / "ddp").steps
    assert steps == [1, 2, 3, 4]
    assert json.loads((tmp_path / "ddp" / "state" / "step-00000004" / "state.json").read_text())["step"] == 4


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp16", "auto"])
def test_mixed_precision_on_cuda(base, precision):
    """fp16 autocast (the T4 path) and auto (bf16 on Ampere+) train with fp32 LoRA weights on a half base."""
    res = train(Config(**{**base, "mixed_precision": precision, "max_train_steps": 2, "optimizer": "adamw8bit"}))
    assert res.steps == 2 and math.isfinite(res.last_loss)
    sd = load_file(str(res.files["kohya"]))
    assert all(torch.isfinite(v.float()).all() for v in sd.values())


@pytest.mark.gpu
def test_fp16_resume_on_cuda_restores_the_loss_scaler(base, tmp_path):
    """The T4 path end to end: fp16 with accelerate's CUDA GradScaler, a crash, a resume: same scaler state."""
    from accelerate import Accelerator

    opts = dict(base, max_train_steps=6, save_every_n_steps=2, mixed_precision="fp16", optimizer="adamw8bit")
    full_acc = Accelerator(mixed_precision="fp16")
    full = train(Config(**{**opts, "output_dir": str(tmp_path / "a")}), accelerator=full_acc)

    class Crash(TrainCallback):
        def on_step(self, step, logs):
            if step == 5:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(Config(**{**opts, "output_dir": str(tmp_path / "b")}), [Crash()], accelerator=Accelerator(
            mixed_precision="fp16"))
    assert "scaler" in torch.load(tmp_path / "b" / "state" / "step-00000004" / "trainer.pt", weights_only=True)
    resumed_acc = Accelerator(mixed_precision="fp16")
    resumed = train(Config(**{**opts, "output_dir": str(tmp_path / "b"), "resume": "latest"}),
                    accelerator=resumed_acc)
    assert full_acc.scaler.state_dict() == resumed_acc.scaler.state_dict()
    a, b = load_file(str(full.files["kohya"])), load_file(str(resumed.files["kohya"]))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-3, atol=1e-5, msg=k)


def test_default_validation_prompts_watch_concepts_and_forgetting(base):
    """Flux LoRA guide §4.2: without sample_prompts, each concept's caption plus one unrelated prompt."""
    res = train(Config(**{**base, "max_train_steps": 2, "save_every_n_steps": 0}))
    cfg = Config.load(res.output_dir / "config.toml")
    assert len(cfg.sample_prompts) == 3
    assert sorted(p.split(",")[0] for p in cfg.sample_prompts[:2]) == ["toycircle", "toysquare"]
    assert len(list((res.output_dir / "samples").glob("step00000002-p*.png"))) == 3


def test_cpu_training_limits_torch_threads_and_says_so(base, tmp_path, capsys, monkeypatch):
    """env.limit_cpu_threads is where CPU training starts: one thread per usable physical core, said in one line;
    OMP_NUM_THREADS set by the user is left alone."""
    from lora_nb.env import usable_physical_cores

    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    try:
        train(Config(**{**base, "max_train_steps": 1, "sample_prompts": [], "save_every_n_steps": 0}))
        n = usable_physical_cores()
        assert torch.get_num_threads() == n
        assert f"note: CPU training with {n} torch thread(s), one per usable physical core" in capsys.readouterr().out
        torch.set_num_threads(before)
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        train(Config(**{**base, "max_train_steps": 1, "output_dir": str(tmp_path / "run2")}))
        assert torch.get_num_threads() == before and "torch thread" not in capsys.readouterr().out
    finally:
        torch.set_num_threads(before)
