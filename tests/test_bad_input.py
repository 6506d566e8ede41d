"""Bad configs and models get one "what -> fix" line (exit 2 from the CLI), never a traceback or a hang."""

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

from lora_nb.cli import main
from lora_nb.config import Config
from lora_nb.env import GPUInfo, resolve_mixed_precision
from lora_nb.errors import ConfigError, LoraNbError, ModelLoadError
from lora_nb.families import get_family
from lora_nb.families.loading import check_model_source
from lora_nb.families.modelcheck import folder_family, hub_reachable
from lora_nb.notebook.params import apply_params

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens, so the hub "has no network"


def _error_line(capsys, argv: list[str]) -> str:
    """Run the CLI, expect exit 2 and exactly one error line (progress bars of loaders aside)."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("lora-nb ")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def config_file(tiny_sd15, tiny_dataset, tmp_path):
    """A config that trains the tiny SD1.5 model one step on the tiny dataset: each test breaks one thing."""
    cfg = Config(pretrained_model=str(tiny_sd15), train_data_dir=str(tiny_dataset), resolution=64, optimizer="adamw",
                 max_train_steps=1, rank=4, alpha=2.0, output_dir=str(tmp_path / "run"), trigger_word="猫咪")
    return cfg.save(tmp_path / "config.toml")


@pytest.fixture
def no_network(monkeypatch):
    """This process as on a machine without a network: not offline, the hub unreachable, no proxy."""
    from huggingface_hub import constants

    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(constants, "ENDPOINT", UNREACHABLE)


@pytest.fixture(scope="module")
def tiny_sdxl(tmp_path_factory):
    from lora_nb.toy.testing import build_tiny_model

    return build_tiny_model("sdxl", tmp_path_factory.mktemp("models") / "tiny-sdxl")


# --- config files ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("encoding", "looks"), [("gbk", "GBK/GB18030"), ("utf-16", "UTF-16")])
def test_a_config_not_in_utf8_names_the_file_and_its_encoding(capsys, config_file, encoding, looks):
    text = config_file.read_text(encoding="utf-8")
    config_file.write_bytes(text.encode(encoding))
    with pytest.raises(ConfigError, match=f"not UTF-8 .*looks like {looks}"):
        Config.load(config_file)
    line = _error_line(capsys, ["train", str(config_file)])
    assert str(config_file) in line and looks in line and "-> config files must be UTF-8" in line
    assert config_file.read_bytes() == text.encode(encoding)  # the original is left as it was


# --- precision -------------------------------------------------------------------------------------
def test_fp16_needs_a_gpu():
    t4 = GPUInfo("Tesla T4", 15.0, (7, 5))
    assert resolve_mixed_precision("fp16", t4) == "fp16"
    if torch.cuda.is_available():
        return
    with pytest.raises(ConfigError, match='fp16" needs a CUDA GPU .*-> set mixed_precision = "no" or "auto"'):
        resolve_mixed_precision("fp16")
    assert resolve_mixed_precision("auto") == "no" and resolve_mixed_precision("bf16") == "bf16"


@pytest.mark.skipif(torch.cuda.is_available(), reason="fp16 is fine on a GPU")
def test_fp16_on_cpu_from_the_cli(capsys, config_file):
    line = _error_line(capsys, ["train", str(config_file), "--mixed-precision", "fp16"])
    assert 'mixed_precision: "fp16" needs a CUDA GPU' in line and '"no" or "auto"' in line


# --- clip_skip -------------------------------------------------------------------------------------
def test_clip_skip_deeper_than_the_text_encoder(capsys, config_file, tiny_sd15):
    cfg = Config.load(config_file, clip_skip=4)  # the tiny CLIP has 3 layers: 1-3 work for SD1.5
    with pytest.raises(ConfigError, match=r"clip_skip: 4 is deeper than text_encoder goes \(3 layers"):
        get_family("sd15").load_parts(cfg, "cpu", torch.float32)
    assert get_family("sd15").load_parts(cfg.replace(clip_skip=3), "cpu", torch.float32).text_encoders
    line = _error_line(capsys, ["train", str(config_file), "--clip-skip", "5"])
    assert "clip_skip: 5" in line and "clip_skip 1 to 3" in line and "-> set clip_skip = 2 or lower" in line


def test_sdxl_counts_clip_skip_from_its_penultimate_layer(tiny_sdxl):
    cfg = Config(family="sdxl", pretrained_model=str(tiny_sdxl), clip_skip=3)  # penultimate + 2 more > 3 layers
    with pytest.raises(ConfigError, match="clip_skip: 3 is deeper than text_encoder goes .*clip_skip 1 to 2"):
        get_family("sdxl").load_parts(cfg, "cpu", torch.float32)


# --- what pretrained_model holds ----------------------------------------------------------------------
def test_a_family_mismatch_names_the_family_not_pickles(capsys, config_file, tiny_sd15, tiny_sdxl):
    line = _error_line(capsys, ["train", str(config_file), "--family", "sdxl"])
    assert 'holds a model of family "sd15" (model_index.json: StableDiffusionPipeline)' in line
    assert '-> set family = "sd15"' in line and "allow_pickle" not in line
    with pytest.raises(ModelLoadError, match='family "sdxl" .*-> set family = "sdxl"'):
        get_family("sd15").load_parts(Config(pretrained_model=str(tiny_sdxl)), "cpu", torch.float32)
    assert folder_family(tiny_sdxl) == ("sdxl", "model_index.json: StableDiffusionXLPipeline")


def test_the_family_of_a_folder_without_model_index(tmp_path):
    for name, cfg in (("sd15", {"_class_name": "UNet2DConditionModel"}),
                      ("sdxl", {"_class_name": "UNet2DConditionModel", "addition_embed_type": "text_time"})):
        (tmp_path / name / "unet").mkdir(parents=True)
        (tmp_path / name / "unet" / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
        assert folder_family(tmp_path / name)[0] == name
    (tmp_path / "flux" / "transformer").mkdir(parents=True)
    (tmp_path / "flux" / "transformer" / "config.json").write_text('{"_class_name": "FluxTransformer2DModel"}')
    assert folder_family(tmp_path / "flux") == ("flux", "transformer/config.json: FluxTransformer2DModel")
    assert folder_family(tmp_path) is None  # nothing to tell from: the loader reports what is missing


def test_a_lora_file_as_base_model(capsys, config_file, tmp_path):
    lora = tmp_path / "my_lora.safetensors"
    save_file({"lora_unet_mid_block_attentions_0_proj_in.lora_down.weight": torch.zeros(4, 32),
               "lora_unet_mid_block_attentions_0_proj_in.lora_up.weight": torch.zeros(32, 4),
               "lora_unet_mid_block_attentions_0_proj_in.alpha": torch.tensor(2.0)}, str(lora))
    with pytest.raises(ModelLoadError, match="looks like a LoRA file"):
        get_family("sdxl").load_parts(Config(family="sdxl", pretrained_model=str(lora)), "cpu", torch.float32)
    line = _error_line(capsys, ["train", str(config_file), "--pretrained-model", str(lora)])
    assert f"pretrained_model: {lora} looks like a LoRA file (2 of its 3 tensors are adapter weights" in line
    assert "-> set pretrained_model to a base model" in line and "--lora" in line


def test_safetensors_without_a_unet_or_of_another_family(capsys, config_file, tmp_path):
    other = tmp_path / "random.safetensors"
    save_file({"a": torch.zeros(3), "b": torch.ones(2, 2)}, str(other))
    line = _error_line(capsys, ["train", str(config_file), "--pretrained-model", str(other)])
    assert "has no UNet weights (model.diffusion_model.*; its 2 tensors start with a, b)" in line
    assert "-> use a full checkpoint .safetensors" in line
    sdxl = tmp_path / "sdxl_checkpoint.safetensors"
    save_file({"model.diffusion_model.out.2.bias": torch.zeros(4),
               "conditioner.embedders.1.model.ln_final.bias": torch.zeros(4)}, str(sdxl))
    with pytest.raises(ModelLoadError, match=r'checkpoint of family "sdxl" \(conditioner.embedders.\* tensors\), but '
                                             r'family = "sd15" -> set family = "sdxl"'):
        get_family("sd15").load_parts(Config(pretrained_model=str(sdxl)), "cpu", torch.float32)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a safetensors file")
    with pytest.raises(ModelLoadError, match="not a valid safetensors file .*fetch it again"):
        get_family("sd15").load_parts(Config(pretrained_model=str(broken)), "cpu", torch.float32)


def test_a_single_file_checkpoint_without_its_layout(tmp_path, request):
    """diffusers' single-file loader reads the layout from the family's reference repo: one line when it cannot."""
    ckpt = tmp_path / "model.safetensors"
    save_file({"model.diffusion_model.out.2.bias": torch.zeros(4),
               "cond_stage_model.transformer.text_model.final_layer_norm.bias": torch.zeros(4)}, str(ckpt))
    cfg = Config(pretrained_model=str(ckpt))
    with pytest.raises(ModelLoadError, match=r"cannot load .*model.safetensors as a single-file sd15 checkpoint: .* "
                                             r"-> use a complete sd15 checkpoint or a diffusers folder"):
        get_family("sd15").load_parts(cfg, "cpu", torch.float32)  # HF_HUB_OFFLINE (conftest): not in the cache
    request.getfixturevalue("no_network")
    with pytest.raises(ModelLoadError, match="stable-diffusion-v1-5/stable-diffusion-v1-5 is a Hugging Face repo id, "
                                             "but 127.0.0.1:9 cannot be reached"):
        get_family("sd15").load_parts(cfg, "cpu", torch.float32)


# --- the hub without a network ------------------------------------------------------------------------
def test_a_hub_id_without_network_fails_fast_from_the_cli(config_file, tmp_path):
    """The real path: no HF_HUB_OFFLINE, a hub that cannot be reached. huggingface_hub alone retries every
    file with backoff (over 2 minutes measured before the check); now one line within seconds."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
           and not k.lower().endswith("_proxy")}
    env.update(HF_ENDPOINT=UNREACHABLE, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, "-m", "lora_nb.cli", "train", str(config_file), "--pretrained-model",
                           "some-owner/some-model"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    line = next(ln for ln in proc.stderr.splitlines() if ln.startswith("lora-nb train: error:"))
    assert ("pretrained_model: some-owner/some-model is a Hugging Face repo id, but 127.0.0.1:9 cannot be "
            "reached (no network) -> download the model to a folder") in line
    assert "and pass the folder, or set HF_HUB_OFFLINE=1 with a cached model" in line


def test_a_hub_id_without_network_in_process(capsys, monkeypatch, no_network):
    assert not hub_reachable()
    line = _error_line(capsys, ["xy", "--base", "some-owner/some-model", "--prompt", "a cat"])
    assert "base model: some-owner/some-model is a Hugging Face repo id, but 127.0.0.1:9 cannot be reached" in line
    with pytest.raises(ModelLoadError, match="vae: some-owner/some-vae .*cannot be reached"):
        check_model_source("some-owner/some-vae", False, "vae")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")  # offline as huggingface_hub reads it: the cache decides
    assert check_model_source("some-owner/some-vae", False, "vae") == "some-owner/some-vae"


def test_a_cached_hub_model_without_network_points_at_hf_hub_offline(tmp_path, monkeypatch, no_network):
    from huggingface_hub import constants

    snapshot = tmp_path / "models--some-owner--cached-model" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "model_index.json").write_text("{}", encoding="utf-8")
    (tmp_path / "models--some-owner--cached-model" / "refs").mkdir()
    (tmp_path / "models--some-owner--cached-model" / "refs" / "main").write_text("abc123", encoding="utf-8")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelLoadError, match="cannot be reached .*-> a copy is in the Hugging Face cache: set "
                                             "HF_HUB_OFFLINE=1 to use it"):
        check_model_source("some-owner/cached-model", False)


