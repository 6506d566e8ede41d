"""v-prediction and zero-terminal-SNR SDXL (NoobAI-XL / Illustrious v-pred style) on a tiny SDXL: the objective
is read from the model folder, a single file's marker keys or the Config, the family trains the v target on the
rescaled schedule, the LoRA's metadata says so, validation images and XY grids sample as the model needs
(trailing timesteps, guidance rescale 0.7), and a LoRA trained with the wrong objective measurably fails."""

import functools

import pytest
import torch
from safetensors.torch import save_file

from lora_nb.config import Config
from lora_nb.errors import ConfigError
from lora_nb.families import check_config, get_family
from lora_nb.families.lorafiles import read_lora_file
from lora_nb.families.prediction import GUIDANCE_RESCALE, Prediction, file_markers
from lora_nb.training.export.metadata import lora_metadata

SDXL = get_family("sdxl")


@pytest.fixture(scope="module")
def tiny_eps(tmp_path_factory):
    from lora_nb.toy.testing import build_tiny_model

    return build_tiny_model("sdxl", tmp_path_factory.mktemp("models") / "tiny-sdxl")


@pytest.fixture(scope="module")
def tiny_vpred(tmp_path_factory):
    """The tiny SDXL with a NoobAI-XL v-pred style scheduler config (v_prediction, rescale_betas_zero_snr)."""
    from lora_nb.toy.testing import build_tiny_model

    return build_tiny_model("sdxl-vpred", tmp_path_factory.mktemp("models") / "tiny-sdxl-vpred")


def _cfg(model, **kw):
    return Config(**{"family": "sdxl", "pretrained_model": str(model), "resolution": 64, **kw})


def _parts(model, **kw):
    return SDXL.load_parts(_cfg(model, **kw), "cpu", torch.float32)


# --- the objective the family trains ---------------------------------------------------------------
@pytest.mark.parametrize("which", ["vpred", "eps"])
def test_training_target_is_the_velocity_for_v_and_the_noise_for_eps(which, tiny_vpred, tiny_eps):
    m = _parts(tiny_vpred if which == "vpred" else tiny_eps)
    sched = m.noise_scheduler
    latents = torch.randn(4, 4, 8, 8, generator=torch.Generator().manual_seed(1))
    noise = torch.randn(4, 4, 8, 8, generator=torch.Generator().manual_seed(2))
    noisy, t, target, weights = SDXL.noisy_inputs(m, latents, noise, torch.Generator().manual_seed(3),
                                                  _cfg(tiny_vpred, min_snr_gamma=5.0))
    assert torch.equal(noisy, sched.add_noise(latents, noise, t))
    if which == "vpred":
        assert torch.equal(target, sched.get_velocity(latents, noise, t))
        assert not torch.allclose(target, noise)
        # zero terminal SNR: the last timestep is pure noise, and its v target is -x0
        assert sched.alphas_cumprod[-1].item() == 0.0
        last = torch.full((4,), 999)
        assert torch.equal(sched.add_noise(latents, noise, last), noise)
        assert torch.allclose(sched.get_velocity(latents, noise, last), -latents)
    else:
        assert torch.equal(target, noise)
        assert sched.alphas_cumprod[-1].item() > 0.0
    assert torch.isfinite(weights).all() and (weights >= 0).all()


def test_min_snr_weights_stay_finite_at_zero_snr():
    """At SNR 0 (zero terminal SNR's last step) min(snr, gamma) / (snr + 1) is 0 for v and the epsilon
    weighting min(snr, gamma) / snr is its limit 1: never NaN."""
    from diffusers import DDPMScheduler

    from lora_nb.families import ddpm

    for kind, at_zero in (("v_prediction", 0.0), ("epsilon", 1.0)):
        sched = DDPMScheduler(num_train_timesteps=10, rescale_betas_zero_snr=True, prediction_type=kind)
        lat = torch.zeros(64, 4, 2, 2)
        _, t, _, w = ddpm.noisy_inputs(sched, lat, torch.randn(64, 4, 2, 2), torch.Generator().manual_seed(0), 5.0)
        assert (t == 9).any() and torch.isfinite(w).all()
        assert torch.all(w[t == 9] == at_zero), (kind, w[t == 9])


