"""Procedural scenes: deterministic, captioned consistently with what is drawn, star-free, and in
the sample dataset's vocabulary and style."""

import importlib.util
import random
from pathlib import Path

import numpy as np
import pytest

from lora_nb.dataset.concepts import scan_concepts
from lora_nb.toy import scenes
from lora_nb.toy.scenes import SceneSpec, caption, make_scenes, random_scene, render_scene

ROOT = Path(__file__).resolve().parent.parent


def _make_sample():
    spec = importlib.util.spec_from_file_location("make_sample", ROOT / "datasets_sample" / "make_sample.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_same_seed_same_scenes_and_other_seed_differs():
    a, b, c = make_scenes(6, seed=3), make_scenes(6, seed=3), make_scenes(6, seed=4)
    assert [cap for _, cap, _ in a] == [cap for _, cap, _ in b]
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for (x, _, _), (y, _, _) in zip(a, b))
    assert [s for _, _, s in a] != [s for _, _, s in c]
    assert a[0][0].size == (64, 64) and a[0][0].mode == "RGB"


def test_distribution_has_no_stars_and_covers_every_shape_colour_and_background():
    rng = random.Random(0)
    specs = [random_scene(rng) for _ in range(600)]
    assert {s.shape for s in specs} == set(scenes.SHAPES)
    assert "star" not in scenes.SHAPES and "navy" not in scenes.OBJECT_COLOURS
    assert {s.colour for s in specs} == set(scenes.OBJECT_COLOURS)
    assert {s.pattern for s in specs} == set(scenes.BACKGROUND_PATTERNS)
    assert {s.fill for s in specs} == set(scenes.FILLS)
    assert all(0.15 <= s.size <= 0.40 and s.size <= s.x <= 1 - s.size for s in specs)
    assert all(s.background != s.background2 for s in specs)


def test_captions_name_what_is_drawn_in_known_words():
    rng = random.Random(1)
    vocab = set(scenes.VOCABULARY)
    for _ in range(300):
        spec = random_scene(rng)
        text = caption(spec, rng)
        assert spec.shape in text, text  # the shape is always named
        words = text.replace(",", " ").replace("-", " ").split()
        assert set(words) <= vocab, set(words) - vocab
        if spec.colour not in text:  # the colour may be left out only in the "a toy circle" style
            assert "toy" in text, text
    full = caption(SceneSpec("triangle", "orange", fill="striped", size=0.18, x=0.2, y=0.8, background="teal",
                             background2="white", pattern="gradient"))
    assert full == "an orange striped triangle, small, bottom left, teal and white gradient background"


def test_position_and_size_words_follow_the_sample_dataset():
    ms = _make_sample()
    for f in np.linspace(0.05, 0.95, 19):
        for g in np.linspace(0.05, 0.95, 19):
            assert scenes.position_word(f, g) == ms.position_words(f * 512, g * 512, 512)
        assert scenes.size_word(f / 2) == ms.size_word(f / 2 * 512, 512)
    # the base's background words are the sample's: same names and values
    assert all(scenes.BACKGROUND_COLOURS[name] == rgb for name, rgb in ms.PALETTE)


def test_render_draws_the_spec():
    spec = SceneSpec("square", "red", size=0.3, x=0.5, y=0.45, background="blue", shadow=False)
    arr = np.asarray(render_scene(spec)).astype(int)
    assert np.abs(arr[29, 32] - scenes.OBJECT_COLOURS["red"]).max() <= 2  # centre: the object
    assert np.abs(arr[2, 2] - scenes.BACKGROUND_COLOURS["blue"]).max() <= 2  # corner: the background
    big = render_scene(spec, size=128)
    assert big.size == (128, 128)
    with pytest.raises(ValueError, match="unknown shape"):
        render_scene(SceneSpec("star", "yellow"))


def test_write_scene_dataset_is_a_kohya_concept_folder(tmp_path):
    folder = scenes.write_scene_dataset(tmp_path / "data", 5, seed=2)
    (concept,) = scan_concepts(tmp_path / "data")
    assert folder.name == "1_scenes" and concept.repeats == 1 and len(concept.images) == 5
    first = concept.images[0]
    assert first.with_suffix(".txt").read_text(encoding="utf-8").strip() == make_scenes(1, seed=2)[0][1]
