"""saliency.py, the focus crop's estimate without a model: a subject on a patterned background (checks,
stripes, dots, a wall over a floor) is found as well as on a plain one, and plain backgrounds crop as before.
The course's raw sample is measured in tests/test_sample_data.py."""

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw
from test_crop import scene  # tests/ is on sys.path (pytest rootdir-relative import)

from lora_nb.dataset.crop import crop_image
from lora_nb.dataset.saliency import border_palette, saliency_map, subject_box

BLUE, WHITE, PINK = (120, 170, 230), (245, 245, 240), (240, 170, 190)
YELLOW, NAVY, RED = (250, 204, 21), (30, 41, 110), (220, 38, 38)


def _mix(a, b, t):
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))


def patterned(pattern: str, size=(320, 160), at=(215, 70), r=30, c1=BLUE, c2=WHITE) -> Image.Image:
    """A toy-like subject (yellow disc, navy rim, red button) on a two-colour pattern like the sample's."""
    w, h = size
    img = Image.new("RGB", size, c1)
    d = ImageDraw.Draw(img)
    soft = _mix(c1, c2, 0.4)
    if pattern == "checker":
        for y in range(0, h, 20):
            for x in range((y // 20) % 2 * 20, w, 40):
                d.rectangle([x, y, x + 19, y + 19], fill=soft)
    elif pattern == "stripes":  # diagonal, as the sample's
        for x in range(-h, w + h, 28):
            d.polygon([(x, 0), (x + 14, 0), (x + 14 + h, h), (x + h, h)], fill=soft)
    elif pattern == "dots":  # the first row starts inside the picture: the outermost pixel ring shows no dot
        for y in range(12, h, 24):
            for x in range(12, w, 24):
                d.ellipse([x - 5, y - 5, x + 5, y + 5], fill=soft)
    elif pattern == "room":  # a wall over a floor, with a dark line where they meet
        horizon = int(h * 0.62)
        d.rectangle([0, horizon, w, h], fill=PINK)
        d.line([(0, horizon), (w, horizon)], fill=_mix(PINK, (0, 0, 0), 0.3), width=2)
    x, y = at
    d.ellipse([x - r, y - r, x + r, y + r], fill=YELLOW, outline=NAVY, width=4)
    d.ellipse([x - r // 4, y - r // 4, x + r // 4, y + r // 4], fill=RED)
    return img


@pytest.mark.parametrize("pattern", ["checker", "stripes", "dots", "room"])
@pytest.mark.parametrize("size, at", [((320, 160), (215, 70)), ((160, 320), (70, 110))], ids=["wide", "tall"])
def test_a_subject_on_a_pattern_is_located_within_a_few_px(pattern, size, at):
    """The old estimate (one median border colour + raw edge energy) lit the whole pattern up and put the
    box 8-40 px off; now the subject box's centre is within 3 px and the crop box is centred on it."""
    img = patterned(pattern, size, at)
    x0, y0, x1, y1 = subject_box(saliency_map(img), img.size)
    assert abs((x0 + x1) / 2 - at[0]) <= 3 and abs((y0 + y1) / 2 - at[1]) <= 3, (x0, y0, x1, y1)
    assert x1 - x0 < 80 and y1 - y0 < 80  # the disc (60 px), not the pattern around it
    box = crop_image(img, 64, "focus").box
    side = min(size)
    want = (at[0] - side // 2, 0) if size[0] > size[1] else (0, at[1] - side // 2)
    assert abs(box[0] - want[0]) <= 3 and abs(box[1] - want[1]) <= 3, (box, want)


@pytest.mark.parametrize("pattern", ["checker", "stripes", "dots", "room"])
def test_jpeg_noise_and_size_do_not_move_it(pattern):
    """A photo's border is never one exact colour: JPEG at quality 40, sensor-like noise and a 4x larger
    picture keep the subject box's centre within 3 px (in the original's px)."""
    img, at = patterned(pattern), np.array([215, 70])
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=40)
    noisy = np.clip(np.asarray(img, float) + np.random.default_rng(0).normal(0, 8, (160, 320, 3)), 0, 255)
    for scale, im in [(1, Image.open(buf).convert("RGB")), (1, Image.fromarray(noisy.astype("uint8"))),
                      (4, img.resize((1280, 640), Image.Resampling.LANCZOS))]:
        x0, y0, x1, y1 = subject_box(saliency_map(im), im.size)
        assert np.abs(np.array([x0 + x1, y0 + y1]) / 2 / scale - at).max() <= 3, (scale, x0, y0, x1, y1)


@pytest.mark.parametrize("args, box, focus", [
    (dict(), (128, 0, 256, 128), (178.0, 34.0, 238.0, 94.0)),
    (dict(w=300, h=120, subject_at=(70, 50), r=30), (10, 0, 130, 120), (37.5, 18.8, 103.1, 82.4)),
    (dict(w=128, h=256, subject_at=(64, 200), r=20), (0, 128, 128, 256), (42.0, 178.0, 88.0, 224.0)),
])
def test_a_plain_background_crops_as_before(args, box, focus):
    """The boxes the one-median-colour estimate gave (measured before the change) on plain backgrounds."""
    img = scene(**args)
    assert crop_image(img, 64, "focus").box == box
    assert subject_box(saliency_map(img), img.size) == pytest.approx(focus, abs=0.05)


def test_border_palette_models_the_pattern_not_the_subject():
    colours, pairs, band = border_palette(np.asarray(patterned("checker"), np.float32))
    assert len(colours) == 2 and pairs == [(0, 1)]  # the two squares' colours, seen side by side
    assert sorted(map(tuple, colours.round())) == sorted([BLUE, _mix(BLUE, WHITE, 0.4)])
    assert band.mean() == pytest.approx(1 - (320 - 26) * (160 - 26) / (320 * 160))  # 13 px: a 12th of 160
    colours, pairs, _ = border_palette(np.asarray(scene(), np.float32))
    assert len(colours) == 1 and pairs == []
    # a subject cut by one edge (or two that meet) is no background: its colour is on no two opposite sides
    cut = np.asarray(scene(w=200, h=200, subject_at=(30, 190), r=60), np.float32)
    colours, _, _ = border_palette(cut)
    assert len(colours) == 1 and tuple(colours[0].round()) == (235, 235, 230)


def test_a_border_with_no_recurring_colour_falls_back_to_its_median():
    img = Image.new("RGB", (120, 120))
    for i, c in enumerate([(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30)]):  # four quadrants
        img.paste(c, (i % 2 * 60, i // 2 * 60, i % 2 * 60 + 60, i // 2 * 60 + 60))
    ImageDraw.Draw(img).ellipse([40, 40, 80, 80], fill=(250, 250, 250))
    colours, pairs, _ = border_palette(np.asarray(img, np.float32))
    assert len(colours) == 1 and pairs == []
    assert saliency_map(img).max() > 0
