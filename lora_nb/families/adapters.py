"""LoRA variants through peft configs (Kohya practice guide §1.4): which adapter, on which layers, with which rank.

    lora   LoRA (Hu et al. 2021) on the attention projections: kohya's "standard" LoRA.
    locon  LoRA on the attention projections and on the UNet's conv layers (resnets, down/up
           samplers): LyCORIS' LoCon, kohya's LoRA-C3Lier ("conv_dim").
    loha   LoRA with a Hadamard product of two low-rank products (FedPara, Hyeon-Woo et al. 2022):
           more expressive at the same rank (Kohya practice guide: rank <= 32, alpha 1).
    lokr   Kronecker product of two small factors (LyCORIS LoKr): tiny files.
    dora   Weight-decomposed LoRA (Liu et al. 2024): a trained magnitude per output row plus a
           LoRA on the direction.

Every variant is a peft config (`LoraConfig`, `LoHaConfig`, `LoKrConfig`) injected by peft itself
(`inject_adapter_in_model`, see `inject`), so peft does the maths and `lora_nb.training.export` turns the
layers into the files each ecosystem loads. Layer names are resolved to exact module names by the family
(`lora_targets`, `conv_targets`), so a target never silently matches nothing.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..i18n import t as tr
from . import blocks
from .facts import facts

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Config

CONV_TYPES = ("locon", "loha", "lokr")  # variants that also adapt conv layers (LyCORIS "conv_dim")
KOHYA_MODULE = {  # ss_network_module as kohya / LyCORIS record it
    "lora": "networks.lora", "locon": "networks.lora", "loha": "lycoris.kohya", "lokr": "lycoris.kohya",
    "dora": "lycoris.kohya",
}


def problems(config: Config, family=None) -> list[str]:
    """Combinations of adapter settings that cannot work, each as 'field: what -> fix'."""
    out = []
    t = config.network_type
    if t in ("loha", "lokr") and config.quantization != "none":
        out.append(f"network_type: peft has no {t} layer for bitsandbytes-quantised weights -> use lora or dora "
                   f"with quantization '{config.quantization}', or set quantization = 'none'")
    if t == "locon" and family is not None and not family.has_conv_layers:
        out.append(f"network_type: the {family.name} model has no conv layers for locon to adapt -> use lora "
                   f"(or loha/lokr)")
    return out


def notes(config: Config) -> list[str]:
    """What the user should know about the files this variant produces."""
    t = config.network_type
    if t in ("loha", "lokr"):
        uis = " / ".join(facts(config.family).kohya_file_uis)
        out = [tr("adapter.lycoris_file", t=t, uis=uis)]
        if "diffusers" in config.save_formats:
            out.append(tr("adapter.lycoris_peft", t=t))
        return out
    if t == "dora":
        a1111 = tr("adapter.dora_a1111" if config.save_dora_a1111 else "adapter.dora_no_a1111")
        out = [tr("adapter.dora_file", a1111=a1111)]
        if config.network_dropout:
            # peft (as the DoRA paper) drops out the layer input for the whole decomposed weight
            out.append(tr("adapter.dora_dropout"))
        return out
    return []


def adapter_config(config: Config, targets: list[str], conv_targets: list[str] = (),
                   text_encoder: bool = False):
    """The peft config for `config.network_type` on exact module names `targets` (+ `conv_targets`).

    Conv layers get `conv_rank` / `conv_alpha` through peft's rank/alpha patterns (anchored,
    escaped full names), as kohya's conv_dim / conv_alpha.
    """
    from peft import LoHaConfig, LoKrConfig, LoraConfig

    t = config.network_type
    modules = list(targets) + (list(conv_targets) if t in CONV_TYPES and not text_encoder else [])
    if not modules:
        raise ConfigError("target_modules: no layer of the model matches -> use names such as to_q, to_k, to_v, "
                          "to_out.0 (UNet/transformer) or q_proj, k_proj (text encoders)")
    conv = [m for m in modules if m in set(conv_targets)]
    # peft matches pattern keys as regexes against full module names: anchor and escape them
    rank_pattern = {f"^{re.escape(n)}$": config.conv_rank for n in conv} if config.conv_rank else {}
    alpha_pattern = {f"^{re.escape(n)}$": config.conv_alpha for n in conv} if config.conv_alpha else {}
    common = dict(r=config.rank, target_modules=modules, rank_pattern=rank_pattern, alpha_pattern=alpha_pattern)
    if t in ("lora", "locon", "dora"):
        # gaussian A (B = 0): the adapter starts as a no-op, as kohya's LoRA (kaiming A, zero B)
        return LoraConfig(lora_alpha=config.alpha, lora_dropout=config.network_dropout,
                          init_lora_weights="gaussian", use_dora=t == "dora", **common)
    if t == "loha":
        # peft: kaiming init, hada_w2_b = 0 (a no-op at start); dropout on ranks as LyCORIS' rank_dropout
        return LoHaConfig(alpha=config.alpha, rank_dropout=config.network_dropout, **common)
    if t == "lokr":
        return LoKrConfig(alpha=config.alpha, rank_dropout=config.network_dropout, **common)
    raise ConfigError(f"network_type: unknown {t!r}")  # pragma: no cover - Config validates choices


def add_adapters(family, models, config: Config) -> list[dict]:
    """Inject the adapters into the denoiser (and the text encoders when trained); returns the
    optimizer parameter groups (denoiser lr, or one per block weight; text-encoder lr), LoRA weights in fp32."""
    import torch

    torch.manual_seed(config.seed)  # A matrices are random: same seed, same start
    den = models.denoiser
    w = blocks.weights(config, family.facts)  # per-block lr weights; blocks at 0 get no LoRA, as in kohya
    targets = blocks.kept(family.lora_targets(den, config), w, family.facts)
    conv = blocks.kept(family.conv_targets(den), w, family.facts) if config.network_type in CONV_TYPES else []
    inject(den, adapter_config(config, targets, conv))
    trainable(den)
    groups = blocks.param_groups(den, config.effective_unet_lr, w, family.facts)
    if config.train_text_encoder:
        tes = trained_text_encoders(family, models)
        for te in tes:
            names = _exact(te, family.text_lora_targets)
            inject(te, adapter_config(config, names, text_encoder=True))
        groups.append({"params": [p for te in tes for p in trainable(te)], "lr": config.effective_text_encoder_lr})
    return groups


def inject(module, peft_config, adapter_name: str = "default"):
    """Add a trainable adapter to `module` with peft's own `inject_adapter_in_model`.

    diffusers' and transformers' `add_adapter` wrap this same call behind a peft-version gate of their
    own; transformers >= 5.24 refuses every published peft (it asks for >= 0.22), which broke
    text-encoder LoRA on a fresh install. peft's function has no such gate and does the same
    injection; the module is flagged as diffusers/transformers flag it, so their pipelines treat the
    adapter as theirs (validation images, `set_adapters`).
    """
    from peft import inject_adapter_in_model

    inject_adapter_in_model(peft_config, module, adapter_name=adapter_name)
    module._hf_peft_config_loaded = True  # what both libraries' add_adapter set: "this model has an adapter"
    return module


def trained_text_encoders(family, models) -> list:
    """The text encoders that get a LoRA: the CLIP ones (Flux's T5 is never trained, as in kohya)."""
    return list(models.text_encoders[: len(family.facts.text_encoders)])


def trainable(module) -> list:
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.data = p.data.float()  # adapter weights train in fp32 even on an fp16/bf16 base (stable updates)
    return params


def matches_suffix(name: str, suffixes) -> bool:
    """peft's rule (`check_target_module_exists`): a target is the module's exact name or a
    '.'-separated suffix of it."""
    return any(name == s or name.endswith("." + s) for s in suffixes)


def _exact(module, suffixes) -> list[str]:
    """Full names of the modules `suffixes` select under peft's rule."""
    return [n for n, _ in module.named_modules() if matches_suffix(n, suffixes)]


def conv_names(module, within: tuple[str, ...]) -> list[str]:
    """Every nn.Conv2d under the given prefixes (LoCon's conv layers)."""
    import torch

    return [n for n, m in module.named_modules() if isinstance(m, torch.nn.Conv2d) and n.startswith(within)]


def network_args(config: Config) -> dict:
    """kohya ss_network_args for the variant (what kohya / LyCORIS record for the same training)."""
    t = config.network_type
    args: dict = {}
    if t in ("loha", "lokr", "dora"):
        args["algo"] = "lora" if t == "dora" else t
    if t == "dora":
        args["dora_wd"] = "True"
        args["wd_on_out"] = "True"
    if t in CONV_TYPES:
        args["conv_dim"] = str(config.conv_rank or config.rank)
        args["conv_alpha"] = str(config.conv_alpha or config.alpha)
    args.update(blocks.network_args(config))
    return args
