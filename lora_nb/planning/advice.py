"""Recipe advice: the tutorials' rules of thumb, each returned with its reason and its source.

Sources (the course's four tutorials; `docs/sources.md` gives titles, sections and links):
- Flux LoRA guide: a Flux LoRA experience report -- one concept per LoRA, 10-letter identifiers,
  concept balance, steps from dataset size, lr by rank, file size by rank, worked examples (§5).
- Kohya practice guide: a kohya practice guide (SD1.5/SDXL) -- repeats per subject type, file sizes, rank use.
- LoRA explainer: a LoRA training explainer -- repeats x epochs by dataset type, alpha = rank/2,
  optimizers (AdamW8bit, Lion ~10x lower lr, Prodigy/DAdaptation lr 1), over-/under-fitting.

Every function returns data (dataclasses/dicts) so the CLI and the notebooks can render it; the
tutorials' numbers live in the tables at the top, next to where they come from.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from ..errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Config

# ---------------------------------------------------------------------------------------------
# The tutorials' tables
# ---------------------------------------------------------------------------------------------
# Flux LoRA guide §3.2: learning rate by rank (AdamW-family optimizers).
LR_BY_RANK = {1: 3e-4, 16: 1e-4, 64: 8e-5, 128: 6e-5, 256: 5.09e-5}

# Purpose -> (rank range, sources). Kohya practice guide, LoRA explainer: 8-32 anime/characters, 32-64 people/objects
# ("人物: 32-128"), 64-128 complex styles and real scenes; Flux LoRA guide §3.2: 128-256 to teach what the
# base model has never seen, with 6000+ images.
PURPOSES: dict[str, dict[str, Any]] = {
    "anime": dict(ranks=(8, 32), suggest=16, kind="anime", label="anime style or characters",
                  source="LoRA explainer (网格: 二次元画风或人物 8/16/32); Kohya practice guide (SDXL 角色类 8dim)"),
    "character": dict(ranks=(8, 32), suggest=16, kind="anime", label="a character",
                      source="LoRA explainer (二次元画风或人物 8/16/32); Kohya practice guide (角色类选择8dim即可)"),
    "person": dict(ranks=(32, 64), suggest=32, kind="person", label="a real person",
                   source="Kohya practice guide (人物: 32-128); Flux LoRA guide §5.1 (portraits: rank 32)"),
    "object": dict(ranks=(32, 64), suggest=32, kind="object", label="an object or product",
                   source="Flux LoRA guide §5.3 (cars: rank 32); Kohya practice guide (人物 32-128; complex real objects and "
                          "scenery 实物风景 >=128)"),
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
                      kohya_guide="Kohya practice guide: 人像 20-30 / 实物 30-100 repeats, 10 epochs", kohya_guide_repeats=(20, 30)),
    "person": dict(repeats=15, epochs=10, source="LoRA explainer: 真实系 Repeat 15, Epoch 10",
                   kohya_guide="Kohya practice guide: 人像 20-30 repeats, 10 epochs", kohya_guide_repeats=(20, 30)),
    "object": dict(repeats=15, epochs=10, source="LoRA explainer: 真实系 Repeat 15, Epoch 10",
                   kohya_guide="Kohya practice guide: 实物 30-100 repeats, 10 epochs", kohya_guide_repeats=(30, 100)),
}

# Flux LoRA guide §4.4 and §5: total steps at batch 1 by dataset size. Each band is the seed's figure
# for a dataset of about that size ("normal" = its lighter choice, "close" = a closer fit that
# also learns setting, clothes and pose); band edges between the sizes it names are this kit's.
STEP_BANDS = (
    # (fewer than N images, normal steps, close-fit steps, what the seed says)
    (45, 500, 1500, "20 portraits: 500 steps, or 1500 for a closer fit; 30 camping photos: 500 (§5.1, §5.3)"),
    (225, 1500, 2500, "~100 images: 1500 or 2500 steps, not beyond 2500 (§4.4); 60 and 100 images: 1500 "
                      "(§5.2-3)"),
    (700, 2500, 3500, "~500 images: 2500-3500 steps, by how closely it should fit (§4.4)"),
)
EPOCHS_RULE = 4  # Flux LoRA guide §4.4: 3-4 epochs at batch 1; its 1000-car example uses 4 (4000 steps)
# Up to this many images, SD1.5/SDXL recipes follow the LoRA explainer's repeats x epochs (Kohya practice guide's beginner
# table is for 30 images; FluxTrainer walkthrough asks for ~30 images of a subject, 50+ of a style); larger sets use
# Flux LoRA guide's size rule, as the LoRA explainer itself says to lower epochs for large sets.
SMALL_SET = 60

def checkpoint_interval(steps: int) -> int:
    """100 up to 1000 steps, 500 up to 10000, then 1000: Flux LoRA guide §5 uses 100 for 500 steps and 500
    for 1500-4000; evenly spaced checkpoints leave a choice in the XY grid (§4.3)."""
    return 100 if steps <= 1000 else (500 if steps <= 10000 else 1000)


FIT_LEVELS = ("normal", "close")


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
# Learning rate, alpha, rank
# ---------------------------------------------------------------------------------------------
def _sig(x: float, digits: int = 2) -> float:
    return float(f"{x:.{digits}g}")


def lr_for_rank(rank: int, optimizer: str = "adamw8bit") -> float:
    """Flux LoRA guide's lr-by-rank table, interpolated linearly in log(rank)-log(lr) between its points
    (clamped outside 1-256), adjusted for the optimizer (LoRA explainer: Lion ~10x lower; Prodigy and
    DAdaptation find the step size themselves and take lr = 1)."""
    if rank < 1:
        raise ConfigError(f"rank: {rank} must be at least 1")
    if optimizer in ("prodigy", "dadaptation"):
        return 1.0
    pts = sorted(LR_BY_RANK.items())
    if rank <= pts[0][0]:
        lr = pts[0][1]
    elif rank >= pts[-1][0]:
        lr = pts[-1][1]
    else:
        for (r0, l0), (r1, l1) in zip(pts, pts[1:]):
            if r0 <= rank <= r1:
                t = (math.log(rank) - math.log(r0)) / (math.log(r1) - math.log(r0))
                lr = math.exp(math.log(l0) + t * (math.log(l1) - math.log(l0)))
                break
    if optimizer == "lion":
        lr /= 10
    return _sig(lr)


def lr_reason(rank: int, optimizer: str) -> str:
    if optimizer in ("prodigy", "dadaptation"):
        return (f"{optimizer} estimates the step size itself; the learning rate is a multiplier on it, so 1.0 "
                f"(LoRA explainer: Prodigy 'lr 1, suitable for beginners'; Kohya practice guide: DAdaptation 'usually 1.0').")
    exact = rank in LR_BY_RANK
    txt = (f"Flux LoRA guide §3.2 gives lr by rank ({', '.join(f'{r}: {l:g}' for r, l in LR_BY_RANK.items())}); "
           + ("rank %d is in the table." % rank if exact else
              f"rank {rank} lies between its points, interpolated on a log-log scale."))
    txt += " Higher ranks hold more parameters per update and need a lower rate to stay stable."
    if rank == 32:
        txt += (" Flux LoRA guide's own worked examples (§5) use 1e-4 at rank 32, 12% above the interpolation: "
                "both are within the range that works.")
    if optimizer == "lion":
        txt += " Divided by 10 for Lion (LoRA explainer: Lion's best lr is about 10x smaller than AdamW's)."
    return txt


def recommend_alpha(rank: int) -> float:
    """LoRA explainer: alpha = rank/2 by default (Kohya practice guide: rank/2 or rank/4)."""
    return rank / 2


ALPHA_REASON = (
    "The LoRA update is scaled by alpha/rank: alpha = rank/2 halves it, so the weights must grow twice "
    "as large for the same effect; at a fixed learning rate a lower alpha learns more gently and a higher "
    "one more aggressively (alpha = rank: no scaling; alpha = 1 at rank 32: 1/32). Changing alpha is "
    "like changing the learning rate, so change one at a time. LoRA explainer uses rank/2 by default, Kohya practice guide "
    "rank/2 or rank/4, and 'alpha is usually not above rank'.")


def recommend_rank(purpose: str, family: str, n_images: int | None = None) -> tuple[int, tuple[int, int], str]:
    """(suggested rank, the tutorials' range, reason) for a purpose."""
    info = _purpose(purpose)
    lo, hi = info["ranks"]
    rank = info["suggest"]
    reason = f"{info['label']}: rank {lo}-{hi} ({info['source']})."
    if family == "flux" and purpose != "new":
        rank = min(rank, 32)
        reason += (" On Flux, Flux LoRA guide uses rank 32 for portraits, landscapes, camping and cars alike (§5): "
                   "a LoRA mostly 'wakes' what the base model already knows (§3.1), so a small rank suffices.")
    if purpose == "new":
        reason += (" Too small a rank (e.g. 16) shows as blurry, distorted output for the new content "
                   "(Flux LoRA guide §3.2).")
        if n_images is not None and n_images < NEW_CONTENT_MIN_IMAGES:
            reason += f" Flux LoRA guide expects {NEW_CONTENT_MIN_IMAGES}+ images for this; you have {n_images}."
    reason += " Higher ranks learn more detail but also irrelevant details (LoRA explainer: too high 'learns too deep')."
    return rank, (lo, hi), reason


def _purpose(purpose: str) -> dict:
    if purpose not in PURPOSES:
        raise ConfigError(f"purpose: {purpose!r} is not one of {', '.join(PURPOSES)}")
    return PURPOSES[purpose]


# Seed-quoted file sizes (MB) and the target set they correspond to.
SEED_FILE_SIZES = {
    "flux": dict(sizes={16: 49, 32: 99, 128: 400, 256: 800}, source="Flux LoRA guide §3.2",
                 targets="all attention projections of the double and single blocks (to_q/k/v, to_out.0, "
                         "add_q/k/v_proj, to_add_out)"),
    "sd15": dict(sizes={32: 40, 64: 70, 128: 140}, source="Kohya practice guide (128=140MB+, 64=70MB+, 32=40MB+)",
                 targets="kohya 'standard': UNet transformer blocks (attention, proj_in/out, feed-forward) "
                         "and the text encoder's attention and MLP"),
    "sdxl": dict(sizes={8: 50, 16: 100, 32: 200}, source="Kohya practice guide (32dim 200M, 16dim 100M, 8dim 50M)",
                 targets="kohya 'standard': UNet transformer blocks and both text encoders"),
}


def reference_targets(family: str) -> tuple[list[str], list[str] | None]:
    """(denoiser targets, text-encoder targets) the seed's file sizes were measured with."""
    from .memory.reference import ATTENTION_TARGETS, KOHYA_TARGETS

    if family == "flux":  # all attention projections of both streams (SimpleTuner's and this kit's default)
        return ATTENTION_TARGETS + ["add_q_proj", "add_k_proj", "add_v_proj", "to_add_out"], None
    return list(KOHYA_TARGETS["unet"]), list(KOHYA_TARGETS["text_encoder"])


def rank_file_sizes(config: "Config", ranks: Iterable[int] = (4, 8, 16, 32, 64, 128, 256)) -> list[dict]:
    """Adapter file size per rank for this config's adapter and layers (as the trainer picks them),
    next to the size with the seed's target set and the size the seed quotes."""
    from .memory.reference import adapter_file_mb, lora_file_mb

    fam = config.family
    ref_unet, ref_te = reference_targets(fam)
    quoted = SEED_FILE_SIZES[fam]["sizes"]
    out = []
    for r in ranks:
        mine = config.replace(rank=r, conv_rank=min(config.conv_rank, r) if config.conv_rank else 0)
        out.append(dict(rank=r, mb=round(adapter_file_mb(mine), 1),
                        seed_targets_mb=round(lora_file_mb(fam, r, ref_unet, ref_te, config.save_precision), 1),
                        seed_quoted_mb=quoted.get(r)))
    return out


def file_size_reason(config: "Config") -> str:
    fam = config.family
    ref = SEED_FILE_SIZES[fam]
    txt = (f"Sizes come from the real {fam} layer shapes: rank x (inputs + outputs) values per adapted layer "
           f"({config.network_type}), 2 bytes each. {ref['source']} quotes sizes for {ref['targets']}")
    if fam != "flux" or config.train_mlp or config.network_type != "lora":
        txt += ("; this config adapts other layers, so its files differ from the seed's at the same rank -- the "
                "'seed targets' column reproduces the seed's figures")
    return txt + "."


# ---------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------
def align_steps(steps: float, interval: int) -> tuple[int, int, int]:
    """(nearest, lower, upper) multiples of `interval` (at least one interval)."""
    lower = max(interval, int(steps // interval) * interval)
    upper = max(interval, int(math.ceil(steps / interval)) * interval)
    nearest = lower if steps - lower < upper - steps else upper
    return nearest, lower, upper


def recommend_steps(n_images: int, batch: int = 1, grad_accum: int = 1, fit: str = "normal") -> StepAdvice:
    """Flux LoRA guide's step count for a dataset of `n_images`, rounded so checkpoints line up.

    At batch 1: the seed's figure for datasets of that size (STEP_BANDS), but never less than 4
    epochs (3-4 epochs, §4.4). With a batch of B x gradient accumulation G each step sees B*G
    images, so the seed's batch-1 count is divided by B*G. Rounded to the checkpoint interval so
    checkpoints and validation images fall on the same steps (§4.4: 1234 -> 1500 or 1000).
    """
    if n_images < 1:
        raise ConfigError("dataset: no images -> add images to train_data_dir before planning steps")
    if fit not in FIT_LEVELS:
        raise ConfigError(f"fit: {fit!r} is not one of {', '.join(FIT_LEVELS)}")
    epochs_steps = EPOCHS_RULE * n_images
    band = next((b for b in STEP_BANDS if n_images < b[0]), None)
    if band is None:
        base = epochs_steps
        said = f"{EPOCHS_RULE} epochs of {n_images} images = {epochs_steps} steps (§4.4, §5.3)"
    else:
        base = max(band[1] if fit == "normal" else band[2], epochs_steps)
        said = band[3]
    per_step = batch * grad_accum
    raw = base / per_step
    interval = checkpoint_interval(int(raw))
    steps, lower, upper = align_steps(raw, interval)
    interval = checkpoint_interval(steps)
    reason = (f"{n_images} images at batch 1: {said}."
              + (f" Each step here sees {per_step} images (batch {batch} x accumulation {grad_accum}), so "
                 f"{base} / {per_step} = {raw:.0f} steps." if per_step > 1 else "")
              + f" Rounded to a multiple of the checkpoint interval {interval} so checkpoints and validation "
                f"images line up (§4.4).")
    return StepAdvice(n_images, steps, interval, round(raw), lower, upper, fit, reason, "Flux LoRA guide §4.4, §5")


def repeats_epochs(dataset_type: str, n_images: int, batch: int = 1, grad_accum: int = 1) -> dict:
    """LoRA explainer's repeats x epochs for the dataset type, the steps that gives, and the Kohya practice guide's range."""
    if dataset_type not in REPEATS_EPOCHS:
        raise ConfigError(f"dataset_type: {dataset_type!r} is not one of {', '.join(REPEATS_EPOCHS)}")
    r = REPEATS_EPOCHS[dataset_type]
    steps = math.ceil(n_images * r["repeats"] / batch / grad_accum) * r["epochs"]
    return dict(repeats=r["repeats"], epochs=r["epochs"], steps=steps, source=r["source"],
                kohya_guide=r["kohya_guide"], kohya_guide_repeats=r["kohya_guide_repeats"],
                formula=f"{n_images} images x {r['repeats']} repeats x {r['epochs']} epochs / "
                        f"(batch {batch} x accumulation {grad_accum}) = {steps} steps")


# ---------------------------------------------------------------------------------------------
# Concepts
# ---------------------------------------------------------------------------------------------
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


BALANCE_MIN_RATIO = 0.5  # smaller concept / larger concept (samples per epoch) before the seed's warning applies
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
    from ..dataset.identifiers import assign_identifiers

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
                "evens out samples per epoch; Flux LoRA guide prefers separate LoRAs.", "Kohya practice guide §1.4.1; Flux LoRA guide §2.3",
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


# ---------------------------------------------------------------------------------------------
# Over- and under-fitting
# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
# The recipe for a dataset, and advice on a config
# ---------------------------------------------------------------------------------------------
def _lora_recipe(names: list[str], n_images: int, purpose: str, family: str, optimizer: str, fit: str,
                 batch: int, grad_accum: int, dataset_type: str | None) -> LoraRecipe:
    rank, _, rank_why = recommend_rank(purpose, family, n_images)
    lr = lr_for_rank(rank, optimizer)
    reasons = {"rank": rank_why, "alpha": ALPHA_REASON, "learning_rate": lr_reason(rank, optimizer)}
    st = recommend_steps(n_images, batch, grad_accum, fit)
    steps, save_every, why = st.steps, st.save_every, st.reason
    if family != "flux" and n_images <= SMALL_SET:
        kind = dataset_type or _purpose(purpose)["kind"]
        re_ = repeats_epochs(kind, n_images, batch, grad_accum)
        steps = align_steps(re_["steps"], checkpoint_interval(re_["steps"]))[0]
        save_every = checkpoint_interval(steps)
        why = (f"{re_['source']}: {re_['formula']}, rounded to {steps} so checkpoints every {save_every} line "
               f"up. The Flux LoRA guide would give {st.steps}: {st.reason} The Kohya practice guide and the LoRA explainer describe "
               f"SD1.5/SDXL kohya practice on small sets, where more steps are usual (Kohya practice guide: totals above 1500).")
    elif family != "flux":
        why += (f" (LoRA explainer's repeats x epochs are for small SD sets of up to ~{SMALL_SET} images -- Kohya practice guide's "
                 f"beginner table has 30 -- and would give far more steps for {n_images}; LoRA explainer itself says to "
                 f"lower epochs for large sets.)")
    reasons["steps"] = why
    return LoraRecipe(names, n_images, rank, recommend_alpha(rank), lr, steps, save_every, reasons)


def recommend(n_images: int | None = None, *, concepts=None, purpose: str = "person", family: str = "flux",
              optimizer: str = "adamw8bit", fit: str = "normal", batch: int = 1, grad_accum: int = 1,
              similar: bool | None = None, dataset_type: str | None = None,
              identifiers: Mapping[str, str | None] | None = None) -> Recipe:
    """The tutorials' recipe for a dataset: rank, alpha, lr, steps and checkpoint interval, split into
    one LoRA per concept where Flux LoRA guide says so.

    Give `n_images` for a single concept, or `concepts` ({name: n_images} or {name: (repeats,
    n_images)}, or `scan_concepts` output) for several.
    """
    _purpose(purpose)
    if concepts is None:
        if not n_images:
            raise ConfigError("recommend: give n_images or concepts")
        cs = [ConceptCount("dataset", int(n_images))]
    else:
        cs = as_counts(concepts)
        if not cs:
            raise ConfigError("recommend: concepts is empty -> add images or pass n_images")
    advice, split, ids = concept_advice(cs, similar, identifiers)
    args = (purpose, family, optimizer, fit, batch, grad_accum, dataset_type)
    if split:
        loras = [_lora_recipe([c.name], c.images, *args) for c in cs]
    else:
        loras = [_lora_recipe([c.name for c in cs], sum(c.images for c in cs), *args)]
    return Recipe(loras, advice, ids)


def advise(config: "Config", concepts=None, *, purpose: str | None = None, dataset_type: str | None = None,
           fit: str = "normal", similar: bool | None = None, total_steps: int | None = None,
           identifiers: Mapping[str, str | None] | None = None) -> list[Advice]:
    """Compare `config` with the tutorials' rules and return what to keep or change, with reasons.

    concepts: the dataset (as for `recommend`); total_steps: the step count the config produces
    (from `lora_nb.planning.planner.step_plan`), so step advice compares like with like.
    """
    out: list[Advice] = []
    fam = config.family
    rank = config.rank
    opt = config.optimizer

    # learning rate
    rec_lr = lr_for_rank(rank, opt)
    lr = config.effective_unet_lr
    if opt in ("prodigy", "dadaptation"):
        ok = abs(lr - 1.0) < 1e-9
    else:
        ok = 0.67 <= lr / rec_lr <= 1.5
    out.append(Advice("learning rate", f"learning_rate {lr:g} " + ("fits" if ok else f"-> {rec_lr:g}")
                      + f" for rank {rank} with {opt}.", lr_reason(rank, opt), "Flux LoRA guide §3.2; LoRA explainer",
                      "ok" if ok else "suggest", {} if ok else {"learning_rate": rec_lr}))
    if config.train_text_encoder:
        ratio = config.effective_text_encoder_lr / lr if lr else 0
        ok = 0.1 - 1e-12 <= ratio <= 0.5 + 1e-12
        out.append(Advice("text encoder lr", f"text encoder lr is {ratio:.2g} x the UNet lr"
                          + ("" if ok else f" -> use {lr / 2:g} (1/2)") + ".",
                          "The text encoder is already well trained; 1/2 to 1/10 of the UNet rate keeps it from "
                          "drifting (LoRA explainer; Kohya practice guide: text encoder lr 5e-5 with UNet 1e-4).",
                          "Kohya practice guide; LoRA explainer", "ok" if ok else "suggest",
                          {} if ok else {"text_encoder_lr": lr / 2}))

    # alpha
    rec_alpha = recommend_alpha(rank)
    ok = math.isclose(config.alpha, rec_alpha) or config.alpha == rank / 4
    out.append(Advice("alpha", f"alpha {config.alpha:g} at rank {rank}: scale alpha/rank = {config.alpha / rank:.2g}"
                      + ("." if ok else f" -> {rec_alpha:g} (rank/2)."), ALPHA_REASON, "LoRA explainer; Kohya practice guide",
                      "ok" if ok else "suggest", {} if ok else {"alpha": rec_alpha}))
    if config.alpha > rank:
        out.append(Advice("alpha", f"alpha {config.alpha:g} is above rank {rank} -> at most {rank}.",
                          "alpha above rank amplifies every update beyond the unscaled LoRA (LoRA explainer: 'alpha "
                          "is usually not above rank').", "LoRA explainer", "warn", {"alpha": float(rank)}))

    cs = as_counts(concepts) if concepts is not None else []
    n_images = sum(c.images for c in cs) if cs else None

    # rank by purpose + file size
    if purpose is not None:
        rec_rank, (lo, hi), why = recommend_rank(purpose, fam, n_images)
        label = _purpose(purpose)["label"]
        flux_small = fam == "flux" and purpose != "new" and rank == rec_rank
        ok = lo <= rank <= hi or flux_small
        if flux_small and not lo <= rank <= hi:
            msg = f"rank {rank} suits Flux for {label} (Flux LoRA guide's choice; the SD guides say {lo}-{hi})."
        else:
            msg = (f"rank {rank} " + ("is in" if ok else "is outside") + f" the range for {label} ({lo}-{hi})"
                   + ("." if ok else f" -> {rec_rank}."))
        out.append(Advice("rank", msg, why, _purpose(purpose)["source"], "ok" if ok else "suggest",
                          {} if ok else {"rank": rec_rank, "alpha": recommend_alpha(rec_rank)}))
        if purpose == "new" and n_images is not None and n_images < NEW_CONTENT_MIN_IMAGES:
            out.append(Advice("dataset size", f"Teaching new content needs {NEW_CONTENT_MIN_IMAGES}+ images; "
                              f"this dataset has {n_images}.", "A LoRA mostly wakes what the model knows; new "
                              "content needs many examples and a large rank.", "Flux LoRA guide §3", "warn"))
    from .memory.reference import adapter_file_mb

    mb = adapter_file_mb(config)
    if mb > 0:
        out.append(Advice("file size", f"Each checkpoint file: ~{mb:.0f} MB at rank {rank}"
                          + f" ({len(config.save_formats)} format(s) per checkpoint).",
                          file_size_reason(config), SEED_FILE_SIZES[fam]["source"], "info"))

    # steps
    if cs:
        rec = recommend(concepts=cs, purpose=purpose or "person", family=fam, optimizer=opt, fit=fit,
                        batch=config.train_batch_size, grad_accum=config.gradient_accumulation_steps,
                        similar=similar, dataset_type=dataset_type, identifiers=identifiers)
        out.extend(rec.advice)
        if not rec.split and total_steps is not None:
            r = rec.loras[0]
            ok = 0.67 <= total_steps / r.steps <= 1.5
            out.append(Advice("steps", f"{total_steps} steps " + ("are close to" if ok else "differ from")
                              + f" the recommended {r.steps} (checkpoint every {r.save_every})"
                              + ("." if ok else f" -> set max_train_steps = {r.steps}, save_every_n_steps = "
                                                f"{r.save_every}."),
                              r.reasons["steps"], "Flux LoRA guide §4.4, §5" if fam == "flux" else "LoRA explainer; Flux LoRA guide",
                              "ok" if ok else "suggest",
                              {} if ok else {"max_train_steps": r.steps, "save_every_n_steps": r.save_every}))
        elif rec.split:
            out.append(Advice("steps", "Per-LoRA recipes: " + "; ".join(
                f"{'+'.join(r.concepts)} ({r.n_images} images): {r.steps} steps, checkpoint every {r.save_every}"
                for r in rec.loras) + ".", " ".join(r.reasons["steps"] for r in rec.loras[:1]),
                "Flux LoRA guide §5.3", "suggest"))
        # repeats/epochs by type (Kohya practice guide, LoRA explainer), shown for comparison
        kind = dataset_type or (_purpose(purpose)["kind"] if purpose else None)
        if kind in REPEATS_EPOCHS and n_images:
            b, ga = config.train_batch_size, config.gradient_accumulation_steps
            re_ = repeats_epochs(kind, n_images, b, ga)
            msg = (f"{kind}: {re_['repeats']} repeats x {re_['epochs']} epochs ({re_['formula']}); "
                   f"{re_['kohya_guide']}.")
            target = recommend_steps(n_images, b, ga, fit).steps
            if re_["steps"] > 3 * target and (fam == "flux" or n_images > 60):
                reps = max(1, round(target * b * ga / (n_images * re_["epochs"])))
                per_epoch = math.ceil(n_images * reps / (b * ga))
                epochs = max(1, round(target / per_epoch))
                got = per_epoch * epochs
                why = ("on Flux Flux LoRA guide trains far fewer steps" if fam == "flux" else
                       "those repeats are meant for small sets (Kohya practice guide's beginner table: ~30 images)")
                msg += (f" But {why}: {reps} repeat(s) x {epochs} epochs gives {got} steps, near Flux LoRA guide's "
                        f"{target}.")
            out.append(Advice("repeats", msg,
                              "More repeats learn each image more strongly but fix the pictures sooner "
                              "(over-fitting); epochs give intermediate checkpoints to choose from. Flux LoRA guide (Flux) "
                              "counts total steps instead; compare both with the step advice.",
                              "LoRA explainer (高级参数); Kohya practice guide (新手建议)", "info"))
        # minimum dataset size
        need = config.train_batch_size * config.gradient_accumulation_steps
        if n_images is not None and n_images < need:
            dup = math.ceil(need / n_images)
            out.append(Advice("dataset size", f"{n_images} images is fewer than batch x accumulation = {need} "
                              f"-> duplicate the set {dup}x (or raise repeats) so one optimizer step has enough.",
                              "The smallest usable dataset is train_batch_size x gradient_accumulation_steps "
                              "images; training cannot form a full step otherwise.", "Flux LoRA guide §4.1", "warn"))

    # checkpoints vs validation images, aligned with the total
    se, sa = config.save_every_n_steps, config.effective_sample_every
    if se and sa and sa != se:
        out.append(Advice("checkpoints", f"Validation images every {sa} steps but checkpoints every {se} -> use the "
                          f"same interval (sample_every_n_steps = -1 follows save_every_n_steps).",
                          "Each checkpoint then has its own validation images to judge it by.", "Flux LoRA guide §4.4",
                          "suggest", {"sample_every_n_steps": -1}))
    if se and total_steps and total_steps % se:
        near, lower, upper = align_steps(total_steps, se)
        out.append(Advice("checkpoints", f"{total_steps} steps is not a multiple of the checkpoint interval {se} "
                          f"-> {lower} or {upper} steps.",
                          "Rounding the total to the interval makes the last checkpoint one of the evenly spaced "
                          "ones (1234 -> 1500 or 1000).", "Flux LoRA guide §4.4", "suggest",
                          {"max_train_steps": near}))
    if not se and total_steps and total_steps > 200:
        iv = checkpoint_interval(total_steps)
        out.append(Advice("checkpoints", f"Only the final LoRA is saved -> save_every_n_steps = {iv} to choose "
                          f"among checkpoints in the XY grid.",
                          "Keep as many checkpoints as storage allows: the best one is rarely the last.",
                          "Flux LoRA guide §4.3", "suggest", {"save_every_n_steps": iv}))
    if len(config.sample_prompts) < 2:
        out.append(Advice("validation", "Use several validation prompts: the concept in different settings, plus "
                          "one or two unrelated prompts to spot forgetting.",
                          "More validation images prevent misjudging a checkpoint.", "Flux LoRA guide §4.2", "info"))

    # other settings the tutorials warn about
    if config.random_crop:
        out.append(Advice("cropping", "random_crop = true -> false.", "Random cropping makes generated subjects "
                          "distorted and cut off.", "Flux LoRA guide §4.1", "warn", {"random_crop": False}))
    if config.lr_scheduler == "cosine_with_restarts" and not 3 <= config.lr_scheduler_num_cycles <= 5:
        out.append(Advice("schedule", f"cosine_with_restarts with {config.lr_scheduler_num_cycles} cycle(s) -> 3-5.",
                          "Restarts help escape local optima only with a few cycles.", "LoRA explainer", "suggest",
                          {"lr_scheduler_num_cycles": 3}))
    if opt == "lion" and lr > 5e-5:
        out.append(Advice("optimizer", f"Lion with lr {lr:g} -> ~{lr_for_rank(rank, 'lion'):g}.",
                          "Lion's best learning rate is about 10x smaller than AdamW's.", "LoRA explainer", "warn",
                          {"learning_rate": lr_for_rank(rank, "lion")}))
    return out
