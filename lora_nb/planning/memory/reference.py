"""The reference architectures (hub configs of the models each family is trained on), built on the
``meta`` device from the real diffusers/transformers classes: parameter counts, layer shapes, the
layers an adapter goes on (as the trainer picks them), adapter tensor shapes and file sizes."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...errors import ConfigError
from ...families import get_family
from ...families.adapters import CONV_TYPES, matches_suffix
from ...families.facts import facts
from ...families.reference import REFERENCE

if TYPE_CHECKING:  # pragma: no cover
    from ...config import Config


# What kohya's "standard" LoRA trains: every Linear/1x1 conv inside the UNet's transformer blocks and
# the CLIP attention + MLP layers. Kohya practice guide's file sizes are for this set.
KOHYA_TARGETS = {
    "unet": ["proj_in", "proj_out", "to_q", "to_k", "to_v", "to_out.0", "ff.net.0.proj", "ff.net.2"],
    "text_encoder": ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"],
}
ATTENTION_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


def _family(family: str) -> dict:
    if family not in REFERENCE:
        raise ConfigError(f"family: {family!r} is not one of {', '.join(REFERENCE)}")
    return REFERENCE[family]


def _build_meta(kind: str, cls_name: str, cfg: dict):
    """Instantiate a diffusers/transformers class on the meta device (shapes only, no memory)."""
    import torch

    if kind == "diffusers":
        import diffusers

        cls = getattr(diffusers, cls_name)
        with torch.device("meta"):
            return cls(**cfg)
    import transformers

    cls = getattr(transformers, cls_name)
    conf_cls = transformers.T5Config if cls_name.startswith("T5") else transformers.CLIPTextConfig
    with torch.device("meta"):
        return cls(conf_cls(**cfg))


@functools.cache
def meta_models(family: str) -> dict:
    """{'denoiser', 'vae', 'text_encoder', ['text_encoder_2']}: the reference model's parts on meta."""
    ref = _family(family)
    parts = {"denoiser": _build_meta("diffusers", *ref["denoiser"]),
             "vae": _build_meta("diffusers", "AutoencoderKL", ref["vae"])}
    for i, (cls_name, cfg) in enumerate(ref["text_encoders"]):
        parts[f"text_encoder_{i + 1}" if i else "text_encoder"] = _build_meta("transformers", cls_name, cfg)
    return parts


@dataclass(frozen=True)
class Layer:
    """A layer an adapter can wrap: weight fan_out x fan_in (fan_in = in_channels*kh*kw for a conv)."""

    name: str
    fan_in: int
    fan_out: int
    conv: bool = False


@dataclass(frozen=True)
class Architecture:
    family: str
    params: dict[str, int]  # component -> parameter count
    linear_params: dict[str, int]  # component -> parameters in nn.Linear weights (what bitsandbytes quantises)
    linear_rows: dict[str, int]  # component -> output rows of its nn.Linear layers (int8 keeps a scale per row)
    largest_linear: int  # weights of the largest nn.Linear in the denoiser (dequantised at once)
    layers: dict[str, dict[str, Layer]]  # component -> {module name: Layer} for Linear/Conv2d
    fp32_params: dict[str, int]  # component -> parameters its class keeps in fp32 when loaded in fp16 (T5's "wo")


