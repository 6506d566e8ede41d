"""Per-block learning-rate weights in kohya's notation (sd-scripts `networks/lora.py`, network args
`down_lr_weight`, `mid_lr_weight`, `up_lr_weight`): the text each field holds and its numbers.

A field is empty (every block at 1), numbers separated by commas (one per block, shallow -> deep for
down, deep -> shallow for up), or for down/up one of kohya's curves, optionally lifted by a constant
("cosine+.25"):

    cosine          sin(pi/2 * i/(n-1)) for i = n-1 .. 0   (1 at the shallowest down block, 0 at the deepest)
    sine            the same for i = 0 .. n-1              (0 at the shallowest, 1 at the deepest)
    linear          i/(n-1) for i = 0 .. n-1
    reverse_linear  i/(n-1) for i = n-1 .. 0
    zeros           0 for every block

How many numbers a family takes and which block each one covers is a per-family fact
(`families.facts.FamilyFacts.lr_blocks`, used by `families.blocks`); this module knows only the
notation, so `Config` can check it without the families layer.
"""

from __future__ import annotations

import math

FIELDS = ("down_lr_weight", "mid_lr_weight", "up_lr_weight")
CURVES = ("cosine", "sine", "linear", "reverse_linear", "zeros")  # kohya's names, for down/up only


def _curve(name: str, n: int) -> list[float]:
    steps = [i / (n - 1) if n > 1 else 0.0 for i in range(n)]
    if name == "cosine":
        return [math.sin(math.pi * s / 2) for s in reversed(steps)]
    if name == "sine":
        return [math.sin(math.pi * s / 2) for s in steps]
    if name == "linear":
        return steps
    if name == "reverse_linear":
        return list(reversed(steps))
    return [0.0] * n  # zeros


def parse(field: str, text: str, n: int | None = None, blocks: str = "blocks") -> list[float] | None:
    """The numbers of `field`'s `text` for `n` blocks (None: empty text; `blocks` names them in messages).
    With `n` None only the notation is checked (a curve returns []). Raises ValueError (what -> fix)."""
    text = (text or "").strip()
    if not text:
        return None
    name, plus, lift = text.partition("+")
    name = name.strip().lower()
    if name in CURVES:
        if field == "mid_lr_weight":
            raise ValueError(f"{name!r} is a curve over down/up blocks; kohya takes numbers for the mid block "
                             f"-> write numbers, e.g. 1")
        try:
            base = float(lift) if plus else 0.0
        except ValueError:
            raise ValueError(f"{text!r}: the part after '+' must be a number -> e.g. {name}+0.25") from None
        if not math.isfinite(base) or base < 0:
            raise ValueError(f"{text!r}: the lift after '+' must be a finite number >= 0 -> e.g. {name}+0.25")
        return [] if n is None else [w + base for w in _curve(name, n)]
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{text!r} is neither numbers separated by commas nor one of {', '.join(CURVES)} "
                         f"-> e.g. 1,1,0.5 or cosine") from None
    bad = [v for v in values if not math.isfinite(v) or v < 0]
    if bad:
        raise ValueError(f"{bad[0]:g} is not a weight >= 0 -> use 0 (the block is not trained) or more")
    if n is not None and len(values) != n:
        raise ValueError(f"{len(values)} values for {n} {blocks} -> give exactly {n} number{'s' if n > 1 else ''}"
                         + ("" if field == "mid_lr_weight" else " (or a curve name)"))
    return values


def notation_problems(config) -> list[str]:
    """Each block-weight field whose text is not kohya's notation, as 'field: what -> fix'."""
    out = []
    for field in FIELDS:
        try:
            parse(field, getattr(config, field))
        except ValueError as e:
            out.append(f"{field}: {e}")
    return out


def given(config) -> bool:
    """Whether any block weight is set."""
    return any((getattr(config, f) or "").strip() for f in FIELDS)