# --- XY picture sizes --------------------------------------------------------------------------------
def test_xy_sizes_must_suit_the_vae(capsys):
    from lora_nb.evaluate.engine import check_for_family
    from lora_nb.evaluate.settings import SampleSettings

    line = _error_line(capsys, ["xy", "--base", "some/model", "--prompt", "a", "--width", "100", "--height", "64"])
    assert "width/height: 100x64: sides must be positive multiples of 8 -> use 96x64" in line
    line = _error_line(capsys, ["xy", "--base", "some/model", "--prompt", "a", "--width", "100"])
    assert "width: 100: sides must be positive multiples of 8 -> use 96" in line
    assert "width is given without height -> set height too" in line
    with pytest.raises(ConfigError, match="multiples of 8 -> use 8x64"):
        SampleSettings(width=-8, height=64)
    with pytest.raises(ConfigError, match=r"520x512: sides must be positive multiples of 16 -> use 512x512 \(a flux"):
        check_for_family("flux", 520, 512, [])
    check_for_family("sd15", 520, 512, [])  # SD's VAE needs multiples of 8 only


def _model_folder(path, pipeline_class: str):
    """A model folder as far as telling its family goes: model_index.json alone (nothing here may load it)."""
    path.mkdir()
    (path / "model_index.json").write_text(json.dumps({"_class_name": pipeline_class}), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("family_class, argv, message", [
    ("StableDiffusionXLPipeline", ["--x", "blocks=OUTALL"],
     "blocks: 'OUTALL' names no weight for OUT00, OUT01, OUT02 of the sdxl UNet -> give the weights in quotes"),
    ("StableDiffusionPipeline", ["--x", 'blocks="1,0"'], "block weights '1,0': 2 values for sd15's 17 blocks"),
    ("FluxPipeline", ["--x", "blocks=ALL"], "blocks: diffusers has no block-wise LoRA scaling for flux"),
    ("StableDiffusionPipeline", ["--x", "blocks=OUT"], "axis 'blocks': 'OUT' is not a LoRA Block Weight preset"),
    ("StableDiffusionPipeline", ["--y", "strength=0,strong"], "axis 'strength': bad value"),
    ("StableDiffusionPipeline", ["--z", "seed=-1"], "axis 'seed': values must be >= 0"),
    ("FluxPipeline", ["--width", "520", "--height", "512"], "520x512: sides must be positive multiples of 16"),
    ("StableDiffusionPipeline", ["--lora", "missing.safetensors"], "LoRA file not found: missing.safetensors"),
    ("StableDiffusionPipeline", ["--mix", "--lora", "a=LORA", "b=LORA", "--weights", "0,1"],
     "1 weight lists for 2 LoRAs -> give one list per LoRA"),
    ("FluxPipeline", ["--mix", "--lora", "a=LORA", "--x", "blocks=ALL"], "no block-wise LoRA scaling for flux"),
    ("FluxPipeline", ["--forgetting", "--width", "520", "--height", "512"], "multiples of 16 -> use 512x512"),
])
def test_xy_checks_axes_and_files_before_the_model_loads(capsys, monkeypatch, tmp_path, family_class, argv,
                                                         message):
    """A bad axis, block preset, size or LoRA path is one line before the base model loads (the loader fails
    the test if it is called), not after minutes of loading."""
    import lora_nb.evaluate.pipeline as P

    def never(*a, **kw):
        raise AssertionError("the base model was loaded before the grid's axes were checked")

    monkeypatch.setattr(P, "load_pipeline", never)
    monkeypatch.chdir(tmp_path)
    lora = tmp_path / "lora.safetensors"
    save_file({"lora_unet_x.lora_down.weight": torch.zeros(1, 1)}, str(lora))
    argv = [a.replace("LORA", str(lora)) for a in argv]
    if "--lora" not in argv:
        argv += ["--lora", str(lora)]
    base = _model_folder(tmp_path / "model", family_class)
    line = _error_line(capsys, ["xy", "--base", base, "--prompt", "a cat", *argv])
    assert message in line


# --- the notebooks' CONFIG_OVERRIDES ----------------------------------------------------------------------
def test_config_overrides_in_the_train_notebook():
    base = Config(rank=16, learning_rate=1e-4)
    params = {"rank": None, "learning_rate": None}  # 05_train's cell: LEARNING_RATE = None, the override sets it
    assert apply_params(base, params, overrides={"learning_rate": 3e-4, "optimizer": "adamw"}).learning_rate == 3e-4
    with pytest.raises(ConfigError, match=r"CONFIG_OVERRIDES: unknown field 'learnig_rate' \(did you mean "
                                          r"'learning_rate'\?\) -> remove it or fix the spelling"):
        apply_params(base, params, overrides={"learnig_rate": 3e-4})
    with pytest.raises(ConfigError, match="'learning_rate' = 0.0003, but its own parameter LEARNING_RATE = 0.0001 "
                                          "-> set it in one place"):
        apply_params(base, {"learning_rate": 1e-4}, overrides={"learning_rate": 3e-4})
    with pytest.raises(LoraNbError, match="CONFIG_OVERRIDES: expected a dict of Config fields, got list"):
        apply_params(base, params, overrides=["learning_rate", 3e-4])
    assert apply_params(base, params, overrides={}) == base


def test_a_fifo_as_the_config_file_is_refused_without_blocking(tmp_path, capsys):
    import os

    from lora_nb.cli import main

    fifo = tmp_path / "cfg.toml"
    os.mkfifo(fifo)
    assert main(["train", str(fifo)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cfg.toml" in err[0] and "FIFO" in err[0].upper() and "-> pass a .toml" in err[0]
