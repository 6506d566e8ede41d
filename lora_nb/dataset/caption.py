"""Automatic captions: one `Captioner` interface, three backends, one folder driver.

- BLIP (`Salesforce/blip-image-captioning-large` / `-base`): one short natural-language sentence,
  kohya's default captioner (Kohya practice guide §2.1.6).
- Florence-2 (`florence-community/Florence-2-base` / `-large`) through transformers' native
  classes, tasks `<CAPTION>`, `<DETAILED_CAPTION>`, `<MORE_DETAILED_CAPTION>`: the captioner of
  FluxTrainer walkthrough's ComfyUI workflow; longer, more complete prose.
- WD14-style taggers (SmilingWolf's `wd-*-tagger-v3`: `model.onnx` + `selected_tags.csv`):
  booru tags with confidence thresholds; LoRA explainer recommends a threshold of 0.6 for fewer,
  surer tags ("打标阈值: 越小描述的越精细, 推荐0.6").

`caption_folder` runs a captioner over a dataset in batches on the GPU when there is one, skips
images that already have a caption unless asked to overwrite (backing up what it replaces) and
writes each `.txt` sidecar atomically. Models load with `from_pretrained(id_or_folder)` / from
the Hugging Face cache, so a model downloaded once works offline; a missing one raises a
`ModelLoadError` that says what to download and where it must go.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..env import offline
from ..errors import ConfigError, DatasetError, LoraNbError, ModelLoadError
from ..fscheck import writable_folder
from ..i18n import t
from ..options import Options, option
from ..textio import CAPTION_EXT
from .tag_rules import normalize_tag

DEFAULT_MODELS = {
    "blip": "Salesforce/blip-image-captioning-large",
    "florence2": "florence-community/Florence-2-base",
    "wd14": "SmilingWolf/wd-vit-tagger-v3",
}
FLORENCE_TASKS = {"caption": "<CAPTION>", "detailed": "<DETAILED_CAPTION>", "more_detailed": "<MORE_DETAILED_CAPTION>"}
FLORENCE_TASK = "detailed"
# selected_tags.csv categories in SmilingWolf's taggers
WD14_GENERAL, WD14_CHARACTER, WD14_RATING = 0, 4, 9
WD14_DEFAULT_SIZE = 448  # used only when the ONNX input shape does not say
WD14_THRESHOLD = 0.6  # general tags; LoRA explainer's choice for fewer, surer tags (0.35 gives many more)
WD14_CHARACTER_THRESHOLD = 0.85
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@runtime_checkable
class Captioner(Protocol):
    """Anything that turns a batch of RGB PIL images into one caption string each."""

    name: str

    def caption_images(self, images: list) -> list[str]: ...


# ---------------------------------------------------------------------------------------------
# model loading
# ---------------------------------------------------------------------------------------------
def resolve_device(device: str | None = None) -> str:
    """'cuda' when a GPU is there, else 'cpu'; an explicit device is passed through."""
    if device and device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _dtype(device: str):
    import torch

    return torch.float16 if device.startswith("cuda") else torch.float32  # T4 has no bf16; fp16 is fine for inference


def _looks_like_path(model: str) -> bool:
    # hub ids look like 'owner/name'; an existing folder wins, as in from_pretrained
    return model.startswith((".", "/", "~")) or Path(model).expanduser().exists()


def _missing_model(model: str, what: str, err: Exception | str, files: str = "") -> ModelLoadError:
    """The one message for every model we cannot load: what is missing and how to get it."""
    from huggingface_hub import constants

    reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if _looks_like_path(model):
        p = Path(model).expanduser()
        where = "does not exist" if not p.exists() else f"is not a complete {what} folder"
        return ModelLoadError(f"{what} folder {model} {where} ({reason}) -> pass a folder saved with "
                              f"save_pretrained{' containing ' + files if files else ''}, or a Hugging Face model id")
    off = " (downloads are off: HF_HUB_OFFLINE=1)" if offline() else ""
    return ModelLoadError(
        f"cannot load the {what} {model!r}{off} ({reason}) -> it must be downloaded once: with internet run "
        f"`hf download {model}` (it goes to the Hugging Face cache {constants.HF_HUB_CACHE}; set HF_HOME to move "
        f"it), or download the files into a folder and pass that folder as --model")


def _load(cls, model: str, what: str, **kw):
    try:
        return cls.from_pretrained(str(Path(model).expanduser()) if _looks_like_path(model) else model, **kw)
    except (OSError, ValueError) as e:
        raise _missing_model(model, what, e, "config.json and the weights") from e


def _to_device(inputs, device: str, dtype):
    """Move a processor's output to the device; only the pixel tensor changes dtype."""
    return {k: (v.to(device, dtype) if k == "pixel_values" else v.to(device)) for k, v in inputs.items()}


