"""What a base-model source holds, checked before anything heavy loads, so a wrong choice gets one
line naming it instead of a loader's error about some missing file:

- a diffusers folder: the family it was saved as (model_index.json's pipeline class, else the
  denoiser's config), against `family`;
- a single .safetensors file: its tensor names only (the header, no weights): a LoRA, a
  checkpoint of another family, or no UNet at all;
- a hub id: whether the hub answers at all. Without a network huggingface_hub retries every file
  with backoff (~23 s each, dozens of files), so a missing network looked like a hang.
"""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import ModelLoadError
from .facts import FACTS, family_of_pipeline

HUB_TIMEOUT_S = 5.0  # one TCP connect; the hub answers in well under a second where it is reachable
# Tensor names only adapter files have: kohya/LyCORIS (lora_down/up, LoHa, LoKr), peft/diffusers (lora_A/B)
# and diffusers' older attention-processor layout (lora.down/up)
_ADAPTER_MARKERS = (".lora_down.", ".lora_up.", ".lora_A.", ".lora_B.", ".hada_w1", ".lokr_w1", ".lora.down.",
                    ".lora.up.")
_LDM_UNET = "model.diffusion_model."  # the UNet inside an original (ldm/sgm) single-file checkpoint


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # a broken file is reported by the loader, with its own message
    return data if isinstance(data, dict) else {}


def folder_family(folder: str | Path) -> tuple[str, str] | None:
    """(family, what it was read from) for a diffusers model folder, or None when it cannot tell."""
    folder = Path(folder)
    name = _read_json(folder / "model_index.json").get("_class_name")
    if isinstance(name, str) and (fam := family_of_pipeline(name)):
        return fam, f"model_index.json: {name}"
    # no pipeline index (a folder of parts): the denoiser's config; SDXL's UNet takes added text/time ids
    for f in FACTS.values():
        cfg = _read_json(folder / f.denoiser / "config.json")
        if cfg and f.micro_conditioning == (cfg.get("addition_embed_type") == "text_time"):
            return f.name, f"{f.denoiser}/config.json: {cfg.get('_class_name', '?')}"
    return None


def check_folder_family(folder: str | Path, family: str, what: str = "pretrained_model") -> None:
    """A ModelLoadError when the folder holds another family's model than `family`."""
    found = folder_family(folder)
    if found and found[0] != family:
        raise ModelLoadError(f'{what}: {folder} holds a model of family "{found[0]}" ({found[1]}), but family = '
                             f'"{family}" -> set family = "{found[0]}", or point {what} at a "{family}" model')


def safetensors_keys(path: str | Path) -> list[str]:
    """The tensor names of a .safetensors file, read from its header (no weights are loaded)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="np") as f:
            return list(f.keys())
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelLoadError(f"{path}: not a valid safetensors file ({e}) -> the download or copy may be "
                             f"incomplete; fetch it again") from None


def check_single_file(path: str | Path, family: str, what: str = "pretrained_model") -> None:
    """A ModelLoadError when a single .safetensors file is not a full checkpoint of `family`."""
    if Path(path).suffix.lower() != ".safetensors":
        return  # pickles are gated by allow_pickle; other files are the loader's to judge
    keys = safetensors_keys(path)
    adapter = [k for k in keys if any(m in k for m in _ADAPTER_MARKERS)]
    if adapter:
        raise ModelLoadError(f"{what}: {path} looks like a LoRA file ({len(adapter)} of its {len(keys)} tensors "
                             f"are adapter weights, e.g. {adapter[0]}), not a base model -> set {what} to a base "
                             f"model (e.g. {FACTS[family].base_model} or a local diffusers folder) and load the "
                             f"LoRA on top of it (lora-nb xy --lora FILE)")
    for f in FACTS.values():
        if f.name != family and f.checkpoint_marker and any(k.startswith(f.checkpoint_marker) for k in keys):
            raise ModelLoadError(f'{what}: {path} holds a checkpoint of family "{f.name}" ({f.checkpoint_marker}* '
                                 f'tensors), but family = "{family}" -> set family = "{f.name}"')
    if FACTS[family].denoiser == "unet" and not any(k.startswith(_LDM_UNET) for k in keys):
        sample = ", ".join(keys[:3]) or "none"
        raise ModelLoadError(f"{what}: {path} has no UNet weights ({_LDM_UNET}*; its {len(keys)} tensors start "
                             f"with {sample}), so it is not a Stable Diffusion checkpoint -> use a full "
                             f"checkpoint .safetensors (UNet, VAE and text encoder in one file) or a diffusers "
                             f"folder")


def hub_reachable(timeout: float = HUB_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the hub (or the HTTPS proxy in the environment) opens in `timeout`."""
    from huggingface_hub import constants

    url = urlsplit(constants.ENDPOINT)
    host, port = url.hostname, url.port or (443 if url.scheme == "https" else 80)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(url.scheme) or proxies.get("all")
    if proxy and not urllib.request.proxy_bypass(host or ""):
        p = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = p.hostname, p.port or 80
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return True


def check_hub_reachable(repo_id: str, what: str = "pretrained_model") -> None:
    """A ModelLoadError at once, instead of minutes of retries, when `repo_id` would need a hub that
    cannot be reached (callers skip it for local paths and with HF_HUB_OFFLINE set)."""
    if hub_reachable():
        return
    from huggingface_hub import constants, try_to_load_from_cache

    cached = any(isinstance(try_to_load_from_cache(repo_id, name), str) for name in ("model_index.json",
                                                                                      "config.json"))
    hint = ("a copy is in the Hugging Face cache: set HF_HUB_OFFLINE=1 to use it" if cached else
            "download the model to a folder where there is a network (huggingface-cli download "
            f"{repo_id} --local-dir FOLDER) and pass the folder, or set HF_HUB_OFFLINE=1 with a cached model")
    raise ModelLoadError(f"{what}: {repo_id} is a Hugging Face repo id, but {urlsplit(constants.ENDPOINT).netloc} "
                         f"cannot be reached (no network) -> {hint}")
