"""Tag cleaning: pure caption functions, the folder driver, statistics and the `lora-nb tags` CLI."""

import codecs
import json
import os

import pytest

from lora_nb.dataset.clean import CleanOptions, clean_caption, clean_folder, replacements, trigger_words
from lora_nb.dataset.tag_rules import (
    add_trigger,
    dedupe_tags,
    has_trigger,
    is_natural_language,
    normalize_caption,
    parse_replacements,
    parse_tag_list,
    remove_tags,
    replace_tags,
    sort_tags,
    split_tags,
)
from lora_nb.dataset.tag_stats import caption_stats, load_clip_tokenizer, plot_tag_frequency, tag_frequency
from lora_nb.errors import ConfigError, DatasetError

SEED000_TEMPLATE = "This image is labeled as {id}. {caption}"


# --- pure functions ------------------------------------------------------------------------------
def test_split_and_normalize():
    assert split_tags(" 1girl ,, smile，solo , ") == ["1girl", "smile", "solo"]
    assert normalize_caption("1girl,  long_hair ,^_^,,Smile", underscores=True) == "1girl, long hair, ^_^, Smile"
    assert normalize_caption("1girl, Long_Hair", lowercase=True) == "1girl, long_hair"
    assert normalize_caption("A  cat ,sitting  on a mat .") == "A cat, sitting on a mat."


@pytest.mark.parametrize("caption,prose", [
    ("1girl, black hair, smile", False),
    ("looking at viewer, upper body", False),
    ("a red circle, blue background", False),
    ("a cat sitting on a wooden table", True),
    ("A cat.", True),
    ("This image is labeled as uehxbfklaq. A cat.", True),
    ("a red cat", True),
    ("1girl, surprised, !?", False),
    ("一个女孩，黑色头发", False),
    ("一个女孩站在窗前。", True),
    ("", False),
])
def test_prose_or_tags(caption, prose):
    assert is_natural_language(caption) is prose


def test_trigger_goes_first_and_is_idempotent():
    once = add_trigger("1girl, smile", "uehxbfklaq")
    assert once == "uehxbfklaq, 1girl, smile"
    assert add_trigger(once, "uehxbfklaq") == once
    assert add_trigger("smile, uehxbfklaq, solo", "uehxbfklaq") == "uehxbfklaq, smile, solo"  # moved to the front
    assert add_trigger("", "uehxbfklaq") == "uehxbfklaq"
    assert add_trigger("a cat on a mat", "") == "a cat on a mat"


def test_trigger_in_prose():
    assert add_trigger("A cat sleeps on a sofa.", "xyz") == "xyz, A cat sleeps on a sofa."
    # already named somewhere in the sentence: left alone
    assert add_trigger("A photo of xyz sleeping on a sofa.", "xyz") == "A photo of xyz sleeping on a sofa."


def test_flux_guide_template():
    once = add_trigger("A cat.", "uehxbfklaq", SEED000_TEMPLATE)
    assert once == "This image is labeled as uehxbfklaq. A cat."
    assert add_trigger(once, "uehxbfklaq", SEED000_TEMPLATE) == once
    assert add_trigger("A cat.", "abc", "An image tagged with {trigger}.") == "An image tagged with abc. A cat."
    with pytest.raises(ValueError):
        add_trigger("x", "abc", "no placeholder")


def test_has_trigger_whole_words_only():
    assert has_trigger("a xyz cat", "xyz") and has_trigger("XYZ, cat", "xyz")
    assert not has_trigger("axyzb cat", "xyz")


def test_remove_tags_exact_case_underscore_and_wildcards():
    c = "1girl, Black_Hair, black eyes, long hair, smile"
    assert remove_tags(c, ["black hair"]) == "1girl, black eyes, long hair, smile"
    assert remove_tags(c, ["*hair"]) == "1girl, black eyes, smile"
    assert remove_tags(c, ["hair"]) == c  # whole tags only: 'hair' is not 'long hair'
    assert remove_tags("xyz, red", ["*"], keep=["xyz"]) == "xyz"


