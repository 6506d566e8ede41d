"""Background removal with rembg: subject masks, cut-outs and whole folders.

Flux LoRA guide: when a small dataset makes the LoRA learn the background instead of the subject,
remove the background first (`rembg p -m u2netp input output`). u2netp is the default here too:
small (4.7 MB) and fast on a CPU. The mask is also what the focus crop uses to find the subject.

rembg downloads its model on first use and looks for it only in its own folders. Here the model
file is found first (an explicit ONNX path, a folder you pass, or rembg's folders), so an offline
run never tries the network, and a missing file gives an error that says where to put it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ModelLoadError
from ..images import (
    ImageRejected,
    copy_captions,
    encode_image,
    parse_color,
    prepare_output_dir,
    read_image,
    walk_images,
)

# Models rembg offers that take one image and return one mask (rembg's session names).
MODELS = {
    "u2netp": "U^2-Net small, 4.7 MB: fast on CPU; the default",
    "u2net": "U^2-Net, 176 MB: general purpose, better edges than u2netp",
    "u2net_human_seg": "U^2-Net trained on people",
    "silueta": "U^2-Net distilled to 43 MB",
    "isnet-general-use": "IS-Net (DIS), 1024 px input: sharp edges on objects",
    "isnet-anime": "IS-Net for anime/illustration characters",
    "birefnet-general": "BiRefNet general, high quality, large and slow on CPU",
    "birefnet-general-lite": "BiRefNet general, lighter",
    "birefnet-portrait": "BiRefNet for portraits",
    "birefnet-dis": "BiRefNet trained on DIS",
    "birefnet-hrsod": "BiRefNet for high-resolution salient objects",
    "birefnet-cod": "BiRefNet for camouflaged objects",
    "birefnet-massive": "BiRefNet trained on a massive dataset",
    "bria-rmbg": "BRIA RMBG 2.0 (non-commercial licence)",
    "u2net_custom": "your own U^2-Net-style ONNX file (pass model_path)",
    "dis_custom": "your own IS-Net-style ONNX file (pass model_path)",
}
DEFAULT_MODEL = "u2netp"


def _import_rembg():
    """`rembg`, imported keeping torch's thread count: its import (numba's OpenMP layer) sets torch to every
    core of the machine, undoing `OMP_NUM_THREADS` / `env.limit_cpu_threads` in the learner's kernel."""
    import torch

    threads = torch.get_num_threads()
    import rembg

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return rembg


def _rembg_homes() -> tuple[Path, Path]:
    """(home, legacy flat folder) as rembg resolves them: $U2NET_HOME if set, else $REMBG_HOME or
    ~/.rembg (models in models/<name>/); older rembg releases used one flat folder (~/.u2net)."""
    _import_rembg()
    from rembg.sessions.base import BaseSession

    if hasattr(BaseSession, "rembg_home"):
        return Path(BaseSession.rembg_home()), Path(BaseSession.legacy_home())
    home = Path(BaseSession.u2net_home())
    return home, home


def model_home() -> Path:
    """rembg's model folder: $U2NET_HOME if set, else $REMBG_HOME, else ~/.rembg (XDG-aware)."""
    return _rembg_homes()[0]


def model_file_candidates(model: str, model_dir: str | os.PathLike | None = None) -> list[Path]:
    """Where a model file is looked for, in order: `model_dir`, then rembg's per-model and legacy folders."""
    home, legacy = _rembg_homes()
    fname = f"{model}.onnx"
    out = []
    if model_dir:
        out += [Path(model_dir) / fname, Path(model_dir) / "models" / model / fname]
    out += [home / "models" / model / fname, legacy / fname]
    return list(dict.fromkeys(out))


def find_model_file(model: str, model_dir: str | os.PathLike | None = None) -> Path | None:
    return next((p for p in model_file_candidates(model, model_dir) if p.is_file()), None)


