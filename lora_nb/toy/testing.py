"""Tiny offline models with the real classes and the real on-disk layout.

Hub downloads are impossible in CI and in a workshop without internet, so the kit builds its
own miniature base models: the same diffusers/transformers classes as the hub repos, saved with
`save_pretrained`, so the very same `from_pretrained(path_or_id)` code path loads them. Weights
are random but deterministic (fixed seed per component), which is what unit tests need; the
`lora-nb demo` draws with them too (pictures are noise, but every step of the pipeline runs).

Families register a builder in `BUILDERS`; SDXL and Flux builders follow the same pattern as
`build_tiny_sd15` (components built from small configs, saved as a pipeline).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import torch

# A small, fixed word list the tiny tokenizer learns its merges from, so real captions
# ("a photo of a red circle, blue background") tokenise into a few pieces as with CLIP.
_CORPUS = """
a an the of on in with and or at by to from photo picture image painting drawing render illustration
portrait close up closeup full body shot view front side back top left right center middle corner
red orange yellow green blue purple pink brown black white gray grey gold silver dark light bright pale
circle square triangle star heart ring stripe stripes dot dots line lines shape shapes pattern checker
background foreground small large big tiny huge tall short long wide round soft sharp smooth rough
cat dog bird car tree flower house person man woman girl boy face hair eyes hand smile standing sitting
sky sea beach mountain forest city street room table window light shadow sun moon cloud water fire
style anime realistic cartoon sketch oil watercolor digital art photography lighting studio detailed
high quality best masterpiece simple minimal labeled tagged this is as image concept wearing holding
one two three four many some is are has have looking walking running lying next behind under over
""".split()

_START, _END = "<|startoftext|>", "<|endoftext|>"


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable-unicode table (same as transformers' helper)."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def _learn_bpe(words: list[str], num_merges: int) -> list[tuple[str, str]]:
    """Plain BPE (Sennrich et al. 2016) over CLIP-style symbols: the last symbol carries '</w>'."""
    vocab = Counter(tuple(w[:-1]) + (w[-1] + "</w>",) for w in words)
    merges: list[tuple[str, str]] = []
    for _ in range(num_merges):
        pairs: Counter = Counter()
        for word, freq in vocab.items():
            for a, b in zip(word, word[1:]):
                pairs[(a, b)] += freq
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))  # deterministic tie-break
        merges.append(best)
        merged = Counter()
        for word, freq in vocab.items():
            out, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] += freq
        vocab = merged
    return merges


def build_tiny_clip_tokenizer(path: str | os.PathLike, num_merges: int = 300, words: list[str] | None = None):
    """A CLIPTokenizer with CLIP's byte-level BPE scheme and a small vocabulary learned from `words`
    (default: a built-in caption word list).

    Any text tokenises (every byte has a token), captions are padded/truncated to 77 tokens.
    """
    from transformers import CLIPTokenizer

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    byte_chars = list(_bytes_to_unicode().values())
    merges = _learn_bpe(words if words is not None else _CORPUS, num_merges)
    tokens = byte_chars + [c + "</w>" for c in byte_chars] + ["".join(m) for m in merges] + [_START, _END]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(tokens))}
    (path / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (path / "merges.txt").write_text("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n",
                                     encoding="utf-8")
    tok = CLIPTokenizer(str(path / "vocab.json"), str(path / "merges.txt"), model_max_length=77,
                        bos_token=_START, eos_token=_END, pad_token=_END, unk_token=_END)
    tok.save_pretrained(path)
    return tok


def tiny_clip_text_config(tokenizer, hidden: int = 32, layers: int = 3, projection: int | None = None) -> dict:
    return dict(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
        num_attention_heads=4, max_position_embeddings=77, projection_dim=projection or hidden,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, hidden_act="quick_gelu",
    )


def build_tiny_sd15(path: str | os.PathLike, seed: int = 0) -> Path:
    """A Stable-Diffusion-1.5-shaped pipeline folder (model_index.json, unet/, vae/, text_encoder/,
    tokenizer/, scheduler/) in the layout of `stable-diffusion-v1-5/stable-diffusion-v1-5`."""
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    path = Path(path)
    tokenizer = build_tiny_clip_tokenizer(path / "tokenizer")
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(CLIPTextConfig(**tiny_clip_text_config(tokenizer)))
    torch.manual_seed(seed + 1)
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(32, 64), down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=32,
        attention_head_dim=4, norm_num_groups=8,
    )
    torch.manual_seed(seed + 2)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1, norm_num_groups=8,
        block_out_channels=(8, 16, 16), sample_size=64,
        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
    )
    # The SD1.5 repo ships PNDM with these betas; training reads them into a DDPMScheduler.
    scheduler = PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              num_train_timesteps=1000, skip_prk_steps=True, steps_offset=1,
                              set_alpha_to_one=False)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.save_pretrained(path, safe_serialization=True)
    (path / "README.md").write_text(
        "Tiny random-weight SD1.5-shaped model built offline by lora_nb.toy.testing for tests.\n", encoding="utf-8")
    return path


def build_tiny_sdxl(path: str | os.PathLike, seed: int = 0, v_prediction: bool = False) -> Path:
    """A Stable-Diffusion-XL-shaped pipeline folder in the layout of
    `stabilityai/stable-diffusion-xl-base-1.0`: unet/ (text_time added conditioning), text_encoder/
    (CLIPTextModel), text_encoder_2/ (CLIPTextModelWithProjection), tokenizer/, tokenizer_2/, vae/
    (scaling 0.13025, force_upcast like the hub VAE), scheduler/ (EulerDiscrete). Shapes follow
    diffusers' own SDXL test components: 3 UNet levels, 2 layers per block, so the kohya/sgm block
    numbering (input_blocks.N) is the real one. `v_prediction`: the scheduler config of a NoobAI-XL v-pred
    style model (prediction_type v_prediction, rescale_betas_zero_snr)."""
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    path = Path(path)
    tokenizer = build_tiny_clip_tokenizer(path / "tokenizer")
    tokenizer_2 = build_tiny_clip_tokenizer(path / "tokenizer_2")
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(CLIPTextConfig(**tiny_clip_text_config(tokenizer, layers=3)))
    torch.manual_seed(seed + 3)
    text_encoder_2 = CLIPTextModelWithProjection(CLIPTextConfig(**{
        **tiny_clip_text_config(tokenizer, layers=3, projection=32), "hidden_act": "gelu"}))
    torch.manual_seed(seed + 1)
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(16, 32, 32),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4, 4), transformer_layers_per_block=(1, 1, 2), use_linear_projection=True,
        addition_embed_type="text_time", addition_time_embed_dim=8,
        # 6 size/crop numbers x 8 + the pooled text embedding of text_encoder_2 (32), as 2816 = 6*256+1280
        projection_class_embeddings_input_dim=6 * 8 + 32, cross_attention_dim=64, norm_num_groups=8,
    )
    torch.manual_seed(seed + 2)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1, norm_num_groups=8,
        block_out_channels=(8, 16, 16), sample_size=64, scaling_factor=0.13025, force_upcast=True,
        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
    )
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       num_train_timesteps=1000, steps_offset=1, timestep_spacing="leading",
                                       prediction_type="v_prediction" if v_prediction else "epsilon",
                                       rescale_betas_zero_snr=v_prediction)
    pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2,
                                     tokenizer=tokenizer, tokenizer_2=tokenizer_2,
                                     unet=unet, scheduler=scheduler, force_zeros_for_empty_prompt=True,
                                     add_watermarker=False)
    pipe.save_pretrained(path, safe_serialization=True)
    (path / "README.md").write_text(
        "Tiny random-weight SDXL-shaped model built offline by lora_nb.toy.testing for tests.\n", encoding="utf-8")
    return path


def build_tiny_t5_tokenizer(path: str | os.PathLike, max_length: int = 512):
    """A T5 tokenizer (SentencePiece-style unigram, '<pad>'=0, '</s>'=1, '<unk>'=2 as in T5) over the
    same small word list, built with `tokenizers` so no sentencepiece model has to be downloaded."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import T5TokenizerFast

    words = list(dict.fromkeys(_CORPUS))
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [("\u2581" + w, -2.0 - i * 1e-3) for i, w in enumerate(words)]
    chars = sorted(set("".join(words)) | set("abcdefghijklmnopqrstuvwxyz0123456789,.;:!?-'()"))
    vocab += [("\u2581", -6.0)] + [(c, -9.0) for c in chars]
    tok = Tokenizer(models.Unigram(vocab, unk_id=2, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                       special_tokens=[("</s>", 1)])
    t5 = T5TokenizerFast(tokenizer_object=tok, eos_token="</s>", pad_token="<pad>", unk_token="<unk>",
                         extra_ids=0, model_max_length=max_length)
    t5.save_pretrained(path)
    return t5


def build_tiny_flux(path: str | os.PathLike, seed: int = 0, guidance_embeds: bool = True) -> Path:
    """A FLUX.1-shaped pipeline folder in the layout of `black-forest-labs/FLUX.1-dev` (guidance
    embedding; `guidance_embeds=False` gives the FLUX.1-schnell shape): transformer/
    (FluxTransformer2DModel, 64 packed input channels = 16 latent channels x 2x2), text_encoder/
    (CLIPTextModel, pooled), text_encoder_2/ (T5EncoderModel), tokenizer/, tokenizer_2/ (T5),
    vae/ (16 latent channels, shift/scale factors of the FLUX VAE, no quant convs), scheduler/
    (FlowMatchEulerDiscrete with the dynamic shift of the hub config)."""
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    path = Path(path)
    tokenizer = build_tiny_clip_tokenizer(path / "tokenizer")
    tokenizer_2 = build_tiny_t5_tokenizer(path / "tokenizer_2", max_length=512 if guidance_embeds else 256)
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(CLIPTextConfig(**tiny_clip_text_config(tokenizer, layers=2)))
    torch.manual_seed(seed + 3)
    text_encoder_2 = T5EncoderModel(T5Config(
        vocab_size=len(tokenizer_2), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, feed_forward_proj="gated-gelu", dense_act_fn="gelu_new",
        is_gated_act=True, tie_word_embeddings=False, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0))
    torch.manual_seed(seed + 1)
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=64, num_layers=2, num_single_layers=2, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32, guidance_embeds=guidance_embeds,
        axes_dims_rope=(4, 6, 6))
    torch.manual_seed(seed + 2)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=16, layers_per_block=1, norm_num_groups=8,
        block_out_channels=(8, 16, 16), sample_size=64, scaling_factor=0.3611, shift_factor=0.1159,
        use_quant_conv=False, use_post_quant_conv=False,
        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
    )
    scheduler = FlowMatchEulerDiscreteScheduler(
        num_train_timesteps=1000, shift=3.0, use_dynamic_shifting=guidance_embeds, base_shift=0.5, max_shift=1.15,
        base_image_seq_len=256, max_image_seq_len=4096)
    pipe = FluxPipeline(scheduler=scheduler, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                        text_encoder_2=text_encoder_2, tokenizer_2=tokenizer_2, transformer=transformer)
    pipe.save_pretrained(path, safe_serialization=True)
    (path / "README.md").write_text(
        f"Tiny random-weight FLUX.1-{'dev' if guidance_embeds else 'schnell'}-shaped model built offline by "
        f"lora_nb.toy.testing for tests.\n", encoding="utf-8")
    return path


