"""What a DDPM base model (SD1.5, SDXL) predicts, read from the model, with the Config's override.

- epsilon: the noise (Ho et al. 2020), what the reference SD1.5/SDXL checkpoints predict.
- v_prediction: v = sqrt(a) * noise - sqrt(1 - a) * x0 (Salimans & Ho 2022), e.g. NoobAI-XL v-pred and
  Illustrious v-pred style community SDXL checkpoints.
- zero terminal SNR (Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are Flawed",
  arXiv 2305.08891): betas rescaled so the last timestep is pure noise. It needs v-prediction (epsilon
  carries no information about the image there), and sampling from the last timestep
  (`timestep_spacing="trailing"`) with guidance rescale 0.7 against over-exposure (arXiv 2305.08891 §3.3-3.4).

Where it is written: a diffusers folder's `scheduler/scheduler_config.json` (`prediction_type`,
`rescale_betas_zero_snr`); a single-file checkpoint carries empty marker tensors `v_pred` and `ztsnr`
next to its weights (as ComfyUI's SDXL model detection reads them), or a `modelspec.prediction_type`
of "v" in its header. Config's `v_parameterization` / `zero_terminal_snr` (kohya's flags) override both.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, ModelLoadError
from ..i18n import t
from .facts import facts

V_MARKER, ZSNR_MARKER = "v_pred", "ztsnr"  # marker keys of community v-pred / zsnr SDXL checkpoints
TYPES = ("epsilon", "v_prediction")        # diffusers' names of the objectives trained here
MODELSPEC = {"epsilon": "epsilon", "v_prediction": "v"}  # kohya sai_model_spec PRED_TYPE_EPSILON / PRED_TYPE_V
GUIDANCE_RESCALE = 0.7                     # Lin et al. 2023, arXiv 2305.08891 §3.4: phi = 0.7


@dataclass(frozen=True)
class Prediction:
    type: str               # "epsilon" or "v_prediction" (diffusers' prediction_type)
    zero_snr: bool          # betas rescaled to zero terminal SNR
    source: str = ""        # where it was read, for the run's note

    @property
    def modelspec(self) -> str:
        return MODELSPEC[self.type]

    def describe(self) -> str:
        """One line for the run's notes."""
        kind = t("objective.v" if self.type == "v_prediction" else "objective.eps")
        if self.zero_snr:
            kind += t("objective.zsnr", rescale=f"{GUIDANCE_RESCALE:g}")
        return t("objective.line", kind=kind) + (t("objective.from", source=self.source) if self.source else "")


def notes(pred: Prediction | None) -> list[str]:
    """The run's note on its objective, when it is not the usual epsilon prediction."""
    return [pred.describe()] if pred and (pred.type != "epsilon" or pred.zero_snr) else []


def file_markers(path: str | Path) -> dict:
    """What a single-file checkpoint says about itself: {"prediction_type", "rescale_betas_zero_snr"} as far as
    its marker keys or header metadata state it (only the header is read)."""
    from safetensors import safe_open

    if Path(path).suffix.lower() != ".safetensors":
        return {}
    with safe_open(str(path), framework="pt") as f:
        keys, meta = set(f.keys()), f.metadata() or {}
    out: dict = {}
    if V_MARKER in keys or meta.get("modelspec.prediction_type", "").strip().lower() == MODELSPEC["v_prediction"]:
        out["prediction_type"] = "v_prediction"
    if ZSNR_MARKER in keys:
        out["rescale_betas_zero_snr"] = True
    return out


def _flag(setting: str) -> bool | None:
    return {"yes": True, "no": False}.get(setting)


