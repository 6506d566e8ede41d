"""Which tool takes which LoRA file: the ``lora_nb_loaders`` header key and the run folder's ``files.md``.

Only loaders that reproduce the trained adapter are claimed; tests/test_exactness.py measures every claim (the UIs
through `applied`, their maths; diffusers and peft through their own loaders) and that the loaders not claimed
are indeed not exact:

    file                          claimed loaders                    not claimed, because
    kohya lora / locon            ComfyUI, A1111, Forge (SD),        A1111 runs no Flux
                                  ComfyUI, Forge (Flux), and
                                  diffusers `load_lora_weights`
    kohya loha / lokr             the UIs (LyCORIS keys)             diffusers fails on them (SD, Flux's
                                                                     fused names); Flux refuses LoKr
    kohya dora                    ComfyUI, Forge (dora_scale         A1111 normalises dora_scale per input
                                  written for their formula)         column (cannot hold DoRA's per-row
                                                                     magnitude); diffusers drops dora_scale
    full (dora, NAME.a1111)       A1111, ComfyUI, Forge (`diff`)     diffusers has no loader for diff keys
    diffusers (lora/locon/dora)   diffusers `load_lora_weights`      ComfyUI loads 24-29% of its keys, at 2x
    peft folder (loha / lokr)     peft `PeftModel.from_pretrained`

With a trained text encoder, a file claimed for diffusers says in its note that transformers >= 5.6 needs
diffusers >= 0.41 for those keys (`lorafiles.DIFFUSERS_READS_FLAT_CLIP`; Colab's 2026-08 set has 0.39).

The claims go into each file's header (`loader_metadata`), and `write_files_md` lists every file of the run
folder that carries them, one line each, so the list also covers earlier checkpoints.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ...families.facts import facts
from ...families.lorafiles import DIFFUSERS_READS_FLAT_CLIP, DIFFUSERS_WEIGHT_NAME, TRANSFORMERS_FLAT_CLIP
from ...fileio import atomic_write_text
from .applied import dora_scale_exact_in

if TYPE_CHECKING:
    from ...config import Config

LOADERS_KEY = "lora_nb_loaders"   # JSON list of the tools that load the file as trained
NOTE_KEY = "lora_nb_loader_note"  # what else to know: where it loads only approximately or not at all
FORMAT_KEY = "lora_nb_format"     # kohya / diffusers / peft / full
DORA_SCALE_KEY = "lora_nb_dora_scale"  # which formula the file's dora_scale is written for
DORA_SCALE_FORM = ("comfyui: magnitude * ||W||_row / ||W + dW||_row per output row, so ComfyUI's and Forge's "
                   "W' = (W + dW) * dora_scale / ||W||_row gives peft's DoRA weight; LyCORIS' own loaders expect "
                   "the magnitude itself")
FILES_MD = "files.md"
DIFFUSERS = "diffusers load_lora_weights"
PEFT = "peft PeftModel.from_pretrained"
PEFT_WEIGHT_NAME = "adapter_model.safetensors"  # peft's SAFETENSORS_WEIGHTS_NAME

_WHERE = {"ComfyUI": "ComfyUI (models/loras)", "AUTOMATIC1111": "AUTOMATIC1111 (models/Lora)",
          "Forge": "Forge (models/Lora)", DIFFUSERS: "diffusers pipe.load_lora_weights(file)",
          PEFT: "peft PeftModel.from_pretrained(pipe.<component>, folder)"}
_FORMAT_NAMES = {"kohya": "kohya/LyCORIS format", "diffusers": "diffusers format", "peft": "peft adapter",
                 "full": "full weight change (LyCORIS diff)"}
A1111_SUFFIX = ".a1111"  # the DoRA full-diff file: {name}.a1111.safetensors


def loaders(fmt: str, config: Config) -> tuple[list[str], str]:
    """(tools that load a `fmt` file of this run as trained, a note on the others; "" when none)."""
    tools, note = _loaders(fmt, config)
    if DIFFUSERS in tools and config.train_text_encoder:
        # measured 2026-12-07 on 0.39, 0.40, 0.41, 0.42 (tests/test_families.py): the denoiser's keys load in
        # all; the text encoder's fail before 0.41 with transformers >= 5.6 (Colab's 2026-08 set: 0.39 + 5.15)
        te = (f"with transformers >= {TRANSFORMERS_FLAT_CLIP}, its text-encoder weights load in diffusers >= "
              f"{DIFFUSERS_READS_FLAT_CLIP} (older diffusers fail with an IndexError; "
              f"lora_nb.families.lorafiles.load_into_pipeline reads them in any)")
        note = f"{note}; {te}" if note else te
    return tools, note


def _loaders(fmt: str, config: Config) -> tuple[list[str], str]:
    kind = config.network_type
    if fmt == "peft":
        return [PEFT], f"diffusers, ComfyUI and A1111 have no loader for this format; the {kind} .safetensors " \
                       f"file is the one for the UIs"
    if fmt == "diffusers":
        return [DIFFUSERS], "not for ComfyUI / A1111 / Forge (they load only part of its keys): use the kohya file"
    f = facts(config.family)
    uis = list(f.kohya_file_uis)
    if fmt == "full":
        return uis, "diffusers cannot read full-weight (diff) keys: use the diffusers-format file there"
    if kind == "dora":
        exact = [u for u in uis if dora_scale_exact_in(u)]
        others = [u for u in uis if u not in exact]
        why = (f"{' / '.join(others)} normalises dora_scale per input column and cannot hold DoRA's per-row "
               f"magnitude (set save_dora_a1111 for a {A1111_SUFFIX}.safetensors file exact there); " if others
               else "")
        return exact, (f"DoRA: dora_scale is written for ComfyUI's formula, exact at strength 1 (other strengths "
                       f"follow ComfyUI's own DoRA interpolation); {why}diffusers ignores dora_scale: use the "
                       f"diffusers-format file there")
    if kind in ("loha", "lokr"):
        return uis, (f"diffusers' load_lora_weights cannot apply {kind} (LyCORIS) keys (for Flux it loads the file "
                     f"and changes nothing): use the peft folder there")
    return uis + [DIFFUSERS], ""


def loader_metadata(fmt: str, config: Config) -> dict[str, str]:
    """Header keys saying which tools take a `fmt` file (every value a string, as safetensors requires)."""
    tools, note = loaders(fmt, config)
    md = {FORMAT_KEY: fmt, LOADERS_KEY: json.dumps(tools), NOTE_KEY: note}
    if fmt == "kohya" and config.network_type == "dora":
        md[DORA_SCALE_KEY] = DORA_SCALE_FORM
    return md


def _line(rel: str, md: dict[str, str]) -> str:
    tools = json.loads(md[LOADERS_KEY])
    claim = ", ".join(_WHERE.get(t, t) for t in tools) if tools else "no tool loads it exactly"
    note = md.get(NOTE_KEY, "")
    note = f". {note[:1].upper()}{note[1:]}" if note else ""
    return f"- `{rel}` ({_FORMAT_NAMES.get(md.get(FORMAT_KEY, ''), 'LoRA')}): {claim}{note}"


def write_files_md(out_dir: str | os.PathLike) -> Path:
    """Rewrite ``out_dir/files.md`` atomically: one line per LoRA file in the folder that says which tools take it."""
    from safetensors import safe_open

    out_dir = Path(out_dir)
    found = sorted(list(out_dir.glob("*.safetensors")) + list(out_dir.glob(f"*/{DIFFUSERS_WEIGHT_NAME}"))
                   + list(out_dir.glob(f"*/*/{PEFT_WEIGHT_NAME}")))
    lines = []
    for path in found:
        try:
            with safe_open(str(path), framework="pt") as fh:
                md = fh.metadata() or {}
        except Exception:  # a file being replaced or not ours: it gets no line
            continue
        if LOADERS_KEY in md:
            lines.append(_line(path.relative_to(out_dir).as_posix(), md))
    text = "# Which tool takes which file\n\n" + "".join(line + "\n" for line in lines)
    return atomic_write_text(out_dir / FILES_MD, text)