def build_tiny_flux_schnell(path: str | os.PathLike, seed: int = 0) -> Path:
    return build_tiny_flux(path, seed=seed, guidance_embeds=False)


def build_tiny_sdxl_vpred(path: str | os.PathLike, seed: int = 0) -> Path:
    return build_tiny_sdxl(path, seed=seed, v_prediction=True)


BUILDERS = {"sd15": build_tiny_sd15, "sdxl": build_tiny_sdxl, "sdxl-vpred": build_tiny_sdxl_vpred,
            "flux": build_tiny_flux, "flux-schnell": build_tiny_flux_schnell}


def build_tiny_model(family: str, path: str | os.PathLike, seed: int = 0) -> Path:
    """Build (or reuse, if complete) the tiny model of `family` at `path`."""
    path = Path(path)
    if (path / "model_index.json").is_file():
        return path
    if family not in BUILDERS:
        raise ValueError(f"no tiny model builder for family {family!r}; available: {', '.join(BUILDERS)}")
    from ..fileio import atomic_dir

    with atomic_dir(path) as tmp:
        BUILDERS[family](tmp, seed=seed)
    return path


def default_tiny_model_dir(family: str = "sd15") -> Path:
    """A per-user cache folder for tiny models (built once, reused by tests and the demo)."""
    root = Path(os.environ.get("LORA_NB_CACHE", Path.home() / ".cache" / "lora_nb"))
    return root / f"tiny-{family}"