# --- where the objective comes from ------------------------------------------------------------------
def test_objective_read_from_the_folders_scheduler_config(tiny_vpred, tiny_eps):
    v = _parts(tiny_vpred)
    assert (v.extra["prediction"].type, v.extra["prediction"].zero_snr) == ("v_prediction", True)
    assert v.extra["prediction"].source == f"{tiny_vpred}/scheduler/scheduler_config.json"
    assert (v.noise_scheduler.config.prediction_type, v.noise_scheduler.config.rescale_betas_zero_snr) == \
        ("v_prediction", True)
    e = _parts(tiny_eps)
    assert (e.extra["prediction"].type, e.extra["prediction"].zero_snr) == ("epsilon", False)


def _checkpoint(path, keys=(), metadata=None):
    tensors = {"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(2, 2)}
    tensors.update({k: torch.tensor([]) for k in keys})  # the markers are empty tensors
    save_file(tensors, str(path), metadata=metadata)
    return path


def test_single_file_marker_keys(tmp_path):
    assert file_markers(_checkpoint(tmp_path / "noob.safetensors", ["v_pred", "ztsnr"])) == \
        {"prediction_type": "v_prediction", "rescale_betas_zero_snr": True}
    assert file_markers(_checkpoint(tmp_path / "vonly.safetensors", ["v_pred"])) == {"prediction_type": "v_prediction"}
    assert file_markers(_checkpoint(tmp_path / "spec.safetensors", metadata={"modelspec.prediction_type": "v"})) == \
        {"prediction_type": "v_prediction"}
    assert file_markers(_checkpoint(tmp_path / "plain.safetensors")) == {}


def test_single_file_v_pred_checkpoint_trains_v(tiny_eps, tmp_path, monkeypatch):
    """diffusers' single-file converter gives every SDXL file an epsilon scheduler; the markers win."""
    from diffusers import StableDiffusionXLPipeline

    def from_single_file(path, **kw):  # the converted pipeline, as diffusers returns it for an SDXL file
        return StableDiffusionXLPipeline.from_pretrained(tiny_eps)

    monkeypatch.setattr(StableDiffusionXLPipeline, "from_single_file", staticmethod(from_single_file))
    ckpt = _checkpoint(tmp_path / "noobai-vpred.safetensors", ["v_pred", "ztsnr"])
    m = _parts(ckpt)
    assert (m.noise_scheduler.config.prediction_type, m.noise_scheduler.config.rescale_betas_zero_snr) == \
        ("v_prediction", True)
    assert m.extra["prediction"].source == "noobai-vpred.safetensors (marker keys)"
    plain = _parts(_checkpoint(tmp_path / "plain.safetensors"))
    assert plain.noise_scheduler.config.prediction_type == "epsilon"


def test_config_overrides_the_model(tiny_eps, tiny_vpred):
    m = _parts(tiny_eps, v_parameterization="yes", zero_terminal_snr="yes")
    assert (m.extra["prediction"].type, m.extra["prediction"].zero_snr) == ("v_prediction", True)
    assert "v_parameterization=yes" in m.extra["prediction"].source
    assert m.noise_scheduler.alphas_cumprod[-1].item() == 0.0
    m = _parts(tiny_vpred, v_parameterization="no", zero_terminal_snr="no")
    assert (m.noise_scheduler.config.prediction_type, m.noise_scheduler.config.rescale_betas_zero_snr) == \
        ("epsilon", False)
    with pytest.raises(ConfigError, match="zero terminal SNR with epsilon prediction.*-> set v_parameterization=yes"):
        _parts(tiny_vpred, v_parameterization="no")
    # kohya's boolean flags are taken too
    assert Config(v_parameterization=True, zero_terminal_snr=False).v_parameterization == "yes"
    assert Config.from_dict({"v_parameterization": "true", "zero_terminal_snr": False}).zero_terminal_snr == "no"
    with pytest.raises(ConfigError, match="v_parameterization: 'sometimes' is not one of auto, yes, no"):
        Config(v_parameterization="sometimes")


def test_sd15_takes_the_same_path(tiny_sd15):
    """SD 2.x-style v-prediction on the SD1.5 family: the same loader code, override and sampler settings."""
    sd15 = get_family("sd15")
    m = sd15.load_parts(Config(pretrained_model=str(tiny_sd15), v_parameterization="yes", zero_terminal_snr="yes"),
                        "cpu", torch.float32)
    assert (m.noise_scheduler.config.prediction_type, m.extra["prediction"].zero_snr) == ("v_prediction", True)
    sched = sd15.pipeline(m).scheduler
    assert (sched.config.prediction_type, sched.config.timestep_spacing) == ("v_prediction", "trailing")


def test_overrides_that_cannot_work_are_refused():
    with pytest.raises(ConfigError, match="v_parameterization: flux is trained with flow matching.*-> leave it"):
        check_config(Config(family="flux", v_parameterization="yes"))
    with pytest.raises(ConfigError, match="zero_terminal_snr: needs v-prediction.*-> set v_parameterization"):
        check_config(Config(family="sdxl", zero_terminal_snr="yes", v_parameterization="no"))
    check_config(Config(family="sdxl", zero_terminal_snr="yes"))  # auto: the model may be v-pred


# --- metadata ------------------------------------------------------------------------------------
def test_metadata_records_the_runs_objective():
    kw = dict(steps=1, epoch=1, tag_frequency={}, num_train_images=1)
    v = lora_metadata(Config(family="sdxl"), prediction=Prediction("v_prediction", True), **kw)
    assert (v["ss_v_parameterization"], v["ss_zero_terminal_snr"], v["modelspec.prediction_type"]) == \
        ("True", "True", "v")
    eps = lora_metadata(Config(family="sdxl"), **kw)  # nothing known: the family's reference model
    assert (eps["ss_v_parameterization"], eps["ss_zero_terminal_snr"], eps["modelspec.prediction_type"]) == \
        ("False", "False", "epsilon")
    over = lora_metadata(Config(family="sd15", v_parameterization="yes"), **kw)
    assert (over["ss_v_parameterization"], over["modelspec.prediction_type"]) == ("True", "v")
    flux = lora_metadata(Config(family="flux"), **kw)
    assert "ss_v_parameterization" not in flux and "modelspec.prediction_type" not in flux
    assert flux["ss_zero_terminal_snr"] == "False"


# --- sampling -------------------------------------------------------------------------------------
def test_validation_pipeline_samples_as_the_model_needs(tiny_vpred, tiny_eps):
    sched = SDXL.pipeline(_parts(tiny_vpred)).scheduler
    assert (type(sched).__name__, sched.config.prediction_type, sched.config.rescale_betas_zero_snr,
            sched.config.timestep_spacing) == ("DPMSolverMultistepScheduler", "v_prediction", True, "trailing")
    sched.set_timesteps(4)
    assert sched.timesteps[0].item() == 999  # trailing: the first step starts from pure noise
    eps = SDXL.pipeline(_parts(tiny_eps)).scheduler
    assert (eps.config.prediction_type, eps.config.rescale_betas_zero_snr, eps.config.timestep_spacing) == \
        ("epsilon", False, "leading")


def _spy_calls(monkeypatch):
    """Record every StableDiffusionXLPipeline call: its scheduler's settings and the guidance rescale."""
    from diffusers import StableDiffusionXLPipeline

    calls = []
    real = StableDiffusionXLPipeline.__call__

    @functools.wraps(real)
    def spy(self, *a, **kw):
        c = self.scheduler.config
        calls.append({"scheduler": type(self.scheduler).__name__, "prediction_type": c.prediction_type,
                      "zsnr": c.get("rescale_betas_zero_snr"), "spacing": c.timestep_spacing,
                      "guidance_rescale": kw.get("guidance_rescale", 0.0)})
        return real(self, *a, **kw)

    monkeypatch.setattr(StableDiffusionXLPipeline, "__call__", spy)
    return calls


def test_xy_grid_samples_as_the_model_needs(tiny_vpred, tiny_eps, monkeypatch):
    from lora_nb.evaluate.xy import xy_grid

    calls = _spy_calls(monkeypatch)
    xy_grid(str(tiny_vpred), [], "a red circle", x="sampler=default,euler", steps=2, width=64, height=64,
            progress=False)
    assert [c["scheduler"] for c in calls] == ["EulerDiscreteScheduler"] * 2
    assert all(c["prediction_type"] == "v_prediction" and c["zsnr"] and c["spacing"] == "trailing"
               and c["guidance_rescale"] == GUIDANCE_RESCALE for c in calls), calls
    with pytest.raises(ConfigError, match="sampler HeunDiscreteScheduler cannot start from pure noise.*-> use euler"):
        xy_grid(str(tiny_vpred), [], "a red circle", x="sampler=heun", steps=2, width=64, height=64, progress=False)
    calls.clear()
    xy_grid(str(tiny_eps), [], "a red circle", steps=2, width=64, height=64, progress=False)
    assert [(c["spacing"], c["guidance_rescale"]) for c in calls] == [("leading", 0.0)]


# --- end to end: a v-pred run, and the wrong objective fails -------------------------------------------
def _run(model, data, tmp_path, name, **kw):
    base = dict(pretrained_model=str(model), train_data_dir=str(data), optimizer="adamw", learning_rate=1e-2,
                network_type="locon", max_train_steps=24, rank=8, alpha=8.0, save_precision="fp32",
                output_dir=str(tmp_path / name), save_state=False, gpu_preset="none", seed=7)
    return _cfg(model, **{**base, **kw})


def test_vpred_run_metadata_and_validation_images(tiny_vpred, tiny_dataset, tmp_path, monkeypatch, capsys):
    from lora_nb.training.trainer import train

    calls = _spy_calls(monkeypatch)
    res = train(_run(tiny_vpred, tiny_dataset, tmp_path, "run", max_train_steps=1, sample_prompts=["a circle"],
                     sample_every_n_steps=1, sample_steps=2))
    _, md = read_lora_file(res.files["kohya"])
    assert (md["ss_v_parameterization"], md["ss_zero_terminal_snr"], md["modelspec.prediction_type"]) == \
        ("True", "True", "v")
    assert calls == [{"scheduler": "DPMSolverMultistepScheduler", "prediction_type": "v_prediction", "zsnr": True,
                      "spacing": "trailing", "guidance_rescale": GUIDANCE_RESCALE}]
    assert (tmp_path / "run" / "samples" / "step00000001-p0.png").is_file()
    out = capsys.readouterr().out
    assert "note: objective: v-prediction, zero terminal SNR" in out and "scheduler_config.json" in out


def _v_losses(models, config, timesteps=(750, 875, 999)):
    """The v-objective loss of a trained adapter at fixed high-noise timesteps on held-out noise (a seed the runs
    never drew), under the model's own (zero-terminal-SNR, v) scheduler. At low noise v ~ sqrt(a) * noise, so
    the two objectives nearly agree there; they part where noise dominates, down to the terminal step."""
    import random

    from lora_nb.training.data import scan_dataset
    from lora_nb.training.trainer import LatentCache, conditioning, make_batch

    sched = _parts(config.pretrained_model).noise_scheduler
    scan = scan_dataset(config)
    batch = make_batch(scan, list(range(len(scan.samples))), SDXL, models, LatentCache("none", None, ""),
                       config.replace(cache_latents="none"), random.Random(0), "cpu")
    lat = batch["latents"]
    noise = torch.randn(lat.shape, generator=torch.Generator().manual_seed(999))
    cond = conditioning(SDXL, models, batch["captions"], config)
    out = []
    with torch.no_grad():
        for step in timesteps:
            t = torch.full((lat.shape[0],), step)
            pred = SDXL.predict(models, sched.add_noise(lat, noise, t), t, cond, batch)
            out.append(torch.nn.functional.mse_loss(pred, sched.get_velocity(lat, noise, t)).item())
    return out


def test_a_lora_trained_with_the_wrong_objective_does_not_pass(tiny_vpred, tiny_dataset, tmp_path, train_capture):
    """The same v-pred zsnr model trained 24 steps with its own objective, and forced to epsilon on the
    unrescaled schedule (what an SDXL trainer that ignores the model's scheduler config does)."""
    right_cfg = _run(tiny_vpred, tiny_dataset, tmp_path, "right")
    _, right = train_capture(right_cfg)
    _, wrong = train_capture(_run(tiny_vpred, tiny_dataset, tmp_path, "wrong", v_parameterization="no",
                                  zero_terminal_snr="no"))
    assert wrong.noise_scheduler.config.prediction_type == "epsilon"
    base = _parts(tiny_vpred)
    SDXL.load_denoiser(base, right_cfg, "cpu", torch.float32)
    l_right, l_wrong, l_base = (_v_losses(m, right_cfg) for m in (right, wrong, base))
    for r, w, b in zip(l_right, l_wrong, l_base):
        assert r < b, (l_right, l_base)          # it learned the model's objective
        assert r < 0.5 * w, (l_right, l_wrong)   # the epsilon-trained LoRA is measurably worse at it
