"""Exactness as a contract: every file the kit writes reproduces the adapter in each loader its header claims,
and in no loader it does not claim.

For every family x variant the kit trains, the adapters get random non-zero factors (and DoRA magnitudes), the
files are written as at a checkpoint (fp16), and for every loader that could take the file the weight change it
applies is compared, module by module, with the adapter's true change (peft's merged weight - base weight):

    UIs (ComfyUI, AUTOMATIC1111, Forge)   `lora_nb.training.export.applied` -- their maths -- on the file's tensors
    diffusers                            the real `load_lora_weights` into a fresh pipeline, then peft's merge
    peft                                 the real `PeftModel.from_pretrained`, then peft's merge

A loader counts as exact when max |applied - true| / max |true| < TOL in every module (fp16 rounding is ~1e-3);
the set of exact loaders must equal the file's ``lora_nb_loaders`` claim, so a claim can neither go missing where
it holds nor stay where it does not.
"""

import json
from types import SimpleNamespace

import pytest
import torch

from lora_nb.config import NETWORK_TYPES, Config
from lora_nb.families import get_family
from lora_nb.families.adapters import add_adapters, problems
from lora_nb.families.lorafiles import load_into_pipeline, read_lora_file
from lora_nb.training.export.a1111_keys import a1111_key_map, a1111_layer_names
from lora_nb.training.export.applied import (
    A1111,
    COMFYUI,
    UI_LOADERS,
    applied_delta,
    applied_deltas,
    comfyui_dora_scale,
    dora_merged,
)
from lora_nb.training.export.compat import comfyui_key_map
from lora_nb.training.export.files import save_lora_files
from lora_nb.training.export.loaders import DIFFUSERS, FORMAT_KEY, LOADERS_KEY, NOTE_KEY, PEFT
from lora_nb.training.export.naming import ExportTarget

TOL = 1e-2
FAMILIES = ("sd15", "sdxl", "flux")
CASES = [(f, v, {}) for f in FAMILIES for v in NETWORK_TYPES] + [("flux", "lora", {"train_mlp": True})]


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    from lora_nb.toy.testing import build_tiny_model

    root = tmp_path_factory.mktemp("models")
    return {f: build_tiny_model(f, root / f"tiny-{f}") for f in FAMILIES}


def _pipe(path):
    from diffusers import DiffusionPipeline

    return DiffusionPipeline.from_pretrained(str(path))


def _components(family, pipe) -> dict:
    names = (family.facts.denoiser, *family.facts.text_encoders)
    return {c: getattr(pipe, c) for c in names}


def _adapted(module):
    """(name in the unwrapped model, peft layer) of every adapter layer."""
    from peft import PeftModel
    from peft.tuners.tuners_utils import BaseTunerLayer

    base = module.base_model.model if isinstance(module, PeftModel) else module
    return [(n, m) for n, m in base.named_modules() if isinstance(m, BaseTunerLayer)]


@torch.no_grad()
def _true_changes(components: dict) -> tuple[dict, dict]:
    """({"component.module": peft's merged weight - base}, {"component.module": base weight}) for every layer."""
    changes, bases = {}, {}
    for comp, module in components.items():
        for name, layer in _adapted(module):
            base = layer.get_base_layer().weight.detach().float().clone()
            layer.merge()
            changes[f"{comp}.{name}"] = layer.get_base_layer().weight.detach().float() - base
            layer.unmerge()
            bases[f"{comp}.{name}"] = base
    return changes, bases


def _worst(applied: dict, true: dict) -> float:
    """Largest per-module relative error; inf when the modules differ (a loader skipped or invented some)."""
    if set(applied) != set(true):
        return float("inf")
    return max(float((applied[k] - true[k]).abs().max() / true[k].abs().max()) for k in true)


@torch.no_grad()
def _randomise(components: dict, seed: int = 0):
    """Non-zero factors (B starts at zero) and magnitudes away from ||W||, so every change is non-trivial."""
    g = torch.Generator().manual_seed(seed)
    for module in components.values():
        for name, p in module.named_parameters():
            if not p.requires_grad:
                continue
            noise = torch.randn(p.shape, generator=g)
            if "lora_magnitude_vector" in name:
                p.mul_(1 + 0.3 * noise)
            else:
                p.copy_(0.3 * noise)