def make_toy_dataset(root: str | os.PathLike, concepts: dict[str, tuple[int, int]] | None = None,
                     size: tuple[int, int] = (64, 64), seed: int = 0) -> Path:
    """Write a small captioned dataset in kohya layout: {"name": (repeats, n_images)} concept folders
    of procedurally drawn shapes (PNG + .txt caption). For tests; the course sample lives in
    `datasets_sample/`."""
    import random

    from PIL import Image, ImageDraw

    concepts = concepts or {"toycircle": (2, 4), "toysquare": (1, 3)}
    rng = random.Random(seed)
    colours = {"red": (220, 40, 40), "blue": (40, 70, 220), "green": (40, 180, 70), "yellow": (230, 210, 40)}
    root = Path(root)
    for name, (repeats, n) in concepts.items():
        folder = root / f"{repeats}_{name}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            fg, bg = rng.sample(sorted(colours), 2)
            w, h = size
            img = Image.new("RGB", size, colours[bg])
            d = ImageDraw.Draw(img)
            r = rng.randint(min(w, h) // 6, min(w, h) // 3)
            cx, cy = rng.randint(r, w - r), rng.randint(r, h - r)
            box = (cx - r, cy - r, cx + r, cy + r)
            (d.ellipse if "circle" in name else d.rectangle)(box, fill=colours[fg])
            img.save(folder / f"{i:03d}.png")
            shape = "circle" if "circle" in name else "square"
            (folder / f"{i:03d}.txt").write_text(f"{name}, a {fg} {shape}, {bg} background", encoding="utf-8")
    return root


# --------------------------------------------------------------------------------------------------
# Tiny evaluation models (evaluate.metrics): CLIP for CLIP-I/CLIP-T, DINOv2 for DINO similarity
# --------------------------------------------------------------------------------------------------
def build_tiny_clip(path: str | os.PathLike, seed: int = 0, image_size: int = 32) -> Path:
    """A CLIPModel + CLIPProcessor folder in the layout of `openai/clip-vit-base-patch32`, tiny and random."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    path = Path(path)
    tokenizer = build_tiny_clip_tokenizer(path)
    text = tiny_clip_text_config(tokenizer, projection=16)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                  image_size=image_size, patch_size=8, projection_dim=16, hidden_act="quick_gelu")
    torch.manual_seed(seed)
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16))
    images = CLIPImageProcessor(size={"shortest_edge": image_size}, crop_size={"height": image_size,
                                                                               "width": image_size})
    model.save_pretrained(path, safe_serialization=True)
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(path)
    return path


def build_tiny_dinov2(path: str | os.PathLike, seed: int = 0, image_size: int = 32) -> Path:
    """A Dinov2Model + its image processor in the layout of `facebook/dinov2-small`, tiny and random."""
    from transformers import BitImageProcessor, Dinov2Config, Dinov2Model

    path = Path(path)
    torch.manual_seed(seed)
    model = Dinov2Model(Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, mlp_ratio=2,
                                     patch_size=8, image_size=image_size))
    model.save_pretrained(path, safe_serialization=True)
    BitImageProcessor(size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size},
                      do_convert_rgb=True, image_mean=[0.485, 0.456, 0.406],
                      image_std=[0.229, 0.224, 0.225]).save_pretrained(path)
    return path


def build_tiny_eval_models(root: str | os.PathLike) -> tuple[Path, Path]:
    """(CLIP folder, DINOv2 folder) under `root`, built once and reused (the tests' and the toy course's
    stand-ins for `openai/clip-vit-base-patch32` and `facebook/dinov2-small`)."""
    from ..fileio import atomic_dir

    out = []
    for name, builder in (("tiny-clip", build_tiny_clip), ("tiny-dinov2", build_tiny_dinov2)):
        path = Path(root) / name
        if not (path / "config.json").is_file():
            with atomic_dir(path) as tmp:
                builder(tmp)
        out.append(path)
    return out[0], out[1]