def _free(obj) -> None:
    """Drop a model and give its GPU memory back (a notebook may train next in the same process)."""
    import gc

    import torch

    for name in ("model", "session"):
        if hasattr(obj, name):
            setattr(obj, name, None)
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# ---------------------------------------------------------------------------------------------
# backends
# ---------------------------------------------------------------------------------------------
class BlipCaptioner:
    """BLIP image captioning: short natural-language captions ("a woman sitting on a bench")."""

    name = "blip"

    def __init__(self, model: str | None = None, device: str | None = None, max_new_tokens: int = 50,
                 num_beams: int = 3, prompt: str = ""):
        from transformers import BlipForConditionalGeneration, BlipProcessor

        self.model_id = model or DEFAULT_MODELS["blip"]
        self.device = resolve_device(device)
        self.dtype = _dtype(self.device)
        self.processor = _load(BlipProcessor, self.model_id, "BLIP model")
        self.model = _load(BlipForConditionalGeneration, self.model_id, "BLIP model", dtype=self.dtype)
        self.model.to(self.device).eval()
        self.max_new_tokens, self.num_beams = max_new_tokens, num_beams
        self.prompt = prompt  # conditional captioning: the caption continues this text, e.g. "a photo of"

    def caption_images(self, images: list) -> list[str]:
        import torch

        text = [self.prompt] * len(images) if self.prompt else None
        inputs = self.processor(images=images, text=text, return_tensors="pt", padding=bool(text))
        with torch.inference_mode():
            out = self.model.generate(**_to_device(inputs, self.device, self.dtype), do_sample=False,
                                      max_new_tokens=self.max_new_tokens, num_beams=self.num_beams)
        return self.processor.batch_decode(out, skip_special_tokens=True)

    def close(self) -> None:
        _free(self)


class Florence2Captioner:
    """Florence-2 captions through transformers' native classes (no trust_remote_code, works offline)."""

    name = "florence2"

    def __init__(self, model: str | None = None, task: str = FLORENCE_TASK, device: str | None = None,
                 max_new_tokens: int = 256, num_beams: int = 3):
        from transformers import AutoProcessor, Florence2ForConditionalGeneration

        self.model_id = model or DEFAULT_MODELS["florence2"]
        if self.model_id.lower().startswith("microsoft/florence-2"):
            # the microsoft repos hold the remote-code version, which needs trust_remote_code and a download
            raise ModelLoadError(f"{self.model_id!r} is the remote-code Florence-2 -> use the native conversion "
                                 f"'florence-community/{self.model_id.split('/', 1)[1]}'")
        self.task = FLORENCE_TASKS.get(task, task)
        if self.task not in FLORENCE_TASKS.values():
            raise ConfigError(f"Florence-2 task {task!r} -> use one of {', '.join(FLORENCE_TASKS)} "
                              f"(or {', '.join(FLORENCE_TASKS.values())})")
        self.device = resolve_device(device)
        self.dtype = _dtype(self.device)
        self.processor = _load(AutoProcessor, self.model_id, "Florence-2 model")
        self.model = _load(Florence2ForConditionalGeneration, self.model_id, "Florence-2 model", dtype=self.dtype)
        self.model.to(self.device).eval()
        self.max_new_tokens, self.num_beams = max_new_tokens, num_beams

    def caption_images(self, images: list) -> list[str]:
        import torch

        inputs = self.processor(text=[self.task] * len(images), images=images, return_tensors="pt", padding=True)
        with torch.inference_mode():
            out = self.model.generate(**_to_device(inputs, self.device, self.dtype), do_sample=False,
                                      max_new_tokens=self.max_new_tokens, num_beams=self.num_beams)
        texts = self.processor.batch_decode(out, skip_special_tokens=False)
        return [self.processor.post_process_generation(t, task=self.task, image_size=im.size)[self.task]
                for t, im in zip(texts, images)]

    def close(self) -> None:
        _free(self)


