"""Prompts the kit uses on its own: shared by training's validation images and step 6's checks."""

# Flux LoRA guide keeps one prompt unrelated to the concept among the validation prompts to see what the
# LoRA does to everything else: training adds the first of these to its validation prompts, and
# `forgetting_check` uses them all by default.
UNRELATED_PROMPTS = (
    "a photo of a dog running on a beach",
    "a city street at night with neon lights",
    "a bowl of fruit on a wooden table, still life",
    "portrait photo of an old man with a beard",
)
