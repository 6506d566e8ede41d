"""The ipywidgets caption editor: construct, edit, page, save."""

import codecs
import io

import ipywidgets as widgets
import pytest
from PIL import Image

from lora_nb.errors import DatasetError
from lora_nb.notebook.caption_widget import CaptionEditor, caption_editor


def test_editor_shows_image_and_caption(tiny_dataset):
    ed = caption_editor(tiny_dataset, thumb_size=48)
    assert isinstance(ed, widgets.Widget) and isinstance(ed, CaptionEditor)
    assert len(ed.images) == 7
    assert ed.label.value.startswith("1/7") and "1_toysquare/000.png" in ed.label.value
    assert ed.text.value == (tiny_dataset / "1_toysquare" / "000.txt").read_text(encoding="utf-8")
    thumb = Image.open(io.BytesIO(ed.image.value))
    assert thumb.format == "PNG" and max(thumb.size) <= 48
    assert ed.prev_button.disabled and not ed.next_button.disabled


def test_edit_page_and_save(tiny_dataset):
    ed = caption_editor(tiny_dataset)
    first = ed.caption_file()
    original = first.read_bytes()
    ed.text.value = "uehxbfklaq, a red square"
    assert "unsaved" in ed.status.value
    assert first.read_bytes() == original  # nothing written before Save

    ed.next_button.click()
    assert ed.index == 1 and "2/7" in ed.label.value
    assert "1 other image(s) with unsaved changes" in ed.status.value
    ed.prev_button.click()
    assert ed.text.value == "uehxbfklaq, a red square"  # the edit survived paging

    ed.save_button.click()
    assert first.read_bytes() == b"uehxbfklaq, a red square\n"
    assert "saved 000.txt" in ed.status.value and not ed.pending
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".")]  # atomic: no temp files left


def test_paging_is_clamped_at_both_ends(tiny_dataset):
    ed = caption_editor(tiny_dataset)
    for _ in range(20):
        if not ed.next_button.disabled:
            ed.next_button.click()
    assert ed.index == 6 and ed.next_button.disabled and "7/7" in ed.label.value
    ed.show(-5)
    assert ed.index == 0


def test_image_without_caption_and_odd_encodings(tiny_dataset):
    d = tiny_dataset / "1_toysquare"
    (d / "000.txt").unlink()
    (d / "001.txt").write_bytes(codecs.BOM_UTF8 + "黑色头发\r\n".encode())
    (d / "002.txt").write_bytes(b"caf\xe9 \x80")  # undecodable
    ed = caption_editor(tiny_dataset)
    assert ed.text.value == "" and "no caption file" in ed.status.value
    ed.text.value = "new caption"
    ed.save()
    assert (d / "000.txt").read_text() == "new caption\n"
    ed.show(1)
    assert ed.text.value == "黑色头发"
    ed.show(2)
    assert "neither UTF-8" in ed.status.value and ed.text.value == ""
    assert (d / "002.txt").read_bytes() == b"caf\xe9 \x80"  # not touched until the user saves


def test_unreadable_image_gets_a_placeholder(tiny_dataset):
    (tiny_dataset / "1_toysquare" / "000.png").write_bytes(b"not a png")
    ed = caption_editor(tiny_dataset, thumb_size=32)
    assert Image.open(io.BytesIO(ed.image.value)).size == (32, 32)


def test_empty_or_missing_folder(tmp_path):
    with pytest.raises(DatasetError, match="no images"):
        caption_editor(tmp_path)
    with pytest.raises(DatasetError, match="not a folder"):
        caption_editor(tmp_path / "missing")
