"""The recipe for a dataset (rank, alpha, lr, steps, one LoRA or one per concept) and advice on a
config against the tutorials' rules."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ...config import ADAPTIVE_OPTIMIZERS
from ...errors import ConfigError
from ...families.facts import facts
from ...i18n import get_language, t
from ...i18n.plan import cite
from ..memory.reference import adapter_file_mb
from .concepts import ConceptCount, as_counts, concept_advice
from .data import Advice, LoraRecipe, Recipe
from .rates import (
    QUOTED_FILE_SIZES,
    alpha_reason,
    file_size_reason,
    lr_for_rank,
    lr_reason,
    purpose_label,
    recommend_alpha,
    recommend_rank,
)
from .steps import align_steps, fewer_passes, recommend_steps, repeats_epochs, sd_steps
from .tables import (
    MIN_CHECKPOINTS,
    NEW_CONTENT_MIN_IMAGES,
    REFERENCE_SET,
    REPEATS_EPOCHS,
    checkpoint_interval,
    purpose_info,
)

if TYPE_CHECKING:  # pragma: no cover
    from ...config import Config


def _lora_recipe(names: list[str], n_images: int, purpose: str, family: str, optimizer: str, fit: str,
                 batch: int, grad_accum: int, dataset_type: str | None) -> LoraRecipe:
    rank, _, rank_why = recommend_rank(purpose, family, n_images)
    lr = lr_for_rank(rank, optimizer)
    reasons = {"rank": rank_why, "alpha": alpha_reason(), "learning_rate": lr_reason(rank, optimizer)}
    if facts(family).flux_guide:
        st = recommend_steps(n_images, batch, grad_accum, fit)
    else:
        st = sd_steps(dataset_type or purpose_info(purpose)["kind"], n_images, batch, grad_accum, fit)
    steps, save_every, why = st.steps, st.save_every, st.reason
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
    out.append(Advice("learning rate", t("adv.lr_ok" if ok else "adv.lr_change", lr=lr, rec=rec_lr, rank=rank,
                                         optimizer=opt), lr_reason(rank, opt), "Flux LoRA guide §3.2; LoRA explainer",
                      "ok" if ok else "suggest", {} if ok else {"learning_rate": rec_lr}))
    if config.train_text_encoder and opt not in ADAPTIVE_OPTIMIZERS:  # those take one lr for all (Config.problems)
        ratio = config.effective_text_encoder_lr / lr if lr else 0
        ok = 0.1 - 1e-12 <= ratio <= 0.5 + 1e-12
        out.append(Advice("text encoder lr", t("adv.te" if ok else "adv.te_change", ratio=ratio, lr=lr / 2),
                          t("adv.te_reason"), "Kohya practice guide; LoRA explainer", "ok" if ok else "suggest",
                          {} if ok else {"text_encoder_lr": lr / 2}))

    # alpha
    rec_alpha = recommend_alpha(rank)
    ok = math.isclose(config.alpha, rec_alpha) or config.alpha == rank / 4
    out.append(Advice("alpha", t("adv.alpha_ok" if ok else "adv.alpha_change", alpha=config.alpha, rank=rank,
                                 scale=config.alpha / rank, rec=rec_alpha),
                      alpha_reason(), "LoRA explainer; Kohya practice guide",
                      "ok" if ok else "suggest", {} if ok else {"alpha": rec_alpha}))
    if config.alpha > rank:
        out.append(Advice("alpha", t("adv.alpha_high", alpha=config.alpha, rank=rank), t("adv.alpha_high_reason"),
                          "LoRA explainer", "warn", {"alpha": float(rank)}))

    cs = as_counts(concepts) if concepts is not None else []
    n_images = sum(c.images for c in cs) if cs else None

    # rank by purpose + file size
    if purpose is not None:
        rec_rank, (lo, hi), why = recommend_rank(purpose, fam, n_images)
        label = purpose_label(purpose)
        flux_small = facts(fam).flux_guide and purpose != "new" and rank == rec_rank
        ok = lo <= rank <= hi or flux_small
        if flux_small and not lo <= rank <= hi:
            msg = t("adv.rank_suits_flux", rank=rank, label=label, lo=lo, hi=hi)
        else:
            msg = t("adv.rank_in" if ok else "adv.rank_out", rank=rank, label=label, lo=lo, hi=hi, rec=rec_rank)
        out.append(Advice("rank", msg, why, purpose_info(purpose)["source"], "ok" if ok else "suggest",
                          {} if ok else {"rank": rec_rank, "alpha": recommend_alpha(rec_rank)}))
        if purpose == "new" and n_images is not None and n_images < NEW_CONTENT_MIN_IMAGES:
            out.append(Advice("dataset size", t("adv.new_size", need=NEW_CONTENT_MIN_IMAGES, n=n_images),
                              t("adv.new_size_reason"), "Flux LoRA guide §3", "warn"))

    mb = adapter_file_mb(config)
    if mb > 0:
        out.append(Advice("file size", t("adv.file_size", mb=mb, rank=rank, formats=len(config.save_formats)),
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
            out.append(Advice("steps", t("adv.steps_ok" if ok else "adv.steps_change", total=total_steps,
                                         steps=r.steps, every=r.save_every),
                              r.reasons["steps"],
                              "Flux LoRA guide §2.4, §4.4, §5" if facts(fam).flux_guide
                              else "LoRA explainer; Kohya practice guide §2.3.2; Flux LoRA guide",
                              "ok" if ok else "suggest",
                              {} if ok else {"max_train_steps": r.steps, "save_every_n_steps": r.save_every}))
        elif rec.split:
            out.append(Advice("steps", t("adv.per_lora", items=t("adv.sep").join(
                t("adv.per_lora_item", concepts="+".join(r.concepts), n=r.n_images, steps=r.steps, every=r.save_every)
                for r in rec.loras)), " ".join(r.reasons["steps"] for r in rec.loras[:1]),
                "Flux LoRA guide §5.3", "suggest"))
        # repeats/epochs by type (Kohya practice guide, LoRA explainer), shown for comparison
        kind = dataset_type or (purpose_info(purpose)["kind"] if purpose else None)
        if kind in REPEATS_EPOCHS and n_images:
            b, ga = config.train_batch_size, config.gradient_accumulation_steps
            re_ = repeats_epochs(kind, n_images, b, ga)
            msg = t("adv.repeats", kind=kind, repeats=re_["repeats"], epochs=re_["epochs"], formula=re_["formula"],
                    kohya=cite(re_["kohya_guide"], get_language()))
            if facts(fam).flux_guide:
                target = recommend_steps(n_images, b, ga, fit).steps
                if re_["steps"] > 3 * target:
                    reps = max(1, round(target * b * ga / (n_images * re_["epochs"])))
                    per_epoch = math.ceil(n_images * reps / (b * ga))
                    epochs = max(1, round(target / per_epoch))
                    msg += t("adv.repeats_but", why=t("adv.repeats_why_flux"), reps=reps, epochs=epochs,
                             got=per_epoch * epochs, target=target)
            elif n_images > REFERENCE_SET:  # the recipe keeps the total of REFERENCE_SET images (sd_steps)
                target = sd_steps(kind, n_images, b, ga, fit).steps
                reps, epochs, got = fewer_passes(target, n_images, re_["repeats"], re_["epochs"], b, ga)
                msg += t("adv.repeats_but_sd", ref=REFERENCE_SET, reps=reps, epochs=epochs, got=got, target=target)
            out.append(Advice("repeats", msg, t("adv.repeats_reason"),
                              "LoRA explainer (高级参数); "
                              "Kohya practice guide (新手建议)", "info"))
        # minimum dataset size
        need = config.train_batch_size * config.gradient_accumulation_steps
        if n_images is not None and n_images < need:
            dup = math.ceil(need / n_images)
            out.append(Advice("dataset size", t("adv.min_size", n=n_images, need=need, dup=dup),
                              t("adv.min_size_reason"), "Flux LoRA guide §4.1", "warn"))

    # checkpoints vs validation images, aligned with the total
    se, sa = config.save_every_n_steps, config.effective_sample_every
    if se and sa and sa != se:
        out.append(Advice("checkpoints", t("adv.ckpt_samples", every=sa, save=se), t("adv.ckpt_samples_reason"),
                          "Flux LoRA guide §4.4", "suggest", {"sample_every_n_steps": -1}))
    if se and total_steps and total_steps % se:
        near, lower, upper = align_steps(total_steps, se)
        out.append(Advice("checkpoints", t("adv.ckpt_multiple", total=total_steps, every=se, lower=lower, upper=upper),
                          t("adv.ckpt_multiple_reason"), "Flux LoRA guide §4.4", "suggest",
                          {"max_train_steps": near}))
    if se and total_steps and 0 < total_steps // se < MIN_CHECKPOINTS:
        iv = checkpoint_interval(total_steps)
        out.append(Advice("checkpoints", t("adv.ckpt_few", steps=total_steps, every=se,
                                           count=math.ceil(total_steps / se), interval=iv, min=MIN_CHECKPOINTS),
                          t("adv.ckpt_few_reason"), "Flux LoRA guide §4.3", "suggest", {"save_every_n_steps": iv}))
    if not se and total_steps and total_steps > 200:
        iv = checkpoint_interval(total_steps)
        out.append(Advice("checkpoints", t("adv.ckpt_final", every=iv), t("adv.ckpt_final_reason"),
                          "Flux LoRA guide §4.3", "suggest", {"save_every_n_steps": iv}))
    if len(config.sample_prompts) < 2:
        out.append(Advice("validation", t("adv.prompts"), t("adv.prompts_reason"), "Flux LoRA guide §4.2", "info"))

    # other settings the tutorials warn about
    if config.random_crop:
        out.append(Advice("cropping", t("adv.crop"), t("adv.crop_reason"), "Flux LoRA guide §4.1", "warn",
                          {"random_crop": False}))
    if config.lr_scheduler == "cosine_with_restarts" and not 3 <= config.lr_scheduler_num_cycles <= 5:
        out.append(Advice("schedule", t("adv.restarts", n=config.lr_scheduler_num_cycles), t("adv.restarts_reason"),
                          "LoRA explainer", "suggest",
                          {"lr_scheduler_num_cycles": 3}))
    if opt == "lion" and lr > 5e-5:
        out.append(Advice("optimizer", t("adv.lion", lr=lr, rec=lr_for_rank(rank, "lion")), t("adv.lion_reason"),
                          "LoRA explainer", "warn",
                          {"learning_rate": lr_for_rank(rank, "lion")}))
    return out
