"""Reading LoRA files and loading them into a diffusers pipeline: what step 6 and the exporter share.

`read_lora_file` opens any LoRA file the kit writes or a learner brings (safetensors, or a
weights-only pickle when allowed); `load_into_pipeline` hands a local file to diffusers'
`load_lora_weights` the way every supported diffusers version reads it offline.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ModelLoadError
from .loading import PICKLE_EXTS

if TYPE_CHECKING:  # heavy imports stay out of `import lora_nb`
    import torch

DIFFUSERS_WEIGHT_NAME = "pytorch_lora_weights.safetensors"  # diffusers' LORA_WEIGHT_NAME_SAFE

# diffusers reads `text_model.`-named text-encoder LoRA keys (every tool's names) into transformers'
# flattened CLIPTextModel (transformers >= 5.6 has no `.text_model`) from 0.41 on; before, no module
# matches and it fails with an IndexError. Colab's 2026-08 runtime pairs diffusers 0.39 with transformers
# 5.15 (lora_nb.notebook.doctor.KNOWN_BAD names the pair).
DIFFUSERS_READS_FLAT_CLIP = "0.41"
TRANSFORMERS_FLAT_CLIP = "5.6"  # the first transformers whose CLIPTextModel has no `.text_model`


@contextmanager
def _flat_clip_backport():
    """On diffusers < 0.41, what 0.41 does: drop `text_model.` from a text encoder's LoRA keys when the
    encoder is flattened, just before diffusers builds the adapter for it (every file format goes through
    that one function, after its own key conversion). Later diffusers: nothing changes."""
    import diffusers
    from packaging.version import Version

    if Version(diffusers.__version__) >= Version(DIFFUSERS_READS_FLAT_CLIP):
        yield
        return
    import inspect

    import diffusers.loaders.lora_pipeline as lp

    original = lp._load_lora_into_text_encoder
    signature = inspect.signature(original)

    def flattened(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        te = bound.arguments["text_encoder"]
        # diffusers: prefix None means the component's name
        prefix = bound.arguments.get("prefix") or bound.arguments.get("text_encoder_name") or "text_encoder"
        if not hasattr(te, "text_model"):
            old, new = f"{prefix}.text_model.", f"{prefix}."
            for arg in ("state_dict", "network_alphas"):
                if bound.arguments.get(arg):
                    bound.arguments[arg] = {(new + k[len(old):] if k.startswith(old) else k): v
                                            for k, v in bound.arguments[arg].items()}
        return original(*bound.args, **bound.kwargs)

    lp._load_lora_into_text_encoder = flattened
    try:
        yield
    finally:
        lp._load_lora_into_text_encoder = original


def load_into_pipeline(pipe, path: str | os.PathLike, **kwargs) -> None:
    """diffusers' `pipe.load_lora_weights` for a local LoRA file or diffusers folder, naming the file.

    diffusers before 0.40 (Colab's 2026-08 runtime has 0.39) asks the Hub for the file name when it
    is not given, and refuses outright when offline ("you must specify a `weight_name`"), even for a
    local file; with the folder and the name given every version reads it straight from disk. Text-
    encoder weights load into a flattened CLIP on older diffusers too (`_flat_clip_backport`).
    A LoHa/LoKr file is refused: diffusers rejects it for SD, and for Flux loads it without any effect.
    """
    p = Path(path)
    folder, name = (p, DIFFUSERS_WEIGHT_NAME) if p.is_dir() else (p.parent, p.name)
    if (folder / name).suffix == ".safetensors" and (folder / name).is_file() and is_lycoris(folder / name):
        raise ModelLoadError(f"{folder / name}: a LoHa/LoKr (LyCORIS) file, which diffusers' load_lora_weights "
                             f"cannot apply (Flux: it loads and changes nothing) -> in diffusers load the run's "
                             f"<name>_peft/<component>/ folder with peft.PeftModel.from_pretrained; this file is "
                             f"for ComfyUI / Forge")
    with _flat_clip_backport():
        pipe.load_lora_weights(str(folder), weight_name=name, **kwargs)


def is_lycoris(path: str | os.PathLike) -> bool:
    """Whether a .safetensors LoRA file holds LyCORIS LoHa/LoKr factors (hada_w*, lokr_w*)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        return any(".hada_w" in k or ".lokr_w" in k for k in fh.keys())


def read_lora_file(path: str | os.PathLike, *, allow_pickle: bool = False
                   ) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, header metadata) of a LoRA file, or of a diffusers LoRA folder.

    Pickle formats are refused unless `allow_pickle`; even then they are opened with
    ``torch.load(weights_only=True)``, which refuses arbitrary objects. Pickles carry no metadata.
    """
    path = Path(path)
    if path.is_dir():
        inner = path / DIFFUSERS_WEIGHT_NAME
        if not inner.is_file():
            raise ModelLoadError(f"{path}: a folder without {DIFFUSERS_WEIGHT_NAME} -> pass the .safetensors "
                                 f"LoRA file itself")
        path = inner
    if not path.is_file():
        raise ModelLoadError(f"LoRA file not found: {path} -> check the path (kohya files are "
                             f"<output_dir>/<output_name>.safetensors)")
    suffix = path.suffix.lower()
    if suffix in PICKLE_EXTS:
        if not allow_pickle:
            raise ModelLoadError(f"{path}: {suffix} files are Python pickles, which can run code when loaded "
                                 f"-> use a .safetensors file, or set allow_pickle = true if you trust it")
        import torch

        try:
            sd = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unpickling failure is a bad file
            raise ModelLoadError(f"{path}: cannot be read as a weights-only pickle ({e}) -> convert it to "
                                 f".safetensors") from None
        sd = sd.get("state_dict", sd) if isinstance(sd, dict) else sd
        if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
            raise ModelLoadError(f"{path}: holds no plain tensor dict -> it is not a LoRA weights file")
        return dict(sd), {}
    if suffix != ".safetensors":
        raise ModelLoadError(f"{path}: unknown LoRA file type {suffix!r} -> use a .safetensors file")
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelLoadError(f"{path}: not a valid safetensors file ({e}) -> the download or copy may be "
                             f"incomplete; fetch it again") from None
    return tensors, metadata
