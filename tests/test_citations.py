"""Citations of the four tutorials resolve in docs/sources.md.

The kit cites its sources by short title and section ("Flux LoRA guide §4.2", "《Flux LoRA 训练经验》").
docs/sources.md defines the short titles (one `## <English> — 《<Chinese>》` heading each) and lists, in
each tutorial's "Rules" table, the sections the kit relies on. These tests keep code, notebooks and that
page in step. They read files only: no git, no network, no torch.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "docs" / "sources.md"
CITING = ("lora_nb", "notebooks")  # where the kit cites the tutorials
OLD_FORM_SCOPE = ("lora_nb", "notebooks", "README.md", "docs")
SOURCE_SUFFIXES = {".py", ".ipynb", ".md", ".txt", ".rst"}  # kit text; not model/tokenizer data
SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints"}
MAX_BYTES = 2_000_000

OLD_FORM = re.compile(r"\bseeds? 00[0-3]\b|种子文档", re.IGNORECASE)
HEADING = re.compile(r"^## (?P<en>.+?) — 《(?P<zh>[^》\n]+)》\s*$", re.MULTILINE)
SECTION = r"§(\d+(?:\.\d+)*)(?:[-–](\d+))?"  # §4.2, §5, §5.2-3
CHINESE_NUMERAL_SECTION = re.compile(r"§[一二三四五六七八九十]")
# "<source> §N" where the source is not one of the tutorials (papers cited by section)
OTHER_REFERENCES = {"QLoRA", "SD3"}
ARXIV_ID = re.compile(r"\d{4}\.\d{4,5}")  # "arXiv 2305.08891 §3.4": a paper cited by its id


# --- reading -------------------------------------------------------------------------------------
def _files(scope: tuple[str, ...], suffixes: set[str] | None = None):
    for name in scope:
        path = ROOT / name
        paths = [path] if path.is_file() else sorted(path.rglob("*")) if path.is_dir() else []
        for p in paths:
            if not p.is_file() or SKIP_DIRS.intersection(p.relative_to(ROOT).parts):
                continue
            if suffixes is not None and p.suffix not in suffixes:
                continue
            text = _text(p)
            if text is not None:
                yield p, text


def _text(path: Path) -> str | None:
    try:
        if path.stat().st_size > MAX_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _where(path: Path, text: str, pos: int) -> str:
    return f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, pos) + 1}"


def _sections(match: re.Match) -> list[str]:
    """'5.2' -> ['5.2']; '5.2' with range end '3' -> ['5.2', '5.3']."""
    first, end = match.group(1), match.group(2)
    if not end:
        return [first]
    head, _, last = first.rpartition(".")
    return [f"{head}.{n}" if head else str(n) for n in range(int(last), int(end) + 1)]


def defined_sources() -> dict[str, dict]:
    """English short title -> {"zh": Chinese short title, "sections": {"4.2", ...}} from docs/sources.md."""
    text = SOURCES.read_text(encoding="utf-8")
    out: dict[str, dict] = {}
    for h in HEADING.finditer(text):
        nxt = re.compile(r"^## ", re.MULTILINE).search(text, h.end())
        block = text[h.end():nxt.start() if nxt else len(text)]
        sections: set[str] = set()
        for line in block.splitlines():
            if not line.startswith("|"):
                continue
            first_cell = line.split("|")[1].strip()
            if first_cell in ("Section", "") or set(first_cell) <= set("-: "):
                continue
            for m in re.finditer(SECTION, first_cell):
                sections.update(_sections(m))
        out[h.group("en").strip()] = {"zh": h.group("zh").strip(), "sections": sections}
    return out


def _title_pattern(titles) -> str:
    return "|".join(re.escape(t) for t in sorted(titles, key=len, reverse=True))


# --- the page itself -------------------------------------------------------------------------------
def test_sources_page_defines_four_tutorials_with_rules():
    src = defined_sources()
    assert len(src) == 4, f"docs/sources.md should define the four tutorials, found {sorted(src)}"
    assert len({s["zh"] for s in src.values()}) == 4
    for en, s in src.items():
        assert re.search(r"(guide|walkthrough|explainer)$", en), en
        block = SOURCES.read_text(encoding="utf-8").split(f"## {en} — ")[1].split("\n## ")[0]
        assert "| Section | Rule | Where in the kit |" in block, f"{en}: no rules table"
        for field in ("Full original title", "Author / publisher, link", "Date", "Licence"):
            assert f"**{field}:**" in block, f"{en}: no {field!r}"


# --- (a) the old "seed 000" form is gone -----------------------------------------------------------
def test_no_seed_numbers_left():
    hits = [f"{_where(p, t, m.start())}: {m.group(0)!r}"
            for p, t in _files(OLD_FORM_SCOPE) for m in OLD_FORM.finditer(t)]
    assert not hits, "cite the tutorials by short title (docs/sources.md), not by seed number:\n" + "\n".join(hits)


# --- (b) every cited title is defined ----------------------------------------------------------------
def test_cited_titles_are_defined():
    src = defined_sources()
    en_titles, zh_titles = set(src), {s["zh"] for s in src.values()}
    titled_end = re.compile(rf"(?:{_title_pattern(en_titles)})$")
    bad = []
    for p, t in _files(CITING, SOURCE_SUFFIXES):
        # Chinese: every 《…》 names a defined tutorial
        for m in re.finditer(r"《([^》\n]*)》", t):
            if m.group(1) not in zh_titles:
                bad.append(f"{_where(p, t, m.start())}: 《{m.group(1)}》")
        # English: a title-shaped "<Capitalised word> guide/walkthrough/explainer" is a defined title
        for m in re.finditer(r"(?<![\w-])(guide|walkthrough|explainer)(?![\w-])", t, re.IGNORECASE):
            before = t[max(0, m.start() - 60):m.end()]
            if titled_end.search(before):
                continue
            words = t[max(0, m.start() - 60):m.start()].split()
            prev = words[-1] if words else ""
            prev2 = words[-2].lower() if len(words) > 1 else ""
            if prev[:1].isupper() and prev2 not in ("a", "an", "the"):
                bad.append(f"{_where(p, t, m.start())}: {prev} {m.group(0)!r}")
        # a "§N" follows a defined title, continues a list of sections, or names a known non-tutorial source
        for m in re.finditer(r"§", t):
            pre = t[max(0, m.start() - 60):m.start()]
            if re.search(rf"(?:{_title_pattern(en_titles | {f'《{z}》' for z in zh_titles})})\s*$", pre):
                continue
            if re.search(r"(?:[,(;/&–-]|[（、，；]|\band|\bor|和|或)\s*$", pre):  # Chinese lists and asides too
                continue
            last = re.sub(r"^\W+", "", pre.split()[-1]) if pre.split() else ""
            if last not in OTHER_REFERENCES and not ARXIV_ID.fullmatch(last):
                bad.append(f"{_where(p, t, m.start())}: '{' '.join(pre.split()[-3:])} §…'")
    assert not bad, "titles not defined in docs/sources.md:\n" + "\n".join(bad)


# --- (c) every "<title> §N" section is listed ----------------------------------------------------------
def test_cited_sections_are_listed():
    src = defined_sources()
    by_title = {en: en for en in src} | {f"《{s['zh']}》": en for en, s in src.items()}
    chain = re.compile(rf"({_title_pattern(by_title)})\s*({SECTION}(?:\s*(?:,|and|&|/)\s*{SECTION})*)")
    missing, seen = [], 0
    for p, t in _files(CITING, SOURCE_SUFFIXES):
        for m in chain.finditer(t):
            en = by_title[m.group(1)]
            for s in re.finditer(SECTION, m.group(2)):
                for number in _sections(s):
                    seen += 1
                    if number not in src[en]["sections"]:
                        missing.append(f"{_where(p, t, m.start())}: {en} §{number}")
    assert seen, "no '<short title> §N' citations found; did the citation form change?"
    assert not missing, ("sections cited but not listed in docs/sources.md (check the tutorial, then add "
                         "a row or fix the citation):\n" + "\n".join(missing))


def test_sections_use_digits():
    hits = [f"{_where(p, t, m.start())}: {t[m.start():m.start() + 5]!r}"
            for p, t in _files(CITING + ("README.md", "docs"), SOURCE_SUFFIXES)
            for m in CHINESE_NUMERAL_SECTION.finditer(t)]
    assert not hits, "write § numbers with digits (四、2 -> §4.2):\n" + "\n".join(hits)
