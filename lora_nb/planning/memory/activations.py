"""Activations saved for the backward pass: the calibration table's bytes per latent token and per
sample, and the meta-device profiler of the real architecture those constants come from."""

from __future__ import annotations

from dataclasses import dataclass

from ...families.facts import facts
from .calibration import CALIBRATION
from .reference import ATTENTION_TARGETS, _build_meta, _family


def latent_tokens(family: str, width: int, height: int | None = None) -> int:
    """Tokens the denoiser sees for an image: latent pixels (SD) or 2x2 latent patches (Flux)."""
    ref = _family(family)
    height = width if height is None else height
    step = ref["vae_scale"] * ref["patch"]
    return (width // step) * (height // step)


def activation_bytes(family: str, resolution: int, batch: int, checkpointing: bool, precision: str) -> float:
    """Saved-for-backward activation bytes from the calibration table (square `resolution`)."""
    key = (family, "fp32" if precision == "no" else "half", bool(checkpointing))
    per_token, per_sample = CALIBRATION["activations"][key]
    tokens = latent_tokens(family, resolution)
    return batch * max(per_token * tokens + per_sample, 0.5 * per_token * tokens)


def _denoiser_inputs(family: str, batch: int, resolution: int, dtype):
    import torch

    ref = _family(family)
    meta = dict(device="meta", dtype=dtype)
    lat = resolution // ref["vae_scale"]
    text = torch.empty(batch, ref["text_tokens"], ref["text_dim"], **meta)
    t = torch.full((batch,), 500, device="meta", dtype=torch.long)
    if facts(family).denoiser == "transformer":  # Flux's MM-DiT: 2x2 latent patches as tokens
        tokens = latent_tokens(family, resolution)
        return dict(hidden_states=torch.empty(batch, tokens, ref["latent_channels"] * 4, **meta),
                    encoder_hidden_states=text, pooled_projections=torch.empty(batch, ref["pooled_dim"], **meta),
                    timestep=t.to(dtype), img_ids=torch.empty(tokens, 3, **meta),
                    txt_ids=torch.empty(ref["text_tokens"], 3, **meta),
                    guidance=torch.empty(batch, device="meta", dtype=torch.float32))
    inputs = dict(sample=torch.empty(batch, ref["latent_channels"], lat, lat, **meta), timestep=t,
                  encoder_hidden_states=text)
    if facts(family).micro_conditioning:
        inputs["added_cond_kwargs"] = {"text_embeds": torch.empty(batch, ref["pooled_dim"], **meta),
                                       "time_ids": torch.empty(batch, 6, **meta)}
    return inputs


@dataclass
class ActivationProfile:
    family: str
    resolution: int
    batch: int
    checkpointing: bool
    precision: str
    saved_bytes: int  # tensors kept for backward at the end of the forward pass
    block_peak_bytes: int  # with checkpointing: the largest block's saved tensors while it is recomputed

    @property
    def peak_bytes(self) -> int:
        return self.saved_bytes + self.block_peak_bytes


def profile_activations(family: str, resolution: int, batch: int = 1, checkpointing: bool = False,
                        precision: str = "bf16", rank: int = 16, targets=None) -> ActivationProfile:
    """Bytes autograd keeps for the backward pass of one training forward, on the meta device.

    The reference denoiser is built on ``meta`` with frozen 16-bit (or fp32) weights and fp32 LoRA
    layers (as the trainer makes them), then run once under `saved_tensors_hooks` that add up each
    distinct storage autograd saves (parameters excluded). As on a GPU:
    - autocast is emulated: matmuls/convs/attention cast their inputs to 16 bits, norms/softmax to
      fp32 (the copies autocast makes are what autograd saves);
    - attention saves q, k, v, out and the fp32 log-sum-exp, like flash/memory-efficient SDPA,
      not the L x L probability matrix of the math kernel;
    - gradient checkpointing (diffusers' `enable_gradient_checkpointing`) keeps each checkpointed
      block's inputs; the block's own saved tensors exist only while it is recomputed, so the
      largest of them is reported as `block_peak_bytes`.
    """
    import torch
    import torch.nn.functional as F
    from peft import LoraConfig, inject_adapter_in_model
    from torch.overrides import TorchFunctionMode

    half = torch.float32 if precision == "no" else (torch.float16 if precision == "fp16" else torch.bfloat16)
    ref = _family(family)
    if targets is None:  # what the trainer puts a LoRA on by default (Flux adds the text-stream twins)
        targets = ATTENTION_TARGETS + list(facts(family).text_stream_targets)
    model = _build_meta("diffusers", *ref["denoiser"])
    model.requires_grad_(False)
    model.to(half)
    inject_adapter_in_model(LoraConfig(r=rank, lora_alpha=rank, target_modules=list(targets)), model)
    for n, p in model.named_parameters():
        if "lora_" in n:
            p.data = p.data.float()
            p.requires_grad_(True)
    param_storages = {p.untyped_storage()._cdata for p in model.parameters()}

    lower = {F.linear, F.conv1d, F.conv2d, torch.matmul, torch.bmm, torch.baddbmm, torch.addmm,
             torch.Tensor.matmul, torch.Tensor.__matmul__}
    fp32 = {F.layer_norm, F.group_norm, F.softmax, F.log_softmax, F.mse_loss, torch.softmax, torch.Tensor.softmax,
            torch.exp, torch.Tensor.exp, torch.rsqrt, torch.Tensor.rsqrt, torch.pow, torch.Tensor.pow}

    class _FlashSDPA(torch.autograd.Function):
        @staticmethod
        def forward(ctx, q, k, v):
            out = q.new_empty(q.shape[:-1] + (v.shape[-1],))
            lse = q.new_empty(q.shape[:-1], dtype=torch.float32)
            ctx.save_for_backward(q, k, v, out, lse)
            return out

        @staticmethod
        def backward(ctx, grad):  # pragma: no cover - never run (meta forward only)
            q, k, v, _, _ = ctx.saved_tensors
            return torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)

    def cast(x, dt):
        if isinstance(x, torch.Tensor) and x.is_floating_point() and x.dtype != dt:
            return x.to(dt)
        if isinstance(x, (list, tuple)):
            return type(x)(cast(y, dt) for y in x)
        return x

    class _Autocast(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func is F.scaled_dot_product_attention:
                qkv = list(args[:3]) + [kwargs[k] for k in ("query", "key", "value")[len(args[:3]):]]
                return _FlashSDPA.apply(*(cast(a, half) for a in qkv))
            if func in lower:
                args, kwargs = cast(args, half), {k: cast(v, half) for k, v in kwargs.items()}
            elif func in fp32:
                args, kwargs = cast(args, torch.float32), {k: cast(v, torch.float32) for k, v in kwargs.items()}
            return func(*args, **kwargs)

    saved: dict[int, int] = {}
    scopes = [saved]
    block_peak = 0
    alive = []  # storages are told apart by address: keep every counted tensor alive so none is reused

    def keep(t):
        s = t.untyped_storage()
        if s._cdata not in param_storages:
            alive.append(t)
            scopes[-1].setdefault(s._cdata, s.nbytes())

    def pack(t):
        keep(t)
        return t

    def checkpoint(module, *args):
        nonlocal block_peak
        for a in args:  # non-reentrant checkpointing keeps its tensor inputs alive
            for x in (a if isinstance(a, (tuple, list)) else (a,)):
                if isinstance(x, torch.Tensor):
                    keep(x)
        scopes.append({})
        out = module(*args)
        block_peak = max(block_peak, sum(scopes.pop().values()))
        return out

    if checkpointing:
        model.enable_gradient_checkpointing(gradient_checkpointing_func=checkpoint)
    inputs = _denoiser_inputs(family, batch, resolution, half)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), _Autocast():
        out = model(**inputs, return_dict=False)[0]
        F.mse_loss(out.float(), torch.empty_like(out).float())
    return ActivationProfile(family, resolution, batch, checkpointing, "fp32" if precision == "no" else "half",
                             sum(saved.values()), block_peak)


def fit_activation_constants(family: str, resolutions: tuple[int, int] | None = None) -> dict:
    """(bytes per latent token, bytes per sample) for each precision x checkpointing, from profiles at
    two resolutions: the values `CALIBRATION["activations"]` holds."""
    native = facts(family).resolution
    lo, hi = resolutions or (native // 2, native)
    out = {}
    for precision, label in (("bf16", "half"), ("no", "fp32")):
        for ckpt in (False, True):
            a, b = (profile_activations(family, r, checkpointing=ckpt, precision=precision).peak_bytes
                    for r in (lo, hi))
            ta, tb = latent_tokens(family, lo), latent_tokens(family, hi)
            per_token = (b - a) / (tb - ta)
            out[(family, label, ckpt)] = (round(per_token), round(a - per_token * ta))
    return out
