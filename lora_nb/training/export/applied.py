"""The weight change each UI loader applies from a kohya / LyCORIS file, written from the loaders' own code.

What a file claims (`loaders`) is tested against this (tests/test_exactness.py), and the DoRA files are written
in the convention these functions describe. Sources, read for their conventions (nothing is copied):

    ComfyUI   comfy/weight_adapter/{lora,loha,lokr}.py and base.py `weight_decompose`; comfy/lora.py ".diff"
    Forge     backend/patcher/lora.py `merge_lora_to_weight` / `weight_decompose` (ComfyUI's, incl. its DoRA,
              with ComfyUI-derived key maps)
    A1111     extensions-builtin/Lora/network.py `finalize_updown` / `apply_weight_decompose`,
              network_{lora,hada,lokr,full}.py

Common to all: LoRA/LoCon ``up @ down`` (flattened for convs) times ``alpha / rank`` (rank = rows of down; 1
without alpha), LoHa ``(w1a @ w1b) * (w2a @ w2b) * alpha / rows(w1b)``, LoKr ``kron(w1, w2) * alpha / dim`` (dim
= rows of the last low-rank ``_b`` factor; 1 when both factors are full or there is no alpha), ``diff`` (a full
weight change) added as it is. Each is multiplied by the strength.

DoRA (``dora_scale``) is where they part:

    ComfyUI / Forge  dora_scale with one value per OUTPUT row: W' = (W + dW) * dora_scale / ||W||_row, the norm
                     of the ORIGINAL weight (other shapes: W' = (W + dW) * dora_scale / ||W + dW||_col); at
                     strength s: W + s (W' - W).
    A1111            always W' = (W + dW) * dora_scale / ||W + dW||_col, per INPUT column: a per-row scale
                     (peft's / the DoRA paper's magnitude m) broadcasts into a wrong weight, with no error.

peft trains W' = m * (W + dW) / ||W + dW||_row. With the base weight known at export, ``dora_scale =
m * ||W||_row / ||W + dW||_row`` (`comfyui_dora_scale`) makes ComfyUI's and Forge's formula exact at strength 1.
A1111's per-column form cannot hold a per-row magnitude for a general W, so only a full ``diff`` is exact there
(`dora_diff`; as large as the adapted layers themselves: SD1.5 ~240 MB, SDXL ~2.4 GB in fp16).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import LoraNbError

if TYPE_CHECKING:  # heavy imports stay out of `import lora_nb`
    import torch

COMFYUI, A1111, FORGE = "ComfyUI", "AUTOMATIC1111", "Forge"
UI_LOADERS = (COMFYUI, A1111, FORGE)
# who normalises dora_scale by the original weight's per-row norm when dora_scale has a value per output row
DORA_ROW_OF_ORIGINAL = frozenset({COMFYUI, FORGE})


def dora_scale_exact_in(loader: str) -> bool:
    """Whether `loader` applies a per-output-row ``dora_scale`` written by `comfyui_dora_scale` exactly."""
    return loader in DORA_ROW_OF_ORIGINAL


def _rows(t: torch.Tensor) -> torch.Tensor:
    """Norm of each output row (dim 0) of a weight, shaped to broadcast against it: (out, 1[, 1, 1])."""
    return t.reshape(t.shape[0], -1).norm(dim=1).reshape(t.shape[0], *[1] * (t.dim() - 1))


def _cols(t: torch.Tensor) -> torch.Tensor:
    """Norm of each input column (dim 1) of a weight, shaped (1, in[, 1, 1])."""
    return t.transpose(0, 1).reshape(t.shape[1], -1).norm(dim=1).reshape(1, t.shape[1], *[1] * (t.dim() - 2))


def dora_merged(weight: torch.Tensor, delta: torch.Tensor, magnitude: torch.Tensor) -> torch.Tensor:
    """peft's / the DoRA paper's adapted weight: ``m * (W + dW) / ||W + dW||_row`` (fp32)."""
    new = weight.float() + delta.float()
    return magnitude.float().reshape(_rows(new).shape) * new / _rows(new)


def comfyui_dora_scale(weight: torch.Tensor, delta: torch.Tensor, magnitude: torch.Tensor) -> torch.Tensor:
    """The per-output-row ``dora_scale`` with which ComfyUI / Forge rebuild peft's DoRA weight exactly (strength 1):
    they divide by the original weight's row norm (+ fp32 eps, they compute in fp32), peft by the adapted one's."""
    import torch

    w = weight.float()
    new = w + delta.float()
    return magnitude.float().reshape(_rows(w).shape) * (_rows(w) + torch.finfo(torch.float32).eps) / _rows(new)


def _factors(t: dict[str, torch.Tensor], shape: torch.Size, what: str) -> tuple[torch.Tensor, float]:
    """(the low-rank product, reshaped to the weight, and its alpha/rank scale) of one module's tensors."""
    import torch

    alpha = float(t["alpha"]) if "alpha" in t else None
    if "lora_down.weight" in t:
        up, down = t["lora_up.weight"].float(), t["lora_down.weight"].float()
        rank = down.shape[0]
        return (up.flatten(1) @ down.flatten(1)).reshape(shape), (alpha / rank if alpha is not None else 1.0)
    if "hada_w1_a" in t:
        m1 = t["hada_w1_a"].float() @ t["hada_w1_b"].float()
        m2 = t["hada_w2_a"].float() @ t["hada_w2_b"].float()
        return (m1 * m2).reshape(shape), (alpha / t["hada_w1_b"].shape[0] if alpha is not None else 1.0)
    if any(k.startswith("lokr_") for k in t):
        dim = None
        w1 = t["lokr_w1"].float() if "lokr_w1" in t else None
        if w1 is None:
            w1, dim = t["lokr_w1_a"].float() @ t["lokr_w1_b"].float(), t["lokr_w1_b"].shape[0]
        w2 = t["lokr_w2"].float() if "lokr_w2" in t else None
        if w2 is None:
            w2, dim = t["lokr_w2_a"].float() @ t["lokr_w2_b"].float(), t["lokr_w2_b"].shape[0]
        if w2.dim() == 4:
            w1 = w1[:, :, None, None]
        return torch.kron(w1, w2).reshape(shape), (alpha / dim if alpha is not None and dim else 1.0)
    raise LoraNbError(f"{what}: holds none of lora_down/up, hada_*, lokr_* or diff -> not a LoRA module's tensors")