def resolve(scheduler_config, config, markers: dict | None = None, where: str = "") -> Prediction:
    """The run's objective: the Config's override, else the checkpoint's markers, else the scheduler config;
    one what -> fix line for what cannot be trained."""
    found = {"prediction_type": scheduler_config.get("prediction_type", "epsilon"),
             "rescale_betas_zero_snr": bool(scheduler_config.get("rescale_betas_zero_snr", False)),
             **(markers or {})}
    sources = [where + (t("objective.markers") if markers else "")] if where else []
    v, z = _flag(config.v_parameterization), _flag(config.zero_terminal_snr)
    if v is not None:
        found["prediction_type"] = "v_prediction" if v else "epsilon"
        sources.append(f"v_parameterization={config.v_parameterization}")
    if z is not None:
        found["rescale_betas_zero_snr"] = z
        sources.append(f"zero_terminal_snr={config.zero_terminal_snr}")
    kind, zsnr = found["prediction_type"], found["rescale_betas_zero_snr"]
    if kind not in TYPES:
        raise ModelLoadError(f"{where or 'the scheduler config'}: prediction_type {kind!r} cannot be trained here "
                             f"-> set v_parameterization=yes (v_prediction) or no (epsilon)")
    if zsnr and kind == "epsilon":
        raise ConfigError("zero terminal SNR with epsilon prediction: at the last timestep the input is pure noise "
                          "and the image cannot be recovered from a noise estimate (Lin et al. 2023) -> set "
                          "v_parameterization=yes, or zero_terminal_snr=no")
    return Prediction(kind, zsnr, ", ".join(sources))


def training_scheduler(scheduler, config, markers: dict | None = None, where: str = ""):
    """A DDPMScheduler with the run's objective and, for zero terminal SNR, the rescaled betas, plus the
    `Prediction` it trains with."""
    from diffusers import DDPMScheduler

    pred = resolve(scheduler.config, config, markers, where)
    sched = DDPMScheduler.from_config(scheduler.config, prediction_type=pred.type,
                                      rescale_betas_zero_snr=pred.zero_snr)
    return sched, pred


def of_scheduler(scheduler) -> Prediction | None:
    """The objective a (training) scheduler is set to; None for schedulers without one (flow matching)."""
    kind = getattr(scheduler.config, "prediction_type", None) if scheduler is not None else None
    if kind not in TYPES:
        return None
    return Prediction(kind, bool(getattr(scheduler.config, "rescale_betas_zero_snr", False)))


def zero_snr(scheduler_config) -> bool:
    """Whether a scheduler config describes a zero-terminal-SNR noise schedule."""
    return bool(scheduler_config.get("rescale_betas_zero_snr", False))


def sampler(cls, scheduler_config, **extra):
    """`cls.from_config` for drawing images: the model's objective carries over; a zero-terminal-SNR model
    samples from the last timestep (trailing spacing), which a sampler without the rescale cannot do."""
    if not zero_snr(scheduler_config):
        return cls.from_config(scheduler_config, **extra)
    if "rescale_betas_zero_snr" not in inspect.signature(cls.__init__).parameters:
        raise ConfigError(f"sampler {cls.__name__} cannot start from pure noise, which this zero-terminal-SNR model "
                          f"needs -> use euler, euler_a, ddim, dpmsolver++ or unipc")
    return cls.from_config(scheduler_config, **{"timestep_spacing": "trailing", **extra})


def pipeline_kwargs(scheduler_config) -> dict:
    """Extra arguments of a pipeline call for this model: guidance rescale for zero terminal SNR."""
    return {"guidance_rescale": GUIDANCE_RESCALE} if zero_snr(scheduler_config) else {}


def problems(config) -> list[str]:
    """Overrides that cannot work: Flux learns a flow-matching velocity of its own; zero terminal SNR with
    epsilon prediction cannot be sampled."""
    out = []
    set_here = [n for n in ("v_parameterization", "zero_terminal_snr") if getattr(config, n) != "auto"]
    if set_here and not facts(config.family).prediction_type:
        out.append(f"{set_here[0]}: {config.family} is trained with flow matching, not a DDPM objective -> leave "
                   f"it at auto")
    elif config.zero_terminal_snr == "yes" and config.v_parameterization == "no":
        out.append("zero_terminal_snr: needs v-prediction (at zero SNR a noise estimate says nothing about the "
                   "image) -> set v_parameterization to yes or auto")
    return out
