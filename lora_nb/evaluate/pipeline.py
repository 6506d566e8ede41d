"""The base pipeline: loading it once, placing it within the GPU's memory (offload, VAE slicing),
and loading LoRA files into it as named adapters for the duration of a grid."""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..env import gpu_info, resolve_mixed_precision
from ..errors import ConfigError, ModelLoadError
from ..families.facts import facts, family_of_pipeline
from ..families.loading import check_model_source
from ..families.lorafiles import is_lycoris, load_into_pipeline
from ..families.modelcheck import folder_family
from ..families.prediction import sampler, zero_snr
from .files import LoraFile

if TYPE_CHECKING:
    from .settings import SampleSettings

DTYPES = ("auto", "fp32", "fp16", "bf16")  # the weights precisions a grid loads the model in
OFFLOADS = ("auto", "none", "model", "sequential")  # placements prepare_pipeline knows


def pipeline_family(pipe) -> str:
    """sd15 / sdxl / flux from the pipeline class (StableDiffusionXL*, Flux*, StableDiffusion*): the family
    whose `pipeline_prefix` is the longest one the class name starts with."""
    name = type(pipe).__name__
    family = family_of_pipeline(name)
    if family is None:
        raise ConfigError(f"{name}: not a pipeline of a supported family -> load an SD1.5, SDXL or Flux pipeline")
    return family


def base_family(base) -> str | None:
    """The family of a grid's base before anything loads: a pipeline's, or a local diffusers folder's
    (`modelcheck.folder_family`); None when only loading tells (a hub id)."""
    if not isinstance(base, (str, os.PathLike)):
        return pipeline_family(base)
    folder = Path(str(base)).expanduser()
    found = folder_family(folder) if folder.is_dir() else None
    return found[0] if found else None


def resolve_device(device: str | None = None):
    import torch

    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for but no CUDA GPU is visible -> use --device cpu, or on "
                          f"Colab choose Runtime > Change runtime type > T4 GPU")
    return dev


def resolve_dtype(dtype: str | None, device) -> Any:
    """fp32 on CPU; on a GPU fp16 for Turing (T4, no bf16 units) and bf16 for Ampere and newer."""
    import torch

    table = {"fp32": torch.float32, "float32": torch.float32, "no": torch.float32,
             "fp16": torch.float16, "float16": torch.float16, "bf16": torch.bfloat16, "bfloat16": torch.bfloat16}
    if dtype not in (None, "", "auto"):
        if dtype not in table:
            raise ConfigError(f"dtype {dtype!r} unknown -> use {', '.join(DTYPES)}")
        return table[dtype]
    if device.type != "cuda":
        return torch.float32
    return table[resolve_mixed_precision("auto", gpu_info())]


