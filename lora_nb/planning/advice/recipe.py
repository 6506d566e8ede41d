"""The recipe for a dataset (rank, alpha, lr, steps, one LoRA or one per concept) and advice on a
config against the tutorials' rules."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ...config import ADAPTIVE_OPTIMIZERS
from ...errors import ConfigError
from ...families.facts import facts
from ..memory.reference import adapter_file_mb
from .concepts import ConceptCount, as_counts, concept_advice
from .data import Advice, LoraRecipe, Recipe
from .rates import (
    ALPHA_REASON,
    QUOTED_FILE_SIZES,
    file_size_reason,
    lr_for_rank,
    lr_reason,
    recommend_alpha,
    recommend_rank,
)
from .steps import align_steps, recommend_steps, repeats_epochs
from .tables import (
    MIN_CHECKPOINTS,
    NEW_CONTENT_MIN_IMAGES,
    REPEATS_EPOCHS,
    SMALL_SET,
    checkpoint_interval,
    purpose_info,
)

if TYPE_CHECKING:  # pragma: no cover
    from ...config import Config


def _lora_recipe(names: list[str], n_images: int, purpose: str, family: str, optimizer: str, fit: str,
                 batch: int, grad_accum: int, dataset_type: str | None) -> LoraRecipe:
    rank, _, rank_why = recommend_rank(purpose, family, n_images)
    lr = lr_for_rank(rank, optimizer)
    reasons = {"rank": rank_why, "alpha": ALPHA_REASON, "learning_rate": lr_reason(rank, optimizer)}
    st = recommend_steps(n_images, batch, grad_accum, fit)
    steps, save_every, why = st.steps, st.save_every, st.reason
    if not facts(family).flux_guide and n_images <= SMALL_SET:
        kind = dataset_type or purpose_info(purpose)["kind"]
        re_ = repeats_epochs(kind, n_images, batch, grad_accum)
        steps = align_steps(re_["steps"], checkpoint_interval(re_["steps"]))[0]
        save_every = checkpoint_interval(steps)
        why = (f"{re_['source']}: {re_['formula']}, rounded to {steps} so checkpoints every {save_every} line "
               f"up. The Flux LoRA guide would give {st.steps}: {st.reason} The Kohya practice guide and the LoRA "
               "explainer describe SD1.5/SDXL kohya practice on small sets, where more steps are usual (Kohya "
               "practice guide: totals above 1500).")
    elif not facts(family).flux_guide:
        why += (f" (LoRA explainer's repeats x epochs are for small SD sets of up to ~{SMALL_SET} images -- Kohya "
                 f"practice guide's beginner table has 30 -- and would give far more steps for {n_images}; LoRA "
                 "explainer itself says to lower epochs for large sets.)")
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
    purpose_info(purpose)
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


def advise(config: Config, concepts=None, *, purpose: str | None = None, dataset_type: str | None = None,
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
    if config.train_text_encoder and opt not in ADAPTIVE_OPTIMIZERS:  # those take one lr for all (Config.problems)
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
                      + ("." if ok else f" -> {rec_alpha:g} (rank/2)."),
                      ALPHA_REASON, "LoRA explainer; Kohya practice guide",
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
        label = purpose_info(purpose)["label"]
        flux_small = facts(fam).flux_guide and purpose != "new" and rank == rec_rank
        ok = lo <= rank <= hi or flux_small
        if flux_small and not lo <= rank <= hi:
            msg = f"rank {rank} suits Flux for {label} (Flux LoRA guide's choice; the SD guides say {lo}-{hi})."
        else:
            msg = (f"rank {rank} " + ("is in" if ok else "is outside") + f" the range for {label} ({lo}-{hi})"
                   + ("." if ok else f" -> {rec_rank}."))
        out.append(Advice("rank", msg, why, purpose_info(purpose)["source"], "ok" if ok else "suggest",
                          {} if ok else {"rank": rec_rank, "alpha": recommend_alpha(rec_rank)}))
        if purpose == "new" and n_images is not None and n_images < NEW_CONTENT_MIN_IMAGES:
            out.append(Advice("dataset size", f"Teaching new content needs {NEW_CONTENT_MIN_IMAGES}+ images; "
                              f"this dataset has {n_images}.", "A LoRA mostly wakes what the model knows; new "
                              "content needs many examples and a large rank.", "Flux LoRA guide §3", "warn"))

    mb = adapter_file_mb(config)
    if mb > 0:
        out.append(Advice("file size", f"Each checkpoint file: ~{mb:.0f} MB at rank {rank}"
                          + f" ({len(config.save_formats)} format(s) per checkpoint).",
                          file_size_reason(config), QUOTED_FILE_SIZES[fam]["source"], "info"))

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
                              r.reasons["steps"],
                              "Flux LoRA guide §2.4, §4.4, §5" if facts(fam).flux_guide
                              else "LoRA explainer; Flux LoRA guide",
                              "ok" if ok else "suggest",
                              {} if ok else {"max_train_steps": r.steps, "save_every_n_steps": r.save_every}))
        elif rec.split:
            out.append(Advice("steps", "Per-LoRA recipes: " + "; ".join(
                f"{'+'.join(r.concepts)} ({r.n_images} images): {r.steps} steps, checkpoint every {r.save_every}"
                for r in rec.loras) + ".", " ".join(r.reasons["steps"] for r in rec.loras[:1]),
                "Flux LoRA guide §5.3", "suggest"))
        # repeats/epochs by type (Kohya practice guide, LoRA explainer), shown for comparison
        kind = dataset_type or (purpose_info(purpose)["kind"] if purpose else None)
        if kind in REPEATS_EPOCHS and n_images:
            b, ga = config.train_batch_size, config.gradient_accumulation_steps
            re_ = repeats_epochs(kind, n_images, b, ga)
            msg = (f"{kind}: {re_['repeats']} repeats x {re_['epochs']} epochs ({re_['formula']}); "
                   f"{re_['kohya_guide']}.")
            target = recommend_steps(n_images, b, ga, fit).steps
            if re_["steps"] > 3 * target and (facts(fam).flux_guide or n_images > 60):
                reps = max(1, round(target * b * ga / (n_images * re_["epochs"])))
                per_epoch = math.ceil(n_images * reps / (b * ga))
                epochs = max(1, round(target / per_epoch))
                got = per_epoch * epochs
                why = ("the Flux LoRA guide trains far fewer steps on Flux" if facts(fam).flux_guide else
                       "those repeats are meant for small sets (Kohya practice guide's beginner table: ~30 images)")
                msg += (f" But {why}: {reps} repeat(s) x {epochs} epochs gives {got} steps, near Flux LoRA guide's "
                        f"{target}.")
            out.append(Advice("repeats", msg,
                              "More repeats learn each image more strongly but fix the pictures sooner "
                              "(over-fitting); epochs give intermediate checkpoints to choose from. "
                              "Flux LoRA guide (Flux) counts total steps instead; compare both with the step advice.",
                              "LoRA explainer (高级参数); "
                              "Kohya practice guide (新手建议)", "info"))
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
    if se and total_steps and 0 < total_steps // se < MIN_CHECKPOINTS:
        iv = checkpoint_interval(total_steps)
        out.append(Advice("checkpoints", f"{total_steps} steps with a checkpoint every {se} give "
                          f"{math.ceil(total_steps / se)} -> save_every_n_steps = {iv} for {MIN_CHECKPOINTS} or more.",
                          "The best checkpoint is rarely the last; the XY grid needs several, evenly spaced, to "
                          "choose from.", "Flux LoRA guide §4.3", "suggest", {"save_every_n_steps": iv}))
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
