"""Over- and under-fitting: how each shows in the XY grid, its causes and remedies."""

from __future__ import annotations

FITTING_GUIDE = [
    dict(
        state="overfitting",
        xy_grid="Later checkpoints at strength 1.0 reproduce the training images (same poses, backgrounds, "
                "clothes), the unrelated validation prompt starts showing the subject, colours burn or "
                "textures fry; the picture improves when the strength drops to 0.6-0.8.",
        causes="Too few images; settings too strong (tags, learning rate, steps, optimizer).",
        remedies=["pick an earlier checkpoint (or train fewer steps)", "lower the learning rate",
                  "fewer repeats", "lower the rank (LoRA explainer pairs it with a higher alpha)",
                  "regularisation images (10-20, untagged, of the same class with other features)",
                  "more (varied) images"],
        source="LoRA explainer (过拟合); Flux LoRA guide §4.2 (an unrelated prompt shows forgetting)"),
    dict(
        state="underfitting",
        xy_grid="Even the last checkpoint at strength 1.0 barely differs from strength 0: the subject is not "
                "recognisable, or only loosely similar.",
        causes="Too little capacity or too few distinctive features learned.",
        remedies=["train more steps (or keep a later checkpoint)", "raise the learning rate",
                  "more repeats", "a higher rank (LoRA explainer pairs it with a lower alpha)",
                  "fewer regularisation images", "more high-quality images showing the features"],
        source="LoRA explainer (欠拟合)"),
    dict(
        state="rank too small for new content",
        xy_grid="New content (e.g. Chinese lettering) comes out blurry and distorted at every checkpoint.",
        causes="The LoRA cannot store that much new information and fills the gaps with blur.",
        remedies=["rank 128-256", "6000+ images"],
        source="Flux LoRA guide §3.2"),
    dict(
        state="background learned instead of the subject",
        xy_grid="Generated images repeat the training backgrounds while the subject stays vague.",
        causes="Too few images with the same backgrounds.",
        remedies=["remove the backgrounds (rembg) and train again", "more images with varied backgrounds"],
        source="Flux LoRA guide §4.5"),
]
