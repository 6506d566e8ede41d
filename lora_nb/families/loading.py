"""Loading base-model parts safely, with errors that say what to do.

Only safetensors weights load unless `allow_pickle` is set: pickle files (.ckpt/.pt/.bin) can run
arbitrary code when opened. The Hugging Face token comes from the environment/Colab secrets and
is passed straight to the hub client, never stored.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..config import Config
from ..env import hf_token, offline
from ..errors import ModelLoadError
from .modelcheck import check_hub_reachable

PICKLE_EXTS = (".ckpt", ".pt", ".pth", ".bin", ".pkl")
_REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


def check_model_source(source: str, allow_pickle: bool, what: str = "pretrained_model") -> str:
    """Refuse unknown paths and pickle files early, before anything heavy is loaded."""
    if not source:
        raise ModelLoadError(f"{what} is empty -> set it to a hub id like stable-diffusion-v1-5/"
                             f"stable-diffusion-v1-5 or a local diffusers folder")
    p = Path(source).expanduser()
    if p.suffix.lower() in PICKLE_EXTS and not allow_pickle:
        raise ModelLoadError(f"{what}: {source} is a pickle file, which can run code when loaded -> use a "
                             f".safetensors file or diffusers folder, or set allow_pickle=true if you trust it")
    if p.exists():
        return str(p)
    if p.is_absolute() or source.startswith((".", "~")) or not _REPO_ID.match(source):
        raise ModelLoadError(f"{what}: {source} is neither an existing folder/file nor a Hugging Face repo id "
                             f"(owner/name) -> check the path")
    if not offline():
        check_hub_reachable(source, what)
    return source


def load_part(cls, source: str, subfolder: str | None, config: Config, **kw):
    """`cls.from_pretrained(source, subfolder=...)` with safetensors enforced and readable errors."""
    kwargs = dict(subfolder=subfolder, use_safetensors=None if config.allow_pickle else True, **kw)
    if config.revision:
        kwargs["revision"] = config.revision
    token = hf_token()
    if token and not Path(source).exists():
        kwargs["token"] = token
    try:
        return cls.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as e:
        where = f"{source}/{subfolder}" if subfolder else source
        msg = str(e).splitlines()[0][:300]
        if "safetensors" in msg.lower() and not config.allow_pickle:
            hint = ("only pickle weights were found -> convert them to safetensors, or set allow_pickle=true if "
                    "you trust the files")
        elif not Path(source).exists() and offline():
            hint = (f"HF_HUB_OFFLINE is set and {source} is not in the local cache -> download it first "
                    f"(`huggingface-cli download {source}`) or point pretrained_model at a local folder")
        elif not Path(source).exists():
            hint = "check the repo id, your network, and for gated models a HF_TOKEN (env var or Colab secret)"
        else:
            hint = "check that the folder is a complete diffusers model (model_index.json and component folders)"
        raise ModelLoadError(f"cannot load {cls.__name__} from {where}: {msg} -> {hint}") from None
