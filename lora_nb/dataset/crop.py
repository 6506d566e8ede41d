"""Crop a dataset to training sizes: center, focus (keeps the subject) or aspect-ratio buckets.

Sizes follow the tutorials: SD1.5 trains at 512, SDXL/Flux at 1024 (768 when memory is short), and
every side is a multiple of 64 (FluxTrainer walkthrough, Kohya practice guide) because the VAE downsamples
by 8 and the UNet by another 8. LoRA explainer recommends focus cropping over center cropping: a center crop happily
cuts off a subject that is not in the middle. The focus crop finds the subject with the rembg
mask when a model is available, and otherwise with a saliency estimate (`saliency.py`: colour distance
from the border's palette, so a patterned background stays background, plus edge energy), then places
the crop box around it.

Images are never upscaled silently: a too-small image is reported and left out (center/focus),
or kept at its own size rounded down to 64 (bucket); `upscale=True` opts in to enlarging.

Every setting of the step, with its default and help, is a field of `CropOptions`: `crop_folder`,
`lora-nb crop` and notebook 02's form all read it from there.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw

from ..config import Config
from ..errors import ConfigError, ModelLoadError
from ..families.facts import FACTS, facts
from ..fileio import atomic_dir, atomic_write_bytes
from ..grids import Tile, image_grid
from ..i18n import reason, t
from ..images import (
    ImageRejected,
    copy_captions,
    encode_image,
    parse_color,
    prepare_output_dir,
    read_image,
    walk_images,
)
from ..options import Options, default, option
from .background import DEFAULT_MODEL, MODELS, load_remover
from .buckets import STEP, closest_bucket, make_buckets
from .saliency import saliency_map, subject_box

MODES = ("center", "focus", "bucket")
FOCUS_SOURCES = ("auto", "rembg", "saliency")
REPORT_NAME = "crop_report.json"


# the sides step 2 offers per family, native first: "sd15 512, sdxl 1024/768, flux 1024/768/512"
FAMILY_SIDES = ", ".join(f"{n} {'/'.join(map(str, f.crop_resolutions))}" for n, f in FACTS.items())


def check_resolution(resolution: int) -> int:
    if not isinstance(resolution, int) or resolution < STEP or resolution % STEP:
        near = max(STEP, round(int(resolution) / STEP) * STEP) if isinstance(resolution, (int, float)) else 512
        raise ConfigError(f"resolution {resolution!r} is not a positive multiple of {STEP} -> use {near} "
                          f"({FAMILY_SIDES})")
    return resolution


@dataclass
class CropOptions(Options):
    """Every setting of the crop step: `crop_folder(src, out, options, **overrides)`, the flags of
    `lora-nb crop` and the form in notebook 02."""

    mode: str = option("focus", "How to crop: focus = a square around the subject (LoRA explainer); center = a "
                                "square from the middle; bucket = the closest aspect-ratio bucket, cut the least.",
                       choices=MODES)
    resolution: int | None = option(None, "Side in px, a multiple of 64: the square's side (center/focus) or the side "
                                          "of the bucket area (bucket). Empty: the family's native side (sides per "
                                          f"family, native first: {FAMILY_SIDES}).", min=STEP)
    family: str = option(default(Config, "family"), "Model family you will train; it sets the default resolution.",
                         choices=tuple(FACTS))
    upscale: bool = option(False, "Enlarge images smaller than the target instead of reporting them (center/focus "
                                  "skip them, bucket keeps them at their own size).")
    focus: str = option("auto", "What finds the subject in focus mode: rembg = the rembg mask (needs its model file), "
                                "saliency = a colour and edge estimate, auto = rembg when its model file is present, "
                                "else saliency.", choices=FOCUS_SOURCES)
    remove_background: bool = option(False, "Cut the background out with rembg before cropping (Flux LoRA guide: "
                                            "when the LoRA learns the background instead of the subject).")
    background: str | None = option("white", "With remove_background: the colour behind the subject (a name, "
                                             "#rrggbb or r,g,b); empty or 'transparent' keeps it transparent (RGBA "
                                             "PNGs).")
    rembg_model: str = option(DEFAULT_MODEL, "rembg model that finds the subject (remove_background, rembg focus); "
                                             "the default is small and fast on a CPU.", choices=tuple(MODELS))
    model_path: str | None = option(None, "Your own ONNX file for rembg_model (e.g. on Drive); nothing is "
                                          "downloaded.")
    model_dir: str | None = option(None, "Extra folder holding <model>.onnx, searched before rembg's own folders.")
    min_bucket: int = option(default(Config, "min_bucket_reso"),
                             "Bucket mode: the smallest bucket side in px (a multiple of 64).", min=STEP)
    max_bucket: int | None = option(None, "Bucket mode: the largest bucket side in px (a multiple of 64); empty: "
                                          "2 x resolution.", min=STEP)
    overwrite: bool = option(False, "Replace the output folder even if it was not made by the crop step.")

    def __post_init__(self):
        for name in ("model_path", "model_dir"):  # a Path is kept as its text, as the CLI and the form show it
            if isinstance(getattr(self, name), os.PathLike):
                setattr(self, name, os.fspath(getattr(self, name)))
        super().__post_init__()

    def problems(self) -> list[str]:
        out = super().problems()
        if out:
            return out  # the checks below assume well-typed values
        if self.resolution is not None:
            try:
                check_resolution(self.resolution)
            except ConfigError as e:
                out.append(f"resolution: {str(e).removeprefix('resolution ')}")
        for name in ("min_bucket", "max_bucket"):
            v = getattr(self, name)
            if v is not None and v % STEP:
                out.append(f"{name}: {v} is not a multiple of {STEP} -> use {max(STEP, round(v / STEP) * STEP)}")
        if self.max_bucket is not None and self.max_bucket < self.min_bucket:
            out.append(f"max_bucket: {self.max_bucket} is below min_bucket {self.min_bucket} -> raise it or lower "
                       f"min_bucket")
        try:
            parse_color(self.background)
        except ValueError as e:
            out.append(f"background: {e}")
        return out


# --- finding the subject -------------------------------------------------------------------------
def place_box(width: int, height: int, box_w: int, box_h: int, focus=None) -> tuple[int, int, int, int]:
    """A box_w x box_h crop inside the image, centred on `focus` (a subject box) or the image centre."""
    cx, cy = (width / 2, height / 2) if focus is None else ((focus[0] + focus[2]) / 2, (focus[1] + focus[3]) / 2)
    x0 = int(round(min(max(cx - box_w / 2, 0), width - box_w)))
    y0 = int(round(min(max(cy - box_h / 2, 0), height - box_h)))
    return (x0, y0, x0 + box_w, y0 + box_h)


# --- one image -------------------------------------------------------------------------------------
@dataclass
class CropResult:
    image: Image.Image
    box: tuple[int, int, int, int]  # crop box in the source image's pixels
    size: tuple[int, int]  # output size
    notes: list[str] = field(default_factory=list)


def crop_image(img: Image.Image, resolution: int = 512, mode: str = "focus", *, mask: Image.Image | None = None,
               buckets: list[tuple[int, int]] | None = None, upscale: bool = False) -> CropResult:
    """Crop and resize one image. Raises `ImageRejected` when it would need upscaling and
    `upscale` is off (center/focus), or is smaller than 64 px (bucket).

    mode: 'center' and 'focus' give resolution x resolution; 'bucket' keeps the aspect ratio in
    the closest bucket of `buckets` (default `make_buckets(resolution)`), cropping the minimum.
    mask: subject mask ('L') for the focus crop; without one, `saliency_map` is used.
    """
    if mode not in MODES:
        raise ConfigError(f"crop mode {mode!r} is not one of {', '.join(MODES)}")
    w, h = img.size
    notes = []
    if mode == "bucket":
        tw, th = closest_bucket(w, h, buckets or make_buckets(resolution))
        if not upscale and (w < tw or h < th) and max(tw / w, th / h) > 1:
            # kohya's bucket_no_upscale: keep the image's own size, trimmed to multiples of 64
            tw, th = w // STEP * STEP, h // STEP * STEP
            if tw < STEP or th < STEP:
                raise ImageRejected(f"too small for training: {w}x{h} px (a side below {STEP} px)")
            notes.append(f"small: kept at {tw}x{th} instead of upscaling (upscale=True enlarges it)")
    else:
        tw = th = resolution
    # the largest box with the target's aspect ratio; then shrink (or, opted in, enlarge) it
    if w * th > h * tw:
        bw, bh = max(1, round(h * tw / th)), h
    else:
        bw, bh = w, max(1, round(w * th / tw))
    scale = tw / bw
    if scale > 1.001:
        if not upscale:
            raise ImageRejected(f"too small: {w}x{h} px gives a {bw}x{bh} crop, below {tw}x{th}; pass "
                                f"upscale=True (--upscale true), a lower resolution, or use bucket mode")
        notes.append(f"upscaled x{scale:.2f}")
    focus = None
    if mode == "focus":
        import numpy as np

        if mask is not None:
            m = mask.convert("L").copy()
            m.thumbnail((128, 128))
            # the subject is where the mask says 'more likely than not'; faint halos would pull the box
            focus = subject_box(np.asarray(m) >= 128, (w, h))
        if focus is None:
            focus = subject_box(saliency_map(img), (w, h))
    box = place_box(w, h, bw, bh, focus)
    out = img.crop(box)
    if out.size != (tw, th):
        out = out.resize((tw, th), Image.Resampling.LANCZOS)
    return CropResult(out, box, (tw, th), notes)


# --- folders ---------------------------------------------------------------------------------------
@dataclass
class CropItem:
    source: str  # relative to the input folder
    output: str  # relative to the output folder
    source_size: tuple[int, int]
    box: tuple[int, int, int, int]
    size: tuple[int, int]
    focus: str | None = None  # 'rembg' or 'saliency' for the focus crop
    notes: list[str] = field(default_factory=list)


@dataclass
class CropReport:
    src_dir: Path
    out_dir: Path
    mode: str
    resolution: int
    focus: str | None  # what located the subject: 'rembg', 'saliency' or None (center/bucket)
    background: str | None = None  # 'removed (u2netp)' when rembg cut the background out
    items: list[CropItem] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)

    @property
    def small(self) -> list[CropItem]:
        return [i for i in self.items if any(n.startswith(("small", "upscaled")) for n in i.notes)]

    def summary(self) -> str:
        how = f"{self.mode}" + (f" ({self.focus})" if self.focus else "")
        lines = [t("crop.head", n=len(self.items), how=how, resolution=self.resolution, out=self.out_dir)]
        if self.background:
            removed = re.fullmatch(r"removed \((.+)\)", self.background)  # the JSON keeps the English value
            lines.append(t("crop.background", what=t("crop.removed", model=removed[1]) if removed
                           else self.background))
        lines += [f"  {i.source}: {'; '.join(map(reason, i.notes))}" for i in self.small]
        lines += [t("crop.skipped", source=s, reason=reason(why)) for s, why in self.skipped]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["src_dir"], d["out_dir"] = str(self.src_dir), str(self.out_dir)
        return d


def crop_folder(src: str | os.PathLike, out: str | os.PathLike, options: CropOptions | None = None, *,
                progress: bool = True, **overrides) -> CropReport:
    """Crop every image under `src` into the new folder `out` (concept folders and captions kept).

    options: the settings (`CropOptions`; its fields document each one); keyword `overrides` such as
    `resolution=512, mode="center"` are applied on top. Without a resolution the family's native
    side is used; in focus mode the subject is found with the rembg mask when its model is
    available (focus='auto'), else with the saliency estimate; remove_background composites the
    cut-out onto `background`, and the same mask drives the focus crop.
    """
    from tqdm.auto import tqdm

    o = CropOptions.resolve(options, overrides, "crop_folder")
    resolution = o.resolution if o.resolution is not None else facts(o.family).resolution
    src, out = Path(src), Path(out)
    images = walk_images(src)
    prepare_output_dir(src, out, REPORT_NAME, o.overwrite)
    remover = _remover_for(o.mode, o.focus, o.remove_background, o.rembg_model, o.model_path, o.model_dir)
    color = parse_color(o.background)
    focus_used = None if o.mode != "focus" else ("rembg" if remover else "saliency")
    report = CropReport(src, out, o.mode, resolution, focus_used,
                        f"removed ({remover.model})" if o.remove_background else None)
    buckets = make_buckets(resolution, o.min_bucket, o.max_bucket) if o.mode == "bucket" else None
    used: set[Path] = set()
    with atomic_dir(out) as tmp:
        for path, rel in tqdm(images, desc=f"crop {o.mode} {resolution}", unit="img", disable=not progress):
            try:
                img = read_image(path).image
                mask = remover.mask(img) if remover else None
                if o.remove_background:
                    img = remover.cutout(img, background=color, mask=mask)
                res = crop_image(img, resolution, o.mode, mask=mask, buckets=buckets, upscale=o.upscale)
            except ImageRejected as e:
                report.skipped.append((rel.as_posix(), str(e)))
                continue
            suffix = ".jpg" if path.suffix.lower() in (".jpg", ".jpeg") and res.image.mode == "RGB" else ".png"
            out_rel = _unique(rel.with_suffix(suffix), used)
            atomic_write_bytes(tmp / out_rel, encode_image(res.image, suffix))
            copy_captions(path, tmp / out_rel)
            report.items.append(CropItem(rel.as_posix(), out_rel.as_posix(), img.size, res.box, res.size,
                                         focus_used, res.notes))
        (tmp / REPORT_NAME).write_text(json.dumps(report.to_dict(), indent=1, ensure_ascii=False), encoding="utf-8")
    return report


def _remover_for(mode, focus, remove_background, model, model_path, model_dir):
    """The rembg model when it is needed: for background removal or a rembg focus crop (required),
    or for an 'auto' focus crop when it loads offline (else the saliency estimate is used)."""
    needed = remove_background or (mode == "focus" and focus == "rembg")
    if not needed and not (mode == "focus" and focus == "auto"):
        return None
    if needed:
        return load_remover(model, model_path=model_path, model_dir=model_dir)
    try:
        return load_remover(model, model_path=model_path, model_dir=model_dir, allow_download=False)
    except ModelLoadError:
        return None


def _unique(rel: Path, used: set[Path]) -> Path:
    """a.png and a.webp both become a.png: the second becomes a_1.png (its caption follows)."""
    cand, n = rel, 1
    while cand in used:
        cand = rel.with_name(f"{rel.stem}_{n}{rel.suffix}")
        n += 1
    used.add(cand)
    return cand


def render_crop_preview(report: CropReport, max_items: int = 24, tile_size: int = 160,
                        pairs_per_row: int = 3) -> Image.Image:
    """Before/after grid: each original with its crop box drawn in red, next to the cropped result;
    skipped images are shown with their reason."""
    tiles = []
    for item in report.items[:max_items]:
        try:
            before = read_image(report.src_dir / item.source).image
        except ImageRejected:  # the original was moved or deleted since
            before = Image.new("RGB", item.source_size, (230, 230, 230))
        draw = ImageDraw.Draw(before)
        lw = max(2, round(max(before.size) / tile_size * 2))
        draw.rectangle(item.box, outline=(255, 0, 0), width=lw)
        after = Image.open(report.out_dir / item.output)
        after.load()
        tiles.append(Tile(before, [Path(item.source).name, f"{item.source_size[0]}x{item.source_size[1]}"]))
        tiles.append(Tile(after, [f"-> {item.size[0]}x{item.size[1]}", "; ".join(map(reason, item.notes))],
                          [(0, 0, 0), (200, 100, 0)]))
    for source, why in report.skipped[:max(0, max_items - len(report.items))]:
        try:
            img = read_image(report.src_dir / source).image
        except ImageRejected:
            img = Image.new("RGB", (tile_size, tile_size), (230, 230, 230))
        tiles.append(Tile(img, [Path(source).name, t("crop.skipped_label")], [(0, 0, 0), (200, 0, 0)]))
        lines = textwrap.wrap(why, max(12, tile_size // 6))[:4]
        tiles.append(Tile(Image.new("RGB", (tile_size, tile_size), (245, 245, 245)), lines,
                          [(200, 0, 0)] * len(lines)))
    title = report.summary().splitlines()[0]
    return image_grid(tiles, cols=2 * pairs_per_row, tile_size=tile_size, title=title)
