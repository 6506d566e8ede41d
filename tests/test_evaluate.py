"""Step 6 on tiny models: XY grids, other axes, LoRA mixing, the forgetting check, kohya files, the CLI.

LoRA files are made the way trainers make them: a peft LoRA with random non-zero weights on the
tiny UNet and text encoder, saved with diffusers' `save_lora_weights` (diffusers layout), and the
same weights written by hand in kohya sd-scripts' layout (lora_unet_*/lora_te_* keys,
lora_down/lora_up, fp16, .alpha tensors, ss_* metadata). Weights are rounded to fp16 first, so
both files hold exactly the same numbers and must give exactly the same pictures.
"""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from lora_nb.errors import ConfigError, ModelLoadError
from lora_nb.evaluate.axes import parse_axis
from lora_nb.evaluate.files import lora_files
from lora_nb.evaluate.forgetting import forgetting_check, image_difference
from lora_nb.evaluate.pipeline import (
    DTYPES,
    OFFLOADS,
    _adapter_names,
    load_pipeline,
    pipeline_family,
    prepare_pipeline,
    resolve_device,
    resolve_dtype,
)
from lora_nb.evaluate.settings import DEFAULT_STRENGTHS, SampleSettings
from lora_nb.evaluate.xy import mix_grid, xy_grid
from lora_nb.families.adapters import inject
from lora_nb.families.facts import FACTS

PROMPT = "a red circle, blue background"
STEPS = 2
RANK, ALPHA = 4, 2.0  # alpha != rank, so a loader that ignored .alpha would give other pictures


# ------------------------------------------------------------------------------------------------
# helpers: LoRA files, kohya layout, plain-diffusers reference images
# ------------------------------------------------------------------------------------------------
def make_lora(base, out_dir, weight_name, seed, text_encoder=True):
    """A random peft LoRA on the denoiser (+ text encoder), saved in diffusers' layout. Returns the path."""
    from diffusers import DiffusionPipeline
    from peft import LoraConfig, get_peft_model_state_dict

    pipe = DiffusionPipeline.from_pretrained(str(base), use_safetensors=True)
    den_name = "transformer" if getattr(pipe, "transformer", None) is not None else "unet"
    den = getattr(pipe, den_name)
    torch.manual_seed(seed)
    cfg = LoraConfig(r=RANK, lora_alpha=ALPHA, init_lora_weights=False,
                     target_modules=["to_q", "to_k", "to_v", "to_out.0"])
    den.add_adapter(cfg)
    layers = {f"{den_name}_lora_layers": None, f"{den_name}_lora_adapter_metadata": cfg.to_dict()}
    te_cfg = LoraConfig(r=RANK, lora_alpha=ALPHA, init_lora_weights=False,
                        target_modules=["q_proj", "k_proj", "v_proj", "out_proj", "fc1"])
    if text_encoder:
        inject(pipe.text_encoder, te_cfg)  # peft's own injection, as the trainer does
    with torch.no_grad():  # fp16-representable weights, scaled so the LoRA visibly changes the picture
        for module in [den] + ([pipe.text_encoder] if text_encoder else []):
            for name, p in module.named_parameters():
                if "lora_" in name:
                    p.copy_((p * 2.0).half().float())
    layers[f"{den_name}_lora_layers"] = get_peft_model_state_dict(den)
    if text_encoder:
        layers["text_encoder_lora_layers"] = get_peft_model_state_dict(pipe.text_encoder)
        layers["text_encoder_lora_adapter_metadata"] = te_cfg.to_dict()
    type(pipe).save_lora_weights(str(out_dir), weight_name=weight_name, **layers)
    return out_dir / weight_name


def write_kohya_copy(diffusers_file, out_file, steps=None):
    """Rewrite a diffusers-layout SD1.5 LoRA as kohya sd-scripts saves it."""
    from safetensors.torch import load_file, save_file

    sd = load_file(str(diffusers_file))
    kohya = {}
    for key, value in sd.items():
        component, rest = key.split(".", 1)
        module, ab, _ = rest.rsplit(".", 2)  # ...to_q / lora_A / weight
        prefix = "lora_unet_" if component == "unet" else "lora_te_text_model_"  # sd-scripts' CLIP naming
        name = prefix + module.replace(".", "_")
        kohya[f"{name}.{'lora_down' if ab == 'lora_A' else 'lora_up'}.weight"] = value.half()
        kohya[f"{name}.alpha"] = torch.tensor(ALPHA, dtype=torch.float16)
    assert "lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight" in kohya
    assert "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_up.weight" in kohya
    meta = {"ss_network_module": "networks.lora", "ss_network_dim": str(RANK), "ss_network_alpha": str(ALPHA),
            "ss_base_model_version": "sd_v1", "ss_output_name": "other_trainer"}
    if steps is not None:
        meta["ss_steps"] = str(steps)
    save_file(kohya, str(out_file), metadata=meta)
    return out_file