def _missing_model_error(model: str, model_dir, why: str) -> ModelLoadError:
    places = " or ".join(str(p) for p in model_file_candidates(model, model_dir))
    return ModelLoadError(
        f"rembg model '{model}' is not available ({why}). Put the file {model}.onnx at {places} "
        f"(on a machine with internet, `rembg d {model}` downloads it to ~/.rembg/models/{model}/), "
        f"or pass model_path= / --model-path to your own ONNX file.")


def _session_for_file(model: str, path: Path):
    """A rembg session of `model`'s architecture (its pre/post-processing) reading `path`.

    rembg's session classes fetch their file in `download_models`; a subclass that returns the
    file we already found keeps rembg's own predict code and never touches the network.
    """
    import onnxruntime as ort
    from rembg.sessions import sessions

    cls = sessions[model]
    local = type(f"Local{cls.__name__}", (cls,), {"download_models": classmethod(lambda c, *a, **k: str(path))})
    opts = ort.SessionOptions()
    if "OMP_NUM_THREADS" in os.environ:  # as rembg.new_session does
        opts.inter_op_num_threads = opts.intra_op_num_threads = int(os.environ["OMP_NUM_THREADS"])
    return local(model, opts, model_path=str(path))


@dataclass
class BackgroundRemover:
    """A loaded rembg model: `mask(img)` gives the subject mask, `cutout(img)` the cut-out."""

    model: str
    model_file: Path | None
    session: Any = field(repr=False)

    def mask(self, img, post_process: bool = False):
        """Subject mask ('L', 255 = subject) at the image's size."""
        from rembg import remove  # imported by the loader that made this session (_import_rembg)

        return remove(img.convert("RGB"), session=self.session, only_mask=True, post_process_mask=post_process)

    def cutout(self, img, background=None, mask=None):
        """RGBA cut-out, or RGB composited onto `background` (a colour) when given."""
        from rembg.bg import apply_background_color, naive_cutout

        img = img.convert("RGB")
        mask = mask if mask is not None else self.mask(img)
        out = naive_cutout(img, mask)
        color = parse_color(background)
        if color is None:
            return out
        return apply_background_color(out, color + (255,)).convert("RGB")


def load_remover(model: str = DEFAULT_MODEL, *, model_path: str | os.PathLike | None = None,
                 model_dir: str | os.PathLike | None = None, allow_download: bool | None = None) -> BackgroundRemover:
    """Load a rembg model without surprises.

    model: one of `MODELS` (the architecture, i.e. how images are prepared for the ONNX file).
    model_path: your own ONNX file, used with `model`'s processing (u2net_custom by default for
        a custom file); it may lie anywhere, e.g. on Google Drive.
    model_dir: an extra folder holding `<model>.onnx` (searched before rembg's own folders).
    allow_download: let rembg download a missing model; default: only when not offline
        (HF_HUB_OFFLINE unset). Without network the error says where to put the file.
    """
    try:
        _import_rembg()
        from rembg.sessions import sessions
    except ImportError as e:
        raise ModelLoadError(f"background removal needs rembg ({e}): pip install 'lora-nb[rembg]'") from None
    if model not in MODELS or model not in sessions:
        raise ModelLoadError(f"unknown rembg model {model!r}; choose one of: {', '.join(MODELS)}")
    if model_path is not None:
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise ModelLoadError(f"ONNX model file {path} not found: check model_path / --model-path")
        try:
            return BackgroundRemover(model, path, _session_for_file(model, path))
        except Exception as e:  # onnxruntime refuses the file
            raise ModelLoadError(f"cannot load ONNX model {path}: {e}") from None
    if model.endswith("_custom"):
        raise ModelLoadError(f"model {model!r} needs model_path= (or --model-path) pointing at your ONNX file")
    found = find_model_file(model, model_dir)
    if found is not None:
        try:
            return BackgroundRemover(model, found, _session_for_file(model, found))
        except Exception as e:
            raise ModelLoadError(f"cannot load rembg model file {found} ({e}): delete it and put a good copy "
                                 f"there") from None
    from ..env import offline

    if allow_download is None:
        allow_download = not offline()
    if not allow_download:
        raise _missing_model_error(model, model_dir, "not found, and downloads are off")
    from rembg import new_session

    try:
        session = new_session(model)
    except Exception as e:  # no network, proxy, GitHub rate limit, checksum mismatch...
        raise _missing_model_error(model, model_dir, f"download failed: {type(e).__name__}: {e}") from None
    return BackgroundRemover(model, find_model_file(model), session)


