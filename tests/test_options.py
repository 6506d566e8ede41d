"""The options mechanism every step shares with Config: fields with help and bounds, text conversion,
what -> fix errors, keyword overrides, generated CLI flags and the notebook form."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest

from lora_nb.commands._option_flags import add_option_flags, options_from_args
from lora_nb.errors import ConfigError
from lora_nb.options import Options, option


@dataclass
class Toy(Options):
    size: int | None = option(None, "Side in px; empty: the family's.", min=64, max=4096)
    mode: str = option("focus", "How to crop.", choices=("center", "focus"))
    words: list = option(["a", "b"], "Words to drop.")
    strength: float = option(1.0, "LoRA strength.", min=0.0, max=2.0)
    loud: bool = option(False, "Print more.")
    tokenizer: object = option(None, "A loaded tokenizer (Python only).", cli=False)

    def problems(self) -> list[str]:
        out = super().problems()
        if not out and self.mode == "center" and self.size is None:
            out.append("size: center mode needs a size -> set size=512")
        return out


def test_defaults_validation_and_text_conversion():
    assert Toy().size is None and Toy().words == ["a", "b"] and Toy().words is not Toy().words
    t = Toy.from_dict({"size": "512", "words": "x, y", "strength": "0.5", "loud": "yes", "mode": "center"})
    assert (t.size, t.words, t.strength, t.loud) == (512, ["x", "y"], 0.5, True)
    assert Toy.from_dict({"size": ""}).size is None and Toy.from_dict({"size": "none"}).size is None
    with pytest.raises(ConfigError, match=r"size: 32 is below the minimum 64"):
        Toy(size=32)
    with pytest.raises(ConfigError, match=r"'focs' is not one of center, focus \(did you mean 'focus'\?\)"):
        Toy(mode="focs")
    with pytest.raises(ConfigError, match=r"unknown field 'szie' \(did you mean 'size'\?\)"):
        Toy.from_dict({"szie": 5})
    with pytest.raises(ConfigError, match="center mode needs a size"):
        Toy(mode="center")
    with pytest.raises(ConfigError, match="field 'size' must be int, got the text 'big'"):
        Toy.from_dict({"size": "big"})


def test_resolve_applies_keyword_overrides_to_an_options_object():
    base = Toy(size=256)
    assert Toy.resolve(base, {"strength": 0.25}) == Toy(size=256, strength=0.25)
    assert Toy.resolve(None, {}) == Toy() and Toy.resolve(base, {}) is base
    with pytest.raises(ConfigError, match=r"crop: unknown field 'sise' \(did you mean 'size'\?\)"):
        Toy.resolve(base, {"sise": 1}, "crop")
    with pytest.raises(ConfigError, match="expected Toy, got dict"):
        Toy.resolve({"size": 256})


def test_cli_flags_come_from_the_fields():
    p = argparse.ArgumentParser()
    add_option_flags(p, Toy, "toy_", "crop options")
    flags = {a.option_strings[0]: a for a in p._actions if a.option_strings}
    assert {"--size", "--mode", "--words", "--strength", "--loud"} <= set(flags) and "--tokenizer" not in flags
    assert flags["--mode"].help == "How to crop. [center|focus] (default: 'focus')"
    args = p.parse_args(["--size", "768", "--words", "x,y", "--loud", "true"])
    t = options_from_args(args, Toy, "toy_", mode="center")
    assert (t.size, t.words, t.loud, t.mode, t.strength) == (768, ["x", "y"], True, "center", 1.0)
    with pytest.raises(ConfigError, match="command line: invalid Toy: strength: 3.0 is above the maximum 2.0"):
        options_from_args(p.parse_args(["--strength", "3"]), Toy, "toy_")


def test_form_widgets_follow_the_fields_and_validate():
    import ipywidgets as widgets

    from lora_nb.notebook.form import options_form

    tok = object()
    form = options_form(Toy(tokenizer=tok))
    assert set(form.widgets) == {"size", "mode", "words", "strength", "loud"}
    assert isinstance(form.widgets["mode"], widgets.Dropdown) and isinstance(form.widgets["loud"], widgets.Checkbox)
    assert isinstance(form.widgets["size"], widgets.Text) and form.widgets["size"].value == ""
    form.widgets["size"].value = "640"
    form.widgets["words"].value = "cat, dog"
    assert form.valid and form.options == Toy(size=640, words=["cat", "dog"], tokenizer=tok)
    form.widgets["size"].value = "tiny"
    assert not form.valid and form.problems == ["field 'size' must be int, got the text 'tiny' -> write a int value"]
    with pytest.raises(ConfigError, match="the form has invalid values"):
        form.options
    form.widgets["size"].value = ""
    form.widgets["mode"].value = "center"
    assert form.problems == ["size: center mode needs a size -> set size=512"]
