"""Training data: images + captions -> bucketed, repeated, shuffled batches (pixels or cached latents).

Conventions follow kohya's sd-scripts, which the tutorials teach:
- concept folders `N_name` give each image N repeats per epoch (Kohya practice guide §2.1.4.1);
- aspect-ratio buckets with sides that are multiples of 64 and area <= resolution^2 keep each
  image's shape (FluxTrainer walkthrough, Kohya practice guide); an image is never upscaled to reach its
  bucket unless asked;
- the crop into the bucket is central by default: the tutorials warn random crops teach cut-off,
  distorted subjects (Flux LoRA guide §4.1);
- captions: optional trigger word first, comma-tag shuffling with `keep_tokens` fixed, caption
  dropout.
Batch order depends only on (seed, epoch), so a resumed run sees exactly the same data.
"""

from __future__ import annotations

import hashlib
import math
import random
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config
from ..dataset.buckets import choose_bucket, make_buckets
from ..dataset.concepts import caption_path, scan_concepts
from ..errors import DatasetError
from ..fileio import atomic_path
from ..i18n import t
from ..prompts import UNRELATED_PROMPTS
from ..textio import read_caption
from .holdout import split_samples
from .reg import balance_reg_repeats


@dataclass
class Sample:
    image: Path
    caption: str
    concept: str          # concept folder name, as kohya's ss_tag_frequency keys it
    repeats: int
    size: tuple[int, int]  # original (w, h)
    bucket: tuple[int, int] = (0, 0)
    is_reg: bool = False   # a regularization (class) image: its loss counts prior_loss_weight times


@dataclass
class DatasetScan:
    samples: list[Sample]  # the training images, then the reg images with their balanced repeats (`reg.py`)
    warnings: list[str] = field(default_factory=list)
    num_reg_images: int = 0  # kohya's count: reg images x their folder repeats, before balancing
    reg_dirs: dict[str, dict[str, int]] = field(default_factory=dict)  # {folder: {"n_repeats", "img_count"}}
    held_out: list[Sample] = field(default_factory=list)  # validation-loss images, never trained on (holdout.py)

    @property
    def num_images(self) -> int:
        """Training images (reg images not counted)."""
        return sum(not s.is_reg for s in self.samples)

    @property
    def samples_per_epoch(self) -> int:
        """What one epoch's batches hold: training images x repeats, plus as many reg samples."""
        return sum(s.repeats for s in self.samples)

    @property
    def train_samples_per_epoch(self) -> int:
        return sum(s.repeats for s in self.samples if not s.is_reg)

    def bucket_counts(self) -> dict[tuple[int, int], int]:
        return dict(Counter(s.bucket for s in self.samples))


# --- reading ------------------------------------------------------------------------------------
def with_trigger(caption: str, trigger: str) -> str:
    """Put the trigger first unless the caption already contains it (idempotent)."""
    if not trigger or trigger.lower() in caption.lower():
        return caption
    return f"{trigger}, {caption}" if caption else trigger


def scan_dataset(config: Config) -> DatasetScan:
    """Find every image and caption under `config.train_data_dir` (and `reg_data_dir`), check them, assign
    buckets, balance the reg images against the training images as kohya does.

    Raises DatasetError naming the problem, the folder and the fix before any model is loaded.
    """
    if not config.train_data_dir:
        raise DatasetError("train_data_dir is empty -> set it to the folder of your training images")
    samples, notes = _read_folder(Path(config.train_data_dir).expanduser(), config, reg=False)
    notes += assign_buckets(samples, config)
    scan = _hold_out(DatasetScan(samples, notes), config)  # before the reg images balance against the rest
    if config.reg_data_dir:
        _add_reg(scan, config)
    return scan


def _add_reg(scan: DatasetScan, config: Config) -> None:
    root = Path(config.reg_data_dir).expanduser()
    train_root = Path(config.train_data_dir).expanduser().resolve()
    if root.resolve().is_relative_to(train_root) or train_root.is_relative_to(root.resolve()):
        raise DatasetError(f"reg_data_dir {root} and train_data_dir {train_root} overlap (one is inside the other), "
                           f"so images would train both as the subject and as its class -> keep the "
                           f"regularization images in a folder of their own")
    reg, notes = _read_folder(root, config, reg=True)
    notes += assign_buckets(reg, config, where=f"reg_data_dir {root}")
    scan.num_reg_images = sum(s.repeats for s in reg)
    for s in reg:
        entry = scan.reg_dirs.setdefault(s.concept, {"n_repeats": s.repeats, "img_count": 0})
        entry["img_count"] += 1
    train = scan.train_samples_per_epoch
    for s, repeats in zip(reg, balance_reg_repeats(train, [s.repeats for s in reg])):
        s.repeats = repeats
    used = [s for s in reg if s.repeats]
    if len(used) < len(reg):
        notes.append(t("note.reg_unused", n=len(reg) - len(used), total=len(reg), train=train))
    scan.samples += used
    scan.warnings += [t("note.reg_dir", note=n) for n in notes]


