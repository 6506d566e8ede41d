"""The one place that chooses fonts for text drawn into pictures (matplotlib plots, PIL grid labels).

Latin-only text keeps the libraries' defaults (DejaVu Sans in plots, Aileron in grids). Text with
other characters (the kit's Chinese labels, Chinese tags and prompts) needs a CJK font, chosen as:
$LORA_NB_FONT (a font file), else a CJK font installed on the system (found by matplotlib's font
manager: Noto Sans CJK, Source Han Sans, WenQuanYi, ...), else the subset shipped with the package
(`assets/fonts/NotoSansSC-lora-nb.otf`, 0.8 MB, OFL: every character of the kit's own strings plus
the 3,755 common hanzi of GB2312 level 1, so most Chinese tags and prompts too; rebuilt by
scripts/build_cjk_font.py). When a label has a character none of them covers, one line in
the learner's language says how to install a full font, instead of tofu without explanation.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

SHIPPED = Path(__file__).resolve().parent / "assets" / "fonts" / "NotoSansSC-lora-nb.otf"
SHIPPED_FAMILY = "Noto Sans SC LoraNB"  # no hyphen: matplotlib parses family names as fontconfig patterns
ENV_VAR = "LORA_NB_FONT"
# installed CJK families, best first (Simplified Chinese forms before Japanese/Traditional ones)
SYSTEM_FAMILIES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
                   "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Microsoft YaHei", "PingFang SC", "SimHei",
                   "Heiti SC", "Droid Sans Fallback", "Noto Sans CJK JP", "Noto Sans CJK TC", "AR PL UMing CN")
# where `apt-get install fonts-noto-cjk` / fonts-wqy-* put them: found even while matplotlib's font cache
# (built before the install) does not list them yet
KNOWN_FILES = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
               "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
_LATIN_END = 0x250  # below this (ASCII, Latin-1, Latin Extended) the libraries' default fonts have glyphs


class MissingGlyphWarning(UserWarning):
    """A label has characters that no available font can draw (they would show as boxes)."""


def needs_cjk(text: str) -> bool:
    """True when `text` has characters beyond Latin (which the default fonts lack)."""
    return any(ord(ch) >= _LATIN_END and not ch.isspace() for ch in str(text))


@lru_cache(maxsize=1)
def system_cjk_font() -> tuple[str, str] | None:
    """(family, file) of the best installed CJK font matplotlib knows of, or None."""
    from matplotlib import font_manager

    by_name = {e.name: e.fname for e in font_manager.fontManager.ttflist}
    for fam in SYSTEM_FAMILIES:
        if fam in by_name:
            return fam, by_name[fam]
    for path in KNOWN_FILES:
        if os.path.isfile(path):
            font_manager.fontManager.addfont(path)
            return font_manager.FontProperties(fname=path).get_name(), path
    return None


def cjk_font_path() -> Path:
    """The CJK font file in use: $LORA_NB_FONT, else an installed CJK font, else the shipped subset."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    found = system_cjk_font()
    return Path(found[1]) if found else SHIPPED


@lru_cache(maxsize=8)
def face_index(path: str) -> int:
    """For a .ttc collection, the index of its Simplified Chinese face (0 when there is none or no .ttc)."""
    if not path.lower().endswith((".ttc", ".otc")):
        return 0
    from fontTools.ttLib import TTCollection

    for i, font in enumerate(TTCollection(path, lazy=True).fonts):
        if "SC" in font["name"].getDebugName(1).split():
            return i
    return 0


@lru_cache(maxsize=8)
def codepoints(path: str) -> frozenset[int]:
    """Every character the font at `path` has a glyph for (its cmap, read with fontTools)."""
    from fontTools.ttLib import TTFont

    with TTFont(path, fontNumber=face_index(path), lazy=True) as font:
        return frozenset(font.getBestCmap() or {})


def missing_characters(texts: Iterable[str], path: str | os.PathLike | None = None) -> str:
    """The non-Latin characters of `texts` that the font at `path` (default: the CJK font) cannot draw."""
    cmap = codepoints(str(path or cjk_font_path()))
    seen = dict.fromkeys(ch for t in texts for ch in str(t or "") if ord(ch) >= _LATIN_END and not ch.isspace())
    return "".join(ch for ch in seen if ord(ch) not in cmap)


_warned: set[str] = set()


def warn_missing(texts: Iterable[str], path: str | os.PathLike | None = None) -> str:
    """Say once (in the learner's language) how to get a full CJK font when `texts` have characters
    the font lacks. Returns the missing characters."""
    missing = missing_characters(texts, path)
    new = "".join(ch for ch in missing if ch not in _warned)
    if new:
        from .i18n import t

        _warned.update(new)
        warnings.warn(t("font.missing", chars=new[:20]), MissingGlyphWarning, stacklevel=3)
    return missing


def label_font_path(texts: Iterable[str]) -> str | None:
    """The font file for PIL labels showing `texts`: None (PIL's default) when all are ASCII, else the
    CJK font (with a one-line hint when even that lacks a character). PIL's default font (Aileron) has
    no glyph even for ×, — or é, so any non-ASCII label takes the shipped font."""
    texts = [str(t) for t in texts if t]
    env = os.environ.get(ENV_VAR)
    if env:
        return env
    if all(t.isascii() for t in texts):
        return None
    path = str(cjk_font_path())
    warn_missing(texts, path)
    return path


_mpl_ready = False


def use_in_matplotlib() -> None:
    """Append the CJK font to matplotlib's font.family fallback list (once): Latin text keeps DejaVu Sans,
    each Chinese glyph comes from the CJK font (matplotlib >= 3.6 falls back per glyph)."""
    global _mpl_ready
    if _mpl_ready:
        return
    from matplotlib import font_manager, rcParams

    families = []
    env = os.environ.get(ENV_VAR)
    if env:
        font_manager.fontManager.addfont(env)
        families.append(font_manager.FontProperties(fname=env).get_name())
    found = system_cjk_font()
    if found:
        families.append(found[0])
    font_manager.fontManager.addfont(str(SHIPPED))
    families.append(SHIPPED_FAMILY)
    current = list(rcParams["font.family"])  # a generic name ("sans-serif") is one font, not a fallback chain
    rcParams["font.family"] = current + [f for f in families if f not in current]
    _mpl_ready = True


def new_figure(texts: Iterable[str] = (), **kwargs):
    """A matplotlib Figure (made without pyplot) that can draw Chinese; `texts` are checked for
    characters no font has (the hint is printed once)."""
    from matplotlib.figure import Figure

    use_in_matplotlib()
    texts = [str(t) for t in texts if t]
    if any(needs_cjk(t) for t in texts):
        warn_missing(texts)
    return Figure(**kwargs)
