"""collector.py: folders, zips, URL lists and Drive paths -> a normalised, deduplicated kohya dataset.

Every bad input of the issue is in here, each checked for its reason in the report; originals
must stay byte-identical and nothing may be written outside the dataset folder.
"""

import hashlib
import http.server
import io
import json
import os
import struct
import threading
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lora_nb.dataset import sources as sources_mod
from lora_nb.dataset.collector import CollectOptions, collect, safe_name
from lora_nb.dataset.duplicates import find_duplicates
from lora_nb.errors import ConfigError, DatasetError


def photo(w=320, h=256, seed=0, fmt="PNG", mode="RGB", **kw) -> bytes:
    """A 'photo' with structure (blocks of colour) so perceptual hashes differ between seeds."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize((w, h), Image.Resampling.NEAREST)
    if mode != "RGB":
        img = img.convert(mode)
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def huge_header_png(w=100_000, h=100_000) -> bytes:
    """A valid PNG header claiming w x h pixels with almost no data: a decompression bomb."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


def tree_digest(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


@pytest.fixture
def messy(tmp_path):
    """A source folder with every kind of bad input next to good ones."""
    src = tmp_path / "raw"
    (src / "nested" / "deeper").mkdir(parents=True)
    (src / "5_cat").mkdir()
    w = lambda rel, data: (src / rel).write_bytes(data)  # noqa: E731
    w("good.jpg", photo(seed=1, fmt="JPEG", quality=92))
    (src / "good.txt").write_text("a caption for good", encoding="utf-8")
    w("nested/deeper/猫咪 照片.png", photo(seed=2))
    w("5_cat/kitty.png", photo(seed=3))
    w("cmyk.jpg", photo(seed=4, fmt="JPEG", mode="CMYK"))
    w("rgba.png", photo(seed=5, mode="RGBA"))
    w("palette.gif", photo(seed=6, fmt="GIF", mode="P"))
    sixteen = (np.asarray(Image.open(io.BytesIO(photo(seed=7, mode="L"))), dtype=np.uint16) * 257)
    buf = io.BytesIO()
    Image.fromarray(sixteen).save(buf, "PNG")
    w("sixteen.png", buf.getvalue())
    rot = Image.open(io.BytesIO(photo(400, 300, seed=8)))
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    rot.save(buf, "JPEG", exif=exif.tobytes())
    w("rotated.jpg", buf.getvalue())
    # the bad ones
    jpg = photo(seed=9, fmt="JPEG")
    w("corrupt.jpg", jpg[:40] + b"\x00garbage" * 64)
    png = Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 300, 3), dtype=np.uint8))
    buf = io.BytesIO()
    png.save(buf, "PNG")
    w("truncated.png", buf.getvalue()[: len(buf.getvalue()) // 2])
    w("tiny.png", photo(1, 1))
    w("bomb.png", huge_header_png())
    w("text.jpg", b"this is a text file with a .jpg name\n")
    w("empty.png", b"")
    w("notes.md", b"# my notes\n")
    os.symlink(src, src / "nested" / "loop")  # a symlink loop back to the root
    os.symlink(src / "missing.png", src / "dangling.png")
    return src


EXPECTED_REASONS = {
    "corrupt.jpg": "corrupt|not an image",
    "truncated.png": "truncated",
    "tiny.png": "too small: 1x1",
    "bomb.png": "decompression bomb",
    "text.jpg": "not an image",
    "empty.png": "empty file",
    "notes.md": "not an image",
    "loop": "symlink loop",
    "dangling.png": "broken symlink",
}


def test_messy_folder(messy, tmp_path):
    before = tree_digest(messy)
    out = tmp_path / "dataset"
    rep = collect(messy, out, progress=False)
    assert tree_digest(messy) == before  # originals untouched
    rejected = {Path(r.source).name: r.reason for r in rep.rejected}
    import re

    for name, pattern in EXPECTED_REASONS.items():
        assert name in rejected, f"{name} missing from the report: {rejected}"
        assert re.search(pattern, rejected[name]), (name, rejected[name])
    assert len(rep.rejected) == len(EXPECTED_REASONS)
    by_src = {Path(i.source).name: i for i in rep.imported}
    assert set(by_src) == {"good.jpg", "猫咪 照片.png", "kitty.png", "cmyk.jpg", "rgba.png", "palette.gif",
                           "sixteen.png", "rotated.jpg"}
    # every output is plain RGB and readable; orientation applied
    for item in rep.imported:
        img = Image.open(out / item.output)
        assert img.mode == "RGB" and img.size == tuple(item.size)
    assert by_src["rotated.jpg"].size == (300, 400) and any("EXIF" in c for c in by_src["rotated.jpg"].changes)
    assert any("CMYK" in c for c in by_src["cmyk.jpg"].changes)
    assert any("16-bit" in c for c in by_src["sixteen.png"].changes)
    assert by_src["good.jpg"].changes == []  # a plain RGB JPEG is copied byte for byte
    assert (out / by_src["good.jpg"].output).read_bytes() == (messy / "good.jpg").read_bytes()
    # concept folders: the source's kohya folder kept, the rest named after the source
    assert by_src["kitty.png"].output == "5_cat/kitty.png"
    assert by_src["good.jpg"].output == "1_raw/good.jpg"
    assert by_src["猫咪 照片.png"].output == "1_raw/猫咪_照片.png"  # unicode kept, space made safe
    assert (out / "1_raw" / "good.txt").read_text(encoding="utf-8").strip() == "a caption for good"
    # manifest maps each output to its source
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert set(man["images"]) == {i.output for i in rep.imported}
    assert man["images"]["5_cat/kitty.png"]["source"] == str(messy / "5_cat" / "kitty.png")
    assert {r["reason"] for r in man["runs"][-1]["rejected"]} == {r.reason for r in rep.rejected}
    assert "rejected 9" in rep.summary()


def test_zip_refuses_unsafe_entries(tmp_path):
    zpath = tmp_path / "upload" / "photos.zip"
    zpath.parent.mkdir()
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("10_dog/a.png", photo(seed=1))
        zf.writestr("10_dog/a.txt", "dog caption")
        zf.writestr("loose/b.jpg", photo(seed=2, fmt="JPEG"))
        zf.writestr("../evil.png", photo(seed=3))
        zf.writestr("/abs/evil2.png", photo(seed=4))
        zf.writestr("x/../../evil3.png", photo(seed=5))
        zf.writestr("__MACOSX/._a.png", b"\x00\x05")
        zf.writestr("empty.png", b"")
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    out = tmp_path / "work" / "dataset"
    rep = collect(zpath, out, progress=False)
    after = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    new = [p for p in after if p not in before]
    assert all(p.startswith("work") for p in new), new  # nothing outside the dataset folder
    assert not any("evil" in p for p in after)
    reasons = {r.source.split("!")[1]: r.reason for r in rep.rejected}
    for name in ("../evil.png", "/abs/evil2.png", "x/../../evil3.png"):
        assert "unsafe path" in reasons[name]
    assert "macOS" in reasons["__MACOSX/._a.png"] and "empty" in reasons["empty.png"]
    outs = {i.output for i in rep.imported}
    assert outs == {"10_dog/a.png", "1_photos/b.jpg"}
    assert (out / "10_dog" / "a.txt").read_text(encoding="utf-8").strip() == "dog caption"
    assert rep.imported[0].source == f"{zpath}!10_dog/a.png"


def test_source_that_is_a_concept_folder_keeps_it(tmp_path):
    src = tmp_path / "20_zigzag_star"
    src.mkdir()
    (src / "a.png").write_bytes(photo(seed=51))
    (src / "a.txt").write_text("This image is labeled as donpzishnk.", encoding="utf-8")
    rep = collect(src, tmp_path / "ds", progress=False)
    assert [i.output for i in rep.imported] == ["20_zigzag_star/a.png"] and rep.imported[0].caption
    zpath = tmp_path / "3_dog.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("b.png", photo(seed=52))
    assert [i.output for i in collect(zpath, tmp_path / "ds", progress=False).imported] == ["3_dog/b.png"]


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict = {}

    def do_GET(self):  # noqa: N802
        status, ctype, body, delay = self.routes.get(self.path, (404, "text/plain", b"nope", 0))
        if status != 200:
            self.send_error(status)
            return
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if delay:
            self.wfile.write(body[:10])
            self.wfile.flush()
            time.sleep(delay)
        try:
            self.wfile.write(body[10:] if delay else body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *a):
        pass


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(var, raising=False)
    _Handler.routes = {
        "/cat%201.png": (200, "image/png", photo(seed=11), 0),
        "/dl": (200, "application/octet-stream", photo(seed=12, fmt="JPEG"), 0),
        "/page.html": (200, "text/html; charset=utf-8", b"<html>login</html>", 0),
        "/big.png": (200, "image/png", photo(2000, 2000, seed=13, fmt="BMP"), 0),
        "/slow.png": (200, "image/png", photo(seed=14), 3),
    }
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_url_list(server, tmp_path):
    lst = tmp_path / "urls.txt"
    lst.write_text("\n".join([
        "# my picks", f"{server}/cat%201.png", f"{server}/dl", f"{server}/page.html", f"{server}/missing.png",
        f"{server}/big.png", f"{server}/slow.png", "ftp://example.invalid/x.png", "",
    ]), encoding="utf-8")
    rep = collect(lst, tmp_path / "ds", concept="web", repeats=3, max_mb=1, timeout=1.0, progress=True)
    assert sorted(i.output for i in rep.imported) == ["3_web/cat_1.png", "3_web/dl.jpg"]
    reasons = {r.source: r.reason for r in rep.rejected}
    assert "content-type text/html" in reasons[f"{server}/page.html"]
    assert "HTTP 404" in reasons[f"{server}/missing.png"]
    assert "too large" in reasons[f"{server}/big.png"]
    assert "timed out" in reasons[f"{server}/slow.png"]
    assert "not an http(s) URL" in reasons[f"{lst}:8"]
    # a single URL works as SOURCE too
    rep2 = collect(f"{server}/cat%201.png", tmp_path / "ds2", progress=False, min_side=64)
    assert [i.source for i in rep2.imported] == [f"{server}/cat%201.png"]


def test_duplicates_report_and_remove_keeps_larger(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    big = Image.open(io.BytesIO(photo(640, 512, seed=21)))
    big.save(src / "big.png")
    big.resize((320, 256)).save(src / "small_copy.jpg", quality=85)
    (src / "other.png").write_bytes(photo(seed=22))
    rep = collect(src, tmp_path / "a", progress=False)
    assert len(rep.duplicates) == 1 and not rep.removed
    g = rep.duplicates[0]
    assert g.kept == "1_src/big.png" and [d[0] for d in g.duplicates] == ["1_src/small_copy.jpg"]
    rep = collect(src, tmp_path / "b", dedupe="remove", progress=False)
    assert rep.removed == ["1_src/small_copy.jpg"]
    assert not (tmp_path / "b" / "1_src" / "small_copy.jpg").exists()
    assert (tmp_path / "b" / "1_src" / "big.png").exists()
    man = json.loads((tmp_path / "b" / "manifest.json").read_text(encoding="utf-8"))
    assert "1_src/small_copy.jpg" not in man["images"]
    # a second run into the same dataset sees the images already there
    more = tmp_path / "more"
    more.mkdir()
    big.resize((480, 384)).save(more / "again.png")
    rep = collect(more, tmp_path / "b", concept="src", dedupe="remove", progress=False)
    assert rep.removed == ["1_src/again.png"] and rep.duplicates[0].kept == "1_src/big.png"
    assert find_duplicates({"a": "ffff000000000000", "b": "ffff000000000001", "c": "0000ffffffffffff"}, 4) == [
        [("a", 0), ("b", 1)]]


def test_concepts_repeats_and_validation(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.png").write_bytes(photo(seed=31))
    out = tmp_path / "ds"
    rep = collect(src, out, concept="uehxbfklaq cat", repeats=10, progress=False)
    assert rep.imported[0].output == "10_uehxbfklaq cat/a.png" and rep.concept_folders == ["10_uehxbfklaq cat"]
    (src / "b.png").write_bytes(photo(seed=32))
    (src / "b.txt").write_text("bee caption", encoding="utf-8")
    with pytest.raises(DatasetError, match="already exists as 10_uehxbfklaq cat"):
        collect(src, out, concept="uehxbfklaq cat", repeats=5, progress=False)
    rep = collect(src / "b.png", out, concept="uehxbfklaq cat", progress=False)  # repeats: the folder's
    assert rep.imported[0].output == "10_uehxbfklaq cat/b.png" and rep.imported[0].caption
    assert (out / "10_uehxbfklaq cat" / "b.txt").read_text(encoding="utf-8").strip() == "bee caption"
    rep = collect(src / "a.png", out, concept="uehxbfklaq cat", dedupe="off", progress=False)
    assert rep.imported[0].output == "10_uehxbfklaq cat/a_2.png"  # never overwrites
    for bad in ("../up", "a/b", ".hidden"):
        with pytest.raises(ConfigError, match="cannot be a folder name"):
            collect(src, out, concept=bad, progress=False)
    with pytest.raises(ConfigError, match="cannot be a folder name"):  # as text (keyword, flag, form) '' is None
        collect(src, out, CollectOptions(concept=""), progress=False)
    with pytest.raises(ConfigError, match="repeats"):
        collect(src, out, repeats=0, progress=False)
    with pytest.raises(ConfigError, match="dedupe"):
        collect(src, out, dedupe="maybe", progress=False)
    with pytest.raises(DatasetError, match="not found"):
        collect(tmp_path / "nope", out, progress=False)
    with pytest.raises(DatasetError, match="inside the source"):
        collect(src, src / "dataset", progress=False)
    assert safe_name("CON") == "CON_" and safe_name("...") == "image" and safe_name("a b.c") == "a_b_c"


def test_drive_paths(tmp_path, monkeypatch):
    drive = tmp_path / "content" / "drive"
    monkeypatch.setattr(sources_mod, "DRIVE_ROOT", drive)
    monkeypatch.setattr("lora_nb.env.in_colab", lambda: True)
    with pytest.raises(DatasetError, match=r"not mounted: run `from google.colab import drive"):
        collect(f"{drive}/MyDrive/photos", tmp_path / "ds", progress=False)
    monkeypatch.setattr("lora_nb.env.in_colab", lambda: False)
    with pytest.raises(DatasetError, match="works only in Colab"):
        collect("MyDrive/photos", tmp_path / "ds", progress=False)
    (drive / "MyDrive" / "photos").mkdir(parents=True)
    (drive / "MyDrive" / "photos" / "p.png").write_bytes(photo(seed=41))
    for spec in (f"{drive}/MyDrive/photos", "MyDrive/photos", "drive/MyDrive/photos"):
        rep = collect(spec, tmp_path / f"ds{len(spec)}", progress=False)
        assert [i.output for i in rep.imported] == ["1_photos/p.png"]


def test_cli_collect(messy, tmp_path, capsys):
    from lora_nb.cli import main

    out = tmp_path / "ds"
    grid = tmp_path / "audit.png"
    assert main(["collect", str(messy), "--out", str(out), "--concept", "cat", "--repeats", "4", "--quiet",
                 "--audit-grid", str(grid), "--resolution", "256"]) == 0
    text = capsys.readouterr().out
    assert "Collected 8 images" in text and "rejected" in text and "4_cat: 8 images x 4 repeats = 32" in text
    assert Image.open(grid).size[0] > 100
    assert main(["collect", str(tmp_path / "missing"), "--out", str(out), "--quiet"]) == 2
    assert "error: source" in capsys.readouterr().err


# --- the settings: one CollectOptions read by the function, the CLI flags and notebook 01's form -------
def test_collect_options_defaults_bounds_and_choices():
    import re

    from lora_nb.dataset.duplicates import HASH_DISTANCE
    from lora_nb.images import DEFAULT_MAX_PIXELS

    o = CollectOptions()
    assert (o.concept, o.repeats, o.min_side, o.max_mb, o.timeout, o.background, o.dedupe) == (
        None, None, 256, 50.0, 30.0, "white", "report")
    assert o.hash_distance == HASH_DISTANCE and o.max_pixels == DEFAULT_MAX_PIXELS  # read from their modules
    refusals = {
        "repeats: 0 is below the minimum 1": dict(repeats=0),
        "min_side: 0 is below the minimum 1": dict(min_side=0),
        "hash_distance: 257 is above the maximum 256": dict(hash_distance=257),
        "dedupe: 'remov' is not one of report, remove, off (did you mean 'remove'?)": dict(dedupe="remov"),
        "background: unknown colour 'blurple'": dict(background="blurple"),
        "concept: 'a/b' cannot be a folder name": dict(concept="a/b"),
        "max_mb: expected float, got str '5'": dict(max_mb="5"),
    }
    for msg, bad in refusals.items():
        with pytest.raises(ConfigError, match=re.escape(msg)):
            CollectOptions(**bad)
    # text (a flag, a form box) is converted; an empty concept or repeats means "decide for me"
    t = CollectOptions.from_dict({"concept": "", "repeats": "", "min_side": "512", "max_mb": "5"})
    assert (t.concept, t.repeats, t.min_side, t.max_mb) == (None, None, 512, 5.0)


def test_collect_honours_options_and_keyword_overrides(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.png").write_bytes(photo(320, 256, seed=61))
    opts = CollectOptions(concept="toy", repeats=2, min_side=300)
    rep = collect(src, tmp_path / "a", opts, progress=False)
    assert not rep.imported and "shorter side below min_side=300" in rep.rejected[0].reason
    rep = collect(src, tmp_path / "b", opts, min_side=200, progress=False)  # keyword on top of the options
    assert [i.output for i in rep.imported] == ["2_toy/a.png"] and opts.min_side == 300  # opts unchanged
    rep = collect(src, tmp_path / "c", min_side="200", concept="", progress=False)  # text, as a form gives it
    assert [i.output for i in rep.imported] == ["1_src/a.png"]
    with pytest.raises(ConfigError, match=r"collect: unknown field 'min_sise' \(did you mean 'min_side'\?\)"):
        collect(src, tmp_path / "d", min_sise=64, progress=False)
    with pytest.raises(ConfigError, match="expected CollectOptions, got dict"):
        collect(src, tmp_path / "d", {"min_side": 64}, progress=False)


def test_cli_collect_flags_come_from_the_options(messy, tmp_path, capsys):
    import dataclasses

    from lora_nb.cli import build_parser, main

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["collect"]
    flags = {a.option_strings[0]: a for a in sub._actions if a.option_strings}
    for info in CollectOptions.field_info():
        flag = flags[f"--{info['name'].replace('_', '-')}"]
        assert flag.help.startswith(info["help"]) and f"(default: {info['default']!r})" in flag.help
    assert "[report|remove|off]" in flags["--dedupe"].help
    assert len(dataclasses.fields(CollectOptions)) == 9
    out = tmp_path / "ds"
    assert main(["collect", str(messy), "--out", str(out), "--min-side", "300", "--concept", "cat", "--repeats", "4",
                 "--dedupe", "off", "--no-audit", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "Collected 1 images" in text and "shorter side below min_side=300" in text
    assert sorted(p.name for p in (out / "4_cat").iterdir()) == ["rotated.jpg"]  # 300x400: the only one >= 300
    assert main(["collect", str(messy), "--out", str(out), "--dedupe", "remov", "--quiet"]) == 2
    assert "did you mean 'remove'?" in capsys.readouterr().err


def test_notebook_form_shows_the_collect_options():
    from lora_nb.notebook.form import options_form

    form = options_form(CollectOptions(repeats=10, min_side=128))
    assert list(form.widgets) == [info["name"] for info in CollectOptions.field_info()]
    assert form.widgets["repeats"].value == "10" and form.widgets["min_side"].value == 128  # empty box: None
    assert form.widgets["dedupe"].options == ("report", "remove", "off")
    form.widgets["dedupe"].value = "remove"
    form.widgets["concept"].value = "uehxbfklaq cat"
    assert form.options == CollectOptions(concept="uehxbfklaq cat", repeats=10, min_side=128, dedupe="remove")
    form.widgets["concept"].value = "../up"
    assert not form.valid and "cannot be a folder name" in form.problems[0]
    # notebook 01 shows this form and collects with what it holds
    nb = json.loads((Path(__file__).parent.parent / "notebooks" / "01_collect.ipynb").read_text(encoding="utf-8"))
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert any("ui.options_form(CollectOptions(" in c for c in code)
    assert any("collect(" in c and "form.options" in c for c in code)