_FOLDER_WORDS = {  # (config field, what it holds, a hint when it is missing, what to do when it is empty)
    False: ("train_data_dir", "training folder", "did the crop/collect step write somewhere else?",
            "add .png/.jpg/.webp images (run the collect step first)"),
    True: ("reg_data_dir", "regularization folder", "or set it to '' to train without class images",
           "add class images in N_class folders, or set reg_data_dir to '' to train without them"),
}


def _read_folder(root: Path, config: Config, reg: bool) -> tuple[list[Sample], list[str]]:
    """The images and captions of one dataset folder (train_data_dir or reg_data_dir), every problem raised
    as one line naming the folder. Reg captions never get the trigger: they describe the class alone."""
    from PIL import Image

    name, what, hint, fill = _FOLDER_WORDS[reg]
    try:
        skipped: list[tuple[Path, str]] = []
        concepts = scan_concepts(root, config.default_repeats, skipped)
    except FileNotFoundError:
        raise DatasetError(f"{what} not found: {root} -> check {name} ({hint})") from None
    except NotADirectoryError:
        raise DatasetError(f"{name} is a file, not a folder: {root} -> point it at the folder") from None
    if not concepts:
        raise DatasetError(f"no images in {root} or its N_name concept folders ({name}) -> {fill}")
    samples, notes, broken, uncaptioned = [], [], [], []
    for c in concepts:
        for img in c.images:
            try:
                with Image.open(img) as im:
                    im.verify()
                with Image.open(img) as im:  # verify() leaves the file unusable; reopen to decode
                    im.load()
                    size = im.size
            except Exception as e:  # PIL raises many types for broken files
                broken.append(f"{img} ({type(e).__name__}: {e})")
                continue
            cap_file = caption_path(img, config.caption_extension)
            caption = read_caption(cap_file) if cap_file.is_file() else ""
            if not cap_file.is_file():
                uncaptioned.append(img)
            if reg:  # kohya: an uncaptioned reg image is captioned with its folder's class words
                caption = caption or (c.name if c.folder != root else "")
            elif config.missing_caption == "warn_trigger" or cap_file.is_file():
                caption = with_trigger(caption, config.trigger_word)
            samples.append(Sample(img, caption, c.folder.name, c.repeats, size, is_reg=reg))
    if broken:
        raise DatasetError(f"{len(broken)} image(s) in {name} cannot be read: {'; '.join(broken[:5])}"
                           f"{' ...' if len(broken) > 5 else ''} -> delete or re-export them (the collect step "
                           f"reports and skips broken files)")
    if uncaptioned:
        names = ", ".join(p.name for p in uncaptioned[:5]) + (" ..." if len(uncaptioned) > 5 else "")
        if reg:
            loose = [p for p in uncaptioned if p.parent == root]
            if loose:
                raise DatasetError(f"{len(loose)} reg image(s) directly in reg_data_dir {root} have no "
                                   f"{config.caption_extension} caption: {', '.join(p.name for p in loose[:5])} -> "
                                   f"move them into a folder named N_class (e.g. 1_cat) or add captions")
            notes.append(t("note.uncaptioned_class", n=len(uncaptioned), names=names))
        elif config.missing_caption == "error":
            raise DatasetError(f"{len(uncaptioned)} image(s) have no {config.caption_extension} caption: {names} "
                               f"-> run the caption step, or set missing_caption to warn_empty/warn_trigger")
        else:
            how = t("note.how_trigger" if config.missing_caption == "warn_trigger" and config.trigger_word
                    else "note.how_empty")
            notes.append(t("note.uncaptioned", n=len(uncaptioned), how=how, names=names))
    notes += [t("note.skipped", path=p, why=why) for p, why in skipped]
    return samples, notes


