"""images.py: decoding/normalising every odd input to RGB, rejecting the unusable, grids, folder helpers."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from lora_nb.errors import DatasetError, LoraNbError
from lora_nb.images import (
    ImageRejected,
    copy_captions,
    decode_image,
    encode_image,
    image_size,
    parse_color,
    prepare_output_dir,
    read_image,
    to_rgb,
    walk_images,
)


def _bytes(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def huge_header_png(w=100_000, h=100_000) -> bytes:
    """A valid PNG header claiming w x h pixels with almost no data: a decompression bomb."""
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + _png_chunk(b"IDAT", zlib.compress(b"\0" * 16)) + _png_chunk(b"IEND", b""))


def test_parse_color():
    assert parse_color("white") == (255, 255, 255)
    assert parse_color("#ff8000") == (255, 128, 0)
    assert parse_color("10, 20,30") == (10, 20, 30)
    assert parse_color((1, 2, 3)) == (1, 2, 3)
    assert parse_color(None) is None and parse_color("transparent") is None
    with pytest.raises(ValueError, match="unknown colour"):
        parse_color("notacolour")
    with pytest.raises(ValueError):
        parse_color((300, 0, 0))


def test_plain_rgb_jpeg_and_png_are_copied_verbatim():
    for fmt in ("JPEG", "PNG"):
        d = decode_image(_bytes(Image.new("RGB", (40, 30), (10, 200, 30)), fmt))
        assert d.verbatim and d.changes == [] and d.image.mode == "RGB" and d.size == (40, 30) and d.format == fmt


def test_rgba_flattened_onto_chosen_colour():
    img = Image.new("RGBA", (20, 20), (255, 0, 0, 0))
    img.putpixel((5, 5), (0, 0, 255, 255))
    d = decode_image(_bytes(img, "PNG"))
    assert d.image.mode == "RGB" and not d.verbatim
    assert d.image.getpixel((0, 0)) == (255, 255, 255)  # transparent -> white by default
    assert d.image.getpixel((5, 5)) == (0, 0, 255)
    assert any("flattened" in c for c in d.changes)
    d2 = decode_image(_bytes(img, "PNG"), background=(0, 128, 0))
    assert d2.image.getpixel((0, 0)) == (0, 128, 0)


def test_opaque_alpha_and_greyscale_modes():
    d = decode_image(_bytes(Image.new("RGBA", (8, 8), (1, 2, 3, 255)), "PNG"))
    assert d.image.getpixel((0, 0)) == (1, 2, 3) and not any("flattened" in c for c in d.changes)
    for mode, value in (("L", 77), ("1", 1), ("LA", (77, 255))):
        d = decode_image(_bytes(Image.new(mode, (8, 8), value), "PNG"))
        assert d.image.mode == "RGB"
    assert decode_image(_bytes(Image.new("L", (8, 8), 77), "PNG")).image.getpixel((0, 0)) == (77, 77, 77)


def test_palette_with_and_without_transparency():
    p = Image.new("P", (10, 10), 1)
    p.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    d = decode_image(_bytes(p, "PNG"))
    assert d.image.getpixel((0, 0)) == (200, 10, 10) and "P -> RGB" in d.changes
    p.info["transparency"] = 1
    d = decode_image(_bytes(p, "PNG", transparency=1), background="black")
    assert d.image.getpixel((0, 0)) == (0, 0, 0)


def test_cmyk_jpeg_becomes_rgb():
    d = decode_image(_bytes(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", quality=95))
    assert d.image.mode == "RGB" and "CMYK -> RGB" in d.changes
    r, g, b = d.image.getpixel((8, 8))
    assert r > 200 and g < 60 and b < 60  # pure red, not an inverted or black mess


def test_16bit_png_is_scaled_not_clipped():
    a = np.full((8, 8), 32768, np.uint16)
    a[0, 0] = 65535
    d = decode_image(_bytes(Image.fromarray(a), "PNG"))
    assert d.image.mode == "RGB" and "16-bit -> 8-bit" in d.changes
    assert d.image.getpixel((4, 4))[0] in (127, 128)  # PIL's convert('L') would give 255
    assert d.image.getpixel((0, 0))[0] == 255


def test_exif_orientation_applied():
    img = Image.new("RGB", (40, 20), (0, 0, 0))
    img.paste((255, 0, 0), (0, 0, 10, 20))  # red band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: viewers turn it 90 degrees clockwise
    d = decode_image(_bytes(img, "JPEG", exif=exif.tobytes(), quality=95))
    assert d.size == (20, 40) and "EXIF orientation 6 applied" in d.changes and not d.verbatim
    assert d.image.getpixel((10, 3))[0] > 200  # the left band is now on top


def test_gif_first_frame_and_other_formats():
    frames = [Image.new("P", (12, 12), i) for i in range(3)]
    for f in frames:
        f.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    d = decode_image(buf.getvalue())
    assert d.format == "GIF" and "first of 3 frames" in d.changes and d.image.getpixel((0, 0)) == (0, 0, 0)
    for fmt in ("BMP", "TIFF", "WEBP"):
        extra = {"lossless": True} if fmt == "WEBP" else {}
        d = decode_image(_bytes(Image.new("RGB", (9, 9), (0, 0, 250)), fmt, **extra))
        assert d.format == fmt and d.image.getpixel((1, 1)) == (0, 0, 250) and not d.verbatim


@pytest.mark.parametrize("data,reason", [
    (b"", "empty file"),
    (b"just some text, not an image at all", "not an image"),
    (huge_header_png(), "decompression bomb"),
    (huge_header_png(12_000, 12_000), "decompression bomb"),  # below PIL's hard limit: our own check
])
def test_rejections(data, reason):
    with pytest.raises(ImageRejected, match=reason):
        decode_image(data)


def test_truncated_and_corrupt_files_rejected():
    noisy = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    png = _bytes(noisy, "PNG")
    with pytest.raises(ImageRejected, match="truncated"):
        decode_image(png[: len(png) // 2])
    jpg = _bytes(noisy, "JPEG")
    with pytest.raises(ImageRejected, match="corrupt|truncated|not an image"):
        decode_image(jpg[:40] + b"\x00garbage" * 50)
    with pytest.raises(ImageRejected, match="corrupt|truncated"):
        decode_image(jpg[: len(jpg) // 2])


def test_unsupported_format_and_custom_pixel_limit():
    with pytest.raises(ImageRejected, match="unsupported format ICO"):
        decode_image(_bytes(Image.new("RGB", (16, 16)), "ICO"))
    with pytest.raises(ImageRejected, match="decompression bomb"):
        decode_image(_bytes(Image.new("RGB", (100, 100)), "PNG"), max_pixels=5000)


def test_read_image_and_size(tmp_path):
    p = tmp_path / "a.png"
    p.write_bytes(_bytes(Image.new("RGB", (30, 10)), "PNG"))
    assert read_image(p).size == (30, 10) and image_size(p) == (30, 10)
    with pytest.raises(ImageRejected, match="file not found"):  # checked before opening (fscheck.file_problem)
        read_image(tmp_path / "missing.png")
    (tmp_path / "t.png").write_text("x")
    assert image_size(tmp_path / "t.png") is None


def test_to_rgb_passthrough_and_encode_roundtrip():
    img = Image.new("RGB", (5, 5), (1, 2, 3))
    out, changes = to_rgb(img)
    assert out is img and changes == []
    assert Image.open(io.BytesIO(encode_image(img, ".png"))).getpixel((0, 0)) == (1, 2, 3)
    assert Image.open(io.BytesIO(encode_image(img, ".jpg"))).format == "JPEG"


def test_walk_images_and_captions(tmp_path):
    (tmp_path / "10_cat" / "sub").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "_masks").mkdir()
    for rel in ("10_cat/a.png", "10_cat/sub/b.jpg", ".hidden/c.png", "_masks/d.png", "top.webp"):
        (tmp_path / rel).write_bytes(b"x")
    (tmp_path / "10_cat" / "a.txt").write_text("cap a", encoding="utf-8")
    (tmp_path / "10_cat" / "notes.md").write_text("no")
    rels = [r.as_posix() for _, r in walk_images(tmp_path)]
    assert rels == ["top.webp", "10_cat/a.png", "10_cat/sub/b.jpg"]
    copied = copy_captions(tmp_path / "10_cat" / "a.png", tmp_path / "out" / "x" / "a.jpg")
    assert copied and (tmp_path / "out" / "x" / "a.txt").read_text(encoding="utf-8") == "cap a"
    with pytest.raises(DatasetError, match="does not exist"):
        walk_images(tmp_path / "nope")


def test_prepare_output_dir_protects_inputs(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for bad in (src, src / "inner", tmp_path):
        with pytest.raises(DatasetError, match="overlaps"):
            prepare_output_dir(src, bad, "r.json", overwrite=True)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(DatasetError, match="not made by this step"):
        prepare_output_dir(src, foreign, "r.json", overwrite=False)
    prepare_output_dir(src, foreign, "r.json", overwrite=True)
    (foreign / "keep.txt").unlink()
    (foreign / "r.json").write_text("{}")
    prepare_output_dir(src, foreign, "r.json", overwrite=False)  # our own earlier output: fine
    (tmp_path / "file").write_text("x")
    with pytest.raises(LoraNbError, match="is a file"):  # fscheck.writable_folder's StorageError
        prepare_output_dir(src, tmp_path / "file", "r.json", overwrite=True)
