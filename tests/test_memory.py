"""Memory prediction: real architectures on the meta device, the activation table against the
profiler, how the prediction responds to each setting, fit/suggestions, presets, time."""

import math

import pytest

from lora_nb.config import Config
from lora_nb.errors import ConfigError, LoraNbError
from lora_nb.planning.memory.activations import activation_bytes, latent_tokens, profile_activations
from lora_nb.planning.memory.calibration import CALIBRATION
from lora_nb.planning.memory.fit import memory_fit
from lora_nb.planning.memory.gpus import resolve_gpu
from lora_nb.planning.memory.measure import Measurement, measure_peak
from lora_nb.planning.memory.optimizer_states import optimizer_state_bytes
from lora_nb.planning.memory.predict import predict_memory
from lora_nb.planning.memory.reference import adapter_file_mb, adapter_layers, adapter_param_count, architecture
from lora_nb.planning.memory.timing import STEP_SECONDS, estimate_time

GiB = 2**30


def cfg(**kw) -> Config:
    base = dict(family="sd15", resolution=512, rank=16, alpha=8.0, gpu_preset="none")
    base.update(kw)
    return Config(**base)


# --- architectures ---------------------------------------------------------------------------
def test_reference_architectures_have_the_published_parameter_counts():
    # SD1.5 UNet 860M + CLIP-L 123M + VAE 84M; SDXL UNet 2.6B + CLIP-L + OpenCLIP-bigG 695M;
    # Flux-dev transformer 11.9B + CLIP-L + T5-XXL encoder 4.76B
    assert architecture("sd15").params == {"denoiser": 859_520_964, "vae": 83_653_863,
                                           "text_encoder": 123_060_480}
    assert architecture("sdxl").params == {"denoiser": 2_567_463_684, "vae": 83_653_863,
                                           "text_encoder": 123_060_480, "text_encoder_2": 694_659_840}
    assert architecture("flux").params == {"denoiser": 11_901_408_320, "vae": 83_819_683,
                                           "text_encoder": 123_060_480, "text_encoder_2": 4_762_310_656}


def test_adapter_layers_are_the_ones_the_trainer_picks():
    sd = adapter_layers(cfg())
    assert len(sd["denoiser"]) == 16 * 2 * 4  # 16 transformer blocks x (self, cross) attention x q/k/v/out
    assert adapter_param_count(cfg(rank=1)) == 199_296
    # Flux: to_q/to_k/to_v/to_out.0 also target the text-stream twins of the 19 double blocks
    fl = cfg(family="flux", resolution=1024)
    assert len(adapter_layers(fl)["denoiser"]) == 19 * 8 + 38 * 3
    assert adapter_param_count(fl.replace(rank=1)) == 1_634_304
    assert adapter_param_count(fl.replace(rank=1, train_mlp=True)) > 2 * 1_634_304
    # text encoder LoRA: CLIP attention projections (12 layers x 4)
    te = adapter_layers(cfg(train_text_encoder=True))
    assert len(te["text_encoder"]) == 48
    # LoCon adds the UNet's conv layers, with conv_rank
    assert adapter_param_count(cfg(network_type="locon", conv_rank=8)) > adapter_param_count(cfg())


def test_adapter_shapes_per_network_type():
    lora = adapter_param_count(cfg())
    # loha adapts the same layers as locon (attention + convs) with two low-rank pairs each
    assert adapter_param_count(cfg(network_type="loha")) == 2 * adapter_param_count(cfg(network_type="locon"))
    fan_out = sum(lay.fan_out for lay in adapter_layers(cfg())["denoiser"])
    assert adapter_param_count(cfg(network_type="dora")) == lora + fan_out  # + magnitude per row
    assert adapter_param_count(cfg(network_type="lokr")) < lora / 2  # Kronecker factors are tiny
    # file size = params x 2 bytes (+ alpha scalars)
    assert adapter_file_mb(cfg()) == pytest.approx(lora * 2 / 2**20, rel=1e-3)


