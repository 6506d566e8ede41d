"""Block weights: kohya's per-block learning rates at training time, LoRA Block Weight presets at inference.

Training: the notation and the count per family are refused in one line each; blocks map to kohya's
indices (sd-scripts networks/lora.py get_block_index); a block at 0 gets no LoRA and no update, a block
at 0.5 trains at half the lr; the weights are written to ss_network_args as kohya does. Inference: a
`blocks` axis in the XY grid, applied with diffusers' own block-wise adapter scales.
"""

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from lora_nb.config import Config
from lora_nb.errors import ConfigError, LoraNbError
from lora_nb.evaluate.axes import parse_axis
from lora_nb.evaluate.pipeline import load_pipeline
from lora_nb.evaluate.xy import xy_grid
from lora_nb.families import Models, blocks, check_config, get_family, lbw
from lora_nb.families.adapters import add_adapters
from lora_nb.families.facts import FACTS

PROMPT = "a red circle, blue background"
ZEROS12 = ",".join(["0"] * 12)


def same(a: Image.Image, b: Image.Image) -> bool:
    return np.array_equal(np.asarray(a), np.asarray(b))


# ------------------------------------------------------------------------------------------------
# training: notation, counts, mapping
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("field, value, message", [
    ("down_lr_weight", "1,-1,1", "down_lr_weight: -1 is not a weight >= 0 -> use 0"),
    ("up_lr_weight", "cosin", "up_lr_weight: 'cosin' is neither numbers separated by commas nor one of cosine"),
    ("mid_lr_weight", "cosine", "mid_lr_weight: 'cosine' is a curve over down/up blocks"),
    ("down_lr_weight", "sine+x", "down_lr_weight: 'sine+x': the part after '+' must be a number"),
    ("up_lr_weight", "1,nan", "up_lr_weight: nan is not a weight >= 0"),
])
def test_config_refuses_bad_notation_in_one_line(field, value, message):
    with pytest.raises(ConfigError) as e:
        Config(**{field: value})
    assert message in str(e.value) and "\n" not in str(e.value)


def test_count_per_family_flux_refusal_and_optimizer_in_one_line():
    def problems(**kw):
        with pytest.raises(ConfigError) as e:
            check_config(Config(**kw))
        assert "\n" not in str(e.value)
        return str(e.value)

    assert "down_lr_weight: 3 values for 9 sdxl down blocks -> give exactly 9 numbers (or a curve name)" \
        in problems(family="sdxl", down_lr_weight="1,1,1")
    assert problems(mid_lr_weight="1,1,1").endswith("mid_lr_weight: 3 values for 1 sd15 mid block -> give exactly 1 "
                                                    "number")
    assert "sd-scripts has no per-block learning rates for flux" in problems(family="flux", up_lr_weight="cosine")
    assert "every block weight is 0" in problems(down_lr_weight="zeros", mid_lr_weight="0", up_lr_weight="zeros")
    assert "prodigy estimates one step size" in problems(optimizer="prodigy", learning_rate=1.0,
                                                         up_lr_weight="linear")
    check_config(Config(family="sdxl", down_lr_weight="cosine+0.25", mid_lr_weight="1,0.5,1"))  # accepted


def test_curves_and_defaults_follow_kohya():
    w = blocks.weights(Config(down_lr_weight="cosine", up_lr_weight="linear+0.5"), FACTS["sd15"])
    # kohya: cosine = sin(pi/2 * i/(n-1)) for i = n-1 .. 0, linear = i/(n-1) + lift
    assert w["down"] == pytest.approx([math.sin(math.pi * (i / 11) / 2) for i in reversed(range(12))])
    assert w["down"][0] == pytest.approx(1.0) and w["down"][-1] == pytest.approx(0.0)
    assert w["up"] == pytest.approx([i / 11 + 0.5 for i in range(12)]) and w["mid"] == [1.0]
    sdxl = blocks.weights(Config(family="sdxl", up_lr_weight="zeros"), FACTS["sdxl"])
    assert sdxl == {"down": [1.0] * 9, "mid": [1.0] * 3, "up": [0.0] * 9}
    assert blocks.weights(Config(), FACTS["sd15"]) is None