def _setup(family_name, variant, extra, path, tmp_path, **save):
    family = get_family(family_name)
    cfg = Config(family=family_name, pretrained_model=str(path), network_type=variant, rank=4, alpha=2.0,
                 conv_rank=2, conv_alpha=1.0, train_text_encoder=True, save_precision="fp16",
                 output_dir=str(tmp_path / "run"), **extra, **save)
    pipe = _pipe(path)
    comps = _components(family, pipe)
    add_adapters(family, SimpleNamespace(denoiser=comps[family.facts.denoiser],
                                         text_encoders=[comps[c] for c in family.facts.text_encoders]), cfg)
    _randomise(comps)
    targets = [ExportTarget(c, m, family.facts.kohya_prefixes[c], family.kohya_name_map(c, m), family.kohya_fused(c))
               for c, m in comps.items()]
    files = save_lora_files(tmp_path / "run", "x", targets, cfg, {})
    return family, cfg, comps, files


def _ui_changes(family, comps, sd, base, loader):
    stems = {k.split(".", 1)[0] for k in sd}
    # A1111: its own name conversion, written for SD1/SDXL's two layers per block (the tiny SD1.5 has one, so there
    # the conversion is checked on the full-size layout instead: test_a1111_converts_full_size_sd15_names).
    # ComfyUI and Forge (ComfyUI's lora code) share ComfyUI's key map.
    if loader == A1111 and comps[family.facts.denoiser].config.layers_per_block == 2:
        key_map = a1111_key_map(stems, a1111_layer_names(comps, family.facts.denoiser, family.facts.text_encoders))
    else:
        key_names = {c: f for c, m in comps.items() if (f := family.kohya_name_map(c, m))}
        fused = {c: f for c in comps if (f := family.kohya_fused(c))}
        key_map = comfyui_key_map(comps, family.facts.kohya_prefixes, key_names, fused)
    if not stems <= set(key_map):
        return {}
    # a fused layer (Flux's BFL qkv / linear1) is its members' weights stacked by rows: apply, then split back
    members = {s: key_map[s].split("+") for s in stems}

    def weight(m):  # a member trained without an adapter (proj_mlp in an attention-only run) is in no `base`
        if m in base:
            return base[m]
        comp, name = m.split(".", 1)
        return comps[comp].get_submodule(name).weight.detach().float()

    changes = applied_deltas(sd, {s: torch.cat([weight(m) for m in members[s]]) for s in stems}, loader)
    out = {}
    for s, d in changes.items():
        for m, part in zip(members[s], d.split([weight(m).shape[0] for m in members[s]])):
            # an untrained member must come back unchanged (DoRA: up to the fp16 rounding of its scale)
            if m in base or part.abs().max() > TOL * weight(m).abs().max():
                out[m] = part
    return out


def _diffusers_changes(family, path, file):
    pipe = _pipe(path)
    try:
        load_into_pipeline(pipe, file)
    except Exception:  # noqa: BLE001 - diffusers refuses some key sets outright: not exact
        return {}
    return _true_changes(_components(family, pipe))[0]


def _peft_changes(family, path, folder):
    from peft import PeftModel

    comps = _components(family, _pipe(path))
    loaded = {c: PeftModel.from_pretrained(m, str(folder / c)) for c, m in comps.items() if (folder / c).is_dir()}
    return _true_changes(loaded)[0]


def _measure(family, path, comps, file, fmt, true, base) -> dict[str, float]:
    """{loader: worst relative error} for each loader that could take a `fmt` file of this family."""
    if fmt == "peft":
        return {PEFT: _worst(_peft_changes(family, path, file), true)}
    out = {DIFFUSERS: _worst(_diffusers_changes(family, path, file), true)}
    if fmt == "kohya" and family.kohya_fused(family.facts.denoiser):
        # diffusers splits BFL's fused Flux layers at the full model's fixed widths (3072 x 3 + 12288), which the
        # tiny model does not have: tests/test_flux_files.py measures it at full width; here it is taken as claimed
        out.pop(DIFFUSERS)
    if fmt != "diffusers":
        sd, _ = read_lora_file(file)
        for loader in family.facts.kohya_file_uis:  # the UIs that load this family at all
            out[loader] = _worst(_ui_changes(family, comps, sd, base, loader), true)
    return out


