"""The sample's raw set (datasets_sample/raw) gives every dataset step something to do, and after
collect -> crop -> caption -> clean it is as good a training set as the clean 20_zigzag_star/.

The flow runs once per module with the settings the notebooks use in smoke mode (focus crop by saliency
at the tiny model's 64 px, the toy captioner, 04's default BLACKLIST and dedupe, the sample's ids)."""

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lora_nb.dataset.auditor import audit
from lora_nb.dataset.caption import caption_folder
from lora_nb.dataset.clean import CleanOptions, clean_folder
from lora_nb.dataset.collector import collect
from lora_nb.dataset.crop import crop_folder, crop_image
from lora_nb.dataset.tag_rules import split_tags, tag_key
from lora_nb.notebook.modes import mode_captioner, mode_sources, sample_audit_note, sample_clean_settings
from lora_nb.notebook.project import SAMPLE_RAW, sample_dataset_dir, sample_sources
from lora_nb.toy.captioner import ToyCaptioner, describe
from lora_nb.toy.demo import SAMPLE_CONCEPT
from lora_nb.toy.detect import star_masks, star_score

SAMPLE = sample_dataset_dir()
RAW = SAMPLE / SAMPLE_RAW
STAR_ID = "donpzishnk"
BLACKLIST = ["watermark", "signature", "text"]  # notebook 04's default
SIDE = 64  # the tiny model's resolution: what 02 crops to in smoke mode and the CPU course
SAMPLE_CAPTION = re.compile(r"^This image is labeled as (\w{10})\. a toy (star|ring), (small|mid-size|large), "
                            r"(center|top|bottom|left|right|top left|top right|bottom left|bottom right), "
                            r"[a-z ]+ background$")


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _make_sample():
    return _load(SAMPLE / "make_sample.py")


# --- the raw set as it lies in the repository ----------------------------------------------------
def test_the_raw_set_has_mixed_aspects_missing_and_faulty_captions_and_a_broken_file():
    ms = _make_sample()
    star = RAW / SAMPLE_CONCEPT
    pngs = sorted(star.glob("*.png"))
    good = [p for p in pngs if p.name != ms.RAW_BROKEN]
    assert len(good) == 20 and len(pngs) == 21
    sizes = [Image.open(p).size for p in good]
    assert len(set(sizes)) >= 4 and min(min(s) for s in sizes) == 128  # the clean picture, widened
    assert {w > h for w, h in sizes if w != h} == {True, False}  # wide and tall
    assert sum(w == h for w, h in sizes) == 5  # large toys fill their picture: no background to mirror out
    uncaptioned = sorted(p.name for p in good if not p.with_suffix(".txt").exists())
    assert uncaptioned == ["star_04.png", "star_10.png", "star_16.png"]
    caps = {p.name: p.with_suffix(".txt").read_text(encoding="utf-8").strip() for p in good
            if p.with_suffix(".txt").exists()}
    assert sum("watermark" in c for c in caps.values()) == 2
    assert sum(not c.startswith(f"This image is labeled as {STAR_ID}.") for c in caps.values()) == 2
    duplicated = [n for n, c in caps.items() if len(split_tags(c)) != len({tag_key(t) for t in split_tags(c)})]
    assert duplicated == ["star_02.png", "star_13.png"]
    with pytest.raises(OSError, match="truncated"):
        Image.open(star / ms.RAW_BROKEN).load()
    total = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    assert total < 1_000_000, total


def test_smoke_and_course_mode_collect_the_raw_set_the_real_course_the_clean_one(monkeypatch):
    monkeypatch.delenv("LORA_NB_COURSE", raising=False)
    monkeypatch.delenv("LORA_NB_SMOKE", raising=False)
    assert mode_sources() == sample_sources() == [str(SAMPLE / "20_dotted_ring"), str(SAMPLE / SAMPLE_CONCEPT)]
    assert mode_captioner() is None  # the form's captioning model
    monkeypatch.setenv("LORA_NB_SMOKE", "1")
    assert mode_sources() == [str(RAW / "20_dotted_ring"), str(RAW / SAMPLE_CONCEPT)]
    assert isinstance(mode_captioner(), ToyCaptioner)
    monkeypatch.setenv("LORA_NB_COURSE", "cpu")
    assert mode_sources() == [str(RAW / SAMPLE_CONCEPT)]
    assert isinstance(mode_captioner(), ToyCaptioner)