def test_remove_phrases_from_prose():
    # LoRA explainer: delete "black hair" so the trigger absorbs it
    assert remove_tags("A girl with black hair, smiling at the camera.", ["black hair"]) == \
        "A girl with, smiling at the camera."
    assert remove_tags("A girl with black_hair.", ["black hair"]) == "A girl with."
    assert remove_tags("The blackhaired girl.", ["black hair"]) == "The blackhaired girl."  # not a whole word


def test_replace_tags_and_phrases():
    assert replace_tags("1girl, long_hair, smile", {"long hair": "very long hair"}) == "1girl, very long hair, smile"
    assert replace_tags("1girl, watermark, smile", {"watermark": ""}) == "1girl, smile"
    assert replace_tags("A girl with long hair.", {"long hair": "short hair"}) == "A girl with short hair."


def test_dedupe_and_sort():
    assert dedupe_tags("smile, 1girl, Smile, long_hair, 1girl, long hair") == "smile, 1girl, long_hair"
    assert sort_tags("trig, c, a, b", keep_tokens=1) == "trig, a, b, c"
    assert sort_tags("c, a, b", counts={"b": 5, "c": 2}) == "b, c, a"
    assert sort_tags("A cat. A dog.", keep_tokens=0) == "A cat. A dog."  # prose is never sorted


def test_parsers():
    assert parse_replacements(["long_hair=long hair", "watermark="]) == {"long_hair": "long hair", "watermark": ""}
    with pytest.raises(DatasetError, match="OLD=NEW"):
        parse_replacements(["nonsense"])
    assert parse_tag_list("# unwanted\nwatermark, signature\n\ntext\n") == ["watermark", "signature", "text"]


def test_clean_caption_pipeline_and_idempotence():
    opts = CleanOptions(trigger="uehxbfklaq", remove=["black hair"], blacklist=["watermark"],
                        replace={"1_girl": "1girl"}, dedupe=True, sort="alpha", underscores=True)
    caption = "smile, 1_girl, black_hair, watermark, solo, smile"
    once = clean_caption(caption, opts)
    assert once == "uehxbfklaq, 1girl, smile, solo"
    assert clean_caption(once, opts) == once
    prose = CleanOptions(trigger="uehxbfklaq", template=SEED000_TEMPLATE, remove=["black hair"], dedupe=True)
    once = clean_caption("A girl with black hair.", prose)
    assert once == "This image is labeled as uehxbfklaq. A girl with."
    assert clean_caption(once, prose) == once


def test_clean_options_validation():
    with pytest.raises(DatasetError, match="sort"):
        CleanOptions(sort="random")
    with pytest.raises(DatasetError, match="placeholder"):
        CleanOptions(template="labeled as X")