def load_pipeline(base: str | os.PathLike, device: str | None = None, dtype: str | None = None,
                  offload: str = "auto", quantize: str | None = None):
    """Load the base model once (diffusers `DiffusionPipeline.from_pretrained`, safetensors only) and
    place it with `prepare_pipeline`. `quantize="nf4"` loads the denoiser (and T5 for Flux) in 4-bit
    with bitsandbytes, which is how Flux fits a 15 GB T4 without sequential offload (GPU only)."""
    base = check_model_source(str(base), allow_pickle=False, what="base model")  # a hub id: fails fast offline
    from diffusers import DiffusionPipeline

    dev = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, dev)
    kwargs: dict[str, Any] = {"torch_dtype": torch_dtype, "use_safetensors": True}
    if quantize:
        if quantize != "nf4":
            raise ConfigError(f"quantize={quantize!r} unknown -> use nf4 or leave it empty")
        if dev.type != "cuda":
            raise ConfigError("quantize=nf4 needs a CUDA GPU (bitsandbytes 4-bit loading) -> drop it on CPU")
        from diffusers.quantizers import PipelineQuantizationConfig

        cfg = DiffusionPipeline.load_config(str(base))
        comps = [c for c in ("transformer", "unet", "text_encoder_2") if c in cfg]
        kwargs["quantization_config"] = PipelineQuantizationConfig(
            quant_backend="bitsandbytes_4bit", components_to_quantize=comps,
            quant_kwargs={"load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "bnb_4bit_compute_dtype": torch_dtype})
    try:
        # diffusers 0.42 renames torch_dtype to dtype; older ones know only torch_dtype
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*torch_dtype.*", category=FutureWarning)
            pipe = DiffusionPipeline.from_pretrained(str(base), **kwargs)
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"cannot load the base model {base!r}: {str(e).splitlines()[0]} -> give a local folder "
                             f"in diffusers layout (model_index.json, unet/ or transformer/, vae/, ...) or a Hub "
                             f"repo id (needs internet and, for gated models like Flux, HF_TOKEN)") from None
    prepare_pipeline(pipe, dev, offload=offload)
    return pipe


def prepare_pipeline(pipe, device: str | None = None, offload: str = "auto") -> str:
    """Put `pipe` on `device` within the GPU's memory; returns the placement used.

    On CUDA, `offload="auto"` keeps everything on the GPU when it fits and otherwise uses
    diffusers' offloading: model offload (one component on the GPU at a time) for SDXL/Flux on
    cards under 24 GB such as Colab's T4, sequential offload (layer by layer, slow) when even the
    largest component would not fit. VAE slicing/tiling keep decoding big images within memory.
    On the CPU the pipeline simply moves there. The pipeline's own per-call progress bar is turned
    off; the grid shows one bar over all cells instead.
    """
    dev = device if not isinstance(device, (str, type(None))) else resolve_device(device)
    pipe.set_progress_bar_config(disable=True)
    if offload not in OFFLOADS:
        raise ConfigError(f"offload={offload!r} unknown -> use {', '.join(OFFLOADS)}")
    if dev.type != "cuda":
        pipe.to(dev)
        return dev.type
    gpu = gpu_info()
    vram = gpu.total_gb if gpu else 0.0
    sizes = [sum(p.numel() * p.element_size() for p in m.parameters()) / 2**30
             for m in pipe.components.values() if hasattr(m, "parameters")]
    if offload == "auto":
        if sizes and max(sizes) > 0.8 * vram:
            offload = "sequential"
        elif (facts(pipeline_family(pipe)).large and vram < 24) or sum(sizes) > 0.7 * vram:
            offload = "model"
        else:
            offload = "none"
    if offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=dev)
    elif offload == "model":
        pipe.enable_model_cpu_offload(device=dev)
    else:
        pipe.to(dev)
    vae = getattr(pipe, "vae", None)
    for method in ("enable_slicing", "enable_tiling"):
        if hasattr(vae, method):
            getattr(vae, method)()
    return {"sequential": "sequential_offload", "model": "model_offload"}.get(offload, "cuda")


def model_sampler(scheduler):
    """The scheduler cells draw with by default: the model's own, set up as its noise schedule needs (a
    zero-terminal-SNR model, e.g. a v-pred SDXL with rescale_betas_zero_snr, starts from the last timestep:
    trailing spacing, Lin et al. 2023); returned as it is otherwise. The pipeline itself is left unchanged."""
    return sampler(type(scheduler), scheduler.config) if zero_snr(scheduler.config) else scheduler


class _DropMessages(logging.Filter):
    def __init__(self, *fragments: str):
        super().__init__()
        self.fragments = fragments

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(f in record.getMessage() for f in self.fragments)