def _hold_out(scan: DatasetScan, config: Config) -> DatasetScan:
    """Move the validation-loss images out of the training list (validation_split), or scan them from
    validation_data_dir, with the same captions and buckets as training images."""
    if config.validation_data_dir.strip():
        folder = Path(config.validation_data_dir).expanduser()
        if not folder.is_dir():
            raise DatasetError(f"validation_data_dir: folder not found: {folder} -> point it at a folder of held-out "
                               f"images, or leave it empty")
        if folder.resolve() == Path(config.train_data_dir).expanduser().resolve():
            raise DatasetError("validation_data_dir: is train_data_dir itself, so its images are trained on -> use "
                               "a folder of other images, or validation_split to hold some out")
        try:
            held = scan_dataset(config.replace(train_data_dir=config.validation_data_dir, validation_data_dir="",
                                               reg_data_dir=""))
        except DatasetError as e:
            raise DatasetError(f"validation_data_dir: {e}") from None
        scan.held_out = held.samples
        scan.warnings += [t("note.validation_dir", note=w) for w in held.warnings]
    elif config.validation_split:
        scan.samples, scan.held_out = split_samples(scan.samples, config.validation_split, config.seed)
    if scan.held_out:
        where = (t("note.held_from_dir", folder=config.validation_data_dir) if config.validation_data_dir.strip()
                 else t("note.held_split", split=config.validation_split))
        scan.warnings.append(t("note.held_out", n=len(scan.held_out), where=where))
    return scan


# --- buckets ------------------------------------------------------------------------------------
def assign_buckets(samples: list[Sample], config: Config, where: str = "") -> list[str]:
    """Put each sample in its bucket; notes for reduced/upscaled images. `where` names a folder other than
    train_data_dir in the error."""
    res = config.resolution
    if config.enable_bucket:
        buckets = make_buckets(res, min(config.min_bucket_reso, res), max(config.max_bucket_reso, res))
    else:
        buckets = [(res, res)]
    notes, too_small, upscaled, reduced = [], [], [], []
    min_side = min(config.min_bucket_reso, res) if config.enable_bucket else res
    for s in samples:
        b, up = choose_bucket(s.size, buckets, config.upscale_small, min_side)
        if b is None:
            too_small.append(s)
            continue
        s.bucket = b
        if up:
            upscaled.append(s.image.name)
        elif b[0] * b[1] < 0.7 * res * res:
            reduced.append(s.image.name)
    if too_small:
        names = ", ".join(f"{s.image.name} {s.size[0]}x{s.size[1]}" for s in too_small[:5])
        raise DatasetError(f"{len(too_small)} image(s){' in ' + where if where else ''} have a side below the "
                           f"smallest bucket side {min_side}px: "
                           f"{names} -> use larger images, lower min_bucket_reso/resolution, or set "
                           f"upscale_small=true to upscale them")
    if upscaled:
        notes.append(t("note.upscaled", n=len(upscaled), names=", ".join(upscaled[:5])))
    if reduced:
        notes.append(t("note.reduced", n=len(reduced), names=", ".join(reduced[:5])))
    return notes


def suggest_prompts(dataset: str | Path, per_concept: int = 1, unrelated: int = 1) -> list[str]:
    """Validation prompts as the Flux LoRA guide asks: captions of the concepts being trained (so each
    concept's look is watched, the one with the most samples per epoch first) plus prompts unrelated to
    them (so forgetting shows)."""
    prompts = []
    # the concept that fills most of an epoch first: a grid on the first prompt shows the main subject
    for c in sorted(scan_concepts(dataset), key=lambda c: -c.effective_samples):
        caps = [read_caption(caption_path(i)) for i in c.images if caption_path(i).is_file()]
        prompts += [cap for cap in caps if cap][:per_concept]
    return prompts + list(UNRELATED_PROMPTS[:unrelated])


# --- captions -------------------------------------------------------------------------------------
def process_caption(caption: str, config: Config, rng: random.Random) -> str:
    """Caption dropout, then comma-tag shuffle keeping the first `keep_tokens` tags in place."""
    if config.caption_dropout_rate and rng.random() < config.caption_dropout_rate:
        return ""
    if not config.shuffle_caption:
        return caption
    tags = [t.strip() for t in caption.split(",") if t.strip()]
    fixed, rest = tags[: config.keep_tokens], tags[config.keep_tokens:]
    rng.shuffle(rest)
    return ", ".join(fixed + rest)


