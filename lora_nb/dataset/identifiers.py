"""Unique identifiers (trigger words) for concepts: 10 random letters that mean nothing yet.

Flux LoRA guide: put a unique identifier of 10 random English letters in every caption of a concept
("This image is labeled as uehxbfklaq. A cat."), the same id for the same concept and different
ids for different concepts. The id must be new to the text encoder, otherwise the LoRA fights
the meaning the word already has (FluxTrainer walkthrough §6: the trigger is "unique and new"). So an id is
rejected when it contains a common English word, or when the tokenizer knows it as one token or
a few long pieces (a long piece is a word or word stem the encoder has learned).
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Iterable

ID_LENGTH = 10  # Flux LoRA guide: "10个随机英文字母"
MIN_PIECES = 3  # fewer pieces than this means the tokenizer has seen (most of) the string before
MAX_PIECE_LETTERS = 4  # a piece longer than this is a learned word or stem, e.g. "cloud", "ing"+"ton"

# Common English words (4+ letters; shorter ones are too likely to appear by chance and carry
# little meaning on their own). Mostly words that occur in image captions and tags.
_WORDS = """
able about above after again against aged also angel angry animal anime answer apple arms army art
back baby ball band bank bare base bath beach bear beard beast beauty been bell belt best bird black
blade blind blond blonde blood blue blur board boat body bone book boot boots born boss both bottle
bowl brick bride bright brown brush build building burn bush busy cafe cake call calm came camera
camp card care carry case castle cave chain chair chart chest child china city clean clear clock
close cloth cloud clouds coat cold color colour cool corner cover cream crowd crown cute dance dark
dead deep desert desk detail dirt dish door down drag draw dream dress drink drive drop dust each
earth east edge empty even ever evil face fair fall fame farm fast father fear feet female fence
field fight fill film fine fire fish flag flat floor flower flowers fly foam fold food foot forest
form frame free fresh from front fruit full fund game garden gate gear ghost giant girl girls give
glass glove gloves glow gold golden good grass gray great green grey grid ground group grow hair
half hall hand hands happy hard hate have head heart heat heavy hell help here hero hide high hill
hold hole home hood hook hope horn horse host hot house huge human hunt idea inside iron island item
jacket jeans jewel job join joke jump just keep kill kind king kiss kitchen knee knife lace lady
lake lamp land large last late lava lead leaf left legs lens less life lift light like lily line
lines lion lips list little live long look lord lose loud love lying made magic main make male many
mask mass meat metal middle milk mind mine mirror mist model moon more most mother mount mouse mouth
much music name navy near neck need nest never next night nose note ocean office only open orange
other over pack page paint pair pale palm pants paper park part party past path peak pearl pink
pipe place plain plan plant plate play pool poor pose post power pretty pure purple queen quiet race
rain rainbow rank rare read real rear reef rest rice rich ride ring rise river road robe robot rock
roof room root rope rose round ruby rule safe sail salt same sand scale scarf scene school scar
scene screen seat seed self shade shadow shape sharp sheep shell shine ship shirt shoe shoes shop
short shot show side sign silk silver simple sing single sink sister sitting size skin skirt sky
sleep slim slow small smile smoke snake snow soft solo some song soul soup space spark speed spell
spider spot spring stage stair stand standing star stars steam steel stick still stone stop storm
story street strong studio style summer sunny sweet swim sword table tail take tall tank tape team
tear teeth tent test text that them then there thick thin thing this tiger time tiny tire tongue
tool tooth tower town toys train tree trees tribe trip true tube twin under upon urban very view
village wall warm wash watch water wave wear weather west wet what wheel when where white wide wife
wild wind window wine wing wings winter wire wish with wolf woman women wood wooden word work world
yard year yellow young your zero zone
"""
WORDS = frozenset(_WORDS.split())

_PIECE_MARKS = re.compile(r"</w>|^▁|^Ġ|^##")


def _pieces(word: str, tokenizer) -> list[str]:
    """The tokenizer's pieces for `word`, without word-boundary marks (CLIP </w>, T5 ▁, GPT Ġ)."""
    return [p for p in (_PIECE_MARKS.sub("", t) for t in tokenizer.tokenize(word)) if p]


def identifier_problems(word: str, tokenizer=None, words: Iterable[str] = WORDS) -> list[str]:
    """Why `word` is a poor unique identifier (empty list: it is a good one).

    Checks the word list for whole or embedded words, and with a tokenizer (a transformers
    tokenizer such as the base model's CLIP or T5 tokenizer) that the id splits into at least
    MIN_PIECES short, meaningless pieces.
    """
    problems = []
    w = word.lower()
    if not w.isalpha() or not w.isascii():
        problems.append("use only the letters a-z")
    vocab = set(words)
    if w in vocab:
        problems.append(f"'{w}' is an English word")
    else:
        inside = sorted({v for v in vocab if len(v) >= 4 and v in w}, key=len, reverse=True)
        if inside:
            problems.append(f"contains the word '{inside[0]}'")
    if tokenizer is not None:
        pieces = _pieces(w, tokenizer)
        if len(pieces) < MIN_PIECES:
            problems.append(f"the tokenizer already knows it as {len(pieces)} piece(s) {pieces}")
        long = [p for p in pieces if len(p) > MAX_PIECE_LETTERS]
        if long:
            problems.append(f"contains the known token '{long[0]}'")
        known = [p for p in pieces if p.lower() in vocab]
        if known:
            problems.append(f"contains the token '{known[0]}', an English word")
    return problems


def unique_identifiers(n: int, tokenizer=None, seed: int | None = None, length: int = ID_LENGTH,
                       avoid: Iterable[str] = ()) -> list[str]:
    """`n` distinct random identifiers of `length` lowercase letters (Flux LoRA guide: 10 letters).

    Pass the base model's tokenizer to also reject strings it already knows (see
    `identifier_problems`); pass `seed` for a reproducible list; `avoid` lists ids already in use.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if length < 6:
        raise ValueError("identifiers shorter than 6 letters are too likely to be known tokens")
    rng = random.Random(seed)
    taken = {a.lower() for a in avoid}
    out: list[str] = []
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 10_000 * max(n, 1):
            raise RuntimeError("could not find enough identifiers that pass the checks; is the tokenizer's "
                               "vocabulary unusually large?")
        cand = "".join(rng.choice(string.ascii_lowercase) for _ in range(length))
        if cand in taken or identifier_problems(cand, tokenizer):
            continue
        taken.add(cand)
        out.append(cand)
    return out


def assign_identifiers(names: Iterable[str], tokenizer=None, seed: int | None = None,
                       existing: dict[str, str] | None = None) -> dict[str, str]:
    """One identifier per concept name (Flux LoRA guide: same concept, same id; other concept, other id).

    Names already in `existing` keep their id, so re-running never renames a trained concept.
    """
    existing = dict(existing or {})
    names = list(dict.fromkeys(names))
    todo = [n for n in names if n not in existing]
    fresh = unique_identifiers(len(todo), tokenizer=tokenizer, seed=seed, avoid=existing.values())
    existing.update(zip(todo, fresh))
    return {n: existing[n] for n in names}
