"""Several concepts in one dataset: identifiers found in the captions, sample counts per concept, and
the Flux LoRA guide's rules on when to split them into separate LoRAs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ...dataset.identifiers import assign_identifiers
from ...i18n import t
from .data import Advice

_WORD = re.compile(r"[A-Za-z0-9_\-]+")


def find_identifiers(captions: Mapping[str, list[str]], share: float = 0.9) -> dict[str, str | None]:
    """For each concept, a word found in at least `share` of its captions and in none of the other
    concepts' captions (its identifier), or None."""
    words = {c: [set(w.lower() for w in _WORD.findall(cap)) for cap in caps] for c, caps in captions.items()}
    out: dict[str, str | None] = {}
    for c, sets in words.items():
        if not sets:
            out[c] = None
            continue
        counts: dict[str, int] = {}
        for s in sets:
            for w in s:
                counts[w] = counts.get(w, 0) + 1
        others = set().union(*(s for o, ss in words.items() if o != c for s in ss)) if len(words) > 1 else set()
        cands = [w for w, n in counts.items() if n >= share * len(sets) and w not in others and len(w) >= 3]
        # prefer identifier-like words: long and rare-looking
        out[c] = max(cands, key=lambda w: (len(w), w)) if cands else None
    return out


@dataclass
class ConceptCount:
    name: str
    images: int
    repeats: int = 1

    @property
    def samples(self) -> int:
        return self.images * self.repeats


def as_counts(concepts) -> list[ConceptCount]:
    """Accept {name: n_images}, {name: (repeats, n_images)}, ConceptCounts or concepts.Concept objects."""
    if isinstance(concepts, Mapping):
        out = []
        for k, v in concepts.items():
            if isinstance(v, (tuple, list)):
                out.append(ConceptCount(k, int(v[1]), int(v[0])))
            else:
                out.append(ConceptCount(k, int(v)))
        return out
    out = []
    for c in concepts:
        if isinstance(c, ConceptCount):
            out.append(c)
        else:  # lora_nb.dataset.concepts.Concept
            out.append(ConceptCount(c.name, len(c.images), c.repeats))
    return out


# smaller concept / larger concept (samples per epoch) before the Flux LoRA guide's warning applies
BALANCE_MIN_RATIO = 0.5
MAX_CONCEPTS_PER_LORA = 3  # Flux LoRA guide §2.1: "about 3 similar concepts can share one LoRA"


def concept_advice(concepts, similar: bool | None = None,
                   identifiers: Mapping[str, str | None] | None = None
                   ) -> tuple[list[Advice], bool, dict[str, str]]:
    """Flux LoRA guide's rules for several concepts. Returns (advice, split, identifiers): split means train
    one LoRA per concept; identifiers maps each concept to the identifier found in its captions or,
    where none was found, a suggested random one. `similar`: whether the concepts are alike (same
    kind of subject); None = unknown."""
    cs = as_counts(concepts)
    out: list[Advice] = []
    if len(cs) <= 1:
        out.append(Advice("concepts", t("adv.one_concept"), t("adv.one_concept_reason"), "Flux LoRA guide §1.2",
                          "ok"))
        return out, False, {}

    found = {k: v for k, v in (identifiers or {}).items() if v}
    ids = assign_identifiers([c.name for c in cs], seed=0, existing=found)  # 10 random letters each
    names = ", ".join(t("adv.concept_item", name=c.name, images=c.images, repeats=c.repeats) for c in cs)
    big, small = max(cs, key=lambda c: c.samples), min(cs, key=lambda c: c.samples)
    ratio = small.samples / big.samples
    reasons = []
    if len(cs) > MAX_CONCEPTS_PER_LORA:
        reasons.append(t("adv.split_many", n=len(cs), max=MAX_CONCEPTS_PER_LORA))
    if similar is False:
        reasons.append(t("adv.split_unlike"))
    if ratio < BALANCE_MIN_RATIO:
        reasons.append(t("adv.split_balance", small=small.name, small_samples=small.samples,
                         big_samples=big.samples, big=big.name, ratio=ratio))
    split = bool(reasons)
    if split:
        out.append(Advice("concepts", t("adv.split", names=names),
                          t("adv.split_reason", reasons=t("adv.sep").join(reasons)),
                          "Flux LoRA guide §2.1, §2.3, §5.3", "warn"))
        if ratio < BALANCE_MIN_RATIO and similar is not False and len(cs) <= MAX_CONCEPTS_PER_LORA:
            reps = {c.name: max(1, round(big.samples / c.images)) for c in cs}
            out.append(Advice(
                "concepts", t("adv.balance", folders=", ".join(f"{reps[c.name]}_{c.name}" for c in cs)),
                t("adv.balance_reason"), "Kohya practice guide §2.1.4.1; Flux LoRA guide §2.3", "suggest", {}))
    else:
        out.append(Advice("concepts", t("adv.share", n=len(cs), names=names), t("adv.share_reason"),
                          "Flux LoRA guide §2.1, §5.2", "ok"))
    # identifiers
    if identifiers is None:
        listed = ", ".join(f"{c.name}: {ids[c.name]}" for c in cs)
        out.append(Advice("identifiers", t("adv.ids_give", listed=listed), t("adv.ids_give_reason"),
                          "Flux LoRA guide §2.2", "info"))
    else:
        missing = [c for c, w in identifiers.items() if not w]
        if missing:
            out.append(Advice(
                "identifiers", t("adv.ids_missing", missing=", ".join(missing),
                                 examples=", ".join(f"{m}: {ids[m]}" for m in missing)),
                t("adv.ids_missing_reason"), "Flux LoRA guide §2.2", "warn"))
        else:
            out.append(Advice("identifiers", t("adv.ids_ok", listed=", ".join(f"{c}: '{w}'" for c, w in
                                                                             identifiers.items())),
                              t("adv.ids_ok_reason"), "Flux LoRA guide §2.2", "ok"))
    return out, split, ids
