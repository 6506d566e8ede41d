"""Where validation images go, and which ones a resumed run lacks (killed while they were drawn)."""

from __future__ import annotations

from pathlib import Path


def sample_path(out: Path, step: int, index: int) -> Path:
    """The validation image of prompt `index` at `step`."""
    return out / "samples" / f"step{step:08d}-p{index}.png"


def missing_samples(out: Path, steps: list[int], n_prompts: int) -> dict[int, list[int]]:
    """{step: prompt indices whose image is missing} for the sampling `steps`."""
    found = {}
    for step in steps:
        gone = [i for i in range(n_prompts) if not sample_path(out, step, i).is_file()]
        if gone:
            found[step] = gone
    return found