def test_the_focus_crop_cuts_every_widened_picture_back_to_the_clean_one():
    """bench/focus_crop.py's measure: where the clean picture lies in each widened one (found by comparing
    pixels) against the saliency focus crop's box, at 128 px (the clean side) and 64 px (the course's)."""
    bench = _load(Path(__file__).resolve().parents[1] / "bench" / "focus_crop.py")
    for concept, widened in ((SAMPLE_CONCEPT, 15), ("20_dotted_ring", 3)):
        found = bench.offsets(bench.raw_sample_pairs(concept))
        assert len(found) == widened and {s for _, d in found for s in d} == {128, 64}
        # measured: 0 px everywhere (the one-median-colour estimate: the stars up to 24 px, 7 of 15 off by 8-24)
        assert max(v for _, d in found for v in d.values()) <= 1, found


# --- the course flow on it -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sample_flow")
    col = collect(sample_sources(raw=True), tmp / "dataset", min_side=SIDE, progress=False)
    crop = crop_folder(tmp / "dataset", tmp / "cropped", resolution=SIDE, mode="focus", focus="saliency",
                       progress=False)
    before = {p.name: p.read_text(encoding="utf-8") for p in (tmp / "cropped").glob("*/*.txt")}
    cap = caption_folder(tmp / "cropped", captioner=ToyCaptioner(), progress=False)
    opts = CleanOptions(**sample_clean_settings(tmp / "cropped"), blacklist=BLACKLIST, dedupe=True)  # as 04 does
    preview = clean_folder(tmp / "cropped", opts, dry_run=True)
    clean = clean_folder(tmp / "cropped", opts, out=tmp / "clean")
    return {"tmp": tmp, "collect": col, "crop": crop, "before": before, "caption": cap, "preview": preview,
            "clean": clean}


def test_collect_rejects_the_broken_file_by_name_and_audit_notes_the_sample_is_small(flow):
    col = flow["collect"]
    assert len(col.imported) == 24 and [Path(r.source).name for r in col.rejected] == ["star_21.png"]
    line = next(ln for ln in col.summary().splitlines() if "star_21.png" in ln)
    assert "truncated" in line
    a = audit(flow["tmp"] / "dataset", kind="object", resolution=SIDE)
    assert "unbalanced concepts" in a.summary()
    assert "small on purpose" in sample_audit_note(a)
    big = audit(flow["tmp"] / "dataset", kind="object", resolution=SIDE)
    big.warnings = [w for w in big.warnings if w.code not in ("too_few_images", "few_images")]
    assert sample_audit_note(big) == ""


def test_focus_crops_move_the_box_onto_the_star_and_keep_it_whole(flow):
    tmp = flow["tmp"]
    stars = [i for i in flow["crop"].items if i.source.startswith(SAMPLE_CONCEPT)]
    assert len(stars) == 20
    moved, same, inside, focus_scores, centre_scores = 0, 0, [], [], []
    for item in stars:
        src = Image.open(tmp / "dataset" / item.source).convert("RGB")
        w, h = src.size
        assert item.size == (SIDE, SIDE) and (item.box != (0, 0, w, h)) == (w != h)
        clean = crop_image(Image.open(SAMPLE / item.source).convert("RGB"), SIDE, "focus").image
        crop = Image.open(tmp / "cropped" / item.output)
        same += np.abs(np.asarray(crop, float) - np.asarray(clean, float)).mean() < 1
        centre = crop_image(src, SIDE, "center")
        moved += item.box != centre.box
        yellow = star_masks(src)["yellow"]
        x0, y0, x1, y1 = item.box
        inside.append(yellow[y0:y1, x0:x1].sum() / yellow.sum())
        focus_scores.append(star_score(Image.open(tmp / "cropped" / item.output)).score)
        centre_scores.append(star_score(centre.image).score)
    assert moved == 15, moved  # every widened picture
    assert same == 20, same  # every crop is the clean picture itself (5 of them never widened)
    assert min(inside) > 0.99, inside  # measured: 1.0, the whole star in every box (was 0.96 at worst)
    clean_set = [star_score(Image.open(p).convert("RGB").resize((SIDE, SIDE), Image.Resampling.LANCZOS)).score
                 for p in sorted((SAMPLE / SAMPLE_CONCEPT).glob("*.png"))]
    # the crops show the star as well as today's clean set (measured 0.99 and 0.99), a centre crop less (0.94)
    assert np.mean(focus_scores) > np.mean(clean_set) - 0.02, (focus_scores, clean_set)
    assert np.mean(focus_scores) > np.mean(centre_scores) + 0.03, (focus_scores, centre_scores)