def read_selected_tags(path: str | os.PathLike) -> tuple[list[str], list[int]]:
    """Names and categories from a WD14 `selected_tags.csv` (columns tag_id,name,category,count)."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"name", "category"} <= set(reader.fieldnames):
            raise ModelLoadError(f"{path}: expected the columns tag_id,name,category,count (got "
                                 f"{reader.fieldnames}) -> use the selected_tags.csv that came with the model")
        names, cats = [], []
        for row in reader:
            names.append(row["name"])
            cats.append(int(row["category"]))
    return names, cats


def _wd14_files(model: str) -> tuple[Path, Path]:
    files = "model.onnx and selected_tags.csv"
    if _looks_like_path(model):
        folder = Path(model).expanduser()
        onnx, tags = folder / "model.onnx", folder / "selected_tags.csv"
        if not (onnx.is_file() and tags.is_file()):
            missing = [p.name for p in (onnx, tags) if not p.is_file()]
            raise _missing_model(model, "WD14 tagger", f"missing {', '.join(missing)}", files)
        return onnx, tags
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        return Path(hf_hub_download(model, "model.onnx")), Path(hf_hub_download(model, "selected_tags.csv"))
    except (OSError, ValueError, EntryNotFoundError) as e:
        raise _missing_model(model, "WD14 tagger", e, files) from e


class WD14Tagger:
    """A WD14-style ONNX tagger: booru tags above a confidence threshold, characters first.

    Preprocessing follows SmilingWolf's reference code: composite on white, pad to a white square,
    resize (bicubic) to the model's input size, RGB -> BGR, float32 0-255, NHWC.
    """

    name = "wd14"

    def __init__(self, model: str | None = None, general_threshold: float = WD14_THRESHOLD,
                 character_threshold: float = WD14_CHARACTER_THRESHOLD, replace_underscores: bool = True,
                 keep_rating: bool = False, device: str | None = None):
        import onnxruntime as ort

        self.model_id = model or DEFAULT_MODELS["wd14"]
        for name, th in (("threshold", general_threshold), ("character threshold", character_threshold)):
            if not 0.0 < th <= 1.0:
                raise ConfigError(f"WD14 {name} {th} -> use a value in (0, 1], e.g. 0.35 (many tags) to 0.6 "
                                  f"(LoRA explainer: fewer, surer tags)")
        self.general_threshold, self.character_threshold = general_threshold, character_threshold
        self.replace_underscores, self.keep_rating = replace_underscores, keep_rating  # long_hair -> long hair
        onnx_path, tags_path = _wd14_files(self.model_id)
        self.names, self.categories = read_selected_tags(tags_path)
        providers = ["CPUExecutionProvider"]
        if resolve_device(device).startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self.session = ort.InferenceSession(str(onnx_path), providers=providers)
        except Exception as e:  # onnxruntime raises its own non-OSError types for corrupt/unsupported files
            raise ModelLoadError(f"{onnx_path}: onnxruntime cannot load it ({e}) -> download model.onnx again") from e
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        shape = inp.shape  # [batch, height, width, 3]
        if len(shape) != 4 or shape[3] != 3:
            raise ModelLoadError(f"{onnx_path}: input shape {shape} is not NHWC with 3 channels -> this is not a "
                                 f"WD14-style tagger")
        self.size = shape[1] if isinstance(shape[1], int) else WD14_DEFAULT_SIZE
        self.fixed_batch = shape[0] if isinstance(shape[0], int) else None
        n_out = self.session.get_outputs()[0].shape[-1]
        if isinstance(n_out, int) and n_out != len(self.names):
            raise ModelLoadError(f"{tags_path} lists {len(self.names)} tags but the model outputs {n_out} -> use the "
                                 f"selected_tags.csv from the same model repo")

    def preprocess(self, image):
        import numpy as np
        from PIL import Image

        image = image.convert("RGBA")
        canvas = Image.new("RGBA", image.size, (255, 255, 255, 255))
        canvas.alpha_composite(image)
        image = canvas.convert("RGB")
        side = max(image.size)
        square = Image.new("RGB", (side, side), (255, 255, 255))
        square.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
        if side != self.size:
            square = square.resize((self.size, self.size), Image.BICUBIC)
        return np.asarray(square, dtype=np.float32)[:, :, ::-1]  # RGB -> BGR

    def predict(self, images: list):
        """Tag probabilities, shape (len(images), n_tags)."""
        import numpy as np

        batch = np.stack([self.preprocess(im) for im in images])
        if self.fixed_batch:  # some exports have a fixed batch size: run in chunks of it
            outs = [self.session.run(None, {self.input_name: batch[i:i + self.fixed_batch]})[0]
                    for i in range(0, len(batch), self.fixed_batch)]
            return np.concatenate(outs)
        return self.session.run(None, {self.input_name: batch})[0]

    def tags_from_probs(self, probs) -> list[str]:
        chars, general, rating = [], [], None
        for i in probs.argsort()[::-1]:
            p, cat, name = float(probs[i]), self.categories[i], self.names[i]
            if cat == WD14_RATING:
                if rating is None or p > rating[0]:
                    rating = (p, name)
            elif cat == WD14_CHARACTER:
                if p >= self.character_threshold:
                    chars.append(name)
            elif p >= self.general_threshold:
                general.append(name)
        tags = chars + general  # the character is the identity: first, where keep_tokens holds it
        if self.keep_rating and rating:
            tags.append(rating[1])
        if self.replace_underscores:
            tags = [normalize_tag(t, underscores=True) for t in tags]
        return tags

    def caption_images(self, images: list) -> list[str]:
        return [", ".join(self.tags_from_probs(p)) for p in self.predict(images)]

    def close(self) -> None:
        _free(self)


BACKENDS = {"blip": BlipCaptioner, "florence2": Florence2Captioner, "wd14": WD14Tagger}
_ALIASES = {"florence": "florence2", "florence-2": "florence2", "wd": "wd14", "tagger": "wd14"}


def make_captioner(backend: str, model: str | None = None, **options) -> Captioner:
    """Build a backend by name: blip, florence2 or wd14 (see each class for its options)."""
    key = _ALIASES.get(backend.lower(), backend.lower())
    if key not in BACKENDS:
        raise ConfigError(f"caption backend {backend!r} -> use one of {', '.join(BACKENDS)}")
    try:
        return BACKENDS[key](model=model, **options)
    except TypeError as e:  # an option the backend does not have
        raise ConfigError(f"{key} captioner: {e} -> check the option names") from None


# ---------------------------------------------------------------------------------------------
# folder driver
# ---------------------------------------------------------------------------------------------
def _backend_option(default, backends: tuple[str, ...], help: str, **extra):
    """An option that only `backends` read: its help says which; `CaptionOptions.problems` refuses it
    for the others."""
    return option(default, f"{'/'.join(backends)} only: {help}", backends=backends, **extra)


@dataclass
class CaptionOptions(Options):
    """The settings of `caption_folder`: which captioner, what happens to existing captions, and the
    options of one backend (each one's help says which backend reads it; empty = that backend's default)."""

    backend: str = option("blip", "Which captioner writes the captions: blip (one short sentence), florence2 "
                          "(detailed prose, FluxTrainer walkthrough's workflow) or wd14 (booru tags).",
                          choices=tuple(DEFAULT_MODELS))
    model: str | None = option(None, "Hugging Face id or local folder of the model; empty: the backend's default ("
                               + ", ".join(f"{k}: {v}" for k, v in DEFAULT_MODELS.items()) + ").")
    overwrite: bool = option(False, "Caption images that already have a caption too (the old captions are copied "
                             "to .lora_nb_backup/ first).")
    prefix: str = option("", "Text put before every new caption, e.g. the trigger word.")
    suffix: str = option("", "Text put after every new caption.")
    batch_size: int = option(8, "Images per model call; lower it if memory runs out.", min=1)
    ext: str = option(CAPTION_EXT, "Extension of the caption file written beside each image.")
    device: str | None = option(None, "cuda, cpu or cuda:1; empty: the GPU when there is one.")
    threshold: float | None = _backend_option(
        None, ("wd14",), f"minimum confidence of a general tag; empty: {WD14_THRESHOLD} (LoRA explainer: fewer, "
        f"surer tags; 0.35 gives many more).", min=0.0, max=1.0)
    character_threshold: float | None = _backend_option(
        None, ("wd14",), f"minimum confidence of a character tag; empty: {WD14_CHARACTER_THRESHOLD}.", min=0.0,
        max=1.0)
    keep_underscores: bool = _backend_option(False, ("wd14",), "keep tags as long_hair instead of long hair.")
    keep_rating: bool = _backend_option(False, ("wd14",), "add the most likely rating tag (general, sensitive, "
                                        "...); dropped otherwise.")
    task: str | None = _backend_option(None, ("florence2",), f"how much to describe: {', '.join(FLORENCE_TASKS)} "
                                       f"(or the task token); empty: {FLORENCE_TASK}.")
    prompt: str = _backend_option("", ("blip",), "text the caption continues, e.g. 'a photo of'.")
    max_new_tokens: int | None = _backend_option(None, ("blip", "florence2"), "longest caption in tokens; empty: "
                                                 "the backend's default.", min=1)
    num_beams: int | None = _backend_option(None, ("blip", "florence2"), "beam-search width; empty: the "
                                            "backend's default.", min=1)

    def problems(self) -> list[str]:
        out = super().problems()
        for f in dataclasses.fields(self):
            backends = f.metadata.get("backends")
            if backends and self.backend not in backends and getattr(self, f.name) != f.default:
                out.append(f"{f.name}: applies to {'/'.join(backends)}, not {self.backend} -> leave it "
                           f"{'off' if f.default is False else 'empty'} or choose backend {backends[0]}")
        if self.task is not None and self.task not in FLORENCE_TASKS and self.task not in FLORENCE_TASKS.values():
            out.append(f"task: {self.task!r} is not a Florence-2 caption task -> use one of "
                       f"{', '.join(FLORENCE_TASKS)} (or {', '.join(FLORENCE_TASKS.values())})")
        return out

    def backend_options(self) -> dict[str, Any]:
        """The keyword arguments the backend is built with: the device and the backend options that are set."""
        kw = {"device": self.device, "general_threshold": self.threshold,
              "character_threshold": self.character_threshold,
              "replace_underscores": False if self.keep_underscores else None,
              "keep_rating": True if self.keep_rating else None, "task": self.task, "prompt": self.prompt or None,
              "max_new_tokens": self.max_new_tokens, "num_beams": self.num_beams}
        return {k: v for k, v in kw.items() if v is not None}


@dataclass
class CaptionReport:
    """What `caption_folder` did."""

    root: Path
    backend: str
    written: list[Path] = field(default_factory=list)  # caption files written
    skipped: list[Path] = field(default_factory=list)  # images that already had a caption
    empty: list[Path] = field(default_factory=list)  # images the model returned nothing for (left uncaptioned)
    failed: dict[Path, str] = field(default_factory=dict)  # images that could not be read -> why
    orphan_captions: list[Path] = field(default_factory=list)  # caption files without an image (left alone)
    backup: Path | None = None  # where replaced captions were copied (overwrite)
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [t("caption.head", backend=self.backend, written=len(self.written), skipped=len(self.skipped),
                   hint=t("caption.overwrite_hint") if self.skipped else "", seconds=self.seconds)]
        if self.backup:
            lines.append(t("caption.backup", path=self.backup))
        if self.empty:
            lines.append(t("caption.empty", n=len(self.empty), names=", ".join(p.name for p in self.empty[:5])))
        for p, why in self.failed.items():
            lines.append(t("caption.failed", path=p, reason=why))
        if self.orphan_captions:
            lines.append(t("caption.orphans", n=len(self.orphan_captions),
                           names=", ".join(p.name for p in self.orphan_captions[:5])))
        return "\n".join(lines)


def load_image(path: str | os.PathLike):
    """An RGB PIL image, EXIF rotation applied, transparency composited on white."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        if im.mode in ("RGBA", "LA", "P", "PA") and (im.mode != "P" or "transparency" in im.info):
            rgba = im.convert("RGBA")
            canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            canvas.alpha_composite(rgba)
            return canvas.convert("RGB")
        return im.convert("RGB")