@functools.cache
def architecture(family: str) -> Architecture:
    """Parameter counts and layer shapes of the family's reference model, from the real classes."""
    import torch

    params, linear, rows, layers, largest, fp32 = {}, {}, {}, {}, 0, {}
    for comp, model in meta_models(family).items():
        params[comp] = sum(p.numel() for p in model.parameters())
        keep = list(getattr(model, "_keep_in_fp32_modules", None) or [])
        fp32[comp] = sum(p.numel() for n, m in model.named_modules() if keep and matches_suffix(n, keep)
                         for p in m.parameters(recurse=True))
        lin = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        linear[comp] = sum(m.weight.numel() for m in lin)
        rows[comp] = sum(m.out_features for m in lin)
        if comp == "denoiser":
            largest = max(m.weight.numel() for m in lin)
        table = {}
        for name, m in model.named_modules():
            if isinstance(m, torch.nn.Linear):
                table[name] = Layer(name, m.in_features, m.out_features)
            elif isinstance(m, torch.nn.Conv2d):
                kh, kw = m.kernel_size
                table[name] = Layer(name, m.in_channels * kh * kw // m.groups, m.out_channels, conv=True)
        layers[comp] = table
    return Architecture(family, params, linear, rows, largest, layers, fp32)


def text_encoders(family: str) -> list[str]:
    return [c for c in architecture(family).params if c.startswith("text_encoder")]


def trained_text_encoders(family: str) -> list[str]:
    """The CLIP encoders a LoRA goes on with train_text_encoder (Flux's T5 never, as in kohya)."""
    return list(facts(family).text_encoders)


def adapter_layers(config: Config) -> dict[str, list[Layer]]:
    """{component: layers that get an adapter} exactly as the trainer picks them.

    The denoiser's targets come from the family's `lora_targets` (Flux adds the text-stream twins of
    attention names and, with train_mlp, the feed-forward layers) and, for locon/loha/lokr, its
    `conv_targets`; text encoders get the family's `text_lora_targets` when trained.
    """
    arch = architecture(config.family)
    fam = get_family(config.family)
    den = meta_models(config.family)["denoiser"]
    names = list(fam.lora_targets(den, config))
    if config.network_type in CONV_TYPES:
        names += [n for n in fam.conv_targets(den) if n not in names]
    out = {"denoiser": [arch.layers["denoiser"][n] for n in names if n in arch.layers["denoiser"]]}
    if config.train_text_encoder:
        for comp in trained_text_encoders(config.family):
            out[comp] = [lay for n, lay in arch.layers[comp].items() if matches_suffix(n, fam.text_lora_targets)]
    return out


def adapter_shapes(config: Config, layers: dict[str, list[Layer]] | None = None) -> list[tuple[int, int]]:
    """(rows, cols) of every trainable adapter tensor, as peft creates them for config.network_type.

    lora/locon: A (r x fan_in), B (fan_out x r); dora: + a magnitude per output row; loha: two such
    pairs (Hadamard product); lokr: a full small Kronecker factor and a low-rank (or full) large one,
    factorised as peft's `factorization` does. Conv layers use conv_rank when it is set.
    """
    layers = adapter_layers(config) if layers is None else layers
    t = config.network_type
    shapes: list[tuple[int, int]] = []
    for comp, lays in layers.items():
        for lay in lays:
            r = (config.conv_rank or config.rank) if lay.conv else config.rank
            if t in ("lora", "locon", "dora"):
                shapes += [(r, lay.fan_in), (lay.fan_out, r)]
                if t == "dora":
                    shapes.append((lay.fan_out, 1))
            elif t == "loha":
                shapes += [(lay.fan_out, r), (r, lay.fan_in)] * 2
            elif t == "lokr":
                from peft.tuners.lokr.layer import factorization

                in_m, in_n = factorization(lay.fan_in, -1)
                out_l, out_k = factorization(lay.fan_out, -1)
                shapes.append((out_l, in_m))  # w1, full
                if r < max(out_k, in_n) / 2:
                    shapes += [(out_k, r), (r, in_n)]  # w2 as a low-rank pair
                else:
                    shapes.append((out_k, in_n))
            else:  # pragma: no cover - Config validates choices
                raise ConfigError(f"network_type: unknown {t!r}")
    return shapes


def adapter_param_count(config: Config) -> int:
    return sum(r * c for r, c in adapter_shapes(config))


def adapter_file_mb(config: Config, precision: str | None = None) -> float:
    """Size of a saved adapter file in MiB (as file managers show "MB"): weights in the save
    precision plus one alpha scalar per layer."""
    nbytes = {"fp16": 2, "bf16": 2, "fp32": 4}[precision or config.save_precision]
    layers = adapter_layers(config)
    n_layers = sum(len(v) for v in layers.values())
    return (sum(r * c for r, c in adapter_shapes(config, layers)) * nbytes + 4 * n_layers) / 2**20


def lora_file_mb(family: str, rank: int, targets, text_encoder_targets=None, precision: str = "fp16") -> float:
    """File size in MiB of a plain LoRA on exactly the layers `targets` names (suffix rule), and on the
    CLIP text encoders' `text_encoder_targets` layers -- for comparing with other trainers' target sets."""
    arch = architecture(family)
    lays = [lay for n, lay in arch.layers["denoiser"].items() if matches_suffix(n, targets)]
    if text_encoder_targets:
        for comp in trained_text_encoders(family):
            lays += [lay for n, lay in arch.layers[comp].items() if matches_suffix(n, text_encoder_targets)]
    nbytes = {"fp16": 2, "bf16": 2, "fp32": 4}[precision]
    return (sum(rank * (lay.fan_in + lay.fan_out) for lay in lays) * nbytes + 4 * len(lays)) / 2**20
