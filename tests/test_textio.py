"""Caption reading/writing: every encoding and line-end a learner's editor may produce."""

import codecs

import pytest

from lora_nb.errors import DatasetError
from lora_nb.textio import backup_files, decode_caption, read_caption, read_caption_info, read_text, write_caption

ZH = "一个女孩，黑色头发, 1girl"


def _write(tmp_path, data: bytes, name="c.txt"):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_plain_utf8(tmp_path):
    p = _write(tmp_path, b"1girl, smile\n")
    info = read_caption_info(p)
    assert (info.text, info.encoding, info.clean_utf8) == ("1girl, smile", "utf-8", True)
    assert read_caption(p) == "1girl, smile"


def test_utf8_bom_is_not_part_of_the_first_tag(tmp_path):
    p = _write(tmp_path, codecs.BOM_UTF8 + b"uehxbfklaq, cat")
    assert read_caption(p) == "uehxbfklaq, cat"
    info = read_caption_info(p)
    assert info.encoding == "utf-8-sig" and not info.clean_utf8


def test_utf16_with_bom(tmp_path):
    p = _write(tmp_path, "a cat, 黑色头发".encode("utf-16"))  # Notepad's "Unicode"
    assert read_caption(p) == "a cat, 黑色头发"
    assert read_caption_info(p).encoding == "utf-16"


@pytest.mark.parametrize("enc", ["gbk", "gb18030", "gb2312"])
def test_chinese_codepages_fall_back_to_gb18030(tmp_path, enc):
    text = "一个女孩，黑色头发" if enc == "gb2312" else ZH
    p = _write(tmp_path, text.encode(enc))
    info = read_caption_info(p)
    assert info.text == text
    assert info.encoding == "gb18030" and not info.clean_utf8


def test_utf8_chinese_stays_utf8(tmp_path):
    p = _write(tmp_path, ZH.encode("utf-8"))
    assert read_caption_info(p).encoding == "utf-8"
    assert read_caption(p) == ZH


def test_crlf_and_multiline_are_joined_not_dropped(tmp_path):
    # kohya keeps only the first line; here the second line of tags is kept
    p = _write(tmp_path, b"1girl, smile\r\nblack hair\r\n\r\n")
    info = read_caption_info(p)
    assert info.text == "1girl, smile, black hair"
    assert info.crlf and info.lines == 2 and not info.clean_utf8
    # sentences continue with a space; old Mac CR line ends too
    assert read_caption(_write(tmp_path, b"A cat.\rIt sleeps.", "s.txt")) == "A cat. It sleeps."
    assert read_caption(_write(tmp_path, b"a,\nb", "t.txt")) == "a, b"


def test_empty_and_whitespace_files(tmp_path):
    for data in (b"", b"  \r\n\t\n", codecs.BOM_UTF8):
        p = _write(tmp_path, data)
        assert read_caption(p) == ""
    assert read_caption_info(_write(tmp_path, b"")).encoding == "empty"


def test_control_characters_are_removed(tmp_path):
    p = _write(tmp_path, b"a\x00 cat\x1b, \xe2\x80\x8bsmile")  # NUL, ESC, zero-width space
    assert read_caption(p) == "a cat, smile"


def test_undecodable_bytes_raise_a_clear_error(tmp_path):
    p = _write(tmp_path, b"caf\xe9 \x80")  # latin-1 + a stray byte: neither UTF-8 nor GB18030
    with pytest.raises(DatasetError, match=r"c\.txt.*save it as UTF-8"):
        read_caption(p)
    with pytest.raises(DatasetError, match="byte-order mark"):
        decode_caption(codecs.BOM_UTF16_LE + b"\x00\xd8", "x.txt")  # lone surrogate after a UTF-16 BOM


def test_missing_file_error_names_the_file(tmp_path):
    with pytest.raises(DatasetError, match="nope.txt.*not found"):
        read_caption(tmp_path / "nope.txt")


def test_write_caption_is_one_line_utf8_without_bom(tmp_path):
    p = tmp_path / "sub" / "x.txt"
    write_caption(p, "a cat,\r\n黑色头发\x00")
    assert p.read_bytes() == "a cat, 黑色头发\n".encode()
    assert read_caption_info(p).clean_utf8
    write_caption(p, "   ")
    assert p.read_bytes() == b""
    assert not [f for f in p.parent.iterdir() if f.name.startswith(".")]  # no temp files left behind


def test_round_trip_from_gbk(tmp_path):
    p = _write(tmp_path, ZH.encode("gbk"))
    write_caption(p, read_caption(p))
    assert p.read_text(encoding="utf-8").strip() == ZH


def test_read_text_keeps_lines(tmp_path):
    p = _write(tmp_path, codecs.BOM_UTF8 + b"# comment\r\nwatermark\r\nsignature, text")
    assert read_text(p) == "# comment\nwatermark\nsignature, text"


def test_backup_files_keeps_relative_paths(tmp_path):
    (tmp_path / "10_cat").mkdir()
    a = _write(tmp_path / "10_cat", b"old caption", "a.txt")
    b = _write(tmp_path, b"top", "b.txt")
    dest = backup_files(tmp_path, [a, b], label="tags")
    assert dest.parent.name == ".lora_nb_backup" and dest.name.startswith("tags-")
    assert (dest / "10_cat" / "a.txt").read_bytes() == b"old caption"
    assert (dest / "b.txt").read_bytes() == b"top"
    assert backup_files(tmp_path, []) is None
    dest2 = backup_files(tmp_path, [a], label="tags")  # same second: a second folder, not a merge
    assert dest2 != dest
