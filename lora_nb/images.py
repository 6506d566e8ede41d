"""Opening, checking and normalising images, shared by collect, audit, crop and background removal.

Every image that enters a dataset goes through `decode_image`: it refuses what a trainer would
choke on later (not an image, truncated, decompression bomb) with a reason a learner can act on,
and turns everything else into plain 8-bit RGB the way the trainer expects: EXIF orientation
applied, CMYK/16-bit/palette/greyscale converted, transparency flattened onto a chosen colour.
`walk_images`/`copy_captions`/`prepare_output_dir` are how crop and background removal read a
dataset folder and write a new one.
"""

from __future__ import annotations

import io
import os
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageColor, ImageOps

from .errors import DatasetError
from .fscheck import file_problem, writable_folder
from .textio import CAPTION_EXT

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def is_image(path: Path) -> bool:
    """An image file by its extension (hidden files, e.g. macOS `._x.png`, are not)."""
    return path.suffix.lower() in IMAGE_EXTS and not path.name.startswith(".")

# Formats a trainer can read (PIL decodes them everywhere); MPO is a multi-picture JPEG from cameras.
ALLOWED_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "BMP", "GIF", "TIFF")
# PIL's own bomb threshold (~89.5 MP, e.g. 9459x9459); anything larger is refused before decoding.
DEFAULT_MAX_PIXELS = 89_478_485
WHITE = (255, 255, 255)
_EXIF_ORIENTATION = 0x0112


class ImageRejected(Exception):
    """An input that cannot become a training image; `str(e)` is the reason shown in reports."""


@dataclass
class Decoded:
    """A decoded, normalised image and what was done to it."""

    image: Image.Image  # 8-bit RGB, upright
    format: str  # PIL format of the source (JPEG, PNG, ...)
    mode: str  # PIL mode of the source before normalising
    changes: list[str] = field(default_factory=list)  # human-readable, e.g. "CMYK -> RGB"
    verbatim: bool = False  # the source bytes are already a plain RGB JPEG/PNG and can be copied as-is

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size


def parse_color(value) -> tuple[int, int, int] | None:
    """'white', '#ff8800', '255,128,0' or an (r, g, b) tuple -> (r, g, b); None/'transparent'/'none' -> None."""
    if value is None:
        return None
    if isinstance(value, (tuple, list)):
        if len(value) < 3 or not all(isinstance(c, int) and 0 <= c <= 255 for c in value[:3]):
            raise ValueError(f"colour {value!r} must be three integers 0-255")
        return tuple(value[:3])
    s = str(value).strip()
    if s.lower() in ("", "none", "transparent"):
        return None
    if "," in s:
        return parse_color(tuple(int(p) for p in s.split(",")))
    try:
        rgb = ImageColor.getrgb(s)
    except ValueError:
        raise ValueError(f"unknown colour {value!r}: use a name (white), #rrggbb or r,g,b") from None
    return tuple(rgb[:3])


def _to_8bit(img: Image.Image) -> Image.Image:
    """16-bit/32-bit/float greyscale -> 'L' by scaling, not clipping (PIL's convert('L') clips at 255,
    which turns a 16-bit PNG almost white)."""
    import numpy as np

    a = np.asarray(img)
    if img.mode == "F":
        a = a * 255.0 if float(a.max(initial=0)) <= 1.0 else a
    elif img.mode.startswith("I;16") or float(a.max(initial=0)) > 255:
        a = a / 257.0  # 0..65535 -> 0..255
    return Image.fromarray(np.clip(np.rint(a), 0, 255).astype("uint8"), "L")


