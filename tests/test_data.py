import random

import pytest
from PIL import Image

from lora_nb.config import Config
from lora_nb.errors import DatasetError
from lora_nb.training.data import (
    check_batch_fits,
    epoch_batches,
    load_pixels,
    process_caption,
    scan_dataset,
    steps_per_epoch,
    suggest_prompts,
    with_trigger,
)


def cfg(root, **kw):
    return Config(**{"train_data_dir": str(root), "resolution": 64, **kw})


def test_scan_reads_concepts_repeats_captions_and_trigger(tiny_dataset):
    scan = scan_dataset(cfg(tiny_dataset, trigger_word="zqxkwvbnmt"))
    assert scan.num_images == 7
    assert scan.samples_per_epoch == 4 * 2 + 3 * 1
    assert all(s.caption.startswith("zqxkwvbnmt, ") for s in scan.samples)
    assert {s.concept for s in scan.samples} == {"2_toycircle", "1_toysquare"}
    assert all(s.bucket == (64, 64) for s in scan.samples)


def test_trigger_insert_is_idempotent():
    assert with_trigger("a cat", "abc") == "abc, a cat"
    assert with_trigger("abc, a cat", "abc") == "abc, a cat"
    assert with_trigger("", "abc") == "abc"


def test_missing_caption_policies(tmp_path):
    Image.new("RGB", (64, 64)).save(tmp_path / "a.png")
    with pytest.raises(DatasetError, match="no .txt caption.*caption step"):
        scan_dataset(cfg(tmp_path, missing_caption="error"))
    scan = scan_dataset(cfg(tmp_path, missing_caption="warn_trigger", trigger_word="tok"))
    assert scan.samples[0].caption == "tok" and "without a caption" in scan.warnings[0]
    scan = scan_dataset(cfg(tmp_path, missing_caption="warn_empty", trigger_word="tok"))
    assert scan.samples[0].caption == ""


def test_bad_dataset_inputs_give_clear_errors(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        scan_dataset(cfg(tmp_path / "nope"))
    with pytest.raises(DatasetError, match="no images"):
        scan_dataset(cfg(tmp_path))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(DatasetError, match="broken.png"):
        scan_dataset(cfg(tmp_path))


def test_too_small_image_is_reported_not_upscaled(tmp_path):
    Image.new("RGB", (40, 40)).save(tmp_path / "small.png")
    with pytest.raises(DatasetError, match="small.png 40x40.*64px|upscale_small"):
        scan_dataset(cfg(tmp_path))
    scan = scan_dataset(cfg(tmp_path, upscale_small=True))
    assert scan.samples[0].bucket == (64, 64) and "upscaled" in scan.warnings[-1]


def test_batch_larger_than_dataset(tiny_dataset):
    c = cfg(tiny_dataset, train_batch_size=8, gradient_accumulation_steps=2)
    with pytest.raises(DatasetError, match="16.*duplicate"):
        check_batch_fits(scan_dataset(c), c)


def test_epoch_batches_deterministic_repeats_and_bucketed(tmp_path):
    for i, size in enumerate([(64, 64)] * 3 + [(128, 64)] * 2):
        Image.new("RGB", size).save(tmp_path / f"{i}.png")
        (tmp_path / f"{i}.txt").write_text("x")
    c = cfg(tmp_path, resolution=128, min_bucket_reso=64, default_repeats=3, train_batch_size=2)
    scan = scan_dataset(c)
    b1 = epoch_batches(scan.samples, 2, seed=1, epoch=0)
    assert b1 == epoch_batches(scan.samples, 2, seed=1, epoch=0)
    assert b1 != epoch_batches(scan.samples, 2, seed=1, epoch=1)
    flat = sorted(i for b in b1 for i in b)
    assert flat == sorted(list(range(5)) * 3)  # every image x its repeats
    for b in b1:
        assert len({scan.samples[i].bucket for i in b}) == 1  # never mixes buckets
    # steps: ceil per bucket -> 9 samples of 64x64... (3 imgs x 3) -> 5 batches, (2 x 3) -> 3 batches
    assert steps_per_epoch(scan.samples, c) == 8


def test_caption_shuffle_keeps_tokens_and_dropout():
    c = Config(shuffle_caption=True, keep_tokens=1)
    rng = random.Random(0)
    outs = {process_caption("trig, a, b, c, d", c, rng) for _ in range(20)}
    assert all(o.startswith("trig, ") for o in outs) and len(outs) > 1
    assert all(sorted(o.split(", ")) == sorted("trig, a, b, c, d".split(", ")) for o in outs)
    c = Config(caption_dropout_rate=1.0)
    assert process_caption("a, b", c, rng) == ""


def test_load_pixels_center_crop_into_bucket(tmp_path):
    img = Image.new("RGB", (100, 64), (255, 0, 0))
    img.paste((0, 0, 255), (0, 0, 18, 64))  # a blue strip on the left is cropped away centrally
    img.save(tmp_path / "a.png")
    (tmp_path / "a.txt").write_text("x")
    scan = scan_dataset(cfg(tmp_path, enable_bucket=False))
    px, crop = load_pixels(scan.samples[0])
    assert px.shape == (3, 64, 64) and crop == (0, 18)
    assert px.min() >= -1 and px.max() <= 1
    assert px[2].max() < 0  # no blue left after the centre crop


def test_suggest_prompts_take_a_caption_per_concept_and_an_unrelated_prompt(tiny_dataset):
    prompts = suggest_prompts(tiny_dataset)
    assert len(prompts) == 3
    assert sorted(p.split(",")[0] for p in prompts[:2]) == ["toycircle", "toysquare"]
    assert "toy" not in prompts[2]


# --- pictures ----------------------------------------------------------------------------------
