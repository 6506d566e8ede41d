"""Caption statistics of a dataset: tag frequencies per concept (kohya's `ss_tag_frequency`),
captions missing, empty, orphaned or without the trigger, CLIP token lengths, and the top-tags chart."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import DatasetError, ModelLoadError
from ..fonts import new_figure
from ..i18n import t
from ..textio import CAPTION_EXT, read_caption, read_caption_info
from .caption_files import load_triggers, path_listing, rel_path, scan_captions
from .tag_rules import has_trigger, split_tags

CLIP_MAX_TOKENS = 77  # CLIP's context incl. start/end tokens; kohya truncates beyond it (75 usable)


def tag_frequency(root: str | os.PathLike, ext: str = CAPTION_EXT,
                  exclude: Collection[str | os.PathLike] = ()) -> dict[str, dict[str, int]]:
    """{concept folder name: {tag: count}} over the dataset's captions, as kohya's
    `ss_tag_frequency` metadata: tags are the comma-separated parts, stripped and lowercased.
    Images without a caption contribute nothing, nor the images in `exclude` (held out from training)."""
    files, _, _ = scan_captions(Path(root), ext)
    skip = {Path(p).resolve() for p in exclude}
    out: dict[str, dict[str, int]] = {}
    done = set()
    for f in files:
        per = out.setdefault(f.concept, {})
        if f.caption in done or not f.caption.is_file() or (skip and f.image.resolve() in skip):
            continue
        done.add(f.caption)
        for tag in split_tags(read_caption(f.caption)):
            tag = tag.lower()
            per[tag] = per.get(tag, 0) + 1
    return out


def load_clip_tokenizer(spec):
    """A tokenizer for caption lengths: a tokenizer object (returned as is), a tokenizer folder, or
    a diffusers base model (folder or hub id; its `tokenizer/` subfolder is used). Hub ids load
    from the local cache when offline."""
    if spec is None or hasattr(spec, "tokenize"):
        return spec
    from transformers import AutoTokenizer

    local = Path(str(spec)).expanduser()
    if local.is_dir():
        tries = [(local / "tokenizer", {})] if (local / "tokenizer").is_dir() else [(local, {})]
    else:
        tries = [(str(spec), {"subfolder": "tokenizer"}), (str(spec), {})]
    err = ""
    for where, kw in tries:
        try:
            return AutoTokenizer.from_pretrained(where, **kw)
        except (OSError, ValueError) as e:
            err = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    raise ModelLoadError(f"cannot load a tokenizer from {spec!r} ({err}) -> pass the base model folder (with "
                         f"tokenizer/) or a tokenizer folder; a hub id must be downloaded first when offline")


@dataclass
class CaptionStats:
    """Caption statistics of a dataset; `warnings()` lists what needs attention."""

    root: Path
    images: int
    frequency: dict[str, dict[str, int]]  # per concept folder (same counts as ss_tag_frequency)
    overall: Counter
    missing_captions: list[Path]
    orphan_captions: list[Path]
    empty_captions: list[Path]
    missing_trigger: list[Path]
    not_plain_utf8: dict[Path, str]  # path -> what was fixed when reading (bom, gb18030, crlf, lines)
    unreadable: dict[Path, str]  # path -> error
    shared_captions: dict[Path, list[Path]]
    token_lengths: dict[Path, int] | None  # CLIP tokens incl. start/end; None without a tokenizer
    max_tokens: int = CLIP_MAX_TOKENS
    trigger: str | dict[str, str] = ""

    @property
    def too_long(self) -> list[Path]:
        return [p for p, n in (self.token_lengths or {}).items() if n > self.max_tokens]

    def top(self, n: int = 20, concept: str | None = None) -> list[tuple[str, int]]:
        counts = Counter(self.frequency.get(concept, {})) if concept else self.overall
        return counts.most_common(n)

    def warnings(self) -> list[str]:
        def r(paths):
            return path_listing(paths, self.root)

        w = []
        if self.missing_captions:
            w.append(t("tags.missing", n=len(self.missing_captions), listing=r(self.missing_captions)))
        if self.empty_captions:
            w.append(t("tags.empty", n=len(self.empty_captions), listing=r(self.empty_captions)))
        if self.orphan_captions:
            w.append(t("tags.orphans", n=len(self.orphan_captions), listing=r(self.orphan_captions)))
        if self.missing_trigger:
            w.append(t("tags.no_trigger", n=len(self.missing_trigger), listing=r(self.missing_trigger)))
        if self.too_long:
            w.append(t("tags.too_long", n=len(self.too_long), limit=self.max_tokens, listing=r(self.too_long)))
        for p, err in self.unreadable.items():
            w.append(err)
        for cap, imgs in self.shared_captions.items():
            w.append(t("tags.shared", caption=rel_path(cap, self.root), n=len(imgs)))
        if self.not_plain_utf8:
            w.append(t("tags.not_utf8", n=len(self.not_plain_utf8), listing=r(list(self.not_plain_utf8))))
        return w

    def summary(self, top: int = 10) -> str:
        lines = [t("tags.head", images=self.images, folders=len(self.frequency), tags=len(self.overall))]
        if self.token_lengths:
            lens = list(self.token_lengths.values())
            lines.append(t("tags.length", low=min(lens), high=max(lens), limit=self.max_tokens))
        lines.append(t("tags.top", items=", ".join(f"{tag} ({n})" for tag, n in self.top(top))))
        lines += [t("clean.warning", text=w) for w in self.warnings()]
        return "\n".join(lines)


def caption_stats(root: str | os.PathLike, trigger: str | dict[str, str] = "", tokenizer=None,
                  ext: str = CAPTION_EXT, max_tokens: int = CLIP_MAX_TOKENS) -> CaptionStats:
    """Tag frequencies per concept and overall, captions missing/empty/orphaned/without the
    trigger, encodings that needed fixing, and, with a CLIP tokenizer (object, tokenizer folder
    or base model folder), each caption's length in tokens against the 77-token limit.

    `trigger` is one word or {concept folder: word}; by default the saved triggers.json is used.
    """
    root = Path(root)
    tok = load_clip_tokenizer(tokenizer)
    files, orphans, shared = scan_captions(root, ext)
    trig = trigger or load_triggers(root)
    freq: dict[str, dict[str, int]] = {}
    missing, empty, no_trigger = [], [], []
    not_plain, unreadable, lengths = {}, {}, ({} if tok is not None else None)
    seen = set()
    for f in files:
        per = freq.setdefault(f.concept, {})
        if not f.caption.is_file():
            missing.append(f.image)
            continue
        if f.caption in seen:
            continue
        seen.add(f.caption)
        try:
            info = read_caption_info(f.caption)
        except DatasetError as e:
            unreadable[f.caption] = str(e)
            continue
        if not info.clean_utf8:
            fixes = [x for x, on in (("BOM", info.encoding in ("utf-8-sig", "utf-16")),
                                     (info.encoding.upper(), info.encoding in ("gb18030", "utf-16")),
                                     ("CRLF", info.crlf), (f"{info.lines} lines", info.lines > 1)) if on]
            not_plain[f.caption] = ", ".join(fixes)
        text = info.text
        if not text:
            empty.append(f.caption)
        for tag in split_tags(text):
            tag = tag.lower()
            per[tag] = per.get(tag, 0) + 1
        word = trig.get(f.concept, "") if isinstance(trig, dict) else trig
        if word and not has_trigger(text, word):
            no_trigger.append(f.caption)
        if tok is not None:
            lengths[f.caption] = len(tok(text, truncation=False, verbose=False)["input_ids"])
    overall: Counter = Counter()
    for per in freq.values():
        overall.update(per)
    return CaptionStats(root, len(files), freq, overall, missing, orphans, empty, no_trigger, not_plain,
                        unreadable, shared, lengths, max_tokens, trig)


def plot_tag_frequency(stats: CaptionStats | Mapping[str, int], top: int = 30, concept: str | None = None,
                       title: str | None = None):
    """A horizontal bar chart of the `top` most frequent tags; returns a matplotlib Figure.

    Tags present in (almost) every caption are what the trigger absorbs or what should be removed
    (FluxTrainer walkthrough §6); rare tags are the ones the LoRA learns to vary.
    """
    if isinstance(stats, CaptionStats):
        items = stats.top(top, concept)
    else:
        items = Counter(stats).most_common(top)
    names = [tag for tag, _ in items][::-1]
    fig = new_figure(names, figsize=(7, max(2.0, 0.28 * len(items) + 1)), layout="constrained")
    ax = fig.add_subplot()
    values = [n for _, n in items][::-1]
    ax.barh(names, values, color="#4c72b0")
    ax.set_xlabel(t("plot.tag_count"))
    ax.set_title(title or (t("plot.top_tags_in", n=len(items), concept=concept) if concept
                           else t("plot.top_tags", n=len(items))))
    if not items:
        ax.text(0.5, 0.5, t("plot.no_tags"), ha="center", va="center", transform=ax.transAxes)
    ax.tick_params(axis="y", labelsize=8)
    return fig
