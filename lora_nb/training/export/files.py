"""Writing a LoRA to disk in the formats asked for (kohya file, diffusers folder, or peft folders), atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import LoraNbError
from ...families.facts import facts
from ...families.lorafiles import DIFFUSERS_WEIGHT_NAME
from ...fileio import atomic_dir, atomic_path
from .applied import A1111
from .loaders import A1111_SUFFIX, loader_metadata, write_files_md
from .metadata import kohya_model_hashes
from .naming import ExportTarget, _dtype
from .state_dicts import (
    adapter_kind,
    diffusers_adapter_metadata,
    diffusers_state_dict,
    full_diff_state_dict,
    kohya_state_dict,
    save_peft_folder,
)

if TYPE_CHECKING:
    from ...config import Config


def save_lora_files(out_dir: str | os.PathLike, name: str, targets: list[ExportTarget], config: Config,
                    metadata: dict[str, str], formats: tuple[str, ...] | list[str] | None = None,
                    precision: str | None = None, adapter_name: str = "default") -> dict[str, Path]:
    """Write the LoRA in each format (default: config.save_formats, config.save_precision), atomically.

    kohya:     ``out_dir/{name}.safetensors`` with `metadata` + sshs_* hashes in the header; DoRA with
               ``save_dora_a1111`` also ``out_dir/{name}.a1111.safetensors`` (full ``diff`` keys, exact in A1111).
    diffusers: ``out_dir/{name}_diffusers/pytorch_lora_weights.safetensors`` (the folder is
               replaced as a whole), written by diffusers' `LoraBaseMixin.write_lora_layers`.
               LoHa/LoKr have no diffusers loader: ``out_dir/{name}_peft/<component>/`` instead.
    Each file's header names the tools that load it (`loaders`), and ``out_dir/files.md`` is rewritten to list
    every such file of the folder.
    Returns ``{"kohya": file, "diffusers": file}`` (``"peft": folder``, ``"full": file``) for what was written.
    """
    from safetensors.torch import save_file

    formats = tuple(config.save_formats if formats is None else formats)
    unknown = [f for f in formats if f not in ("kohya", "diffusers")]
    if unknown or not formats:
        raise LoraNbError(f"save formats {unknown or 'empty'} -> use 'kohya' and/or 'diffusers' (save_formats)")
    if not name or os.sep in name or (os.altsep and os.altsep in name) or name in (".", ".."):
        raise LoraNbError(f"LoRA name {name!r} is not a plain file name -> set output_name to e.g. 'my_lora'")
    bad = [k for k, v in metadata.items() if not isinstance(k, str) or not isinstance(v, str)]
    if bad:
        raise TypeError(f"safetensors metadata values must be strings; not for {bad[:5]} (use lora_metadata)")
    dtype = _dtype(precision or config.save_precision)
    out_dir = Path(out_dir)
    written: dict[str, Path] = {}
    if "kohya" in formats:
        sd = kohya_state_dict(targets, dtype, adapter_name)
        written["kohya"] = _save_kohya_layout(out_dir / f"{name}.safetensors", sd, metadata, "kohya", config)
        # the full-weight file exists for AUTOMATIC1111 alone (ComfyUI and Forge take the kohya file exactly)
        if config.network_type == "dora" and config.save_dora_a1111 and A1111 in facts(config.family).kohya_file_uis:
            full = full_diff_state_dict(targets, dtype, adapter_name)
            written["full"] = _save_kohya_layout(out_dir / f"{name}{A1111_SUFFIX}.safetensors", full, metadata,
                                                 "full", config)
    if "diffusers" in formats and adapter_kind(targets, adapter_name) != "lora":
        written["peft"] = save_peft_folder(out_dir / f"{name}_peft", targets, dtype, adapter_name,
                                           metadata=loader_metadata("peft", config))
    elif "diffusers" in formats:
        from diffusers.loaders.lora_base import LORA_ADAPTER_METADATA_KEY, LoraBaseMixin

        sd = diffusers_state_dict(targets, dtype, adapter_name)
        folder = out_dir / f"{name}_diffusers"
        # the header diffusers' own save function writes (format + the LoraConfig that restores lora_alpha),
        # plus which tools take the file: diffusers' writer has no way to add keys
        header = {"format": "pt", LORA_ADAPTER_METADATA_KEY: json.dumps(
            diffusers_adapter_metadata(targets, adapter_name), indent=2, sort_keys=True),
            **loader_metadata("diffusers", config)}
        with atomic_dir(folder) as tmp:
            LoraBaseMixin.write_lora_layers(
                state_dict=sd, save_directory=str(tmp), is_main_process=True, weight_name=DIFFUSERS_WEIGHT_NAME,
                save_function=lambda weights, filename: save_file(weights, filename, metadata=header),
                safe_serialization=True)
        written["diffusers"] = folder / DIFFUSERS_WEIGHT_NAME
    write_files_md(out_dir)
    return written


def _save_kohya_layout(path: Path, state_dict: dict, metadata: dict[str, str], kind: str, config: Config) -> Path:
    """One kohya-layout file (the LoRA, or A1111's full-weight DoRA file), atomically: `metadata`, the tools that
    load it (`loaders`) and the sshs_* hashes kohya writes, which cover the ss_* keys (`kohya_model_hashes`)."""
    from safetensors.torch import save_file

    md = {**metadata, **loader_metadata(kind, config)}
    md["sshs_model_hash"], md["sshs_legacy_hash"] = kohya_model_hashes(state_dict, md)
    with atomic_path(path) as tmp:
        save_file(state_dict, str(tmp), metadata=md)
    return path
