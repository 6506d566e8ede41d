"""English + Simplified Chinese strings: complete for every Config field, consistent placeholders, one switch."""

import string

import pytest

from lora_nb import i18n
from lora_nb.config import Config
from lora_nb.errors import ConfigError

pytestmark = pytest.mark.usefixtures("default_language")


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_config_field_has_a_chinese_help_and_label():
    names = [f["name"] for f in Config.field_info()]
    missing_help = [n for n in names if not i18n.FIELD_HELP_ZH.get(n, "").strip()]
    missing_label = [n for n in names if not i18n.FIELD_LABELS.get(n, ("", ""))[1].strip()]
    assert not missing_help, f"add Chinese help for {missing_help} to i18n.FIELD_HELP_ZH"
    assert not missing_label, f"add labels for {missing_label} to i18n.FIELD_LABELS"
    stale = set(i18n.FIELD_HELP_ZH) - set(names)
    assert not stale, f"i18n has help for fields Config no longer has: {stale}"
    # really Chinese, not a copy of the English text
    for n in names:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in i18n.FIELD_HELP_ZH[n]), n


def test_every_string_has_both_languages_with_the_same_placeholders():
    for key, entry in i18n.STRINGS.items():
        assert set(entry) == set(i18n.LANGUAGES), key
        assert entry["en"].strip() and entry["zh"].strip(), key
        assert _placeholders(entry["en"]) == _placeholders(entry["zh"]), key
    for g in ("model", "dataset", "network", "optimizer", "schedule", "training", "saving", "sampling"):
        assert i18n.group_title(g, "zh") != i18n.group_title(g, "en")


def test_t_formats_in_the_chosen_language():
    assert i18n.t("train.stopped", "en", step=120).startswith("Stopped at step 120")
    assert "120" in i18n.t("train.stopped", "zh", step=120) and "检查点" in i18n.t("train.stopped", "zh", step=120)
    assert i18n.t("form.suggest_lr", "en", rank=64, lr=8e-5).endswith("8.00e-05 (Flux LoRA guide's lr-by-rank table)")
    with pytest.raises(KeyError):
        i18n.t("no.such.key")


def test_one_setting_switches_labels_help_and_messages(monkeypatch):
    assert i18n.get_language() == "en"
    assert i18n.field_label("rank") == "Rank (dim)"
    assert i18n.field_help("rank") == next(f["help"] for f in Config.field_info() if f["name"] == "rank")
    i18n.set_language("zh-CN")
    assert i18n.get_language() == "zh"
    assert i18n.field_label("rank") == "秩 (network dim)"
    assert i18n.field_help("rank") == i18n.FIELD_HELP_ZH["rank"]
    assert i18n.t("form.valid") == "✓ 所有参数有效。"
    i18n.set_language(None)
    monkeypatch.setenv(i18n.ENV_VAR, "zh")  # the environment variable is the fallback
    assert i18n.get_language() == "zh"
    monkeypatch.setenv(i18n.ENV_VAR, "klingon")  # a bad value never breaks a notebook
    assert i18n.get_language() == "en"


def test_unknown_language_is_a_clear_config_error():
    assert i18n.normalize_language("English") == "en" and i18n.normalize_language("简体中文") == "zh"
    with pytest.raises(ConfigError, match="'en'.*'zh'"):
        i18n.set_language("fr")