def applied_delta(tensors: dict[str, torch.Tensor], weight: torch.Tensor, loader: str, strength: float = 1.0,
                  what: str = "module") -> torch.Tensor:
    """The change `loader` makes to `weight` from one module's tensors (``{suffix: tensor}``, e.g.
    ``lora_up.weight``, ``alpha``, ``dora_scale``, ``diff``), in fp32."""
    if loader not in UI_LOADERS:
        raise LoraNbError(f"loader {loader!r} is not one of {', '.join(UI_LOADERS)} -> name a UI loader")
    w = weight.float()
    if "diff" in tensors:  # full weight change: A1111 network_full, ComfyUI / Forge "diff" patches
        return strength * tensors["diff"].float().reshape(w.shape)
    product, scale = _factors(tensors, w.shape, what)
    delta = product * scale
    if "dora_scale" not in tensors:
        return strength * delta
    ds = tensors["dora_scale"].float()
    new = w + delta
    if loader in DORA_ROW_OF_ORIGINAL:
        import torch

        eps = torch.finfo(torch.float32).eps
        if ds.shape[0] == w.shape[0]:
            merged = new * ds / (_rows(w) + eps)
        else:
            merged = new * ds / (_cols(new) + eps)
        return strength * (merged - w)
    # A1111: the column norm of the adapted weight, whatever dora_scale's shape (broadcasting as torch does)
    return strength * (new * ds / _cols(new) - w)


def applied_deltas(state_dict: dict[str, torch.Tensor], weights: dict[str, torch.Tensor], loader: str,
                   strength: float = 1.0) -> dict[str, torch.Tensor]:
    """{kohya stem: weight change} for every module of a kohya/LyCORIS state dict; `weights` holds each stem's
    base weight (the loader's key map resolves stems to modules: `compat.comfyui_key_map` for ComfyUI and
    Forge, `a1111_keys.a1111_key_map` for A1111)."""
    grouped: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in state_dict.items():
        stem, suffix = key.split(".", 1)
        grouped.setdefault(stem, {})[suffix] = tensor
    missing = sorted(set(grouped) - set(weights))
    if missing:
        raise LoraNbError(f"{len(missing)} LoRA module(s) have no base weight, e.g. {missing[0]!r} -> pass the "
                          f"weights of every module the key map resolves")
    return {stem: applied_delta(t, weights[stem], loader, strength, stem) for stem, t in grouped.items()}