def test_optimizer_state_bytes_follow_each_optimizer():
    big, small = (16, 4096), (4, 320)  # 65536 values; 1280 values (< bnb's 4096 minimum for 8 bits)
    n = 16 * 4096
    assert optimizer_state_bytes("adamw", [big]) == 8 * n
    assert optimizer_state_bytes("adamw8bit", [big]) == pytest.approx(2.03125 * n)
    assert optimizer_state_bytes("adamw8bit", [small]) == 8 * 1280
    assert optimizer_state_bytes("lion", [big]) == 4 * n
    assert optimizer_state_bytes("prodigy", [big]) == 16 * n
    assert optimizer_state_bytes("adafactor", [big]) == (16 + 4096) * 4  # factored second moment
    with pytest.raises(ConfigError):
        optimizer_state_bytes("sgd", [big])


# --- activations -----------------------------------------------------------------------------
def test_activation_table_matches_the_meta_profile():
    for ckpt in (False, True):
        prof = profile_activations("sd15", 512, checkpointing=ckpt)
        table = activation_bytes("sd15", 512, 1, ckpt, "bf16")
        assert table == pytest.approx(prof.peak_bytes, rel=0.02)
    no_ckpt = profile_activations("sd15", 512)
    ckpt = profile_activations("sd15", 512, checkpointing=True)
    assert ckpt.peak_bytes < no_ckpt.peak_bytes / 3 and ckpt.block_peak_bytes > 0
    # flash-style attention: saved tensors grow linearly with tokens (a stored L x L score matrix
    # would make 768 px cost more than (768/512)^2 = 2.25 times 512 px)
    big = profile_activations("sd15", 768)
    assert 2.0 < big.saved_bytes / no_ckpt.saved_bytes < 2.4
    assert activation_bytes("sd15", 768, 1, False, "bf16") == pytest.approx(big.peak_bytes, rel=0.02)


def test_latent_tokens():
    assert latent_tokens("sd15", 512) == 64 * 64
    assert latent_tokens("flux", 1024) == 64 * 64  # 8x VAE, then 2x2 patches
    assert latent_tokens("sdxl", 1024, 768) == 128 * 96


# --- prediction ------------------------------------------------------------------------------
def test_prediction_responds_to_each_setting():
    base = predict_memory(cfg(), "T4-16GB")
    parts = base.gpu_parts
    assert base.precision == "fp16"  # the T4 has no bf16
    assert parts["denoiser weights"] == pytest.approx(859_520_964 * 2 / GiB)
    assert "VAE weights" not in parts and "text encoder weights" not in parts  # cached, then moved/freed
    uncached = predict_memory(cfg(cache_latents="none"), "T4-16GB").gpu_parts
    assert uncached["VAE weights"] == pytest.approx(83_653_863 * 4 / GiB)  # the VAE runs in fp32 (force_upcast)

    act = lambda **kw: predict_memory(cfg(**kw), "24GB").gpu_parts["activations"]  # noqa: E731
    assert act(gradient_checkpointing=True) < act() / 3
    assert act(train_batch_size=2) == pytest.approx(2 * act())
    assert act(resolution=768) > 2 * act()
    opt = lambda o: predict_memory(cfg(optimizer=o), "24GB").gpu_parts["optimizer state"]  # noqa: E731
    assert opt("adamw") > 3 * opt("adamw8bit")
    nf4 = predict_memory(cfg(family="flux", resolution=1024, quantization="nf4"), "24GB").gpu_parts
    bf16 = predict_memory(cfg(family="flux", resolution=1024), "24GB").gpu_parts
    assert nf4["denoiser weights"] < bf16["denoiser weights"] / 3.5 and "dequantised layer" in nf4
    fp32 = predict_memory(cfg(mixed_precision="no"), None).gpu_parts
    assert fp32["denoiser weights"] == pytest.approx(2 * parts["denoiser weights"])
    kept = predict_memory(cfg(cache_text_embeddings="no"), "24GB").gpu_parts
    assert kept["text encoder weights"] == pytest.approx(123_060_480 * 2 / GiB)
    assert "VAE weights" not in predict_memory(cfg(cache_latents="none", cpu_offload=True), "24GB").gpu_parts
    with pytest.raises(ConfigError, match="match no layer"):
        predict_memory(cfg(target_modules=["no_such_layer"]))