@pytest.mark.parametrize("family_name,variant,extra", CASES,
                         ids=[f"{f}-{v}{'-mlp' if e else ''}" for f, v, e in CASES])
def test_every_claimed_loader_is_exact_and_no_other(family_name, variant, extra, models_dir, tmp_path):
    family = get_family(family_name)
    cfg = Config(family=family_name, network_type=variant, **extra)
    if problems(cfg, family) or family.problems(cfg):  # a combination the kit refuses writes no file
        assert (variant == "locon" and not family.has_conv_layers) or (variant == "lokr" and family_name == "flux")
        return
    save = {"save_dora_a1111": True} if variant == "dora" else {}
    family, cfg, comps, files = _setup(family_name, variant, extra, models_dir[family_name], tmp_path, **save)
    true, base = _true_changes(comps)
    assert true and all(float(d.abs().max()) > 1e-3 for d in true.values())  # every layer really changes
    expected = {"kohya", "diffusers" if variant in ("lora", "locon", "dora") else "peft"}
    full = variant == "dora" and A1111 in family.facts.kohya_file_uis  # the full-weight file is for A1111 alone
    assert set(files) == expected | ({"full"} if full else set())
    for fmt, file in files.items():
        md = read_lora_file(file if file.is_file() else next(file.rglob("adapter_model.safetensors")))[1]
        assert md[FORMAT_KEY] == fmt
        claimed = set(json.loads(md[LOADERS_KEY]))
        measured = _measure(family, models_dir[family_name], comps, file, fmt, true, base)
        exact = {loader for loader, err in measured.items() if err < TOL}
        unmeasured = {DIFFUSERS} - set(measured) if fmt == "kohya" else set()  # Flux: test_flux_files.py, full width
        exact |= claimed & unmeasured
        assert claimed == exact, f"{fmt}: claims {sorted(claimed)}, measured errors {measured}"
        assert claimed, f"{fmt}: no loader reproduces it ({measured})"
        if claimed != set(measured) | unmeasured:
            assert md[NOTE_KEY], f"{fmt}: a loader is left out without a note"
    files_md = (tmp_path / "run" / "files.md").read_text(encoding="utf-8")  # one line per file (peft: per component)
    assert files_md.count("\n- `") == sum(1 if f.is_file() else len(list(f.rglob("*.safetensors")))
                                          for f in files.values())