@pytest.mark.parametrize("family, name, where", [
    ("sd15", "down_blocks.0.attentions.1.transformer_blocks.0.attn1.to_q", ("down", 2)),  # SD input block 2
    ("sd15", "down_blocks.1.downsamplers.0.conv", ("down", 6)),
    ("sd15", "down_blocks.3.resnets.1.conv2", ("down", 11)),
    ("sd15", "mid_block.resnets.1.conv1", ("mid", 0)),
    ("sd15", "up_blocks.0.upsamplers.0.conv", ("up", 2)),
    ("sd15", "up_blocks.3.attentions.2.proj_out", ("up", 11)),
    ("sdxl", "down_blocks.2.attentions.1.transformer_blocks.9.attn2.to_k", ("down", 8)),
    ("sdxl", "mid_block.resnets.0.conv1", ("mid", 0)),
    ("sdxl", "mid_block.attentions.0.proj_in", ("mid", 1)),
    ("sdxl", "mid_block.resnets.1.conv1", ("mid", 2)),
    ("sdxl", "up_blocks.2.resnets.2.conv1", ("up", 8)),
    ("sd15", "conv_in", None),
    ("sdxl", "time_embedding.linear_1", None),
])
def test_module_names_map_to_kohya_block_indices(family, name, where):
    assert blocks.block_of(name, FACTS[family]) == where


@pytest.fixture
def tiny_unet(tiny_sd15):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel.from_pretrained(tiny_sd15, subfolder="unet")


def test_param_groups_per_block_weight(tiny_unet):
    # tiny SD1.5 UNet: attention in down_blocks.0 (down 1), the mid block, up_blocks.1 (up 3, up 4)
    cfg = Config(optimizer="adamw", learning_rate=1e-3, down_lr_weight=ZEROS12,
                 up_lr_weight="1,1,1,0.5,0.5,1,1,1,1,1,1,1")
    models = Models(denoiser=tiny_unet, vae=None, text_encoders=[], tokenizers=[], noise_scheduler=None, model_id="")
    groups = add_adapters(get_family("sd15"), models, cfg)
    assert [(g["lr"], g["blocks"]) for g in groups] == [(1e-3, ["mid 0"]), (5e-4, ["up 3", "up 4"])]
    names = [n for n, p in tiny_unet.named_parameters() if p.requires_grad]
    assert names and not any(n.startswith("down_blocks.") for n in names)  # weight 0: no LoRA there (kohya)
    assert sum(len(g["params"]) for g in groups) == len(names)


# ------------------------------------------------------------------------------------------------
# training end to end: no update at 0, metadata
# ------------------------------------------------------------------------------------------------
def test_a_block_at_zero_is_not_trained_and_metadata_holds_the_weights(tiny_sd15, tiny_dataset, tmp_path,
                                                                         train_capture, tiny_unet):
    cfg = Config(pretrained_model=str(tiny_sd15), train_data_dir=str(tiny_dataset), resolution=64,
                 optimizer="adamw", learning_rate=1e-2, max_train_steps=2, save_every_n_steps=0,
                 output_dir=str(tmp_path / "run"), save_formats=["kohya"], sample_every_n_steps=0,
                 down_lr_weight=ZEROS12, mid_lr_weight="1", up_lr_weight="0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,"
                                                                        "0.5")
    res, models = train_capture(cfg)
    den = models.denoiser
    den = getattr(den, "module", den)
    trained = dict(den.named_parameters())
    # the down block got no LoRA and its weights are the base model's, bit for bit
    assert not any("lora" in n for n in trained if n.startswith("down_blocks."))
    base = dict(tiny_unet.named_parameters())
    for n, p in trained.items():
        if n.startswith("down_blocks."):
            assert torch.equal(p.detach().float().cpu(), base[n].detach().float()), n
    # the other blocks moved away from their zero-initialised B
    for prefix in ("mid_block.", "up_blocks.1."):
        bs = [p for n, p in trained.items() if n.startswith(prefix) and "lora_B" in n]
        assert bs and all(p.abs().sum() > 0 for p in bs), prefix
    sd = load_file(str(res.files["kohya"]))
    assert not any(k.startswith("lora_unet_down_blocks") for k in sd)
    assert any(k.startswith("lora_unet_up_blocks_1") for k in sd) and any(k.startswith("lora_unet_mid") for k in sd)
    from lora_nb.families.lorafiles import read_lora_file

    args = json.loads(read_lora_file(res.files["kohya"])[1]["ss_network_args"])
    assert args["down_lr_weight"] == ZEROS12 and args["mid_lr_weight"] == "1"
    assert args["up_lr_weight"] == "0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5"
    assert Config.load(res.output_dir / "config.toml").down_lr_weight == ZEROS12


