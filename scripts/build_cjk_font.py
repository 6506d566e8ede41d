"""Rebuild lora_nb/assets/fonts/NotoSansSC-lora-nb.otf: a subset of Noto Sans CJK SC (SIL OFL 1.1).

The kit draws Chinese labels into plots and image grids. Machines without a CJK font (Colab, most
Linux images) would draw tofu, so the package ships this subset: printable ASCII, the punctuation
and symbols the kit prints, every non-ASCII character of the kit's own source (its zh strings), and
GB2312 level 1 (the 3,755 most used hanzi, so most Chinese tags and prompts render too). A full system
font is preferred when one is installed (`lora_nb.fonts`).

    apt-get download fonts-noto-cjk && dpkg -x fonts-noto-cjk_*.deb x
    python scripts/build_cjk_font.py x/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "lora_nb" / "assets" / "fonts" / "NotoSansSC-lora-nb.otf"
FAMILY = "Noto Sans SC LoraNB"  # not "Source" (the OFL Reserved Font Name); distinct from an installed Noto
EXTRA = "·×÷—–‘’“”…←→↑↓−≈≤≥▁▶◀■□●○★☆✓✗⚠、。〈〉《》「」『』【】〔〕！（），：；？～￥"


def gb2312_level1() -> str:
    """GB2312 rows 16-55: the 3,755 level-1 hanzi (the common ones), decoded with Python's codec."""
    out = []
    for row in range(0xB0, 0xD8):
        for col in range(0xA1, 0xFF):
            try:
                out.append(bytes([row, col]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return "".join(out)


def kit_characters() -> str:
    chars = set()
    for p in (ROOT / "lora_nb").rglob("*.py"):
        chars.update(ch for ch in p.read_text(encoding="utf-8") if ord(ch) > 127 and ch.isprintable())
    return "".join(sorted(chars))


def sc_face(path: Path) -> TTFont:
    if path.suffix.lower() == ".ttc":
        for font in TTCollection(str(path)).fonts:
            if "CJK SC" in font["name"].getDebugName(1) and "Mono" not in font["name"].getDebugName(1):
                return font
        raise SystemExit(f"{path}: no 'Noto Sans CJK SC' face in this collection")
    return TTFont(str(path))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path, help="NotoSansCJK-Regular.ttc (Debian fonts-noto-cjk) or NotoSansSC-*.otf")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    text = "".join(chr(c) for c in range(0x20, 0x7F)) + EXTRA + kit_characters() + gb2312_level1()
    font = sc_face(args.source)
    opts = subset.Options()
    # horizontal labels at 10-48 px need no OpenType layout, vertical metrics or hints: without them the
    # subset is 0.8 MB instead of 1.5 MB
    opts.layout_features = []
    opts.drop_tables += ["GSUB", "GPOS", "VORG", "vhea", "vmtx"]
    opts.name_IDs = ["*"]
    opts.hinting = False
    opts.notdef_outline = True
    sub = subset.Subsetter(opts)
    sub.populate(text=text)
    sub.subset(font)
    names = font["name"]
    for rec in list(names.names):
        if rec.nameID in (1, 3, 4, 16):
            names.setName(FAMILY, rec.nameID, rec.platformID, rec.platEncID, rec.langID)
        elif rec.nameID == 6:
            names.setName("NotoSansSC-lora-nb", 6, rec.platformID, rec.platEncID, rec.langID)
    if "CFF " in font:
        font["CFF "].cff.fontNames = ["NotoSansSC-lora-nb"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(args.out))
    print(f"{args.out}: {args.out.stat().st_size / 1e6:.2f} MB, {len(set(text))} characters")


if __name__ == "__main__":
    main()
