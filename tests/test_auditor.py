"""auditor.py on the committed sample data and on crafted datasets: the tutorials' balance/size/concept
rules, per-image notes, and the renderings. Also: the sample data is what make_sample.py draws."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lora_nb.dataset.auditor import audit, plot_balance, render_audit
from lora_nb.errors import ConfigError, DatasetError
from lora_nb.toy.testing import make_toy_dataset

SAMPLE = Path(__file__).resolve().parents[1] / "datasets_sample"


def codes(a):
    return [w.code for w in a.warnings]


def test_sample_dataset_is_ready_and_triggers_balance_warning():
    a = audit(SAMPLE, "object", resolution=128)
    by = {c.folder: c for c in a.concepts}
    star, ring = by["20_zigzag_star"], by["20_dotted_ring"]
    assert (star.images, star.repeats, star.effective, star.captions) == (20, 20, 400, 20)
    assert (ring.images, ring.effective) == (4, 80)
    assert star.share == pytest.approx(400 / 480) and ring.share == pytest.approx(80 / 480)
    assert codes(a) == ["imbalance", "too_few_images", "few_images"]  # no duplicates, captions complete
    imb = a.warnings[0].message
    assert "flux lora guide" in imb.lower() and "separate LoRAs" in imb and "20_dotted_ring -> 100_dotted_ring" in imb
    assert a.suggested_repeats() == {"zigzag_star": 20, "dotted_ring": 100}
    assert all(n.problems == [] and n.size == (128, 128) for n in a.images)
    # captions start with the concept's unique 10-letter identifier (Flux LoRA guide)
    for folder, ident in (("20_zigzag_star", "donpzishnk"), ("20_dotted_ring", "gnrmclnjsq")):
        for cap in (SAMPLE / folder).glob("*.txt"):
            assert cap.read_text(encoding="utf-8").startswith(f"This image is labeled as {ident}. ")
    for img in SAMPLE.glob("*/*.png"):
        assert Image.open(img).mode == "RGB"
    assert "CC0" in (SAMPLE / "LICENSE").read_text(encoding="utf-8")
    single = audit(SAMPLE / "20_zigzag_star", "object", resolution=128)
    assert codes(single) == ["few_images"]


def test_make_sample_is_deterministic_and_matches_committed_files(tmp_path):
    spec = importlib.util.spec_from_file_location("make_sample", SAMPLE / "make_sample.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    written = mod.make(tmp_path)
    # the two concept folders (48 files), the raw set (46: 3 pictures without a caption, 1 broken) and the ids
    assert len(written) == 95
    committed_files = {p.relative_to(SAMPLE) for p in SAMPLE.rglob("*") if p.is_file()} - {
        Path(n) for n in ("README.md", "LICENSE", "make_sample.py")}
    assert {p.relative_to(tmp_path) for p in written} == committed_files
    for p in written:
        committed = SAMPLE / p.relative_to(tmp_path)
        if p.suffix in (".txt", ".json"):
            assert p.read_text(encoding="utf-8") == committed.read_text(encoding="utf-8")
        elif p.name == mod.RAW_BROKEN and p.parent.parent.name == mod.RAW:  # truncated: no pixels to compare
            for f in (p, committed):
                with pytest.raises(OSError, match="truncated"):
                    Image.open(f).load()
        else:  # same drawing; PNG bytes could differ only with another zlib
            assert np.array_equal(np.asarray(Image.open(p)), np.asarray(Image.open(committed))), p.name
    assert sum(p.stat().st_size for p in written) < 600_000


def test_too_many_concepts_and_style_size_advice(tmp_path):
    root = make_toy_dataset(tmp_path / "d", {f"c{i}": (1, 12) for i in range(4)}, size=(64, 64))
    a = audit(root, "style", resolution=64, check_duplicates=False)
    assert "too_many_concepts" in codes(a) and "imbalance" not in codes(a)
    few = [w.message for w in a.warnings if w.code == "few_images"]
    assert len(few) == 4 and "50+ for a style" in few[0]
    a = audit(root, {"c0": "person", "c1": "style", "c2": "object", "c3": "scene"}, resolution=64,
              check_duplicates=False)
    assert {c.name: c.kind for c in a.concepts}["c1"] == "style"
    with pytest.raises(ConfigError, match="kind"):
        audit(root, "landscape")


def test_per_image_notes_and_warnings(tmp_path):
    root = tmp_path / "ds" / "3_thing"
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)).resize((256, 256)).save(root / f"{i}.png")
        (root / f"{i}.txt").write_text(f"thing {i}", encoding="utf-8")
    Image.open(root / "0.png").resize((200, 200)).save(root / "copy.jpg", quality=90)  # near-duplicate, small
    Image.new("RGB", (900, 256), "gray").save(root / "wide.png")
    (root / "empty.txt").write_text("  ")
    Image.new("RGB", (300, 300)).save(root / "empty.png")
    (root / "broken.png").write_bytes(b"not really a png")
    Image.new("CMYK", (300, 300)).save(root / "cmyk.jpg")
    a = audit(tmp_path / "ds", "object", resolution=256)
    notes = {n.path.name: n.problems for n in a.images}
    assert any(p.startswith("near-duplicate of 3_thing/0.png") for p in notes["copy.jpg"])
    assert ("no caption" in notes["copy.jpg"]
            and any(p.startswith("small: shorter side 200") for p in notes["copy.jpg"]))
    assert any(p.startswith("aspect 3.5:1") for p in notes["wide.png"])
    assert "empty caption" in notes["empty.png"]
    assert notes["broken.png"][0].startswith("unreadable: not an image")
    assert any("CMYK -> RGB" in p for p in notes["cmyk.jpg"])
    assert notes["1.png"] == []
    assert {"duplicates", "missing_captions", "small_images", "unreadable", "too_few_images"} <= set(codes(a))
    d = a.to_dict()
    assert d["concepts"][0]["folder"] == "3_thing" and "thumb" not in d["images"][0]


def test_renderings(tmp_path):
    root = make_toy_dataset(tmp_path / "d", {"big": (2, 5), "small": (1, 2)}, size=(64, 48))
    (root / "1_small" / "000.txt").unlink()
    a = audit(root, "object", resolution=64)
    grid = render_audit(a, tile_size=64, cols=4)
    assert isinstance(grid, Image.Image) and grid.width == 4 * 70 + 6
    arr = np.asarray(grid)
    assert (arr == (200, 0, 0)).all(axis=-1).sum() > 5  # red problem notes ("no caption")
    fig = plot_balance(a)
    ax = fig.axes[0]
    assert [round(p.get_height()) for p in ax.patches] == [2, 10]  # 1_small: 2x1, 2_big: 5x2
    assert render_audit(a, max_images=2).height < grid.height + 200


def test_errors_for_missing_or_empty_dataset(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        audit(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images"):
        audit(tmp_path / "empty")