def test_cli_flags_take_block_weights(tmp_path):
    from lora_nb.cli import main

    out = tmp_path / "c.toml"
    assert main(["config", "--out", str(out), "--down-lr-weight", "cosine", "--mid-lr-weight", "0.5"]) == 0
    cfg = Config.load(out)
    assert cfg.down_lr_weight == "cosine" and cfg.mid_lr_weight == "0.5"
    assert main(["config", "--out", str(tmp_path / "d.toml"), "--up-lr-weight", "-1"]) == 2


# ------------------------------------------------------------------------------------------------
# inference: LoRA Block Weight presets through diffusers' block scaling
# ------------------------------------------------------------------------------------------------
def _fake_unet(down: list[int], mid: bool, up: list[int]):
    block = lambda n: SimpleNamespace(attentions=[None] * n) if n else SimpleNamespace()  # noqa: E731
    return SimpleNamespace(down_blocks=[block(n) for n in down], mid_block=block(1 if mid else 0),
                           up_blocks=[block(n) for n in up])


def test_block_ids_of_real_unets_are_the_extensions_lists():
    sd15 = _fake_unet([2, 2, 2, 0], True, [0, 3, 3, 3])  # SD1.5: CrossAttn down x3, Down; Up, CrossAttn up x3
    sdxl = _fake_unet([0, 2, 2], True, [3, 3, 0])
    assert tuple(i for i, _ in lbw.unet_blocks(sd15)) == FACTS["sd15"].lbw_blocks[1:]
    assert tuple(i for i, _ in lbw.unet_blocks(sdxl)) == FACTS["sdxl"].lbw_blocks[1:]
    pipe = SimpleNamespace(unet=sdxl)
    with pytest.raises(ValueError, match="'OUTALL' names no weight for OUT00, OUT01, OUT02 of this sdxl UNet"):
        lbw.adapter_weights(pipe, FACTS["sdxl"], "OUTALL", 1.0, ["unet"])
    w = lbw.adapter_weights(pipe, FACTS["sdxl"], "0,1,1,0,0,0.5,1,1,1,0,0,0", 0.8, ["unet", "text_encoder",
                                                                                   "text_encoder_2"])
    assert w == {"unet": {"down": {"block_1": [0.8, 0.8], "block_2": [0.0, 0.0]}, "mid": 0.4,
                          "up": {"block_0": [0.8, 0.8, 0.8], "block_1": [0.0, 0.0, 0.0]}},
                 "text_encoder": 0.0, "text_encoder_2": 0.0}
    with pytest.raises(ValueError, match="diffusers has no block-wise LoRA scaling for flux"):
        lbw.adapter_weights(SimpleNamespace(), FACTS["flux"], "ALL", 1.0, ["transformer"])


def test_blocks_axis_values_and_errors():
    a = parse_axis('blocks=all, outall,"1,0,0,0,0,0,0,0,1,1,1,1,1,1,1,1,1"')
    assert a.values == ["ALL", "OUTALL", "1,0,0,0,0,0,0,0,1,1,1,1,1,1,1,1,1"] and a.title == "block weights"
    with pytest.raises(ConfigError, match="axis 'blocks': 'OUTSIDE' is not a LoRA Block Weight preset -> use one of"):
        parse_axis("blocks=ALL,OUTSIDE")


@pytest.fixture(scope="module")
def unet_lora(tiny_sd15, tmp_path_factory):
    """A random peft LoRA on the tiny UNet's attention layers, saved in diffusers' layout."""
    from diffusers import DiffusionPipeline
    from peft import LoraConfig, get_peft_model_state_dict

    pipe = DiffusionPipeline.from_pretrained(str(tiny_sd15), use_safetensors=True)
    torch.manual_seed(5)
    cfg = LoraConfig(r=4, lora_alpha=4, init_lora_weights=False, target_modules=["to_q", "to_k", "to_v", "to_out.0"])
    pipe.unet.add_adapter(cfg)
    with torch.no_grad():
        for n, p in pipe.unet.named_parameters():
            if "lora_" in n:
                p.mul_(2.0)
    out = tmp_path_factory.mktemp("lbw")
    type(pipe).save_lora_weights(str(out), weight_name="lora.safetensors",
                                 unet_lora_layers=get_peft_model_state_dict(pipe.unet))
    return out / "lora.safetensors"