# --- the loaders' DoRA maths, on one hand-made module ----------------------------------------------
def test_dora_scale_for_comfyui_is_exact_there_and_a1111_normalises_per_column():
    g = torch.Generator().manual_seed(0)
    w, delta = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    m = (w + delta).norm(dim=1) * (1 + 0.3 * torch.rand(6, generator=g))
    true = dora_merged(w, delta, m) - w
    up, down = delta, torch.eye(5)  # a rank-5 "LoRA" whose product is delta, alpha = rank
    t = {"lora_up.weight": up, "lora_down.weight": down, "alpha": torch.tensor(5.0),
         "dora_scale": comfyui_dora_scale(w, delta, m)}
    torch.testing.assert_close(applied_delta(t, w, COMFYUI), true, atol=1e-5, rtol=1e-5)
    # strength 0.5: ComfyUI's own interpolation W + s (W' - W)
    torch.testing.assert_close(applied_delta(t, w, COMFYUI, strength=0.5), 0.5 * true, atol=1e-5, rtol=1e-5)
    # the per-row magnitude as the DoRA paper / peft / LyCORIS store it is not what ComfyUI needs
    plain = {**t, "dora_scale": m.reshape(6, 1)}
    assert (applied_delta(plain, w, COMFYUI) - true).abs().max() > 1e-2
    # A1111 divides by per-column norms of W + dW: (6, 1) / (1, 5) broadcasts into a wrong weight, no error
    assert (applied_delta(t, w, A1111) - true).abs().max() > 1e-2
    # a per-column dora_scale (LyCORIS' default, wd_on_out False) is what A1111 and ComfyUI apply alike
    col = {**t, "dora_scale": (w + delta).norm(dim=0, keepdim=True)}
    torch.testing.assert_close(applied_delta(col, w, A1111), delta, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(applied_delta(col, w, COMFYUI), delta, atol=1e-4, rtol=1e-4)
    # a full diff is added as it is everywhere
    for loader in UI_LOADERS:
        torch.testing.assert_close(applied_delta({"diff": true}, w, loader, strength=0.5), 0.5 * true)


def test_applied_deltas_refuse_modules_without_weights():
    from lora_nb.errors import LoraNbError

    sd = {"lora_unet_x.lora_up.weight": torch.ones(2, 1), "lora_unet_x.lora_down.weight": torch.ones(1, 2)}
    with pytest.raises(LoraNbError, match="no base weight"):
        applied_deltas(sd, {}, COMFYUI)
    with pytest.raises(LoraNbError, match="not one of"):
        applied_deltas(sd, {"lora_unet_x": torch.zeros(2, 2)}, "InvokeAI")


def test_dora_files_say_their_convention_and_the_a1111_file_is_opt_in(models_dir, tmp_path):
    from lora_nb.families.adapters import notes
    from lora_nb.training.export.loaders import DORA_SCALE_KEY

    _, cfg, _, files = _setup("sd15", "dora", {}, models_dir["sd15"], tmp_path)
    assert set(files) == {"kohya", "diffusers"}  # the large full-weight file only when asked for
    md = read_lora_file(files["kohya"])[1]
    assert md[DORA_SCALE_KEY].startswith("comfyui:") and "save_dora_a1111" in md[NOTE_KEY]
    assert "save_dora_a1111" in notes(cfg)[0] and "ComfyUI" in notes(cfg)[0]
    assert "a1111.safetensors" in notes(cfg.replace(save_dora_a1111=True))[0]
    assert DORA_SCALE_KEY not in read_lora_file(files["diffusers"])[1]


def test_a1111_converts_full_size_sd15_names():
    """Every kohya stem of a full-size SD1.5 (diffusers names, as the kit writes them) reaches the module A1111
    holds under the original checkpoint's name; SDXL's sgm stems and OpenCLIP q/k/v take A1111's fallbacks."""
    import diffusers
    import transformers

    from lora_nb.families.reference import REFERENCE
    from lora_nb.training.export.a1111_keys import a1111_candidates

    ref = REFERENCE["sd15"]
    cls, kw = ref["denoiser"]
    tcls, tkw = ref["text_encoders"][0]
    with torch.device("meta"):
        unet = getattr(diffusers, cls)(**kw)
        te = getattr(transformers, tcls)(transformers.CLIPTextConfig(**tkw))
    comps = {"unet": unet, "text_encoder": te}
    layers = a1111_layer_names(comps, "unet", ("text_encoder",))
    key_map = comfyui_key_map(comps, {"unet": "lora_unet", "text_encoder": "lora_te"})
    stems = [s for s in key_map if s.startswith("lora_te_") or any(
        p in s for p in ("attn1_to", "attn2_to", "proj_in", "ff_net", "resnets", "samplers", "conv_in", "time_emb"))]
    resolved = a1111_key_map(stems, layers)
    assert len(stems) > 300 and resolved == {s: key_map[s] for s in stems}
    assert resolved["lora_unet_up_blocks_1_resnets_2_conv_shortcut"] == "unet.up_blocks.1.resnets.2.conv_shortcut"
    assert a1111_candidates("lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q")[0] == (
        "diffusion_model_input_blocks_4_1_transformer_blocks_0_attn1_to_q")
    assert a1111_candidates("lora_te2_text_model_encoder_layers_3_self_attn_q_proj")[:2] == [
        "1_model_transformer_resblocks_3_attn_q_proj", "1_model_transformer_resblocks_3_attn"]
    assert a1111_candidates("lora_unet_input_blocks_4_1_proj_in")[-1] == "diffusion_model_input_blocks_4_1_proj_in"