def test_flux_phases_and_host_ram():
    c = cfg(family="flux", resolution=1024, quantization="nf4", gradient_checkpointing=True)
    est = predict_memory(c, "24GB", n_images=100)
    # the trainer loads CLIP + T5 + VAE, caches every latent (one image at a time) and caption, then
    # frees the encoders and moves the VAE to CPU RAM before the transformer loads
    encode_one = 1024 * 1024 * CALIBRATION["vae_encode_bytes_per_pixel"] / GiB
    assert est.phases["caching latents and captions"] == pytest.approx(
        (123_060_480 + 4_762_310_656) * 2 / GiB + 83_819_683 * 4 / GiB + encode_one)
    assert "VAE weights" not in est.gpu_parts and "text encoder weights" not in est.gpu_parts
    assert est.host_parts["offloaded VAE / text encoders"] == pytest.approx(83_819_683 * 4 / GiB)
    assert est.host_parts["text-embedding cache"] == pytest.approx(100 * (512 * 4096 + 768) * 2 / GiB)
    # without caches the encoders stay on the GPU for training; cpu_offload keeps only visitors in RAM
    raw = predict_memory(c.replace(cache_text_embeddings="no", cache_latents="none"), "24GB")
    assert raw.gpu_parts["text encoder weights"] == pytest.approx((123_060_480 + 4_762_310_656) * 2 / GiB)
    assert "encoding a batch" in raw.phases and "caching latents and captions" not in raw.phases
    off = predict_memory(c.replace(cache_text_embeddings="no", cache_latents="none", cpu_offload=True), "24GB")
    assert "text encoder weights" not in off.gpu_parts
    assert off.phases["encoding captions"] > off.phases["training"] - off.gpu_parts["activations"]
    assert off.allocated_gb < raw.allocated_gb
    t4 = predict_memory(c, "T4-16GB")
    assert t4.precision == "fp16" and any("bf16" in n for n in t4.notes)


def test_fit_suggestions_make_it_fit():
    c = cfg(family="flux", resolution=1024)  # bf16 Flux with no savings: 22 GiB weights + 30 GiB activations
    fit = memory_fit(c, "24GB")
    assert fit.fits is False and fit.headroom_gb < 0
    by = {s.description: s for s in fit.suggestions}
    assert not any(s.fits for s in fit.suggestions)  # no single change is enough
    assert by["enable gradient checkpointing"].total_gb < fit.estimate.total_gb / 1.5
    assert fit.combined is not None and fit.combined.fits
    assert fit.combined.changes["quantization"] == "nf4" and fit.combined.changes["gradient_checkpointing"]
    ckpt = memory_fit(c.replace(gradient_checkpointing=True), "24GB")  # then NF4 alone is enough
    assert {s.description: s.fits for s in ckpt.suggestions}["load the base model in NF4 (QLoRA)"]
    # the combined changes, applied to the config, really predict a fit
    again = memory_fit(c.replace(**fit.combined.changes), "24GB")
    assert again.fits and again.estimate.total_gb == pytest.approx(fit.combined.total_gb)
    small = memory_fit(cfg(), "T4-16GB")
    assert small.fits and small.suggestions == [] and small.combined is None
    assert memory_fit(cfg(), None).fits is None


def test_measured_peak_corrects_the_prediction():
    c = cfg(family="sdxl", resolution=1024)
    pred = memory_fit(c, "12GB").estimate.allocated_gb
    m = Measurement("test GPU", 2, peak_allocated_gb=2 * pred, peak_reserved_gb=2.1 * pred, context_gb=0.5,
                    step_seconds=1.5, wall_seconds=60.0)
    fit = memory_fit(c, "12GB", measured=m)
    assert fit.estimate.allocated_gb == pytest.approx(2 * pred)
    assert fit.estimate.correction == pytest.approx(2.0) and "dry run" in fit.estimate.notes[-1]
    plain = memory_fit(c, "12GB")
    by_plain = {s.description: s.total_gb for s in plain.suggestions}
    for s in fit.suggestions:  # suggestions are scaled by the same correction
        assert s.total_gb > by_plain[s.description]