# --- pixels ---------------------------------------------------------------------------------------
def load_pixels(sample: Sample, random_crop: bool = False, flip: bool = False, rng: random.Random | None = None):
    """Resize to cover the bucket (never up unless the bucket asked for it), crop, scale to [-1, 1].

    Returns (tensor [3, H, W], crop_top_left (top, left)) — SDXL conditions on the crop offset.
    """
    import numpy as np
    import torch
    from PIL import Image, ImageOps

    bw, bh = sample.bucket
    with Image.open(sample.image) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        w, h = im.size
        scale = max(bw / w, bh / h)
        nw, nh = max(bw, round(w * scale)), max(bh, round(h * scale))
        if (nw, nh) != (w, h):
            im = im.resize((nw, nh), Image.Resampling.LANCZOS)
    if random_crop:
        rng = rng or random.Random()
        left, top = rng.randint(0, nw - bw), rng.randint(0, nh - bh)
    else:
        left, top = (nw - bw) // 2, (nh - bh) // 2
    im = im.crop((left, top, left + bw, top + bh))
    if flip:
        im = ImageOps.mirror(im)
    arr = torch.from_numpy(np.asarray(im, dtype=np.float32).copy()).permute(2, 0, 1)
    return arr / 127.5 - 1.0, (top, left)


# --- batching -------------------------------------------------------------------------------------
def epoch_batches(samples: list[Sample], batch_size: int, seed: int, epoch: int,
                  num_processes: int = 1) -> list[list[int]]:
    """Batches of sample indices for one epoch: each image `repeats` times, batches within a bucket.

    Deterministic in (seed, epoch), so resuming mid-epoch replays the same order. With several
    processes the list is trimmed to a multiple of `num_processes` (each takes every n-th batch).
    """
    rng = random.Random(f"{seed}-{epoch}")
    by_bucket: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        by_bucket[s.bucket].extend([i] * s.repeats)
    batches = []
    for bucket in sorted(by_bucket):
        idx = by_bucket[bucket]
        rng.shuffle(idx)
        batches += [idx[j: j + batch_size] for j in range(0, len(idx), batch_size)]
    rng.shuffle(batches)
    if num_processes > 1:
        batches = batches[: len(batches) - len(batches) % num_processes]
    return batches


def steps_per_epoch(samples: list[Sample], config: Config, num_processes: int = 1) -> int:
    """Optimizer steps per epoch: batches (within buckets) / (processes x grad accumulation).

    Equals images x repeats / (batch x grad accumulation) when every image shares one bucket.
    """
    n_batches = len(epoch_batches(samples, config.train_batch_size, config.seed, 0, num_processes))
    return max(1, math.ceil(n_batches / num_processes / config.gradient_accumulation_steps))


def check_batch_fits(scan: DatasetScan, config: Config) -> None:
    need = config.train_batch_size * config.gradient_accumulation_steps
    if scan.samples_per_epoch < need:
        raise DatasetError(
            f"the dataset gives {scan.samples_per_epoch} sample(s) per epoch (images x repeats) but one optimizer "
            f"step needs train_batch_size x gradient_accumulation_steps = {need} -> lower the batch size, raise "
            f"repeats (N_ in the folder name), or duplicate the images (Flux LoRA guide §4.1)")


# --- latent cache ---------------------------------------------------------------------------------
class LatentCache:
    """Each image is VAE-encoded once per (bucket, flip): in memory, or on disk to reuse across runs.

    The disk key hashes the file's path, size, mtime, the bucket and the model id, so an edited
    image or another base model is never served a stale latent.
    """

    def __init__(self, mode: str, folder: Path | None, model_id: str):
        self.mode, self.folder, self.model_id = mode, folder, model_id
        self.mem: dict[tuple, object] = {}

    def _key(self, s: Sample, flip: bool) -> str:
        st = s.image.stat()
        raw = f"{s.image.resolve()}|{st.st_size}|{st.st_mtime_ns}|{s.bucket}|{flip}|{self.model_id}"
        return hashlib.sha1(raw.encode()).hexdigest()

    def get(self, s: Sample, flip: bool, encode):
        """Cached latents (CPU tensor [C, h, w]) for the sample, calling encode(pixels[1,3,H,W]) on a miss."""
        key = (s.image, s.bucket, flip)
        if key in self.mem:
            return self.mem[key]
        lat = None
        disk = self.folder / f"{self._key(s, flip)}.safetensors" if self.mode == "disk" and self.folder else None
        if disk is not None and disk.is_file():
            from safetensors.torch import load_file

            try:
                lat = load_file(disk)["latents"]
            except Exception:  # a half-written or foreign file: re-encode
                warnings.warn(f"ignoring unreadable latent cache file {disk}")
        if lat is None:
            pixels, _ = load_pixels(s, flip=flip)
            lat = encode(pixels.unsqueeze(0))[0].detach().float().cpu()
            if disk is not None:
                from safetensors.torch import save_file  # imports torch: the planner reads this module

                with atomic_path(disk) as tmp:
                    save_file({"latents": lat.contiguous()}, str(tmp))
        self.mem[key] = lat
        return lat