def test_clean_options_defaults_bounds_and_text_forms():
    from lora_nb.config import Config
    from lora_nb.textio import CAPTION_EXT

    o = CleanOptions()
    assert (o.trigger, o.template, o.remove, o.replace, o.sort, o.keep_tokens, o.style, o.seed, o.ext) == \
        ("", "", [], {}, "", 0, "auto", None, CAPTION_EXT)
    info = {i["name"]: i for i in CleanOptions.field_info()}
    assert all(i["help"] for i in info.values())
    assert info["sort"]["choices"] == ("", "alpha", "frequency")
    assert info["style"]["choices"] == ("auto", "tags", "text")
    assert (info["keep_tokens"]["min"], info["keep_tokens"]["max"]) == (0, 75)
    assert info["keep_tokens"]["max"] == next(i["max"] for i in Config.field_info() if i["name"] == "keep_tokens")
    assert info["tokenizer"]["cli"] is False
    with pytest.raises(DatasetError, match="keep_tokens: -1 is below the minimum 0"):
        CleanOptions(keep_tokens=-1)
    with pytest.raises(DatasetError, match="keep_tokens: 76 is above the maximum 75"):
        CleanOptions(keep_tokens=76)
    with pytest.raises(DatasetError, match="style: 'prose' is not one of auto, tags, text"):
        CleanOptions(style="prose")
    with pytest.raises(DatasetError, match="sort: 'random' -> use 'alpha', 'frequency' or ''"):
        CleanOptions(sort="random")
    # the text forms the command line and the form give
    t = CleanOptions.from_dict({"trigger": "1_a=xqzv, 2_b=zqxw", "replace": "long_hair=long hair, watermark=",
                                "keep_tokens": "1", "dedupe": "true"})
    assert trigger_words(t.trigger) == {"1_a": "xqzv", "2_b": "zqxw"} and (t.keep_tokens, t.dedupe) == (1, True)
    assert replacements(t.replace) == {"long_hair": "long hair", "watermark": ""}
    assert trigger_words(" auto ") == "auto" and replacements({"a": "b"}) == {"a": "b"}
    with pytest.raises(DatasetError, match="trigger: 'xqzv, 2_b=zqxw' mixes WORD and FOLDER=WORD"):
        CleanOptions(trigger="xqzv, 2_b=zqxw")
    with pytest.raises(DatasetError, match="replace: replacement 'oops' has no '='.*OLD=NEW"):
        CleanOptions(replace="oops")


