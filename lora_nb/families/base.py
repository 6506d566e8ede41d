"""What every family shares: staged loading, freezing and placing parts, VAE precision, adapter
targets as exact module names, validation-pipeline prompt arguments."""

from __future__ import annotations

from pathlib import Path

import torch

from ..config import Config
from ..env import offline
from ..errors import ConfigError, ModelLoadError
from . import Models
from .adapters import conv_names, matches_suffix
from .facts import FACTS, FamilyFacts
from .loading import check_model_source, load_part
from .modelcheck import check_folder_family, check_hub_reachable, check_single_file
from .quantize import load_quantized
from .textcache import enabled


class Family:
    name = ""                       # a key of facts.FACTS: the family's facts are read from there
    text_lora_targets = ["q_proj", "k_proj", "v_proj", "out_proj"]
    has_conv_layers = True
    conv_prefixes: tuple[str, ...] = ("down_blocks.", "mid_block.", "up_blocks.")  # LoCon: kohya skips conv_in/out

    @property
    def facts(self) -> FamilyFacts:
        return FACTS[self.name]

    def kohya_metadata(self, config: Config) -> dict:
        """The ss_* keys kohya's trainer for this family adds (its `update_metadata`); none for SD1.5/SDXL."""
        return {}

    def architecture(self, m: Models) -> str:
        """modelspec.architecture of the loaded model (ModelSpec 1.0 names, as kohya's sai_model_spec)."""
        return self.facts.modelspec_architecture

    # --- loading ------------------------------------------------------------------------------
    def load(self, config: Config, device, dtype) -> Models:
        """All parts at once (notebooks, tools); the trainer loads in two stages around its caches."""
        m = self.load_parts(config, device, dtype)
        self.load_denoiser(m, config, device, dtype)
        return m

    def model_source(self, config: Config) -> str:
        """`config.pretrained_model` checked before anything loads: an existing path or a reachable repo
        id, no unpermitted pickle, and a model of this family (not a LoRA, not another family's)."""
        src = check_model_source(config.pretrained_model, config.allow_pickle)
        if Path(src).is_dir():
            check_folder_family(src, self.name)
        elif Path(src).is_file():
            check_single_file(src, self.name)
        return src

    def from_single_file(self, pipeline_cls, path: str, **kw):
        """diffusers' single-file loader, which reads the model's layout from the family's reference
        repo on the hub (or its cached copy): fail at once without a hub, and in one line on errors."""
        if not offline():
            check_hub_reachable(self.facts.base_model, "pretrained_model (a single file reads its layout from)")
        try:
            return pipeline_cls.from_single_file(path, **kw)
        except (OSError, ValueError) as e:
            raise ModelLoadError(f"cannot load {path} as a single-file {self.name} checkpoint: "
                                 f"{str(e).splitlines()[0][:300]} -> use a complete {self.name} checkpoint or a "
                                 f"diffusers folder (a single file also needs {self.facts.base_model}'s layout "
                                 f"from the hub: connect once so it is cached)") from None

    def load_parts(self, config: Config, device, dtype) -> Models:  # pragma: no cover - abstract
        raise NotImplementedError

    def load_denoiser(self, m: Models, config: Config, device, dtype) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _load_denoiser_part(self, cls, src: str, subfolder: str, config: Config, device, dtype):
        """The UNet/transformer, frozen, on `device`: 16-bit (or fp32 on CPU), or bitsandbytes-quantised."""
        if config.quantization != "none":
            model = load_quantized(cls, src, subfolder, config, device, dtype)
            if torch.device(device).type != "cuda":
                model.to(device)
            return model
        # read straight into 16 bits: SDXL's UNet in fp32 alone would take 10 GB of host RAM (Colab has ~12)
        model = load_part(cls, src, subfolder, config, **({} if dtype == torch.float32 else {"torch_dtype": dtype}))
        return freeze(model, device, dtype)

    @staticmethod
    def text_encoder_device(config: Config, device, trained: bool = False):
        """Where a text encoder loads: CPU RAM when cpu_offload is on and it runs every step frozen;
        otherwise the GPU (trained encoders stay there; cached ones run there once, then are freed)."""
        offload = config.cpu_offload and not enabled(config) and not trained
        return torch.device("cpu") if offload else torch.device(device)

    def load_text_encoder(self, cls, src: str, subfolder: str, config: Config, device, dtype,
                          trained: bool | None = None):
        """A frozen text encoder in `dtype`, read straight onto its device (device_map): no full copy
        in host RAM (Colab has ~12 GB; T5-XXL alone is ~10 GB). Loaded with the dtype argument so
        transformers keeps the layers it must in fp32 (T5's feed-forward output overflows fp16)."""
        import transformers
        from packaging.version import Version

        where = self.text_encoder_device(config, device, config.train_text_encoder if trained is None else trained)
        kw = {"dtype" if Version(transformers.__version__) >= Version("4.56") else "torch_dtype": dtype}
        if where.type == "cuda":
            kw["device_map"] = {"": where}
        model = load_part(cls, src, subfolder, config, **kw)
        return model.requires_grad_(False).eval().to(where)

    def place_parts(self, m: Models, config: Config, device, dtype) -> Models:
        """Freeze the VAE on the device in its precision; text encoders waiting in CPU RAM are
        marked offloaded (they visit the GPU inside `Models.running`)."""
        freeze(m.vae, device, self.vae_dtype(m.vae, config, dtype))
        m.offloaded = [te for te in m.text_encoders if next(te.parameters()).device.type == "cpu"
                       and torch.device(device).type != "cpu"]
        self.check_clip_skip(m, config.clip_skip)
        return m

    clip_skip_base = 0  # hidden layers from the end the family itself skips (SDXL reads the penultimate)

    def check_clip_skip(self, m: Models, clip_skip: int) -> None:
        """A ConfigError, once the text encoders are loaded (before any caption is encoded), when
        clip_skip reaches past the first layer of one of them (the tiny test models have 2-3 layers,
        SD1.5's CLIP 12)."""
        for i, te in enumerate(m.text_encoders):
            layers = getattr(getattr(te, "config", None), "num_hidden_layers", None)
            if isinstance(layers, int) and clip_skip + self.clip_skip_base > layers:
                most = layers - self.clip_skip_base
                name = self.facts.text_encoders[i] if i < len(self.facts.text_encoders) else f"text encoder {i + 1}"
                raise ConfigError(f"clip_skip: {clip_skip} is deeper than {name} goes "
                                  f"({layers} layers; this model allows clip_skip 1 to {most}) -> set clip_skip "
                                  f"= {min(2, most)} or lower (2 is the usual anime setting, 1 the model's own)")

    @staticmethod
    def vae_dtype(vae, config: Config, dtype) -> torch.dtype:
        """fp32 when the VAE's config asks for it (force_upcast: SDXL's VAE overflows in fp16 and gives
        black images/NaN latents), unless the user picked a precision; else the training precision."""
        if config.vae_dtype != "auto":
            return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[config.vae_dtype]
        return torch.float32 if getattr(vae.config, "force_upcast", False) else dtype

    def problems(self, config: Config) -> list[str]:
        return []

    # --- adapters -----------------------------------------------------------------------------
    def lora_targets(self, denoiser, config: Config) -> list[str]:
        """Exact names of the denoiser's layers that `config.target_modules` names (peft's suffix rule)."""
        return adapter_layers(denoiser, config.target_modules)

    def conv_targets(self, denoiser) -> list[str]:
        return conv_names(denoiser, self.conv_prefixes)

    def kohya_name_map(self, component: str, module):
        """A function from the component's module names to the names kohya files use, or None when they
        are the same (SDXL's UNet uses the original sgm block names)."""
        return None

    def kohya_fused(self, component: str):
        """A function from the component's module names to {kohya name of a fused layer: the modules
        stacked into it}, or None when kohya files fuse nothing (Flux's BFL names fuse q/k/v)."""
        return None

    # --- pieces shared by the UNet families -------------------------------------------------------
    def encode_pixels(self, m: Models, pixels: torch.Tensor) -> torch.Tensor:
        vae = m.vae
        with m.running(vae), torch.no_grad():
            dist = vae.encode(pixels.to(m.device, vae.dtype)).latent_dist
        # the distribution's mean: deterministic, so a cached latent equals a fresh one
        shift = getattr(vae.config, "shift_factor", None) or 0.0
        return (dist.mode() - shift) * vae.config.scaling_factor


def freeze(part, device, dtype):
    """No gradients, eval mode, on `device` in `dtype` (fp32 stays as loaded: casting fp32 to fp32 only
    triggers diffusers' keep-in-fp32 warning)."""
    part.requires_grad_(False)
    part.eval()
    return part.to(device=device) if dtype == torch.float32 else part.to(device=device, dtype=dtype)


def adapter_layers(module, suffixes) -> list[str]:
    """Names of weight-carrying layers (Linear, Conv, bitsandbytes) equal to or ending in '.' + a suffix."""
    out = []
    for name, m in module.named_modules():
        if not name or not matches_suffix(name, suffixes):
            continue
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
            out.append(name)
    return out
