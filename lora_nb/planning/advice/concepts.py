"""Several concepts in one dataset: identifiers found in the captions, sample counts per concept, and
the Flux LoRA guide's rules on when to split them into separate LoRAs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ...dataset.identifiers import assign_identifiers
from .data import Advice

_WORD = re.compile(r"[A-Za-z0-9_\-]+")


def find_identifiers(captions: Mapping[str, list[str]], share: float = 0.9) -> dict[str, str | None]:
    """For each concept, a word found in at least `share` of its captions and in none of the other
    concepts' captions (its identifier), or None."""
    words = {c: [set(w.lower() for w in _WORD.findall(t)) for t in caps] for c, caps in captions.items()}
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
        out.append(Advice("concepts", "One concept: what a LoRA is made for.",
                          "A LoRA suits a single concept (a yellow dog; a cat), not several unrelated ones "
                          "(cat, bicycle, desert).", "Flux LoRA guide §1.2", "ok"))
        return out, False, {}

    found = {k: v for k, v in (identifiers or {}).items() if v}
    ids = assign_identifiers([c.name for c in cs], seed=0, existing=found)  # 10 random letters each
    names = ", ".join(f"{c.name} ({c.images} images x {c.repeats})" for c in cs)
    big, small = max(cs, key=lambda c: c.samples), min(cs, key=lambda c: c.samples)
    ratio = small.samples / big.samples
    reasons = []
    if len(cs) > MAX_CONCEPTS_PER_LORA:
        reasons.append(f"{len(cs)} concepts is more than the ~{MAX_CONCEPTS_PER_LORA} similar ones one LoRA holds "
                       f"(§2.1)")
    if similar is False:
        reasons.append("the concepts are not alike (§2.1: use several LoRAs for several concepts)")
    if ratio < BALANCE_MIN_RATIO:
        reasons.append(f"'{small.name}' has {small.samples} samples per epoch against {big.samples} for "
                       f"'{big.name}' ({ratio:.0%}): the smaller concept would vanish from the LoRA (§2.3: 20 vs "
                       f"80 images)")
    split = bool(reasons)
    if split:
        out.append(Advice(
            "concepts", f"Train one LoRA per concept ({names}), each with its own step count, and load them "
                        f"together with different strengths when generating.",
            "; ".join(reasons) + ". Separate LoRAs let the small set use fewer steps and the large one keep "
                                 "its own (§2.3, §5.3).",
            "Flux LoRA guide §2.1, §2.3, §5.3", "warn"))
        if ratio < BALANCE_MIN_RATIO and similar is not False and len(cs) <= MAX_CONCEPTS_PER_LORA:
            reps = {c.name: max(1, round(big.samples / c.images)) for c in cs}
            out.append(Advice(
                "concepts", "If you keep them in one LoRA, balance them with folder repeats: "
                            + ", ".join(f"{reps[c.name]}_{c.name}" for c in cs) + ".",
                "kohya repeats multiply each folder's images per epoch (Kohya practice guide: the N in N_name), which "
                "evens out samples per epoch; Flux LoRA guide prefers separate LoRAs.",
                "Kohya practice guide §2.1.4.1; Flux LoRA guide §2.3",
                "suggest", {}))
    else:
        out.append(Advice(
            "concepts", f"{len(cs)} similar, balanced concepts ({names}) can share one LoRA, each with its own "
                        f"unique identifier.",
            "Up to ~3 close concepts work in one LoRA when their counts are balanced (§2.1, §2.3); "
            "e.g. two similar models with 30 photos each (§5.2).", "Flux LoRA guide §2.1, §5.2", "ok"))
    # identifiers
    if identifiers is None:
        listed = ", ".join(f"{c.name}: {ids[c.name]}" for c in cs)
        out.append(Advice(
            "identifiers", f"Give each concept its own identifier in every caption, e.g. {listed}; "
                           f"'This image is labeled as <id>. A cat.'",
            "The same identifier within a concept and different ones across concepts let the model tell them "
            "apart and let you call each when generating; 10 random letters map to nothing the model knows.",
            "Flux LoRA guide §2.2", "info"))
    else:
        missing = [c for c, w in identifiers.items() if not w]
        if missing:
            out.append(Advice(
                "identifiers", "No unique identifier found in the captions of " + ", ".join(missing)
                + " -> add one word to all captions of each concept, e.g. "
                + ", ".join(f"{m}: {ids[m]}" for m in missing) + " (`lora-nb tags`).",
                "Without a word that only one concept's captions contain, the concepts blend together.",
                "Flux LoRA guide §2.2", "warn"))
        else:
            out.append(Advice("identifiers", "Each concept has its own identifier: "
                              + ", ".join(f"{c}: '{w}'" for c, w in identifiers.items()) + ".",
                              "Distinct identifiers keep the concepts apart.", "Flux LoRA guide §2.2", "ok"))
    return out, split, ids