# --- folder driver -------------------------------------------------------------------------------
def _snapshot(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_clean_to_new_folder_leaves_originals_untouched(tiny_dataset, tmp_path):
    before = _snapshot(tiny_dataset)
    out = tmp_path / "clean"
    rep = clean_folder(tiny_dataset, CleanOptions(trigger="uehxbfklaq", remove=["*background"]), out=out)
    assert _snapshot(tiny_dataset) == before
    cap = (out / "2_toycircle" / "000.txt").read_text(encoding="utf-8")
    assert cap.startswith("uehxbfklaq, toycircle, a ") and "background" not in cap
    assert (out / "2_toycircle" / "000.png").read_bytes() == (tiny_dataset / "2_toycircle" / "000.png").read_bytes()
    assert len(rep.changes) == 7 and rep.unchanged == 0
    assert json.loads((out / "triggers.json").read_text()) == {"1_toysquare": "uehxbfklaq",
                                                               "2_toycircle": "uehxbfklaq"}
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # temp folder renamed into place


def test_dry_run_shows_a_diff_and_writes_nothing(tiny_dataset):
    before = _snapshot(tiny_dataset)
    rep = clean_folder(tiny_dataset, CleanOptions(trigger="xyzq"), dry_run=True)
    assert _snapshot(tiny_dataset) == before
    diff = rep.diff()
    assert "--- a/2_toycircle/000.txt" in diff and "+++ b/2_toycircle/000.txt" in diff
    assert "\n+xyzq, toycircle" in diff and "\n-toycircle" in diff
    assert "would change 7 caption(s)" in rep.summary()


def test_in_place_keeps_a_backup_and_is_idempotent(tiny_dataset):
    cap = tiny_dataset / "1_toysquare" / "000.txt"
    original = cap.read_bytes()
    rep = clean_folder(tiny_dataset, CleanOptions(trigger="auto", seed=0), in_place=True)
    trig = rep.triggers["1_toysquare"]
    assert len(trig) == 10 and rep.triggers["2_toycircle"] != trig
    assert cap.read_text(encoding="utf-8").startswith(trig + ", toysquare")
    assert (rep.backup / "1_toysquare" / "000.txt").read_bytes() == original
    assert rep.backup.parent.name == ".lora_nb_backup"
    # second run reuses triggers.json: nothing changes, no second id
    again = clean_folder(tiny_dataset, CleanOptions(trigger="auto", seed=1), in_place=True)
    assert again.triggers == rep.triggers and not again.changes and again.backup is None


def test_output_folder_guards(tiny_dataset, tmp_path):
    with pytest.raises(DatasetError, match="overlaps"):
        clean_folder(tiny_dataset, CleanOptions(), out=tiny_dataset / "sub")
    with pytest.raises(DatasetError, match="no output"):
        clean_folder(tiny_dataset, CleanOptions())
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.me").write_text("x")
    with pytest.raises(DatasetError, match="not empty"):
        clean_folder(tiny_dataset, CleanOptions(), out=out)
    clean_folder(tiny_dataset, CleanOptions(), out=out, overwrite=True)
    assert not (out / "keep.me").exists() and (out / "2_toycircle" / "000.txt").is_file()
    with pytest.raises(DatasetError, match="not a folder"):
        clean_folder(out / "2_toycircle" / "000.txt", CleanOptions(), dry_run=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images"):
        clean_folder(tmp_path / "empty", CleanOptions(), dry_run=True)


def test_clean_folder_takes_options_and_keyword_overrides(tiny_dataset):
    opts = CleanOptions(trigger="xyzq", remove=["*background"])
    rep = clean_folder(tiny_dataset, opts, dry_run=True, trigger="abcq", replace="a red square=a crimson square")
    new = [n for _, _, n in rep.changes]
    assert len(new) == 7 and all(n.startswith("abcq, ") and "background" not in n for n in new)
    assert "abcq, toysquare, a crimson square" in new and opts.trigger == "xyzq"  # the object is left as it was
    assert not clean_folder(tiny_dataset, opts, dry_run=True, trigger="").changes[0][2].startswith("xyzq")
    (tiny_dataset / "2_toycircle" / "000.caption").write_text("toycircle, red")  # ext is a setting too
    rep = clean_folder(tiny_dataset, opts, dry_run=True, ext=".caption")
    assert [n for _, _, n in rep.changes] == ["xyzq, toycircle, red"] and len(rep.missing_captions) == 6
    with pytest.raises(ConfigError, match=r"clean_folder: unknown field 'dedup' \(did you mean 'dedupe'\?\)"):
        clean_folder(tiny_dataset, opts, dry_run=True, dedup=True)
    with pytest.raises(DatasetError, match="keep_tokens: -2 is below the minimum 0"):
        clean_folder(tiny_dataset, dry_run=True, keep_tokens=-2)


def test_notebook_form_shows_the_clean_options():
    import ast
    from pathlib import Path

    import ipywidgets as widgets

    from lora_nb.notebook.ui import options_form

    tok = object()
    form = options_form(CleanOptions(trigger="auto", replace="", keep_tokens=1, tokenizer=tok))
    assert set(form.widgets) == {i["name"] for i in CleanOptions.field_info() if i.get("cli", True)}
    assert "tokenizer" not in form.widgets and form.options.tokenizer is tok
    assert isinstance(form.widgets["sort"], widgets.Dropdown) and isinstance(form.widgets["style"], widgets.Dropdown)
    assert isinstance(form.widgets["keep_tokens"], widgets.IntSlider) and form.widgets["keep_tokens"].max == 75
    form.widgets["trigger"].value = "xqzv"
    form.widgets["replace"].value = "long_hair=long hair"
    form.widgets["dedupe"].value = True
    assert form.valid and clean_caption("long_hair, smile, smile", form.options) == "xqzv, long hair, smile"
    form.widgets["replace"].value = "oops"
    assert not form.valid and "OLD=NEW" in form.problems[0]
    # notebook 04 builds its form from CleanOptions fields, and cleans with what the form shows
    nb = json.loads((Path(__file__).parent.parent / "notebooks" / "04_clean_tags.ipynb").read_text(encoding="utf-8"))
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    cell = next(c for c in code if "ui.options_form(CleanOptions(" in c)
    call = next(n for n in ast.walk(ast.parse(cell)) if isinstance(n, ast.Call) and getattr(n.func, "id", "") ==
                "CleanOptions")
    assert {k.arg for k in call.keywords if k.arg} <= set(form.widgets)  # **given: the trigger settings
    assert {"trigger", "template", "style"} <= set(form.widgets)  # what `given` holds (sample_clean_settings)
    assert [c for c in code if "clean_folder(" in c] and all("form.options" in c for c in code if "clean_folder(" in c)


def test_per_concept_triggers(tiny_dataset, tmp_path):
    rep = clean_folder(tiny_dataset, CleanOptions(trigger={"2_toycircle": "circlexqz"}), out=tmp_path / "o")
    assert (tmp_path / "o" / "2_toycircle" / "001.txt").read_text().startswith("circlexqz, ")
    assert (tmp_path / "o" / "1_toysquare" / "001.txt").read_text().startswith("toysquare, ")
    assert rep.triggers == {"2_toycircle": "circlexqz"}
    with pytest.raises(DatasetError, match="unknown concept"):
        clean_folder(tiny_dataset, CleanOptions(trigger={"3_nope": "x"}), dry_run=True)


def test_bad_input_is_handled_and_reported(tiny_dataset, tmp_path):
    d = tiny_dataset / "2_toycircle"
    (d / "000.txt").write_bytes(codecs.BOM_UTF8 + "toycircle, 黑色头发\r\n".encode())  # BOM + CRLF
    (d / "001.txt").write_bytes("toycircle，一个女孩".encode("gbk"))  # GBK, full-width comma
    (d / "002.txt").write_bytes(b"")  # empty
    (d / "003.txt").unlink()  # image without caption
    (d / "999.txt").write_text("orphan caption")  # caption without image
    out = tmp_path / "o"
    rep = clean_folder(tiny_dataset, CleanOptions(trigger="xqzv", remove=["toycircle"]), out=out)
    assert (out / "2_toycircle" / "000.txt").read_bytes() == "xqzv, 黑色头发\n".encode()
    assert (out / "2_toycircle" / "001.txt").read_text(encoding="utf-8") == "xqzv, 一个女孩\n"
    assert (out / "2_toycircle" / "002.txt").read_text() == "xqzv\n"
    assert rep.missing_captions == [d / "003.png"] and (out / "2_toycircle" / "003.png").is_file()
    assert not (out / "2_toycircle" / "003.txt").exists()
    assert rep.orphan_captions == [d / "999.txt"] and not (out / "2_toycircle" / "999.txt").exists()
    assert set(rep.reencoded) == {d / "000.txt", d / "001.txt"}
    text = "\n".join(rep.warnings)
    assert "without a caption file" in text and "003.png" in text and "999.txt" in text
    # removing everything empties a caption: reported
    rep = clean_folder(tiny_dataset, CleanOptions(remove=["*"]), dry_run=True)
    assert len(rep.emptied) == 6 and any("empty after cleaning" in w for w in rep.warnings)


def test_undecodable_caption_stops_before_writing(tiny_dataset, tmp_path):
    (tiny_dataset / "2_toycircle" / "000.txt").write_bytes(b"caf\xe9 \x80")
    with pytest.raises(DatasetError, match="000.txt"):
        clean_folder(tiny_dataset, CleanOptions(trigger="x"), out=tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_keep_tokens_warning_and_frequency_sort(tiny_dataset):
    rep = clean_folder(tiny_dataset, CleanOptions(trigger="xqzv", template="{caption} by {trigger}", keep_tokens=1),
                       dry_run=True)
    assert any("within the first 1" in w for w in rep.warnings)
    rep = clean_folder(tiny_dataset, CleanOptions(sort="frequency", style="tags"), dry_run=True)
    overall = {}
    for per in tag_frequency(tiny_dataset).values():
        for t, n in per.items():
            overall[t] = overall.get(t, 0) + n
    assert rep.changes
    for _, _, new in rep.changes:  # most frequent tags (over the whole dataset) first
        counts = [overall[t] for t in split_tags(new)]
        assert counts == sorted(counts, reverse=True)


def test_shared_caption_warning(tmp_path):
    from PIL import Image

    for ext in (".png", ".jpg"):
        Image.new("RGB", (8, 8)).save(tmp_path / f"a{ext}")
    (tmp_path / "a.txt").write_text("cat")
    rep = clean_folder(tmp_path, CleanOptions(trigger="q"), dry_run=True)
    assert any("caption of 2 images" in w for w in rep.warnings)


# --- statistics ----------------------------------------------------------------------------------
def test_tag_frequency_feeds_ss_tag_frequency(tiny_dataset):
    (tiny_dataset / "1_toysquare" / "000.txt").write_text("ToySquare, Red,  red ,", encoding="utf-8")
    freq = tag_frequency(tiny_dataset)
    assert set(freq) == {"1_toysquare", "2_toycircle"}
    assert freq["2_toycircle"]["toycircle"] == 4
    assert freq["1_toysquare"]["toysquare"] == 3 and freq["1_toysquare"]["red"] == 2
    # kohya's rule: split on commas, strip, lowercase, count
    json.dumps(freq)  # must serialise into safetensors metadata


def test_caption_stats_reports_everything(tiny_dataset, tmp_path):
    from lora_nb.toy.testing import build_tiny_clip_tokenizer

    d = tiny_dataset / "2_toycircle"
    (d / "000.txt").write_text("xqzv, " + ", ".join(f"tag{i} red circle" for i in range(30)))  # > 77 tokens
    (d / "001.txt").write_bytes("xqzv, 黑色头发".encode("gbk"))
    (d / "002.txt").write_text("")
    (d / "003.txt").unlink()
    (d / "999.txt").write_text("orphan")
    (tiny_dataset / "1_toysquare" / "000.txt").write_bytes(b"caf\xe9 \x80")
    model = tmp_path / "base"
    build_tiny_clip_tokenizer(model / "tokenizer")  # a diffusers-style base model folder
    stats = caption_stats(tiny_dataset, trigger="xqzv", tokenizer=model)
    assert stats.images == 7
    assert stats.missing_captions == [d / "003.png"]
    assert stats.orphan_captions == [d / "999.txt"]
    assert stats.empty_captions == [d / "002.txt"]
    assert set(stats.missing_trigger) == {d / "002.txt", tiny_dataset / "1_toysquare" / "001.txt",
                                          tiny_dataset / "1_toysquare" / "002.txt"}
    assert list(stats.unreadable) == [tiny_dataset / "1_toysquare" / "000.txt"]
    assert stats.not_plain_utf8 == {d / "001.txt": "GB18030"}
    assert stats.too_long == [d / "000.txt"] and stats.token_lengths[d / "000.txt"] > 77
    assert stats.token_lengths[d / "001.txt"] < 77
    assert stats.frequency["2_toycircle"]["xqzv"] == 2
    warnings = "\n".join(stats.warnings())
    for needle in ("no caption file", "are empty", "have no image", "lack the trigger", "77 CLIP tokens",
                   "neither UTF-8", "not plain one-line UTF-8"):
        assert needle in warnings
    assert "top tags:" in stats.summary()


def test_stats_use_saved_triggers_and_work_without_tokenizer(tiny_dataset, tmp_path):
    clean_folder(tiny_dataset, CleanOptions(trigger="auto", seed=0), in_place=True)
    stats = caption_stats(tiny_dataset)
    assert stats.token_lengths is None and stats.too_long == []
    assert stats.missing_trigger == []
    (tiny_dataset / "1_toysquare" / "000.txt").write_text("no trigger here")
    assert caption_stats(tiny_dataset).missing_trigger == [tiny_dataset / "1_toysquare" / "000.txt"]


def test_load_clip_tokenizer_errors(tmp_path):
    from lora_nb.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="cannot load a tokenizer"):
        load_clip_tokenizer(tmp_path)
    assert load_clip_tokenizer(None) is None


def test_top_n_chart(tiny_dataset):
    from matplotlib.figure import Figure

    stats = caption_stats(tiny_dataset)
    fig = plot_tag_frequency(stats, top=3)
    assert isinstance(fig, Figure)
    bars = fig.axes[0].patches
    assert len(bars) == 3
    assert max(b.get_width() for b in bars) == stats.top(1)[0][1]
    fig2 = plot_tag_frequency({"a": 2, "b": 1}, concept=None, title="t")
    assert [t.get_text() for t in fig2.axes[0].get_yticklabels()] == ["b", "a"]


# --- CLI -----------------------------------------------------------------------------------------
def test_cli_clean_dry_run_and_stats(tiny_dataset, tmp_path, capsys):
    from lora_nb.cli import main

    blacklist = tmp_path / "black.txt"
    blacklist.write_bytes(codecs.BOM_UTF8 + b"# never\r\nblue background\r\n")
    out = tmp_path / "clean"
    assert main(["tags", str(tiny_dataset), "--trigger", "xqzv", "--remove", "toycircle, toysquare",
                 "--blacklist-file", str(blacklist), "--replace", "red background=crimson background", "--dedupe",
                 "true", "--sort", "alpha", "--keep-tokens", "1", "--out", str(out)]) == 0
    texts = [p.read_text() for p in out.rglob("*.txt")]
    assert len(texts) == 7 and all(t.startswith("xqzv, ") for t in texts)
    assert not any("blue background" in t or "toycircle" in t or "red background" in t for t in texts)
    assert "changed 7 caption(s)" in capsys.readouterr().out

    before = _snapshot(tiny_dataset)
    assert main(["tags", str(tiny_dataset), "--trigger", "xqzv", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "+++ b/2_toycircle/000.txt" in printed and "would change 7" in printed
    assert _snapshot(tiny_dataset) == before

    assert main(["tags", str(tiny_dataset), "--stats", "--trigger", "xqzv", "--top", "3"]) == 0
    assert "lack the trigger" in capsys.readouterr().out

    default_out = tiny_dataset.parent / (tiny_dataset.name + "_clean")
    assert main(["tags", str(tiny_dataset), "--trigger", "auto", "--seed", "0"]) == 0
    ids = json.loads((default_out / "triggers.json").read_text())
    assert set(ids) == {"1_toysquare", "2_toycircle"}


def test_cli_flags_are_the_clean_options(tiny_dataset, capsys):
    from lora_nb.cli import build_parser, main

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["tags"]
    flags = {a.dest.removeprefix("clean_"): a for a in sub._actions if a.dest.startswith("clean_")}
    fields = {i["name"]: i for i in CleanOptions.field_info() if i.get("cli", True)}
    assert set(flags) == set(fields) and "tokenizer" not in flags
    for name, action in flags.items():
        assert action.help.startswith(fields[name]["help"]) and action.default is None
    assert flags["sort"].help.endswith("[|alpha|frequency] (default: '')")
    assert main(["tags", str(tiny_dataset), "--trigger", "2_toycircle=circlexqz", "--remove", "*background",
                 "--replace", "a yellow circle=a sun", "--lowercase", "true", "--style", "tags", "--sort", "alpha",
                 "--ext", ".txt", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "+circlexqz, a sun, toycircle" in printed and "would change 7" in printed
    assert "+a red square, toysquare\n" in printed  # no trigger for the other concept: all tags sorted
    assert main(["tags", str(tiny_dataset), "--keep-tokens", "99", "--dry-run"]) == 2
    assert "keep_tokens: 99 is above the maximum 75" in capsys.readouterr().err


def test_cli_bad_input_exits_2(tiny_dataset, capsys):
    from lora_nb.cli import main

    assert main(["tags", str(tiny_dataset), "--replace", "oops", "--dry-run"]) == 2
    assert "OLD=NEW" in capsys.readouterr().err
    assert main(["tags", str(tiny_dataset / "missing"), "--dry-run"]) == 2
    assert main(["tags", str(tiny_dataset), "--trigger", "a, 2_toycircle=b", "--dry-run"]) == 2
    with pytest.raises(SystemExit):
        main(["tags", str(tiny_dataset), "--in-place", "--dry-run"])  # mutually exclusive
    assert os.path.isdir(tiny_dataset)