# --- folders -------------------------------------------------------------------------------------
@dataclass
class BackgroundItem:
    source: str  # relative to the input folder
    output: str  # relative to the output folder
    mask: str | None = None  # relative to the output folder, when masks are saved


@dataclass
class BackgroundReport:
    src_dir: Path
    out_dir: Path
    model: str
    background: tuple[int, int, int] | None
    items: list[BackgroundItem] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)

    def summary(self) -> str:
        kind = "RGBA cut-outs" if self.background is None else f"composited onto rgb{self.background}"
        lines = [f"Background removed with {self.model} from {len(self.items)} images -> {self.out_dir} ({kind})"]
        lines += [f"  skipped {src}: {why}" for src, why in self.skipped]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["src_dir"], d["out_dir"] = str(self.src_dir), str(self.out_dir)
        return d


REPORT_NAME = "background_report.json"


def remove_background(src: str | os.PathLike, out: str | os.PathLike, model: str = DEFAULT_MODEL, *,
                      background=None, model_path=None, model_dir=None, remover: BackgroundRemover | None = None,
                      save_masks: bool = False, overwrite: bool = False, progress: bool = True,
                      allow_download: bool | None = None) -> BackgroundReport:
    """Remove the background of every image under `src` into the new folder `out`.

    The folder structure (concept folders) is kept and caption files are copied next to their
    images. `background=None` writes RGBA PNGs; a colour ('white', '#808080', (r, g, b)) writes
    RGB images composited onto it, which is what a trainer reads (it would otherwise flatten the
    alpha itself). `save_masks` also writes each mask as `<name>.mask.png` into `out/_masks/`.
    """
    from tqdm.auto import tqdm

    from ..fileio import atomic_dir, atomic_write_bytes

    src, out = Path(src), Path(out)
    color = parse_color(background)
    images = walk_images(src)
    prepare_output_dir(src, out, REPORT_NAME, overwrite)
    remover = remover or load_remover(model, model_path=model_path, model_dir=model_dir,
                                      allow_download=allow_download)
    report = BackgroundReport(src, out, remover.model, color)
    with atomic_dir(out) as tmp:
        for path, rel in tqdm(images, desc=f"rembg {remover.model}", unit="img", disable=not progress):
            try:
                img = read_image(path).image
            except ImageRejected as e:
                report.skipped.append((rel.as_posix(), str(e)))
                continue
            mask = remover.mask(img)
            result = remover.cutout(img, background=color, mask=mask)
            suffix = ".png" if color is None else (path.suffix.lower() if path.suffix.lower() in (".jpg", ".jpeg")
                                                  else ".png")
            out_rel = rel.with_suffix(suffix)
            atomic_write_bytes(tmp / out_rel, encode_image(result, suffix))
            copy_captions(path, tmp / out_rel)
            item = BackgroundItem(rel.as_posix(), out_rel.as_posix())
            if save_masks:
                mask_rel = Path("_masks") / rel.with_suffix(".mask.png")
                atomic_write_bytes(tmp / mask_rel, encode_image(mask, ".png"))
                item.mask = mask_rel.as_posix()
            report.items.append(item)
        (tmp / REPORT_NAME).write_text(json.dumps(report.to_dict(), indent=1, ensure_ascii=False), encoding="utf-8")
    return report