def test_the_toy_captioner_fills_exactly_the_missing_captions_and_keeps_the_others(flow):
    tmp, cap = flow["tmp"], flow["caption"]
    assert cap.backend == "toy"
    assert sorted(p.name for p in cap.written) == ["star_04.txt", "star_10.txt", "star_16.txt"]
    assert len(cap.skipped) == 21 and not cap.failed and not cap.empty
    after = {p.name: p.read_text(encoding="utf-8") for p in (tmp / "cropped").glob("*/*.txt")}
    assert {n: after[n] for n in flow["before"]} == flow["before"]  # existing captions untouched
    for p in cap.written:
        text = p.read_text(encoding="utf-8").strip()
        assert text == describe(Image.open(p.with_suffix(".png"))) and text.startswith("a toy star, ")
    assert "wrote 3 caption(s), skipped 21" in cap.summary()


def test_the_toy_captioner_reads_the_samples_own_scenes_as_their_captions_say():
    hits = {"subject": 0, "size": 0, "position": 0, "background": 0}
    stars = sorted((SAMPLE / SAMPLE_CONCEPT).glob("*.png"))
    for p in stars:
        truth = p.with_suffix(".txt").read_text(encoding="utf-8").strip().split(". ", 1)[1].split(", ")
        got = describe(Image.open(p).convert("RGB").resize((SIDE, SIDE), Image.Resampling.LANCZOS)).split(", ")
        for k, (a, b) in zip(hits, zip(truth, got, strict=True)):
            hits[k] += a == b
    assert hits["subject"] == 20 and min(hits.values()) >= 18, hits  # measured: 20 / 19 / 19 / 19


def test_clean_removes_the_watermark_dedupes_and_adds_the_missing_id(flow):
    tmp, preview, clean = flow["tmp"], flow["preview"], flow["clean"]
    diff = preview.diff()
    assert diff and "-" in diff and "watermark" in diff
    changed = sorted(Path(p).name for p, _, _ in clean.changes)
    # 2 watermarks, 2 duplicates, 2 captions without the id and the 3 the toy captioner wrote
    assert changed == sorted(f"star_{n:02d}.txt" for n in (2, 4, 6, 8, 10, 13, 16, 18, 20))
    assert clean.triggers == {"20_dotted_ring": "gnrmclnjsq", SAMPLE_CONCEPT: STAR_ID}
    caps = sorted((tmp / "clean").glob("*/*.txt"))
    assert len(caps) == 24
    for p in caps:
        text = p.read_text(encoding="utf-8").strip()
        m = SAMPLE_CAPTION.match(text)
        assert m, text  # the clean set's caption style exactly
        assert m.group(1) == clean.triggers[p.parent.name]
        assert "watermark" not in text and len(split_tags(text)) == len({tag_key(t) for t in split_tags(text)})
        # cleaned, the raw captions are the clean set's own, and the toy captioner's 3 read the same words
        assert text == (SAMPLE / p.parent.name / p.name).read_text(encoding="utf-8").strip()