def plain_diffusers_image(base, prompt=PROMPT, seed=42, cfg=7.0, **kw):
    """The base model's picture from a fresh diffusers pipeline, no lora_nb code involved."""
    from diffusers import DiffusionPipeline

    pipe = DiffusionPipeline.from_pretrained(str(base), use_safetensors=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe(prompt, num_inference_steps=STEPS, guidance_scale=cfg,
                generator=torch.Generator("cpu").manual_seed(seed), **kw).images[0]


def same(a: Image.Image, b: Image.Image) -> bool:
    return np.array_equal(np.asarray(a), np.asarray(b))


# ------------------------------------------------------------------------------------------------
# fixtures (module scope: the tiny pipeline and LoRA files are made once)
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def loras(tiny_sd15, tmp_path_factory):
    root = tmp_path_factory.mktemp("loras")
    run = root / "run"
    a = make_lora(tiny_sd15, run, "lora-step00000500.safetensors", seed=1)
    b = make_lora(tiny_sd15, run, "lora.safetensors", seed=2)  # the final file of the run
    kohya = write_kohya_copy(a, root / "other_trainer.safetensors", steps=500)
    return {"a": a, "b": b, "kohya": kohya, "run": run}


@pytest.fixture(scope="module")
def pipe(tiny_sd15):
    return load_pipeline(tiny_sd15, device="cpu")


@pytest.fixture(scope="module")
def base_image(tiny_sd15):
    return plain_diffusers_image(tiny_sd15)


# ------------------------------------------------------------------------------------------------
# checkpoints, axes
# ------------------------------------------------------------------------------------------------
def test_checkpoint_order_from_names_and_metadata(tmp_path):
    from safetensors.torch import save_file

    t = {"lora_unet_x.lora_down.weight": torch.zeros(1, 1)}
    save_file(t, str(tmp_path / "lora.safetensors"))
    save_file(t, str(tmp_path / "lora-step00001000.safetensors"))
    save_file(t, str(tmp_path / "lora-000500.safetensors"))
    save_file(t, str(tmp_path / "renamed.safetensors"), metadata={"ss_steps": "1500"})
    (tmp_path / "checkpoint-250").mkdir()
    save_file(t, str(tmp_path / "checkpoint-250" / "pytorch_lora_weights.safetensors"))
    files = lora_files([tmp_path, tmp_path / "checkpoint-250"])
    assert [f.step for f in files] == [250, 500, 1000, 1500, None]
    assert [f.label for f in files] == ["step 250", "step 500", "step 1000", "step 1500", "lora"]
    assert files[-1].path.name == "lora.safetensors"
    assert lora_files([tmp_path / "lora.safetensors", tmp_path / "renamed.safetensors"], sort=False)[0].step is None
    with pytest.raises(ModelLoadError, match="not found"):
        lora_files(tmp_path / "nope.safetensors")
    (tmp_path / "old.ckpt").write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="pickle"):
        lora_files(tmp_path / "old.ckpt")
    (tmp_path / "broken.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelLoadError, match="not a readable"):
        lora_files(tmp_path / "broken.safetensors")


def test_parse_axis_specs():
    assert parse_axis("cfg=5,7,9").values == [5.0, 7.0, 9.0]
    assert parse_axis("steps=10, 20").values == [10, 20]
    a = parse_axis('prompt="a cat, sitting",a dog')
    assert a.values == ["a cat, sitting", "a dog"] and a.labels == a.values
    assert parse_axis("sampler=Euler a,DPM++ 2M Karras,default").values == \
        ["euler_a", "dpmsolver++_karras", "default"]
    assert parse_axis("size=512x768,64x64").labels == ["512x768", "64x64"]
    sr = parse_axis("prompt_sr=cat,dog,fox")
    assert sr.values == ["cat", "dog", "fox"] and sr.title == "prompt S/R (cat)"
    for bad, msg in (("cfg=abc", "bad value"), ("foo=1", "unknown axis"), ("cfg", "no values"),
                     ("sampler=warp", "unknown sampler"), ("size=100x3", "multiples of 8"), ("steps=0", ">= 1")):
        with pytest.raises(ConfigError, match=msg):
            parse_axis(bad)


# ------------------------------------------------------------------------------------------------
# sample settings: one options object for xy_grid, mix_grid and forgetting_check
# ------------------------------------------------------------------------------------------------
def test_sample_settings_defaults_bounds_and_choices():
    s = SampleSettings()
    assert (s.seeds, s.negative_prompt, s.steps, s.cfg, s.sampler, s.width, s.height) == ([42], "", None, None,
                                                                                          None, None, None)
    assert (s.device, s.dtype, s.offload, s.cell_size, s.font, s.progress, s.batch) == (None, "auto", "auto", None,
                                                                                        None, True, 1)
    assert DEFAULT_STRENGTHS == (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # FluxTrainer walkthrough §8
    info = {i["name"]: i for i in SampleSettings.field_info()}
    assert info["offload"]["choices"] == OFFLOADS and info["dtype"]["choices"] == DTYPES
    assert info["sampler"]["choices"][0] == "default" and "dpmsolver++" in info["sampler"]["choices"]
    assert "sd15 20, sdxl 25, flux 20" in info["steps"]["help"]  # read from families/facts
    assert "sd15 7, sdxl 7, flux 3.5" in info["cfg"]["help"]
    # a single seed, a tuple or range, text: all become a list of ints; A1111 sampler names their own
    assert SampleSettings(seeds=5).seeds == [5] and SampleSettings(seeds=range(2, 4)).seeds == [2, 3]
    assert SampleSettings.from_dict({"seeds": "1, 2", "steps": "10", "cfg": "", "width": "64", "height": "64"}) == \
        SampleSettings(seeds=[1, 2], steps=10, width=64, height=64)
    assert SampleSettings(sampler="DPM++ 2M Karras").sampler == "dpmsolver++_karras"
    for bad, msg in (({"batch": 0}, "batch: 0 is below the minimum 1"),
                     ({"steps": 0}, "steps: 0 is below the minimum"),
                     ({"sampler": "warp"}, "sampler: 'warp' is not one of default, euler"),
                     ({"offload": "modle"}, "did you mean 'model'"), ({"dtype": "fp8"}, "'fp8' is not one of auto"),
                     ({"width": 64}, "give both width and height, or neither"),
                     ({"width": 100, "height": 64}, "multiples of 8"), ({"seeds": []}, "seeds: none given"),
                     ({"seeds": [1, -2]}, "seeds: -2 is not a whole number >= 0")):
        with pytest.raises(ConfigError, match=msg):
            SampleSettings(**bad)
    with pytest.raises(ConfigError, match="field 'seeds' must be list, got the text"):
        SampleSettings.from_dict({"seeds": "1, x"})


def test_grid_functions_take_settings_and_keyword_overrides(pipe, loras):
    s = SampleSettings(seeds=[3], steps=1, progress=False)
    res = xy_grid(pipe, loras["a"], PROMPT, strengths=[1], settings=s, cfg=1.5)
    p = res.params[0][0][0]
    assert (p["seed"], p["steps"], p["cfg"]) == (3, 1, 1.5) and s.cfg is None  # the object itself is unchanged
    mix = mix_grid(pipe, [loras["a"]], PROMPT, [[1]], settings=s)
    assert (mix.params[0][0][0]["seed"], mix.params[0][0][0]["steps"]) == (3, 1)
    rep = forgetting_check(pipe, loras["a"], ["a blue square"], settings=s, seeds=[4, 5], negative_prompt="blurry")
    assert rep.grid.shape == (2, 1, 2)
    assert {c["seed"] for c in rep.grid.params[1][0]} == {5}
    # two seeds: the base model's seed-to-seed difference is the drift's yardstick (evaluate.forgetting.DRIFT_NOISE)
    assert rep.noise == [pytest.approx(image_difference(rep.grid.cells[0][0][0], rep.grid.cells[1][0][0]))]
    assert "another seed" in rep.summary()
    assert rep.grid.params[0][0][1]["negative_prompt"] == "blurry"
    with pytest.raises(ConfigError, match=r"xy_grid: unknown field 'seed' \(did you mean 'seeds'\?\)"):
        xy_grid(pipe, [], PROMPT, seed=1)
    with pytest.raises(ConfigError, match="forgetting_check: invalid SampleSettings: give both width and height"):
        forgetting_check(pipe, loras["a"], settings=s, width=64)
    with pytest.raises(ConfigError, match="expected SampleSettings, got dict"):
        mix_grid(pipe, [loras["a"]], PROMPT, settings={"steps": 1})


def test_cli_flags_come_from_sample_settings():
    from lora_nb.cli import build_parser
    from lora_nb.commands._option_flags import options_from_args

    parser = build_parser()
    xy = next(a for a in parser._actions if a.dest == "command").choices["xy"]
    flags = {a.option_strings[0]: a for a in xy._actions if a.option_strings}
    for info in SampleSettings.field_info():
        flag = f"--{info['name'].replace('_', '-')}"
        if not info.get("cli", True):
            assert flag not in flags
            continue
        assert flags[flag].help.startswith(info["help"]), flag
    assert "--no-progress" in flags and "--seed" not in flags
    assert "default 0,0.2,0.4,0.6,0.8,1 " in flags["--strengths"].help  # DEFAULT_STRENGTHS
    args = parser.parse_args(["xy", "--base", "m", "--seeds", "1,2", "--cfg", "5", "--sampler", "euler a",
                              "--offload", "model", "--no-progress"])
    s = options_from_args(args, SampleSettings, "sample_", progress=not args.no_progress)
    assert s == SampleSettings(seeds=[1, 2], cfg=5.0, sampler="euler_a", offload="model", progress=False)


def test_notebook_form_fields_match_sample_settings():
    import ast
    from pathlib import Path

    import nbformat

    from lora_nb import ui

    form = ui.options_form(SampleSettings(seeds=[1, 2], steps=2, width=64, height=64))
    assert set(form.widgets) == {i["name"] for i in SampleSettings.field_info() if i.get("cli", True)}
    assert form.widgets["seeds"].value == "1, 2" and form.options.seeds == [1, 2]
    form.widgets["seeds"].value = "3, 4"
    form.widgets["cfg"].value = "5"
    assert form.options.seeds == [3, 4] and form.options.cfg == 5.0 and form.options.steps == 2
    form.widgets["width"].value = ""
    assert not form.valid and "give both width and height" in form.problems[0]
    form.widgets["width"].value = "64"
    form.widgets["seeds"].value = "1, x"
    assert form.problems == ["field 'seeds' must be a list of int, got ['1', 'x'] -> write int values separated "
                             "by commas"]

    nb = nbformat.read(Path(__file__).resolve().parent.parent / "notebooks" / "06_evaluate.ipynb", as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    form_cell = next(c for c in code if "ui.options_form(SampleSettings(" in c)
    call = next(n for n in ast.walk(ast.parse(form_cell)) if isinstance(n, ast.Call) and
                getattr(n.func, "id", "") == "SampleSettings")
    assert {k.arg for k in call.keywords} <= {i["name"] for i in SampleSettings.field_info()}
    assert all("settings=form.options" in c for c in code if "xy_grid(" in c or "forgetting_check(" in c)
    assert code.index(form_cell) < next(i for i, c in enumerate(code) if "xy_grid(" in c)


# ------------------------------------------------------------------------------------------------
# the XY grid
# ------------------------------------------------------------------------------------------------
def test_xy_grid_checkpoints_by_strengths(pipe, loras, base_image, tmp_path):
    res = xy_grid(pipe, [loras["b"], loras["a"]], PROMPT, strengths=[0, 0.5, 1.0], steps=STEPS, progress=False)
    # rows = checkpoints in step order (final file last), columns = strengths
    assert res.shape == (1, 2, 3)
    assert res.y.title == "checkpoint" and res.y.labels == ["step 500", "lora"]
    assert res.x.title == "strength" and res.x.labels == ["0", "0.5", "1"]
    # every cell sits on the sheet exactly where `boxes` says; the sheet has room for labels and title
    for r in range(2):
        for c in range(3):
            box = res.boxes[0][r][c]
            assert same(res.image.crop(box), res.cell(r, c))
    assert res.image.width > 3 * 64 and res.image.height > 2 * 64
    assert res.boxes[0][0][0][0] > 0 and res.boxes[0][0][0][1] > 0
    # strength 0 is the base model, bit for bit, in every row
    assert same(res.cell(0, 0), base_image) and same(res.cell(1, 0), base_image)
    # different strengths differ, and the two checkpoints differ
    for r in range(2):
        assert not same(res.cell(r, 1), res.cell(r, 0))
        assert not same(res.cell(r, 2), res.cell(r, 1))
    assert not same(res.cell(0, 2), res.cell(1, 2))
    # every cell records how it was made
    p = res.params[0][0]
    assert p[0]["loras"] == {} and p[1]["loras"] == {str(loras["a"]): 0.5} and p[2]["seed"] == 42
    assert p[1]["steps"] == STEPS and p[1]["cfg"] == 7.0 and p[1]["prompt"] == PROMPT
    assert _adapter_names(pipe) == set()  # adapters removed again: the pipeline is the base model
    out = res.save(tmp_path / "grid.png")
    with Image.open(out) as im:
        assert im.size == res.image.size
        info = json.loads(im.text["lora-nb"])
    assert info["x"]["labels"] == ["0", "0.5", "1"] and info["y"]["labels"] == ["step 500", "lora"]
    cells = res.save_cells(tmp_path / "cells")
    assert len(cells) == 6 and same(Image.open(cells[4]), res.cell(1, 1))


def test_run_folder_prompts_and_seeds_make_panels(pipe, loras):
    res = xy_grid(pipe, loras["run"], ["a red circle", "a green square"], strengths=[0, 1], seeds=[1, 2],
                  steps=STEPS, cell_size=32, progress=False)
    assert res.shape == (4, 2, 2)
    assert res.panels == [{"prompt": "a red circle", "seed": "1"}, {"prompt": "a red circle", "seed": "2"},
                          {"prompt": "a green square", "seed": "1"}, {"prompt": "a green square", "seed": "2"}]
    assert res.params[3][1][1]["prompt"] == "a green square" and res.params[3][1][1]["seed"] == 2
    box = res.boxes[3][1][1]
    assert (box[2] - box[0], box[3] - box[1]) == (32, 32)  # shrunk on the sheet
    assert res.cell(1, 1, panel=3).size == (64, 64)  # full size kept
    assert not same(res.cell(0, 0, panel=0), res.cell(0, 0, panel=1))  # another seed, other noise
    tops = [res.boxes[p][0][0][1] for p in range(4)]
    assert tops == sorted(tops)  # panels stacked top to bottom
    two = xy_grid(pipe, loras["run"], ["a red circle", "a green square"], strengths=[0, 1], seeds=[1, 2],
                  steps=STEPS, cell_size=32, progress=False, panel_columns=2)
    lefts, tops = ([two.boxes[p][0][0][k] for p in range(4)] for k in (0, 1))
    assert lefts[0] == lefts[2] < lefts[1] == lefts[3] and tops[0] == tops[1] < tops[2] == tops[3]  # 2 x 2 panels
    assert two.image.height < res.image.height and two.panels == res.panels
    assert all(same(two.image.crop(two.boxes[p][1][1]), res.image.crop(res.boxes[p][1][1])) for p in range(4))


def test_show_at_enlarges_tiny_cells_on_the_sheet_only(pipe, loras):
    res = xy_grid(pipe, loras["a"], PROMPT, strengths=[0, 1], steps=STEPS, progress=False, show_at=256,
                  title="checkpoint x strength")
    box = res.boxes[0][0][1]
    assert (box[2] - box[0], box[3] - box[1]) == (256, 256)  # 64 px shown ×4 (nearest: 4x4 pixel blocks)
    assert same(res.image.crop(box).resize((64, 64), Image.NEAREST), res.cell(0, 1))
    assert res.cell(0, 1).size == (64, 64)  # the pictures themselves keep their size
    assert res.image.width > 2 * 256


def test_seeds_drawn_in_batches_give_the_same_grid_in_fewer_calls(pipe, loras, monkeypatch):
    """batch=N draws a cell's seeds N per pipeline call, one generator per seed: the pictures match a
    batch of one (to float rounding), the calls drop from cells to cells / N (rounded up)."""
    import functools

    calls = []
    real = type(pipe).__call__

    @functools.wraps(real)  # the grid reads the pipeline's call signature
    def counting(self, *a, **kw):
        calls.append(kw.get("num_images_per_prompt", 1))
        return real(self, *a, **kw)

    monkeypatch.setattr(type(pipe), "__call__", counting)
    kw = dict(strengths=[0, 1], seeds=[3, 1, 2], steps=STEPS, x="strength", y="lora", axes=["seed"], progress=False)
    one = xy_grid(pipe, loras["run"], "a red circle", **kw)
    assert calls == [1] * 12
    calls.clear()
    two = xy_grid(pipe, loras["run"], "a red circle", batch=2, **kw)
    assert calls == [2, 1] * 4  # 2 checkpoints x 2 strengths, three seeds each
    for p in range(3):
        for r in range(2):
            for c in range(2):
                a, b = (np.asarray(res.cell(r, c, panel=p), dtype=np.int16) for res in (one, two))
                assert np.abs(a - b).max() <= 2, (p, r, c)
                assert one.params[p][r][c] == two.params[p][r][c]
    assert not same(two.cell(0, 1, panel=0), two.cell(0, 1, panel=1))  # each seed its own noise
    with pytest.raises(ConfigError, match="batch"):
        xy_grid(pipe, loras["run"], "a red circle", batch=0, **kw)


def test_kohya_file_from_another_trainer_matches_diffusers_file(pipe, loras, base_image):
    res = xy_grid(pipe, [loras["a"], loras["kohya"]], PROMPT, strengths=[0.0, 0.7], steps=STEPS,
                  sort_checkpoints=False, progress=False)
    assert res.y.labels == ["step 500 (lora-step00000500.safetensors)", "step 500 (other_trainer.safetensors)"]
    assert same(res.cell(1, 0), base_image)
    assert not same(res.cell(1, 1), base_image)
    assert same(res.cell(0, 1), res.cell(1, 1))  # same weights, kohya layout with .alpha -> same picture


def test_any_axis_can_be_another_parameter(pipe, loras, tiny_sd15, base_image):
    res = xy_grid(pipe, [], PROMPT, x="cfg=1,7", y="sampler=default,euler", axes=["prompt_sr=red,green"],
                  steps=STEPS, progress=False)
    assert res.shape == (2, 2, 2) and res.x.title == "CFG" and res.y.title == "sampler"
    assert res.panels == [{"prompt S/R (red)": "red"}, {"prompt S/R (red)": "green"}]
    assert same(res.cell(0, 1, panel=0), base_image)  # default sampler, cfg 7, original prompt
    assert not same(res.cell(0, 0), res.cell(0, 1))  # cfg changes the picture
    assert not same(res.cell(1, 1), res.cell(0, 1))  # so does the sampler
    assert res.params[1][0][0]["prompt"] == "a green circle, blue background"
    assert res.params[0][1][0]["sampler"] == "euler"
    assert same(res.cell(0, 1, panel=1), plain_diffusers_image(tiny_sd15, "a green circle, blue background"))
    # steps across, a LoRA at fixed strength: the title names the fixed settings
    res2 = xy_grid(pipe, loras["a"], PROMPT, strengths=[0.8], x="steps=1,2", y="seed=3,4", progress=False)
    assert res2.shape == (1, 2, 2) and res2.params[0][1][0]["seed"] == 4 and res2.params[0][0][1]["steps"] == 2
    assert "strength: 0.8" in res2.title and "checkpoint: step 500" in res2.title and "CFG: 7" in res2.title
    assert "steps:" not in res2.title and "seed:" not in res2.title  # they vary: on the axes, not in the title
    assert all(c["loras"] == {str(loras["a"]): 0.8} for row in res2.params[0] for c in row)


def test_axis_errors_are_explained(pipe, loras):
    with pytest.raises(ConfigError, match="does not occur"):
        xy_grid(pipe, [], PROMPT, x="prompt_sr=dragon,cat", steps=STEPS, progress=False)
    with pytest.raises(ConfigError, match="does not work with this sd15"):
        xy_grid(pipe, [], PROMPT, x="sampler=flow_euler", steps=STEPS, progress=False)
    with pytest.raises(ConfigError, match="used twice"):
        xy_grid(pipe, loras["a"], PROMPT, x="cfg=1,2", y="cfg=3,4", progress=False)
    with pytest.raises(ConfigError, match="give its values"):
        xy_grid(pipe, loras["a"], PROMPT, x="cfg", progress=False)
    with pytest.raises(ConfigError, match="needs LoRA files"):
        xy_grid(pipe, [], PROMPT, x="strength=0,1", progress=False)


def test_bad_lora_files_are_refused_and_leave_no_adapter(pipe, tmp_path):
    from safetensors.torch import save_file

    save_file({"lora_unet_no_such_block_to_q.lora_down.weight": torch.ones(4, 32),
               "lora_unet_no_such_block_to_q.lora_up.weight": torch.ones(32, 4)},
              str(tmp_path / "alien.safetensors"), metadata={"ss_base_model_version": "sdxl_base_v1-0"})
    save_file({"model.weight": torch.ones(2, 2)}, str(tmp_path / "not_lora.safetensors"))
    save_file({"lora_unet_down_blocks_0_attentions_0_proj_in.hada_w1_a": torch.ones(32, 4)},
              str(tmp_path / "loha.safetensors"))
    with pytest.raises(ModelLoadError, match="LyCORIS"):
        xy_grid(pipe, tmp_path / "loha.safetensors", PROMPT, strengths=[1], steps=STEPS, progress=False)
    for name in ("alien", "not_lora"):
        with pytest.raises(ModelLoadError, match="sd15") as e:
            xy_grid(pipe, tmp_path / f"{name}.safetensors", PROMPT, strengths=[1], steps=STEPS, progress=False)
        assert name in str(e.value)
        assert _adapter_names(pipe) == set()


# ------------------------------------------------------------------------------------------------
# mixing and forgetting
# ------------------------------------------------------------------------------------------------
def test_mixing_w_and_zero_equals_the_single_lora_at_w(pipe, loras, base_image):
    single = xy_grid(pipe, loras["a"], PROMPT, strengths=[0.6], steps=STEPS, progress=False).cell(0, 0)
    mix = mix_grid(pipe, {"land": loras["a"], "car": loras["b"]}, PROMPT,
                   weights={"land": [0.0, 0.6], "car": [0.0, 0.6]}, steps=STEPS, progress=False)
    assert mix.shape == (1, 2, 2)
    assert mix.x.title == "land weight" and mix.y.title == "car weight"
    assert same(mix.cell(0, 1), single)  # land 0.6 + car 0 == land alone at 0.6
    assert same(mix.cell(0, 0), base_image)  # both at 0 == base
    assert not same(mix.cell(1, 1), single)  # car 0.6 added changes it
    assert not same(mix.cell(1, 0), mix.cell(1, 1))
    assert mix.params[0][1][1]["loras"] == {str(loras["a"]): 0.6, str(loras["b"]): 0.6}
    combos = mix_grid(pipe, [loras["a"], loras["b"]], [PROMPT, "a blue square"],
                      combos=[(0.6, 0.0), (0.6, 0.6)], steps=STEPS, progress=False)
    assert combos.y.title == "LoRA weights" and combos.x.title == "prompt"
    assert combos.y.labels == ["lora-step00000500 0.6 + lora 0", "lora-step00000500 0.6 + lora 0.6"]
    assert same(combos.cell(0, 0), single) and same(combos.cell(1, 0), mix.cell(1, 1))
    with pytest.raises(ConfigError, match="one list per LoRA"):
        mix_grid(pipe, [loras["a"], loras["b"]], PROMPT, [[0, 1]], progress=False)
    assert _adapter_names(pipe) == set()


def test_forgetting_check(pipe, loras, tiny_sd15):
    unrelated = ["a green square", "a blue circle"]
    rep = forgetting_check(pipe, loras["a"], unrelated, concept_prompt=PROMPT, seeds=[5], steps=STEPS,
                           progress=False)
    g = rep.grid
    assert g.shape == (1, 3, 2)
    assert g.x.labels == ["without LoRA", "with LoRA (1)"]
    assert g.y.labels == unrelated + [f"(concept) {PROMPT}"]
    assert same(g.cell(0, 0), plain_diffusers_image(tiny_sd15, "a green square", seed=5))
    assert rep.prompts == unrelated and len(rep.change) == 2
    for r, change in enumerate(rep.change):
        assert change == pytest.approx(image_difference(g.cell(r, 0), g.cell(r, 1)))
        assert change > 0  # a random LoRA changes everything
    assert rep.concept_change == pytest.approx(image_difference(g.cell(2, 0), g.cell(2, 1)))
    assert rep.worst[1] == max(rep.change)
    text = rep.summary()
    assert "a green square" in text and "(concept)" in text and "%" in text
    assert image_difference(g.cell(0, 0), g.cell(0, 0)) == 0.0


# ------------------------------------------------------------------------------------------------
# placement, CLI
# ------------------------------------------------------------------------------------------------
def test_cpu_placement_and_dtype(pipe):
    assert resolve_dtype("auto", resolve_device("cpu")) == torch.float32
    assert resolve_dtype("bf16", resolve_device("cpu")) == torch.bfloat16
    assert prepare_pipeline(pipe, "cpu") == "cpu"
    assert pipe._progress_bar_config["disable"] is True
    assert pipeline_family(pipe) == "sd15"
    with pytest.raises(ConfigError):
        prepare_pipeline(pipe, "cpu", offload="magic")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA"):
            resolve_device("cuda")


def test_cli_xy(tiny_sd15, loras, tmp_path, capsys):
    from lora_nb.cli import main

    out = tmp_path / "grid.png"
    rc = main(["xy", "--base", str(tiny_sd15), "--lora", str(loras["a"]), str(loras["b"]), "--strengths", "0,1",
               "--prompt", PROMPT, "--seeds", "42", "--steps", str(STEPS), "--device", "cpu", "--out", str(out),
               "--save-cells", str(tmp_path / "cells"), "--no-progress"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "2 x 2 (checkpoint x strength)" in printed and str(out) in printed
    with Image.open(out) as im:
        info = json.loads(im.text["lora-nb"])
    assert info["y"]["labels"] == ["step 500", "lora"] and info["x"]["labels"] == ["0", "1"]
    assert same(Image.open(tmp_path / "cells" / "p0_r0_c0.png"), plain_diffusers_image(tiny_sd15))

    rc = main(["xy", "--base", str(tiny_sd15), "--lora", str(loras["a"]), "--prompt", PROMPT, "--y", "cfg=5,7",
               "--x", "steps=1,2", "--strengths", "1", "--device", "cpu", "--out", str(tmp_path / "cfg.png"),
               "--no-progress"])
    assert rc == 0 and "2 x 2 (CFG x steps)" in capsys.readouterr().out

    rc = main(["xy", "--base", str(tiny_sd15), "--mix", "--lora", f"land={loras['a']}", f"car={loras['b']}",
               "--weights", "0,1", "--weights", "0.5", "--prompt", PROMPT, "--steps", str(STEPS), "--device", "cpu",
               "--out", str(tmp_path / "mix.png"), "--no-progress"])
    assert rc == 0 and "1 x 2 (- x land weight)" in capsys.readouterr().out

    rc = main(["xy", "--base", str(tiny_sd15), "--forgetting", "--lora", str(loras["a"]), "--prompt", "a blue square",
               "--steps", str(STEPS), "--device", "cpu", "--out", str(tmp_path / "forget.png"), "--no-progress"])
    assert rc == 0 and "change with/without LoRA" in capsys.readouterr().out

    rc = main(["xy", "--base", str(tiny_sd15), "--lora", str(loras["a"]), "--strengths", "1", "--prompt", PROMPT,
               "--seeds", "1,2,3", "--batch", "3", "--steps", str(STEPS), "--device", "cpu",
               "--out", str(tmp_path / "batch.png"), "--save-cells", str(tmp_path / "batch"), "--no-progress"])
    assert rc == 0 and "3 panel(s)" in capsys.readouterr().out
    cell = Image.open(tmp_path / "batch" / "p1_r0_c0.png")  # seed 2, drawn in a batch of three
    reference = xy_grid(str(tiny_sd15), [loras["a"]], PROMPT, strengths=[1], seeds=2, steps=STEPS, progress=False)
    assert np.abs(np.asarray(cell, dtype=np.int16) - np.asarray(reference.cell(0, 0), dtype=np.int16)).max() <= 2

    rc = main(["xy", "--base", str(tiny_sd15), "--lora", str(loras["a"]), "--strengths", "1", "--prompt", PROMPT,
               "--steps", str(STEPS), "--cfg", "3", "--sampler", "Euler a", "--negative-prompt", "blurry",
               "--width", "64", "--height", "64", "--cell-size", "32", "--device", "cpu",
               "--out", str(tmp_path / "flags.png"), "--no-progress"])
    assert rc == 0
    capsys.readouterr()
    with Image.open(tmp_path / "flags.png") as im:
        cell = json.loads(im.text["lora-nb"])["cells"][0][0][0]
    assert (cell["cfg"], cell["sampler"], cell["negative_prompt"], cell["width"]) == (3.0, "euler_a", "blurry", 64)
    for bad, msg in ((["--batch", "0"], "batch: 0 is below the minimum 1"), (["--width", "64"], "give both width"),
                     (["--seeds", "x"], "field 'seeds' must be list, got the text")):
        rc = main(["xy", "--base", str(tmp_path / "no_model"), "--prompt", PROMPT, *bad])
        assert rc == 2 and msg in capsys.readouterr().err  # refused before any model is loaded

    rc = main(["xy", "--base", str(tiny_sd15), "--prompt", PROMPT, "--x", "cfg=oops", "--device", "cpu",
               "--out", str(tmp_path / "bad.png")])
    assert rc == 2 and "bad value" in capsys.readouterr().err
    assert not (tmp_path / "bad.png").exists()


def test_grid_from_a_real_training_run(pipe, tiny_sd15, tiny_dataset, tmp_path, base_image):
    """The trainer's run folder as it is: kohya files at the top (final one with ss_steps), diffusers
    copies in *_diffusers/ folders, resume state in state/ - only the kohya checkpoints become rows."""
    from lora_nb import Config
    from lora_nb.evaluate.lossplot import read_train_log, samples_grid
    from lora_nb.training.trainer import train

    cfg = Config(pretrained_model=str(tiny_sd15), train_data_dir=str(tiny_dataset), output_dir=str(tmp_path / "run"),
                 resolution=64, min_bucket_reso=64, max_bucket_reso=64, max_train_steps=2, save_every_n_steps=1,
                 optimizer="adamw", learning_rate=1e-2, rank=4, alpha=4, train_text_encoder=True,
                 sample_prompts=[PROMPT], sample_steps=1)
    result = train(cfg)
    res = xy_grid(pipe, result.output_dir, PROMPT, strengths=[0, 1], steps=STEPS, progress=False)
    assert res.y.labels == ["step 1", "step 2"]
    assert [p["loras"] for p in res.params[0][1]] == [{}, {str(result.files["kohya"]): 1.0}]
    assert same(res.cell(1, 0), base_image) and not same(res.cell(1, 1), base_image)
    both = xy_grid(pipe, [result.files["kohya"], result.files["diffusers"]], PROMPT, strengths=[1], steps=STEPS,
                   sort_checkpoints=False, progress=False)
    assert same(both.cell(0, 0), both.cell(1, 0))  # the two export formats are the same LoRA
    log = read_train_log(result.output_dir)
    assert [s for s, _ in log.checkpoints] == [1, 2] and samples_grid(log) is not None


# ------------------------------------------------------------------------------------------------
# SDXL and Flux pipelines (lora_nb.toy.testing's tiny models)
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", ["sdxl", "flux"])
def test_xy_grid_on_sdxl_and_flux(family, tmp_path):
    from lora_nb.toy.testing import build_tiny_model

    base = build_tiny_model(family, tmp_path / f"tiny-{family}")
    lora = make_lora(base, tmp_path / "lora", "lora-step00000100.safetensors", seed=3, text_encoder=False)
    size = {"width": 64, "height": 64} if family == "flux" else {}
    p = load_pipeline(base, device="cpu")
    assert pipeline_family(p) == family
    cfg = FACTS[family].sample_cfg
    res = xy_grid(p, lora, "a red circle", strengths=[0, 1], steps=STEPS, progress=False, **size)
    assert res.shape == (1, 1, 2) and res.y.labels == ["step 100"]
    base_img = plain_diffusers_image(base, "a red circle", cfg=cfg, **size)
    assert same(res.cell(0, 0), base_img)
    assert not same(res.cell(0, 1), base_img)
    if family == "flux":
        with pytest.raises(ConfigError, match="does not work with this flux"):
            xy_grid(p, lora, "a red circle", strengths=[1], x="sampler=ddim", steps=STEPS, progress=False, **size)
        res2 = xy_grid(p, [], "a red circle", x="sampler=default,euler", steps=STEPS, progress=False, **size)
        assert same(res2.cell(0, 0), res2.cell(0, 1))  # "euler" on Flux is its own flow-matching Euler


# ------------------------------------------------------------------------------------------------
# GPU: fp16 and offloading (skipped without CUDA)
# ------------------------------------------------------------------------------------------------
@pytest.mark.gpu
@pytest.mark.parametrize("offload", ["none", "model", "sequential"])
def test_xy_grid_on_cuda_fp16_with_offload(tiny_sd15, loras, offload):
    p = load_pipeline(tiny_sd15, device="cuda", dtype="fp16", offload=offload)
    assert p.unet.dtype == torch.float16
    base = xy_grid(p, [], PROMPT, steps=STEPS, progress=False).cell(0, 0)
    res = xy_grid(p, [loras["a"], loras["kohya"]], PROMPT, strengths=[0, 1], steps=STEPS,
                  sort_checkpoints=False, progress=False)
    # GPU kernels need not be bitwise reproducible between calls, so compare within 1/1000
    assert image_difference(res.cell(0, 0), base) < 1e-3 and image_difference(res.cell(1, 0), base) < 1e-3
    assert image_difference(res.cell(0, 1), base) > 1e-3
    assert image_difference(res.cell(0, 1), res.cell(1, 1)) < 1e-2  # kohya vs diffusers layout, fp16 kernels