# --- GPUs and presets ------------------------------------------------------------------------
def test_resolve_gpu():
    assert resolve_gpu("t4").name == "T4-16GB" and resolve_gpu("16GB").name == "T4-16GB"
    assert resolve_gpu("a100-80gb").memory_gb > 79 and resolve_gpu("none") is None
    assert [resolve_gpu(n).tier for n in ("12GB", "T4-16GB", "24GB", "A100-40GB", "A100-80GB")] == \
        ["12GB", "16GB", "24GB", "40GB", "40GB"]
    with pytest.raises(ConfigError, match="T4-16GB"):
        resolve_gpu("rtx9090")


SMALLEST = {"12GB": "12GB", "16GB": "T4-16GB", "24GB": "24GB", "40GB": "A100-40GB"}


@pytest.mark.parametrize("family", ["sd15", "sdxl", "flux"])
def test_every_trainer_preset_fits_its_gpu_tier(family):
    """The trainer's memory presets (lora_nb.training.presets), checked against the prediction on the smallest
    GPU of each tier, with rank 32 and 50 images."""
    from lora_nb.training.presets import TIERS, choose_preset

    for tier in TIERS:
        c = choose_preset(Config(family=family, rank=32, alpha=16.0, gpu_preset=tier)).config
        fit = memory_fit(c, SMALLEST[tier], n_images=50)
        assert fit.fits, (family, tier, fit.estimate.total_gb, fit.estimate.phases)


def test_caching_phase_and_fp16_t5():
    c = cfg(family="flux", resolution=512, quantization="nf4", gradient_checkpointing=True, gpu_preset="none")
    bf16 = predict_memory(c, "24GB")
    fp16 = predict_memory(c, "T4-16GB")  # no bf16: T5 loads in fp16 with its "wo" layers kept in fp32
    key = "caching latents and captions"
    assert fp16.phases[key] - bf16.phases[key] == pytest.approx(1_006_632_960 * 2 / GiB, rel=1e-6)
    assert bf16.peak_phase == key  # T5 + CLIP + VAE outweigh the NF4 training step at 512 px


# --- time ------------------------------------------------------------------------------------
def test_estimate_time_from_table_and_from_a_measurement():
    c = cfg(sample_prompts=["a", "b"], sample_steps=30)
    t = estimate_time(c, 1000, n_sample_events=5, gpu="T4-16GB")
    assert t.seconds_per_step == pytest.approx(STEP_SECONDS["sd15"]["T4-16GB"])
    assert t.train_seconds == pytest.approx(1000 * t.seconds_per_step)
    assert t.sample_seconds == pytest.approx(5 * 2 * 30 * t.seconds_per_step / 3 * 2)
    slow = estimate_time(c.replace(gradient_checkpointing=True, train_batch_size=2), 1000, 0, "T4-16GB")
    assert slow.seconds_per_step == pytest.approx(t.seconds_per_step * 1.3 * 2)
    m = estimate_time(c, 1000, 0, None, step_seconds=0.25)
    assert m.source == "measured" and m.total_seconds == pytest.approx(250)
    assert estimate_time(c, 1000, 0, None) is None
    assert math.isclose(estimate_time(cfg(resolution=768), 10, 0, "24GB").seconds_per_step,
                        STEP_SECONDS["sd15"]["24GB"] * 2.25)


# --- the measured peak -------------------------------------------------------------------------
def test_measure_peak_explains_that_it_needs_a_gpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(LoraNbError, match="CUDA"):
        measure_peak(cfg())


@pytest.mark.gpu
def test_measure_peak_runs_two_real_steps(tiny_sd15, tiny_dataset, tmp_path):
    c = Config(pretrained_model=str(tiny_sd15), train_data_dir=str(tiny_dataset), resolution=64,
               min_bucket_reso=64, max_bucket_reso=128, output_dir=str(tmp_path / "run"), gpu_preset="none")
    m = measure_peak(c, steps=2)
    assert m.steps == 2 and 0 < m.peak_allocated_gb <= m.peak_reserved_gb
    assert m.step_seconds is not None and m.step_seconds > 0
    assert not (tmp_path / "run").exists()  # the dry run writes into a throw-away folder
