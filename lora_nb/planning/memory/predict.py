"""The prediction: peak GPU memory per phase (caching, encoding, training) and host RAM for a config,
with the parts that make them up."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from ...env import GPUInfo, resolve_mixed_precision
from ...errors import ConfigError
from ...families.facts import facts
from ...families.textcache import enabled as text_cache_enabled
from ...i18n import t
from .activations import activation_bytes
from .calibration import CALIBRATION, GiB
from .gpus import GPU, resolve_gpu
from .optimizer_states import optimizer_state_bytes
from .reference import (
    ATTENTION_TARGETS,
    _family,
    adapter_layers,
    adapter_shapes,
    architecture,
    text_encoders,
    trained_text_encoders,
)

if TYPE_CHECKING:  # pragma: no cover
    from ...config import Config


@dataclass
class MemoryEstimate:
    """Predicted peak GPU memory and host RAM, in GiB, with the parts that make them up."""

    family: str
    resolution: int
    batch: int
    precision: str  # resolved mixed precision: fp16, bf16 or no
    quantization: str  # none, nf4, int8
    cache_text_embeddings: bool  # resolved: captions encoded once and the encoders freed
    gpu_parts: dict[str, float]  # GiB, each part of the training step's peak (allocated by PyTorch)
    host_parts: dict[str, float]
    adapter_params: int
    phases: dict[str, float] = field(default_factory=dict)  # GiB allocated at the peak of each phase
    correction: float = 1.0  # measured / predicted allocated peak, from a dry run
    notes: list[str] = field(default_factory=list)

    @property
    def peak_phase(self) -> str:
        return max(self.phases, key=self.phases.get) if self.phases else "training"

    @property
    def allocated_gb(self) -> float:
        """Comparable to torch.cuda.max_memory_allocated()."""
        return max([sum(self.gpu_parts.values()), *self.phases.values()]) * self.correction

    @property
    def total_gb(self) -> float:
        """What the GPU must hold: allocated + allocator slack + CUDA context."""
        return self.allocated_gb * (1 + CALIBRATION["allocator_slack"]) + CALIBRATION["cuda_context_gb"]

    @property
    def host_gb(self) -> float:
        return sum(self.host_parts.values())

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(allocated_gb=self.allocated_gb, total_gb=self.total_gb, host_gb=self.host_gb,
                 peak_phase=self.peak_phase)
        return d


def resolve_precision(config: Config, gpu: GPU | None) -> str:
    """config.mixed_precision with 'auto' resolved for `gpu` (fp16 on a T4, bf16 on Ampere+, no on CPU)."""
    if config.mixed_precision != "auto":
        return config.mixed_precision
    if gpu is None:
        return "bf16"  # a plan without a GPU: assume a modern one
    return resolve_mixed_precision("auto", GPUInfo(gpu.name, gpu.memory_gb, (8, 0) if gpu.bf16 else (7, 5)))


def predict_memory(config: Config, gpu: str | GPU | None = None, *, n_images: int | None = None,
                   n_captions: int | None = None) -> MemoryEstimate:
    """Predict the peaks for `config` as the trainer runs it (buckets up to resolution x resolution).

    Reads the memory-related fields of the config: family, resolution, train_batch_size, rank and
    network_type/targets, optimizer, mixed_precision, gradient_checkpointing, quantization,
    cache_latents, cache_text_embeddings, cpu_offload, vae_dtype, train_text_encoder. `gpu` only
    resolves mixed_precision 'auto'; n_images/n_captions size the host-RAM caches.
    """
    family = config.family
    ref = _family(family)
    gpu = resolve_gpu(gpu)
    precision = resolve_precision(config, gpu)
    arch = architecture(family)
    wb = 4 if precision == "no" else 2
    vae_b = {"fp32": 4, "fp16": 2, "bf16": 2}.get(config.vae_dtype, 4)  # auto: the reference VAEs force_upcast
    cached_text = text_cache_enabled(config)
    offload = config.cpu_offload
    tes = text_encoders(family)
    # transformers keeps a class's _keep_in_fp32_modules in fp32 when loading in fp16 (T5's "wo": +2 GB)
    te_gb = {c: (arch.params[c] * wb + (arch.fp32_params[c] * 2 if precision == "fp16" else 0)) / GiB for c in tes}
    vae_gb = arch.params["vae"] * vae_b / GiB
    b = config.train_batch_size
    notes = []

    # --- training step (the denoiser's forward + backward) ---------------------------------------
    parts: dict[str, float] = {}
    den, den_lin = arch.params["denoiser"], arch.linear_params["denoiser"]
    if config.quantization != "none":
        qb = CALIBRATION["quant_bytes"][config.quantization]
        rows = arch.linear_rows["denoiser"] if config.quantization == "int8" else 0
        parts["denoiser weights"] = (den_lin * qb + (den - den_lin) * wb + rows * 4) / GiB
        parts["dequantised layer"] = 2 * arch.largest_linear * wb / GiB
    else:
        parts["denoiser weights"] = den * wb / GiB
    trained = trained_text_encoders(family) if config.train_text_encoder else []
    if not cached_text:  # encoders stay; with cpu_offload only the trained ones (the rest visit per step)
        kept = [c for c in tes if c in trained or not offload]
        if kept:
            parts["text encoder weights"] = sum(te_gb[c] for c in kept)
    # after caching latents the trainer moves the VAE to CPU RAM; without a latent cache it stays
    if config.cache_latents == "none" and not offload:
        parts["VAE weights"] = vae_gb
    layers = adapter_layers(config)
    if not layers["denoiser"]:
        raise ConfigError(f"target_modules: {config.target_modules} match no layer of the {family} model -> use "
                          f"names such as {', '.join(ATTENTION_TARGETS)}")
    shapes = adapter_shapes(config, layers)
    n_adapter = sum(r * c for r, c in shapes)
    parts["adapter weights (fp32)"] = n_adapter * 4 / GiB
    parts["adapter gradients"] = n_adapter * 4 / GiB
    parts["optimizer state"] = optimizer_state_bytes(config.optimizer, shapes) / GiB
    act = activation_bytes(family, config.resolution, b, config.gradient_checkpointing, precision)
    parts["activations"] = act * CALIBRATION["activation_factor"][family] / GiB
    if config.train_text_encoder:
        # CLIP with grad: ~tokens x hidden x layers x ~24 saved values, small next to the denoiser's
        parts["text encoder activations"] = sum(
            b * 77 * cfg["hidden_size"] * cfg["num_hidden_layers"] * 24 * wb
            for cls_name, cfg in ref["text_encoders"] if cls_name.startswith("CLIP")) / GiB
    if config.network_type != "lora":
        notes.append(t("mem.network", network=config.network_type))
    phases = {"training": sum(parts.values())}

    # --- before the forward of each step: images through the VAE, captions through the encoders --
    resident = sum(v for k, v in parts.items() if k != "activations")
    vae_encode = config.resolution**2 * CALIBRATION["vae_encode_bytes_per_pixel"] / GiB  # per image
    if config.cache_latents == "none":
        phases["encoding a batch"] = resident + b * vae_encode + (vae_gb if offload else 0.0)
    visiting = [te_gb[c] for c in tes if c not in trained]
    if not cached_text and offload and visiting:
        phases["encoding captions"] = resident + max(visiting)
    # --- caching, before the denoiser is loaded: the trainer loads every text encoder and the VAE,
    #     encodes each image (one at a time) and caption, then frees or offloads them --------------
    if config.cache_latents != "none" or cached_text:
        phases["caching latents and captions"] = (sum(te_gb.values()) + vae_gb
                                                  + (vae_encode if config.cache_latents != "none" else 0.0))

    # --- host RAM --------------------------------------------------------------------------------
    host = {"Python + libraries": CALIBRATION["host_baseline_gb"]}
    den16 = den * wb / GiB
    load = min(den16, CALIBRATION["host_shard_gb"]) if config.quantization != "none" else den16
    host["loading (largest model part)"] = max(load, max(te_gb.values()))
    waiting = (vae_gb if config.cache_latents != "none" or offload else 0.0)  # the VAE waits for validation
    if not cached_text and offload:
        waiting += sum(visiting)
    if waiting:
        host["offloaded VAE / text encoders"] = waiting
    n_img = n_images or 0
    if config.cache_latents == "memory" and n_img:
        lat = ref["latent_channels"] * (config.resolution // ref["vae_scale"]) ** 2
        host["latent cache"] = n_img * lat * 4 / GiB
    if cached_text and config.cache_text_embeddings != "disk" and (n_captions or n_img):
        per = ref["text_tokens"] * ref["text_dim"] + ref["pooled_dim"]
        host["text-embedding cache"] = (n_captions or n_img) * per * wb / GiB

    f = facts(family)
    if f.fp16_overflows and precision == "fp16":
        notes.append(t("mem.fp16", family=family))
    if f.big_text_encoder and not cached_text:
        name, gib = f.big_text_encoder
        notes.append(t("mem.big_te", name=name, gib=gib))
    return MemoryEstimate(family, config.resolution, b, precision, config.quantization, cached_text, parts, host,
                          n_adapter, phases, notes=notes)