def test_blocks_axis_on_a_tiny_pipeline(tiny_sd15, unet_lora):
    pipe = load_pipeline(tiny_sd15, device="cpu")
    res = xy_grid(pipe, unet_lora, PROMPT, strengths=[0, 1], x="blocks=ALL,OUTALL,NONE,"
                  '"1,0,0,0,0,0,0,0,1,1,1,1,1,1,1,1,1"', y="strength", steps=2, progress=False)
    assert res.x.title == "block weights" and res.x.labels == ["ALL", "OUTALL", "NONE",
                                                               "1,0,0,0,0,0,0,0,1,1,1,1,1,1,1,1,1"]
    base = res.cell(0, 0)
    assert all(same(res.cell(0, c), base) for c in range(4))  # strength 0: the base model under every preset
    assert not same(res.cell(1, 1), base)  # OUT only changes the picture ...
    assert not same(res.cell(1, 1), res.cell(1, 0))  # ... and differs from ALL
    assert same(res.cell(1, 2), base)  # every block at 0 is the base picture
    assert same(res.cell(1, 3), res.cell(1, 1))  # OUTALL's own weights give OUTALL's picture
    plain = xy_grid(pipe, unet_lora, PROMPT, strengths=[1], steps=2, progress=False)
    assert same(res.cell(1, 0), plain.cell(0, 0))  # ALL = the plain strength
    assert res.params[0][1][1]["blocks"] == "OUTALL"
    with pytest.raises(ConfigError, match="'1,0' : 2 values|2 values for sd15's 17 blocks"):
        xy_grid(pipe, unet_lora, PROMPT, strengths=[1], x='blocks="1,0"', steps=2, progress=False)
    with pytest.raises(ConfigError, match="a lora/strength/blocks axis needs LoRA files"):
        xy_grid(pipe, [], PROMPT, x="blocks=ALL,NONE", steps=2, progress=False)


def test_resume_with_block_weights_is_bitwise(tiny_sd15, tiny_dataset, tmp_path):
    from lora_nb.training.trainer import TrainCallback, train

    opts = dict(pretrained_model=str(tiny_sd15), train_data_dir=str(tiny_dataset), resolution=64, optimizer="adamw",
                learning_rate=1e-3, max_train_steps=4, save_every_n_steps=2, save_formats=["kohya"],
                sample_every_n_steps=0, down_lr_weight="cosine", up_lr_weight="reverse_linear+0.1")
    full = train(Config(**opts, output_dir=str(tmp_path / "a")))

    class Crash(TrainCallback):
        def on_step(self, step, logs):
            if step == 3:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(Config(**opts, output_dir=str(tmp_path / "b")), [Crash()])
    resumed = train(Config(**opts, output_dir=str(tmp_path / "b"), resume="latest"))
    a, b = load_file(str(full.files["kohya"])), load_file(str(resumed.files["kohya"]))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(LoraNbError, match='down_lr_weight "cosine" -> "linear"'):  # other weights: refused
        train(Config(**{**opts, "down_lr_weight": "linear", "max_train_steps": 6}, output_dir=str(tmp_path / "b"),
                     resume="latest"))


def test_notebook_form_has_the_fields_and_shows_a_bad_value_in_one_line():
    from lora_nb.notebook.form import config_form

    form = config_form(Config(), lang="en", advisor=None)
    w = form.widgets["down_lr_weight"]
    assert type(w).__name__ == "Text"
    w.value = "1,-1"
    assert any(p.startswith("down_lr_weight: -1 is not a weight >= 0") for p in form.problems)
    w.value = "cosine"
    assert form.problems == [] and form.config.down_lr_weight == "cosine"


def test_cli_xy_blocks_axis(tiny_sd15, unet_lora, tmp_path, capsys):
    from lora_nb.cli import main

    out = tmp_path / "blocks.png"
    rc = main(["xy", "--base", str(tiny_sd15), "--lora", str(unet_lora), "--prompt", PROMPT, "--strengths", "1",
               "--x", "blocks=ALL,OUTALL", "--steps", "2", "--device", "cpu", "--out", str(out), "--no-progress"])
    assert rc == 0 and "1 x 2 (checkpoint x block weights)" in capsys.readouterr().out
    with Image.open(out) as im:
        assert json.loads(im.text["lora-nb"])["x"]["labels"] == ["ALL", "OUTALL"]
    rc = main(["xy", "--base", str(tiny_sd15), "--lora", str(unet_lora), "--prompt", PROMPT, "--x", "blocks=OUT",
               "--device", "cpu", "--out", str(tmp_path / "bad.png"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert rc == 2 and "axis 'blocks': 'OUT' is not a LoRA Block Weight preset -> use one of NONE, ALL" in err
    assert err.endswith("(SD1.5: 17)")