@contextmanager
def _quiet_loading():
    """Silence false alarms while adapters are loaded and removed, keeping real warnings (such as
    diffusers' list of keys it could not match): peft's "Already found a peft_config" and
    "Adapter ... was active which is now deleted"; transformers' load report listing the *other*
    adapter's weights as MISSING when a second adapter is loaded (the weights are loaded
    correctly; the tests compare the pictures); diffusers' note that a LoRA has no text-encoder
    part (most LoRAs train only the UNet/transformer)."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    lora_logger = logging.getLogger("diffusers.loaders.lora_base")
    drop = _DropMessages("No LoRA keys associated to")
    lora_logger.addFilter(drop)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*peft_config.*")
            warnings.filterwarnings("ignore", message=".*Adapter .* was active which is now deleted.*")
            yield
    finally:
        lora_logger.removeFilter(drop)
        hf_logging.set_verbosity(level)


def _adapter_names(pipe) -> set[str]:
    try:
        return {a for names in pipe.get_list_adapters().values() for a in names}
    except (ValueError, AttributeError):
        return set()


def load_lora(pipe, lora: LoraFile, adapter: str) -> None:
    """Load one LoRA file into `pipe` as adapter `adapter`; explain a mismatch instead of a stack trace."""
    family = pipeline_family(pipe)
    if is_lycoris(lora.path):
        raise ModelLoadError(
            f"{lora.path}: a LyCORIS LoHa/LoKr file, which diffusers' LoRA loader cannot apply -> compare its "
            f"checkpoints in ComfyUI or A1111/Forge, or train with network_type lora, locon or dora for grids here")
    try:
        with _quiet_loading():
            load_into_pipeline(pipe, lora.path, adapter_name=adapter)
    except Exception as e:  # ValueError/RuntimeError/KeyError from key conversion or shape mismatch
        if adapter in _adapter_names(pipe):
            pipe.delete_adapters([adapter])
        version = lora.base_model_version
        made_for = f" Its metadata says ss_base_model_version={version}." if version else ""
        raise ModelLoadError(
            f"{lora.path}: cannot be loaded into this {family} base model ({type(e).__name__}: "
            f"{str(e).splitlines()[0][:300]}).{made_for} -> use a LoRA trained for {family}, or a base model of "
            f"the family the LoRA was trained for") from None
    if adapter not in _adapter_names(pipe):
        raise ModelLoadError(f"{lora.path}: none of its weights match a layer of this {family} model -> it was "
                             f"trained for another model family or is not a LoRA file")


@contextmanager
def loras_loaded(pipe, loras: Sequence[LoraFile]) -> Iterator[list[LoraFile]]:
    """Load `loras` as named adapters for the duration of the block, then delete them again so the
    pipeline is back to the base model (and can be reused for the next grid)."""
    taken = _adapter_names(pipe)
    loaded: list[str] = []
    try:
        for i, lf in enumerate(loras):
            name = re.sub(r"\W", "_", f"lnb{i}_{lf.path.stem}")[:48]
            while name in taken:
                name += "_"
            load_lora(pipe, lf, name)
            lf.adapter = name
            taken.add(name)
            loaded.append(name)
        yield list(loras)
    finally:
        if loaded:
            with _quiet_loading():
                if hasattr(pipe, "enable_lora"):
                    pipe.enable_lora()
                pipe.delete_adapters(loaded)
        for lf in loras:
            lf.adapter = ""


def _open(base, s: SampleSettings, quantize: str | None = None):
    """(pipeline, label): a path/repo id is loaded (`quantize` as in `load_pipeline`); a pipeline object is used
    as it is (placed again only when `s.device` is set)."""
    if isinstance(base, (str, os.PathLike)):
        pipe = load_pipeline(base, device=s.device, dtype=s.dtype, offload=s.offload, quantize=quantize)
        return pipe, Path(str(base)).name or str(base)
    if quantize:
        raise ConfigError("quantize applies when the grid loads the base model -> pass the model folder or hub id "
                          "as base, or load it with load_pipeline(..., quantize='nf4')")
    if s.device is not None:
        prepare_pipeline(base, s.device, offload=s.offload)
    else:
        base.set_progress_bar_config(disable=True)
    return base, (getattr(base, "name_or_path", None) or getattr(base.config, "_name_or_path", "") or
                  type(base).__name__).rstrip("/").split("/")[-1]
