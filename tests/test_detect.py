"""The detector: object colour/shape reading and the zigzag-star score, on drawn pictures whose truth
is known (procedural scenes, the sample dataset's stars)."""

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from lora_nb.toy import detect, scenes
from lora_nb.toy.detect import largest_component, radial_harmonics, read_scene, star_score

STARS = sorted((Path(__file__).resolve().parent.parent / "datasets_sample" / "20_zigzag_star").glob("*.png"))


def _stars64():
    return [Image.open(p).convert("RGB").resize((64, 64), Image.Resampling.LANCZOS) for p in STARS]


def _mask(draw):
    img = Image.new("L", (64, 64), 0)
    draw(ImageDraw.Draw(img))
    return np.asarray(img) > 127


def test_radial_harmonics_tell_circle_square_triangle_and_star_apart():
    circle = radial_harmonics(_mask(lambda d: d.ellipse([12, 12, 52, 52], fill=255)))
    square = radial_harmonics(_mask(lambda d: d.rectangle([16, 16, 48, 48], fill=255)))
    tri = radial_harmonics(_mask(lambda d: d.polygon([(32, 8), (56, 50), (8, 50)], fill=255)))
    pts = [(32 + (20 if i % 2 == 0 else 9.6) * math.cos(-math.pi / 2 + i * math.pi / 5),
            32 + (20 if i % 2 == 0 else 9.6) * math.sin(-math.pi / 2 + i * math.pi / 5)) for i in range(10)]
    star = radial_harmonics(_mask(lambda d: d.polygon(pts, fill=255)))
    assert max(circle[1:]) < 0.03
    assert np.argmax(square[1:]) + 1 == 4 and np.argmax(tri[1:]) + 1 == 3 and np.argmax(star[1:]) + 1 == 5
    assert star[5] > 0.12 > max(square[5], tri[5], circle[5])


def test_shape_prototypes_are_what_the_scenes_draw():
    fresh = detect.shape_prototypes()
    assert set(fresh) == set(detect.SHAPE_PROTOTYPES)
    for shape, ref in detect.SHAPE_PROTOTYPES.items():
        np.testing.assert_allclose(fresh[shape], ref, atol=0.006, err_msg=shape)
    # an oval blob (the tiny model's circles are often stretched) is read as a circle, not a square
    yy, xx = np.mgrid[:64, :64]
    oval = ((xx - 32) / 14.0) ** 2 + ((yy - 32) / 11.0) ** 2 <= 1
    assert detect._shape_from_harmonics(radial_harmonics(oval)) == "circle"


def test_largest_component_keeps_the_biggest_blob():
    m = np.zeros((10, 10), bool)
    m[0:2, 0:2] = True  # 4 pixels
    m[5:9, 5:8] = True  # 12 pixels
    m[4, 4] = True  # touches the big blob diagonally (8-connected)
    out = largest_component(m)
    assert out.sum() == 13 and not out[0, 0] and out[4, 4]
    assert not largest_component(np.zeros((4, 4), bool)).any()


def test_read_scene_recovers_colour_shape_and_background_of_drawn_scenes():
    hits = {"colour": 0, "shape": 0, "background": 0}
    shown = [s for _, _, s in scenes.make_scenes(160, seed=11) if s.pattern == "plain" and s.fill == "plain"]
    for spec in shown:
        r = read_scene(scenes.render_scene(spec))
        hits["colour"] += r.colour == spec.colour
        hits["shape"] += r.shape == spec.shape
        hits["background"] += r.background == spec.background
        assert abs(r.centre[0] - spec.x) < 0.1 and abs(r.centre[1] - spec.y) < 0.12
    assert len(shown) >= 15
    assert min(hits.values()) / len(shown) >= 0.85, hits
    empty = read_scene(Image.new("RGB", (64, 64), (120, 170, 230)))
    assert empty.colour is None and empty.shape is None and empty.background == "blue"


def test_star_score_is_high_on_the_sample_toy_and_zero_on_the_base_scenes():
    stars = [star_score(im).score for im in _stars64()]
    assert len(stars) == 20 and np.mean(stars) > 0.9 and min(stars) > 0.6
    base = [star_score(im).score for im, _, _ in scenes.make_scenes(200, seed=7)]
    assert max(base) < 0.05
    # yellow shapes alone are not the toy: no navy stripes, no five points
    yellow = scenes.render_scene(scenes.SceneSpec("circle", "yellow", size=0.3, background="purple"))
    s = star_score(yellow)
    assert s.yellow > 0.1 and s.score < 0.05


def test_star_score_survives_blur_and_grows_with_the_toys_share_of_the_picture():
    blurred = [star_score(im.filter(ImageFilter.GaussianBlur(0.8))).score for im in _stars64()]
    assert np.mean(blurred) > 0.6
    toy = _stars64()[6]  # a large star
    faded = [star_score(Image.blend(Image.new("RGB", (64, 64), (120, 170, 230)), toy, a)).score
             for a in (0.0, 0.5, 1.0)]
    assert faded[0] == 0.0 and faded[0] <= faded[1] <= faded[2] and faded[2] > 0.9


def test_score_grid_and_mean_read_xy_results():
    ims = _stars64()[:2]
    blank = Image.new("RGB", (64, 64), (245, 245, 240))
    res = SimpleNamespace(cells=[[[blank, ims[0]], [blank, ims[1]]]])
    grid = detect.score_grid(res)
    assert grid[0][0][0] == 0.0 and grid[0][0][1] > 0.6 and grid[0][1][1] > 0.6
    assert detect.mean_star_score([blank, ims[0]]) == (0.0 + star_score(ims[0]).score) / 2
    assert detect.mean_star_score([]) == 0.0


def test_star_curve_reports_cells_against_the_models_ceiling():
    curve = detect.StarCurve(["step 75", "step 150"], [0.0, 1.0], [[0.0, 0.1], [0.0, 0.3]], ceiling=0.4)
    assert curve.relative(1, 1.0) == pytest.approx(0.75) and curve.relative(0, 0.0) == 0.0
    assert "| step 150 | 0.000 (0.00) | 0.300 (0.75) |" in curve.markdown()
    plain = detect.StarCurve(["step 75"], [1.0], [[0.3]])
    assert plain.relative(0, 1.0) == 0.3 and "| step 75 | 0.300 |" in plain.markdown()
