"""Labelled PIL grids: geometry, exact cell placement, labels, wrapping, panels, fonts."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lora_nb.grids import (
    BACKGROUND,
    EMPTY,
    Tile,
    get_font,
    image_grid,
    image_row,
    labelled_grid,
    scale_note,
    stack_panels,
    text_size,
    wrap_text,
)

COLOURS = [(200, 30, 30), (30, 160, 60), (40, 60, 210), (220, 200, 40), (120, 40, 160), (20, 180, 190)]


def _solid(i, size=(48, 48)):
    return Image.new("RGB", size, COLOURS[i % len(COLOURS)])


def _has_ink(img: Image.Image, box) -> bool:
    """Dark text pixels inside `box` (the background is white)."""
    return int(np.asarray(img.crop(box).convert("L")).min()) < 128


def test_cells_are_pasted_exactly_where_boxes_say():
    cells = [[_solid(r * 3 + c) for c in range(3)] for r in range(2)]
    g = labelled_grid(cells, col_labels=["0", "0.5", "1"], row_labels=["step 500", "final"],
                      col_title="strength", row_title="checkpoint")
    assert len(g.boxes) == 2 and all(len(r) == 3 for r in g.boxes)
    for r in range(2):
        for c in range(3):
            box = g.boxes[r][c]
            assert box[2] - box[0] == 48 and box[3] - box[1] == 48
            assert np.array_equal(np.asarray(g.image.crop(box)), np.asarray(cells[r][c]))
    # columns left to right, rows top to bottom, all inside the sheet, leaving room for labels
    lefts = [g.boxes[0][c][0] for c in range(3)]
    tops = [g.boxes[r][0][1] for r in range(2)]
    assert lefts == sorted(lefts) and tops == sorted(tops)
    assert lefts[0] > 0 and tops[0] > 0
    assert g.image.width >= g.boxes[0][2][2] and g.image.height >= g.boxes[1][0][3]
    # the label areas carry text: column headers above each column, row labels left of each row
    for c in range(3):
        left, t, r, _ = g.boxes[0][c]
        assert _has_ink(g.image, (left, 0, r, t))
    for r in range(2):
        left, t, _, b = g.boxes[r][0]
        assert _has_ink(g.image, (0, t, left, b))


def test_grid_size_grows_with_labels_and_title():
    cells = [[_solid(0), _solid(1)]]
    bare = labelled_grid(cells)
    labelled = labelled_grid(cells, col_labels=["a", "b"], row_labels=["r"])
    titled = labelled_grid(cells, col_labels=["a", "b"], row_labels=["r"], title="title")
    assert bare.image.width >= 2 * 48 and bare.image.height >= 48
    assert labelled.image.width > bare.image.width and labelled.image.height > bare.image.height
    assert titled.image.height > labelled.image.height and titled.image.width == labelled.image.width
    dy = titled.boxes[0][0][1] - labelled.boxes[0][0][1]  # the title band sits above everything else
    assert dy > 0 and _has_ink(titled.image, (0, 0, titled.image.width, dy))
    assert not _has_ink(labelled.image, (0, 0, labelled.image.width, 2))


def test_mixed_sizes_are_centred_in_equal_slots():
    cells = [[_solid(0, (48, 32)), _solid(1, (32, 48))]]
    g = labelled_grid(cells, pad=4)
    (l0, t0, r0, b0), (l1, t1, r1, b1) = g.boxes[0]
    assert (r0 - l0, b0 - t0) == (48, 32) and (r1 - l1, b1 - t1) == (32, 48)
    assert t0 - t1 == 8  # the short one sits (48-32)/2 lower in its 48-high slot
    assert l1 - l0 == 48 + 4 + 8  # slot width 48, pad 4, narrow one centred by (48-32)/2


def test_cell_size_shrinks_big_cells_keeping_aspect():
    g = labelled_grid([[_solid(0, (256, 128)), _solid(1, (64, 64))]], cell_size=64)
    (l0, t0, r0, b0), (l1, t1, r1, b1) = g.boxes[0]
    assert (r0 - l0, b0 - t0) == (64, 32)
    assert (r1 - l1, b1 - t1) == (64, 64)  # never enlarged, already fits


def test_missing_cells_leave_a_grey_slot():
    g = labelled_grid([[_solid(0), None]], col_labels=["ok", "failed"])
    assert g.boxes[0][1] is None
    _, t, r, b = g.boxes[0][0]
    slot = g.image.crop((r + 10, t + 10, r + 20, t + 20))
    assert set(slot.getdata()) == {EMPTY}


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="every row"):
        labelled_grid([[_solid(0), _solid(1)], [_solid(2)]])
    with pytest.raises(ValueError, match="column labels"):
        labelled_grid([[_solid(0)]], col_labels=["a", "b"])
    with pytest.raises(ValueError, match="row labels"):
        labelled_grid([[_solid(0)]], row_labels=["a", "b"])
    with pytest.raises(ValueError):
        labelled_grid([])


def test_wrap_text_fits_width_and_marks_cuts():
    font = get_font(12)
    text = "a photo of a red circle on a blue background, studio lighting, high quality"
    lines = wrap_text(text, font, 80)
    assert len(lines) > 2 and all(text_size(line, font)[0] <= 80 for line in lines)
    assert " ".join(lines) == text
    cut = wrap_text(text, font, 80, max_lines=2)
    assert len(cut) == 2 and cut[-1].endswith("…")
    long_word = wrap_text("x" * 60, font, 40)
    assert len(long_word) > 1 and "".join(long_word) == "x" * 60


def test_stack_panels_places_each_panel_under_its_caption():
    a = labelled_grid([[_solid(0), _solid(1)]], col_labels=["0", "1"]).image
    b = labelled_grid([[_solid(2), _solid(3)]], col_labels=["0", "1"]).image
    st = stack_panels([a, b], ["prompt: a cat", "prompt: a dog"], title="sheet")
    assert st.image.height > a.height + b.height and st.image.width == max(a.width, b.width)
    for panel, box in zip((a, b), (st.boxes[0][0], st.boxes[1][0])):
        assert np.array_equal(np.asarray(st.image.crop(box)), np.asarray(panel))
        assert _has_ink(st.image, (0, box[1] - 12, st.image.width, box[1]))  # caption right above
    with pytest.raises(ValueError):
        stack_panels([a], ["one", "two"])


def test_stack_panels_in_columns_keeps_every_panel_whole_and_in_reading_order():
    panels = [labelled_grid([[_solid(i), _solid(i + 1)]], col_labels=["0", "1"]).image for i in range(0, 8, 2)]
    one = stack_panels(panels, [f"seed: {i}" for i in range(4)], title="sheet")
    two = stack_panels(panels, [f"seed: {i}" for i in range(4)], title="sheet", columns=2)
    w, h = panels[0].size
    assert two.image.width >= 2 * w and two.image.width < one.image.width * 2 + 40
    assert two.image.height < one.image.height - h  # two rows of panels instead of four
    (a, b, c, d) = (two.boxes[i][0] for i in range(4))
    assert a[1] == b[1] < c[1] == d[1] and a[0] == c[0] < b[0] == d[0]  # 0 1 / 2 3
    for panel, box in zip(panels, (a, b, c, d)):
        assert np.array_equal(np.asarray(two.image.crop(box)), np.asarray(panel))
        assert _has_ink(two.image, (box[0], box[1] - 12, box[2], box[1]))  # its caption right above
    assert stack_panels(panels[:1], ["x"], columns=3).image.size == stack_panels(panels[:1], ["x"]).image.size
    with pytest.raises(ValueError):
        stack_panels(panels, columns=0)


def test_image_row_and_inline_png():
    g = image_row([_solid(0), _solid(1)], ["step 100", "step 200"])
    assert len(g.boxes) == 1 and len(g.boxes[0]) == 2
    png = g._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_font_file_can_be_chosen(monkeypatch):
    import matplotlib

    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    assert ttf.is_file()
    big = get_font(30, str(ttf))
    assert big.path == str(ttf) and text_size("step", big)[1] > text_size("step", get_font(12, str(ttf)))[1]
    get_font.cache_clear()
    monkeypatch.setenv("LORA_NB_FONT", str(ttf))
    try:
        assert get_font(14).path == str(ttf)
        g = labelled_grid([[_solid(0)]], col_labels=["0.8"])
        assert g.image.getpixel((0, 0)) == BACKGROUND
    finally:
        get_font.cache_clear()


def test_image_grid_layout_and_text():
    tiles = [Tile(Image.new("RGB", (50, 30), (0, 0, 255)), ["name", "problem"], [(0, 0, 0), (200, 0, 0)])
             for _ in range(5)] + [Tile(Image.new("RGBA", (20, 20), (0, 0, 0, 0)), ["alpha"])]
    grid = image_grid(tiles, cols=4, tile_size=64, title=["a title that is long " * 8])
    assert grid.mode == "RGB" and grid.width == 4 * 70 + 6
    a = np.asarray(grid)
    assert (a[..., 2] > 200).sum() > 5 * 50 * 30 * 0.9  # the blue thumbnails are there
    assert ((a[..., 0] > 150) & (a[..., 1] < 60)).any()  # red problem text


def test_tiny_cells_are_shown_enlarged_and_the_title_says_how(default_language):
    cells = [[_solid(c, (64, 64)) for c in range(3)]]
    g = labelled_grid(cells, col_labels=["0", "0.5", "1"], title="demo", show_at=256)
    box = g.boxes[0][0]
    assert (box[2] - box[0], box[3] - box[1]) == (256, 256)  # 64 px shown at 256 px
    big = np.asarray(g.image.crop(box))
    assert np.array_equal(big[::4, ::4], np.asarray(cells[0][0]))  # nearest: every pixel a 4x4 block
    # a 300 px picture is already big enough; a 200 px one (not tiny) is enlarged smoothly
    assert labelled_grid([[_solid(0, (300, 300))]], show_at=256).boxes[0][0][2:] != (0, 0)
    from lora_nb.grids import display_scale

    assert display_scale(64, 64, 256) == (4, "shown ×4, nearest")
    assert display_scale(200, 200, 256) == (2, "shown ×2, Lanczos")
    assert display_scale(300, 300, 256) == (1, "")
    assert display_scale(64, 64, None) == (1, "")


def test_long_titles_wrap_and_are_never_cut():
    from lora_nb.grids import get_font, line_height

    title = "lora-nb demo: checkpoint x strength · prompt: This image is labeled as xqz. a toy star · seed 42 " * 3
    g = labelled_grid([[_solid(0, (64, 64))] * 3], title=title)  # a 64 px sheet: ~200 px wide
    tfont = get_font(13)  # the title font of 64 px cells (label size 10 x 1.3)
    lines = wrap_text(title, tfont, g.image.width - 2 * 3)
    assert len(lines) > 3 and not any(x.endswith("…") for x in lines)
    assert g.boxes[0][0][1] >= len(lines) * line_height(tfont)  # every line has its room above the cells
    s = stack_panels([_solid(0, (100, 40))], ["a"], title=title)
    lines = wrap_text(title, get_font(round(12 * 1.3)), 100 - 2 * 12)
    assert len(lines) > 3 and s.boxes[0][0][1] >= len(lines) * line_height(get_font(round(12 * 1.3)))


def test_image_grid_enlarges_small_pictures_and_wraps_labels(default_language):
    tiles = [Tile(_solid(i, (64, 64)), ["This image is labeled as xqz. a toy star · seed 1234"]) for i in range(2)]
    img = image_grid(tiles, cols=2, tile_size=256, title="validation images at step 20", enlarge_small=True,
                     wrap_lines=3)
    # the 64 px picture fills the 256 px tile (pixel blocks of 4), not a 64 px square in the middle
    arr = np.asarray(img)
    rows = np.where((arr == COLOURS[0]).all(axis=2).any(axis=1))[0]
    assert rows.max() - rows.min() + 1 == 256
    plain = image_grid(tiles, cols=2, tile_size=256, title="validation images at step 20")
    rows = np.where((np.asarray(plain) == COLOURS[0]).all(axis=2).any(axis=1))[0]
    assert rows.max() - rows.min() + 1 == 64
    assert img.height > plain.height  # the note line and the wrapped label lines


def test_scale_note_said_once_for_a_sheet_of_panels():
    """A panel of enlarged cells carries its "shown ×2" note in its title, or (note_in_title=False) hands it to
    the sheet, which says it once above all panels."""
    cells = [[_solid(0, (64, 64)), _solid(1, (64, 64))]]
    with_note = labelled_grid(cells, col_labels=["0", "1"], show_at=128)
    bare = labelled_grid(cells, col_labels=["0", "1"], show_at=128, note_in_title=False)
    assert with_note.scale_note == bare.scale_note == scale_note(2, 64) and "2" in bare.scale_note
    assert bare.image.height < with_note.image.height and bare.image.width == with_note.image.width
    assert labelled_grid(cells, show_at=None).scale_note == ""
