"""The tutorials' tables: rank by purpose, lr by rank, repeats x epochs, steps by dataset size and the
checkpoint interval, each next to the section it comes from."""

from __future__ import annotations

from typing import Any

from ...errors import ConfigError

# Flux LoRA guide §3.2: learning rate by rank (AdamW-family optimizers).
LR_BY_RANK = {1: 3e-4, 16: 1e-4, 64: 8e-5, 128: 6e-5, 256: 5.09e-5}

# Purpose -> (rank range, sources). Kohya practice guide, LoRA explainer: 8-32 anime/characters, 32-64 people/objects
# ("人物: 32-128"), 64-128 complex styles and real scenes; Flux LoRA guide §3.2: 128-256 to teach what the
# base model has never seen, with 6000+ images.
PURPOSES: dict[str, dict[str, Any]] = {
    "anime": dict(ranks=(8, 32), suggest=16, kind="anime", label="anime style or characters",
                  source="LoRA explainer (网格: 二次元画风或人物 8/16/32; SDXL 角色类 8dim)"),
    "character": dict(ranks=(8, 32), suggest=16, kind="anime", label="a character",
                      source="LoRA explainer (二次元画风或人物 8/16/32; SDXL 角色类选择8dim即可)"),
    "person": dict(ranks=(32, 64), suggest=32, kind="person", label="a real person",
                   source="Kohya practice guide (人物: 32-128); "
                          "Flux LoRA guide §5.1 (portraits: rank 32)"),
    "object": dict(ranks=(32, 64), suggest=32, kind="object", label="an object or product",
                   source="Flux LoRA guide §5.3 (cars: rank 32); Kohya practice guide (人物 32-128; "
                          "complex real objects and scenery 实物风景 >=128)"),
    "style": dict(ranks=(64, 128), suggest=64, kind="realistic", label="a complex art style",
                  source="LoRA explainer (复杂画风、三次元: 64/128)"),
    "scene": dict(ranks=(64, 128), suggest=64, kind="realistic", label="real scenes or landscapes",
                  source="LoRA explainer (三次元: 64/128); Kohya practice guide (实物风景 >=128)"),
    "new": dict(ranks=(128, 256), suggest=128, kind="realistic", label="content the base model has never seen",
                source="Flux LoRA guide §3.2 (rank 128-256, 6000+ images)"),
}
NEW_CONTENT_MIN_IMAGES = 6000  # Flux LoRA guide §3.2

# LoRA explainer (高级参数): repeats x epochs by dataset type; Kohya practice guide (新手建议): repeats per subject.
REPEATS_EPOCHS = {
    "anime": dict(repeats=8, epochs=20, source="LoRA explainer: 二次元 Repeat 8, Epoch 20",
                  kohya_guide="Kohya practice guide: 二次元 7-15 repeats, 10 epochs", kohya_guide_repeats=(7, 15)),
    "realistic": dict(repeats=15, epochs=10, source="LoRA explainer: 真实系 Repeat 15, Epoch 10",
                      kohya_guide="Kohya practice guide: 人像 20-30 / 实物 30-100 repeats, 10 epochs",
                      kohya_guide_repeats=(20, 30)),
    "person": dict(repeats=15, epochs=10, source="LoRA explainer: 真实系 Repeat 15, Epoch 10",
                   kohya_guide="Kohya practice guide: 人像 20-30 repeats, 10 epochs", kohya_guide_repeats=(20, 30)),
    "object": dict(repeats=15, epochs=10, source="LoRA explainer: 真实系 Repeat 15, Epoch 10",
                   kohya_guide="Kohya practice guide: 实物 30-100 repeats, 10 epochs", kohya_guide_repeats=(30, 100)),
}

# Flux LoRA guide §2.4 and §5: total steps at batch 1 by dataset size. Each band is the guide's figure
# for a dataset of about that size ("normal" = its lighter choice, "close" = a closer fit that
# also learns setting, clothes and pose); band edges between the sizes it names are this kit's.
STEP_BANDS = (
    # (fewer than N images, normal steps, close-fit steps, what the seed says: i18n key adv.band<N>)
    (45, 500, 1500, "adv.band45"),
    (225, 1500, 2500, "adv.band225"),
    (700, 2500, 3500, "adv.band700"),
)
EPOCHS_RULE = 4  # Flux LoRA guide §2.4: 3-4 epochs at batch 1; its 1000-car example uses 4 (4000 steps)
# SD1.5/SDXL steps. The LoRA explainer's repeats x epochs (REPEATS_EPOCHS) name no set size; they are close to the
# Kohya practice guide's beginner table (§2.3.2: 7-30 repeats, 10 epochs), which is for 30 images (FluxTrainer
# walkthrough also asks for ~30 of a subject), and for larger sets the explainer's SDXL notes lower the epochs
# (若训练集太过庞大可减少训练轮数). So up to REFERENCE_SET images the recipe is repeats x epochs as written;
# above it the total stays at that of REFERENCE_SET images (fewer epochs of the larger set) until the Flux LoRA
# guide's rule (4 epochs, STEP_BANDS) asks for more (4 x n > 30 x 15 x 10 from 1126 images). Steps then never fall
# as images are added, where a switch to STEP_BANDS at some size (61 images -> 1500 where 60 gave 9000) cut the run
# sixfold.
REFERENCE_SET = 30

# At least this many evenly spaced checkpoints, the last on the final step: an XY grid of checkpoints needs a
# choice (Flux LoRA guide §4.3: the best one is rarely the last). Flux LoRA guide's own 1500-step runs save every 500
# (3 checkpoints); below 4 the interval steps down this ladder of round numbers.
MIN_CHECKPOINTS = 4
INTERVAL_LADDER = (1000, 500, 250, 100, 50, 25, 10, 5, 2, 1)


def checkpoint_interval(steps: int) -> int:
    """100 up to 1000 steps, 500 up to 10000, then 1000 (Flux LoRA guide §5 uses 100 for 500 steps and 500
    for 2000-4000), lowered along INTERVAL_LADDER until the run holds MIN_CHECKPOINTS checkpoints."""
    guide = 100 if steps <= 1000 else (500 if steps <= 10000 else 1000)
    return next((iv for iv in INTERVAL_LADDER if iv <= guide and steps // iv >= MIN_CHECKPOINTS), 1)


FIT_LEVELS = ("normal", "close")


def purpose_info(purpose: str) -> dict:
    """The PURPOSES entry for `purpose` (ConfigError for an unknown one)."""
    if purpose not in PURPOSES:
        raise ConfigError(f"purpose: {purpose!r} is not one of {', '.join(PURPOSES)}")
    return PURPOSES[purpose]
