"""What the advisor returns: one piece of advice, a step count, one LoRA's recipe and the whole recipe."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Advice:
    """One recommendation: what to do, why, and where the rule comes from."""

    topic: str
    message: str
    reason: str
    source: str
    level: str = "info"  # ok | info | suggest | warn
    suggested: dict[str, Any] = field(default_factory=dict)  # Config field -> value

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class StepAdvice:
    n_images: int
    steps: int  # rounded to the checkpoint interval
    save_every: int
    raw_steps: int  # before rounding
    lower: int  # the aligned values either side (Flux LoRA guide §4.4: "1234 -> 1500 or 1000")
    upper: int
    fit: str
    reason: str
    source: str


@dataclass
class LoraRecipe:
    """The settings for one LoRA."""

    concepts: list[str]
    n_images: int
    rank: int
    alpha: float
    learning_rate: float
    steps: int
    save_every: int
    reasons: dict[str, str]  # setting -> why (with source)


@dataclass
class Recipe:
    loras: list[LoraRecipe]  # one, or one per concept when the seed says to split
    advice: list[Advice]
    identifiers: dict[str, str] = field(default_factory=dict)  # concept -> identifier (found or suggested)

    @property
    def split(self) -> bool:
        return len(self.loras) > 1