def _cmyk_to_rgb(img: Image.Image) -> Image.Image:
    """Use the embedded ICC profile when there is one (print CMYK differs a lot from naive maths)."""
    icc = img.info.get("icc_profile")
    if icc:
        try:
            from PIL import ImageCms

            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(img, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except Exception:  # broken or unsupported profile: fall back to PIL's formula
            pass
    return img.convert("RGB")


def to_rgb(img: Image.Image, background=WHITE) -> tuple[Image.Image, list[str]]:
    """Any PIL mode -> 8-bit RGB; transparency is flattened onto `background` (white by default)."""
    bg = parse_color(background) or WHITE
    mode, changes = img.mode, []
    if mode == "RGB" and "transparency" not in img.info:
        return img, changes
    if mode == "CMYK":
        return _cmyk_to_rgb(img), ["CMYK -> RGB"]
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        changes.append(f"{'16' if mode.startswith('I;16') else '32'}-bit -> 8-bit")
        img = _to_8bit(img)
    has_alpha = mode in ("RGBA", "LA", "La", "RGBa", "PA") or "transparency" in img.info
    if has_alpha:
        rgba = img.convert("RGBA")
        if rgba.getchannel("A").getextrema()[0] < 255:
            flat = Image.new("RGBA", rgba.size, bg + (255,))
            flat.alpha_composite(rgba)
            changes.append(f"transparency flattened onto rgb{bg}")
            return flat.convert("RGB"), changes
        img = rgba  # alpha channel present but fully opaque
    if img.mode != "RGB":
        if mode not in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
            changes.append(f"{mode} -> RGB")
        img = img.convert("RGB")
    return img, changes


def exif_orientation(img: Image.Image) -> int:
    try:
        return int(img.getexif().get(_EXIF_ORIENTATION, 1) or 1)
    except Exception:  # unreadable EXIF block: treat as upright
        return 1


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, background=WHITE) -> Decoded:
    """Check and normalise one image given as bytes; raises `ImageRejected` with the reason.

    The header is read first, so a file claiming huge dimensions is refused before any pixel is
    decoded; then the whole image is decoded (catching truncation) and normalised to RGB.
    """
    if not data:
        raise ImageRejected("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageRejected(f"decompression bomb: {e}") from None
    except Image.UnidentifiedImageError:
        raise ImageRejected("not an image (no known image format in the file's content)") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageRejected(f"corrupt image: {e}") from None
    fmt = img.format or "?"
    if fmt not in ALLOWED_FORMATS:
        raise ImageRejected(f"unsupported format {fmt}: convert it to PNG or JPEG")
    w, h = img.size
    if w * h > max_pixels:
        raise ImageRejected(f"decompression bomb: header claims {w}x{h} px ({w * h / 1e6:.0f} MP), "
                            f"above the limit of {max_pixels / 1e6:.0f} MP")
    n_frames = getattr(img, "n_frames", 1)
    try:
        img.seek(0)  # GIF/WebP/APNG/TIFF: the first frame
        img.load()
    except Exception as e:  # truncated or corrupt pixel data; PIL raises OSError/ValueError/SyntaxError...
        raise ImageRejected(f"corrupt or truncated image data: {e}") from None
    src_mode = img.mode
    changes = []
    if n_frames > 1:
        changes.append(f"first of {n_frames} frames")
    orientation = exif_orientation(img)
    if orientation != 1:
        img = ImageOps.exif_transpose(img)
        changes.append(f"EXIF orientation {orientation} applied")
    try:
        img, conv = to_rgb(img, background)
    except (ValueError, OSError) as e:  # exotic modes PIL cannot convert (e.g. LAB without a profile)
        raise ImageRejected(f"unsupported colour mode {src_mode}: {e}") from None
    changes += conv
    verbatim = fmt in ("JPEG", "PNG") and not changes
    return Decoded(img, fmt, src_mode, changes, verbatim)


def read_image(path: str | os.PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS, background=WHITE) -> Decoded:
    """`decode_image` for a file on disk (raises `ImageRejected`, also for unreadable files, FIFOs and devices)."""
    problem = file_problem(path)
    if problem:
        raise ImageRejected(problem)
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ImageRejected(f"cannot read file: {e.strerror or e}") from None
    return decode_image(data, max_pixels=max_pixels, background=background)


def image_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """Upright (EXIF-applied) size read from the header only; None when PIL cannot identify the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                w, h = img.size
                return (h, w) if exif_orientation(img) in (5, 6, 7, 8) else (w, h)
    except Exception:
        return None


def output_suffix(decoded: Decoded) -> str:
    """Keep JPEG sources as JPEG (no second lossy generation beyond q95); everything else as PNG."""
    return ".jpg" if decoded.format in ("JPEG", "MPO") else ".png"


def encode_image(img: Image.Image, suffix: str) -> bytes:
    buf = io.BytesIO()
    if suffix.lower() in (".jpg", ".jpeg"):
        img.convert("RGB").save(buf, "JPEG", quality=95, subsampling=0)
    else:
        img.save(buf, "PNG", optimize=False)
    return buf.getvalue()


# --- dataset folders (crop and background removal read and write them the same way) ---------------
CAPTION_EXTS = (CAPTION_EXT, ".caption")


def walk_images(root: str | os.PathLike) -> list[tuple[Path, Path]]:
    """(path, path relative to root) of every image under `root`, recursively, in a stable order.

    Hidden files/folders and folders starting with '_' (our own `_masks`) are skipped; symlinked
    folders are not followed, so a symlink loop cannot make this run forever. FIFOs and devices
    named like images are listed too: `read_image` refuses them with the reason the report shows.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"input folder {root} does not exist or is not a folder: check the path "
                           f"(run the previous step first)")
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if is_image(p):
                found.append((p, p.relative_to(root)))
    return found


def copy_captions(src_image: Path, dst_image: Path) -> list[Path]:
    """Copy caption sidecars (`.txt`, `.caption`) of `src_image` next to `dst_image` (same stem)."""
    copied = []
    for ext in CAPTION_EXTS:
        cap = src_image.with_suffix(ext)
        if cap.is_file():
            dst = dst_image.with_suffix(ext)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cap, dst)
            copied.append(dst)
    return copied


def prepare_output_dir(src: Path, out: Path, marker: str, overwrite: bool) -> None:
    """Refuse outputs that could touch the user's originals or someone else's folder.

    An existing `out` is replaced only when it is one of our own outputs (it holds `marker`,
    the step's report) or `overwrite` is set.
    """
    s, o = src.resolve(), out.resolve()
    if s == o or s in o.parents or o in s.parents:
        raise DatasetError(f"output folder {out} overlaps the input folder {src}: choose a new, separate folder "
                           f"(originals are never modified)")
    writable_folder(out)
    if o.is_dir() and any(o.iterdir()) and not (o / marker).is_file() and not overwrite:
        raise DatasetError(f"output folder {out} already exists and was not made by this step: choose a new "
                           f"folder or pass overwrite=True (--overwrite true) to replace it")