def _affix(prefix: str, caption: str, suffix: str) -> str:
    """prefix + caption + suffix, joined with ', ' unless the text already ends/starts with a separator."""
    out = caption
    if prefix:
        sep = " " if prefix[-1] in ",.:;" else "" if prefix[-1].isspace() else ", "
        out = prefix + (sep if out else "") + out
    if suffix:
        sep = "" if suffix[0] in ",.:;" or suffix[0].isspace() else ", "
        out = out + (sep if out else "") + suffix
    return " ".join(out.split())


def caption_folder(root: str | os.PathLike, options: CaptionOptions | None = None, *,
                   captioner: Captioner | None = None, progress: bool = True, **overrides) -> CaptionReport:
    """Write a caption file beside every image of a dataset (top level and concept folders).

    `options` (or the defaults) with keyword `overrides` (any `CaptionOptions` field, e.g.
    `backend="wd14", threshold=0.35`) say what to do. The model of `options.backend` is loaded only if
    there is something to caption, and released afterwards. `captioner` is the alternative: a ready
    `Captioner` object (a model already loaded, a test double); `backend` is then not used, and model,
    device and backend options must stay unset (they belong to building it). Images with a non-empty
    caption are skipped unless `overwrite`; replaced captions are first copied to `root/.lora_nb_backup/`.
    """
    from tqdm.auto import tqdm

    from ..textio import backup_files, read_caption, write_caption
    from .caption_files import scan_captions  # pulls PIL (concepts -> images)

    root = Path(root)
    opts = CaptionOptions.resolve(options, overrides, "caption_folder")
    ext, batch_size = opts.ext, opts.batch_size
    own = captioner is None
    if not own and (opts.model or opts.backend_options()):
        raise ConfigError("model, device and backend options go with a backend name, not with a ready captioner "
                          "-> set them when building the captioner")
    skipped: list[tuple[Path, str]] = []
    files, orphans, _ = scan_captions(root, ext, skipped)
    images = list(dict.fromkeys(f.image for f in files))
    if not images:
        raise DatasetError(f"{root}: no images found ({', '.join(_image_exts())}) -> check the folder")
    name = opts.backend if own else getattr(captioner, "name", type(captioner).__name__)
    rep = CaptionReport(root, str(name), orphan_captions=orphans, failed=dict(skipped))
    t0 = time.perf_counter()
    todo = []
    for img in images:
        cap = img.with_suffix(ext)
        if cap.is_file() and not opts.overwrite:
            try:
                has_text = bool(read_caption(cap))
            except LoraNbError:
                has_text = True  # unreadable text is still the user's caption: never replace it unasked
            if has_text:
                rep.skipped.append(img)
                continue
        todo.append(img)
    if not todo:
        rep.seconds = time.perf_counter() - t0
        return rep
    for folder in dict.fromkeys(i.parent for i in todo):  # before the model loads, not after it
        writable_folder(folder, "dataset folder")
    cap_model = make_captioner(opts.backend, opts.model, **opts.backend_options()) if own else captioner
    try:
        rep.backup = backup_files(root, [i.with_suffix(ext) for i in todo if i.with_suffix(ext).is_file()
                                         and i.with_suffix(ext).stat().st_size > 0], label="captions")
        with tqdm(total=len(todo), desc=f"captioning ({rep.backend})", unit="img", disable=not progress) as bar:
            for i in range(0, len(todo), batch_size):
                paths, batch = [], []
                for p in todo[i:i + batch_size]:
                    try:
                        batch.append(load_image(p))
                        paths.append(p)
                    except (OSError, ValueError) as e:  # PIL's UnidentifiedImageError is an OSError
                        rep.failed[p] = f"cannot read the image ({e}) -> replace or delete the file"
                if batch:
                    for p, text in zip(paths, cap_model.caption_images(batch)):
                        text = " ".join(_CONTROL.sub(" ", text or "").split())
                        if not text:
                            rep.empty.append(p)
                            continue
                        rep.written.append(write_caption(p.with_suffix(ext), _affix(opts.prefix, text, opts.suffix)))
                bar.update(len(todo[i:i + batch_size]))
    finally:
        if own and hasattr(cap_model, "close"):
            cap_model.close()
    rep.seconds = time.perf_counter() - t0
    return rep


def _image_exts() -> tuple[str, ...]:
    from ..images import IMAGE_EXTS

    return IMAGE_EXTS
