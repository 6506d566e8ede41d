"""Clean the captions of a dataset: `CleanOptions`, `clean_caption` and the folder driver `clean_folder`.

`clean_caption` applies the rules of `tag_rules` to one caption in a fixed order; `clean_folder`
applies them to every caption of a dataset and writes the result to a new folder (or in place with a
backup, when asked), and its `CleanReport` says what changed and what needs attention.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config
from ..errors import ConfigError, DatasetError
from ..fileio import atomic_dir, atomic_write_text
from ..fscheck import writable_folder
from ..i18n import t
from ..options import Options, option
from ..textio import CAPTION_EXT, backup_files, read_caption_info, write_caption
from .caption_files import TRIGGERS_FILE, load_triggers, path_listing, rel_path, scan_captions
from .identifiers import assign_identifiers
from .tag_rules import (
    add_trigger,
    caption_style,
    dedupe_tags,
    has_trigger,
    normalize_caption,
    parse_replacements,
    remove_tags,
    replace_tags,
    sort_tags,
    split_tags,
    tag_key,
    tidy_text,
)

SORT_ORDERS = ("", "alpha", "frequency")
KEEP_TOKENS_MAX = Config.__dataclass_fields__["keep_tokens"].metadata["max"]  # the same setting at training time


@dataclass
class CleanOptions(Options):
    """What `clean_caption` / `clean_folder` do, in this order: normalise, replace, remove
    (incl. blacklist), dedupe, add the trigger, sort. `trigger` and `replace` also take their text
    form (what the command line and the form give): 'FOLDER=WORD, ...' and 'OLD=NEW, ...'."""

    trigger: str | dict[str, str] = option(
        "", "Trigger put first in every caption: a made-up word, 'auto' (one unique 10-letter id per concept folder, "
            "Flux LoRA guide), FOLDER=WORD pairs (one word per concept folder), or empty for none.")
    template: str = option(
        "", "Where the trigger goes, with {trigger} and {caption}: e.g. 'This image is labeled as {trigger}. "
            "{caption}' (Flux LoRA guide); empty: the trigger becomes the first tag.")
    remove: list[str] = option(
        [], "Tags or phrases to remove: what the LoRA should learn (the trigger absorbs it); wildcards like '*hair' "
            "match tags.")
    blacklist: list[str] = option([], "Tags never wanted, removed too (watermark, signature, ...).")
    replace: dict[str, str] | str = option(
        {}, "Tags or phrases to rename, as OLD=NEW pairs separated by commas (long_hair=long hair); OLD= removes it.")
    dedupe: bool = option(False, "Drop repeated tags.")
    sort: str = option("", "Sort the tags after the kept ones: alpha, frequency (most common first) or empty for no "
                           "sorting; prose is never sorted.", choices=SORT_ORDERS)
    keep_tokens: int = option(0, "Leading tags held in place by sort (and by shuffling at training time); the "
                                 "trigger always stays first.", min=0, max=KEEP_TOKENS_MAX)
    underscores: bool = option(False, "Underscores to spaces: long_hair -> long hair (^_^ is kept).")
    lowercase: bool = option(False, "Lowercase every caption.")
    style: str = option("auto", "Treat captions as tag lists or prose; auto guesses per caption.",
                        choices=("auto", "tags", "text"))
    seed: int | None = option(None, "Seed for trigger 'auto': the same ids on every run; empty: random.")
    tokenizer: object = option(None, "For trigger 'auto': a loaded tokenizer of the base model; ids it knows "
                                     "are avoided.", cli=False)
    ext: str = option(CAPTION_EXT, "Caption file extension.")

    def __post_init__(self):
        try:
            super().__post_init__()
        except ConfigError as e:  # a DatasetError, like the cleaning step's other input errors
            raise DatasetError(str(e)) from None

    def problems(self) -> list[str]:
        out = [p for p in super().problems() if not p.startswith("sort: ")]  # the message below names '' clearly
        if self.sort not in SORT_ORDERS:
            out.append(f"sort: {self.sort!r} -> use 'alpha', 'frequency' or '' (no sorting)")
        if out:
            return out
        if self.template and "{trigger}" not in self.template and "{id}" not in self.template:
            out.append(f"template: {self.template!r} has no {{trigger}} placeholder -> e.g. "
                       f"'This image is labeled as {{trigger}}. {{caption}}'")
        for name, parse in (("trigger", trigger_words), ("replace", replacements)):
            try:
                parse(getattr(self, name))
            except DatasetError as e:
                out.append(f"{name}: {e}")
        return out


def trigger_words(trigger: str | dict[str, str]) -> str | dict[str, str]:
    """A trigger setting as one word ('auto', '' or a word) or {concept folder: word}; the text
    'FOLDER=WORD, FOLDER=WORD' becomes the dict."""
    if isinstance(trigger, dict):
        return trigger
    if "=" not in trigger:
        return trigger.strip()
    parts = [p.strip() for p in trigger.split(",") if p.strip()]
    if not all("=" in p for p in parts):
        raise DatasetError(f"{trigger!r} mixes WORD and FOLDER=WORD -> give one word, 'auto', or FOLDER=WORD pairs")
    return {folder.strip(): word.strip() for folder, word in (p.split("=", 1) for p in parts)}


def replacements(replace: dict[str, str] | str) -> dict[str, str]:
    """A replace setting as {old: new}; the text 'OLD=NEW, OLD=NEW' becomes the dict."""
    if isinstance(replace, dict):
        return replace
    return parse_replacements(p for p in replace.split(",") if p.strip())


def clean_caption(caption: str, opts: CleanOptions, trigger: str | None = None,
                  counts: Mapping[str, int] | None = None) -> str:
    """Apply `opts` to one caption. `trigger` overrides opts.trigger (the folder driver passes the
    concept's own); `counts` are dataset-wide tag counts for sort='frequency'."""
    words = trigger_words(opts.trigger)
    trig = trigger if trigger is not None else (words if isinstance(words, str) else "")
    trig = "" if trig == "auto" else trig
    style = caption_style(caption, opts.style)
    text = normalize_caption(caption, opts.underscores, opts.lowercase, style)
    text = replace_tags(text, replacements(opts.replace), style)
    text = remove_tags(text, [*opts.remove, *opts.blacklist], style, keep=[trig])
    if opts.dedupe:
        text = dedupe_tags(text) if style == "tags" else tidy_text(text)
    text = add_trigger(text, trig, opts.template or None, style)
    if opts.sort:
        keep = max(opts.keep_tokens, 1 if trig else 0)  # the trigger (or the template's first clause) stays first
        text = sort_tags(text, keep, counts if opts.sort == "frequency" else None, style)
    return text


@dataclass
class CleanReport:
    """What `clean_folder` did (or, for a dry run, would do)."""

    root: Path
    out: Path | None  # the output folder; the root itself for in-place; None for a dry run
    dry_run: bool
    changes: list[tuple[Path, str, str]] = field(default_factory=list)  # (caption path, old, new)
    unchanged: int = 0
    reencoded: list[Path] = field(default_factory=list)  # BOM/GBK/CRLF/multi-line, rewritten as UTF-8
    missing_captions: list[Path] = field(default_factory=list)  # images without a caption file
    orphan_captions: list[Path] = field(default_factory=list)  # caption files without an image (not copied)
    emptied: list[Path] = field(default_factory=list)  # captions that are empty after cleaning
    triggers: dict[str, str] = field(default_factory=dict)  # concept folder -> trigger used
    backup: Path | None = None
    warnings: list[str] = field(default_factory=list)

    def diff(self, context: int = 0) -> str:
        """A unified diff of every changed caption (paths relative to the dataset)."""
        parts = []
        for path, old, new in self.changes:
            rel = rel_path(path, self.root)
            parts.extend(difflib.unified_diff([old], [new], f"a/{rel}", f"b/{rel}", n=context, lineterm=""))
        return "\n".join(parts)

    def summary(self) -> str:
        where = t("clean.written", out=self.out) if self.out and not self.dry_run else ""
        lines = [t("clean.head_dry" if self.dry_run else "clean.head", n=len(self.changes), unchanged=self.unchanged,
                   where=where)]
        if self.triggers:
            lines.append(t("clean.triggers", items=", ".join(f"{k} -> {v}" for k, v in self.triggers.items())))
        if self.backup:
            lines.append(t("clean.backup", path=self.backup))
        lines += [t("clean.warning", text=w) for w in self.warnings]
        return "\n".join(lines)


def _resolve_triggers(root: Path, opts: CleanOptions, concepts: list[str], out: Path | None = None) -> dict[str, str]:
    words = trigger_words(opts.trigger)
    if isinstance(words, dict):
        unknown = sorted(set(words) - set(concepts))
        if unknown:
            raise DatasetError(f"trigger given for unknown concept folder(s) {unknown} -> use one of "
                               f"{sorted(set(concepts))}")
        return {c: words.get(c, "") for c in concepts}
    if words == "auto":  # Flux LoRA guide: one unique id per concept, kept across runs in triggers.json
        existing = {**(load_triggers(out) if out is not None and Path(out).is_dir() else {}), **load_triggers(root)}
        return assign_identifiers(concepts, tokenizer=opts.tokenizer, seed=opts.seed, existing=existing)
    return {c: words for c in concepts}


def _copy(src: Path, dst: Path) -> None:
    """A real copy, never a hard link: editing the cleaned copy in place must leave the original as it is."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)


def clean_folder(root: str | os.PathLike, options: CleanOptions | None = None, out: str | os.PathLike | None = None,
                 in_place: bool = False, dry_run: bool = False, overwrite: bool = False, **overrides) -> CleanReport:
    """Clean every caption of a dataset and write the result to `out`, never over the originals.

    The cleaning is `options` (default `CleanOptions()`) with any `CleanOptions` field given as a
    keyword on top: `clean_folder(root, opts, dry_run=True, dedupe=True)`.

    `out` receives the same folder layout: images copied and cleaned captions in
    UTF-8. `in_place=True` rewrites the captions inside `root` instead, after copying the
    originals of every file it changes to `root/.lora_nb_backup/`. `dry_run=True` writes nothing;
    the report's `diff()` shows what would change. Images without captions, caption files without
    images and captions emptied by the cleaning are listed in the report, not silently dropped.
    """
    opts = CleanOptions.resolve(options, overrides, "clean_folder")
    root = Path(root)
    if not dry_run and not in_place and out is None:
        raise DatasetError("no output given -> pass out=FOLDER (a new folder), in_place=True, or dry_run=True")
    if in_place and out is not None:
        raise DatasetError("both out and in_place given -> choose one")
    skipped: list[tuple[Path, str]] = []
    files, orphans, shared = scan_captions(root, opts.ext, skipped)
    if not files:
        raise DatasetError(f"{root}: no images found -> put the images (with .txt captions) in this folder or in "
                           f"N_name concept folders")
    if out is not None and not dry_run:
        out = Path(out)
        r, o = root.resolve(), out.resolve()
        if o == r or r in o.parents or o in r.parents:
            raise DatasetError(f"output {out} overlaps the dataset {root} -> choose a folder outside it, or use "
                               f"in-place mode")
        writable_folder(out)
        if out.exists() and any(out.iterdir()) and not overwrite:
            raise DatasetError(f"output folder {out} already exists and is not empty -> choose another folder or "
                               f"allow overwriting it (--overwrite)")

    concepts = list(dict.fromkeys(f.concept for f in files))
    triggers = _resolve_triggers(root, opts, concepts, None if in_place else out)
    rep = CleanReport(root, None if dry_run else (root if in_place else Path(out)), dry_run,
                      orphan_captions=orphans, triggers={k: v for k, v in triggers.items() if v})
    for cap, imgs in shared.items():
        rep.warnings.append(t("clean.shared", caption=rel_path(cap, root), n=len(imgs),
                              names=", ".join(i.name for i in imgs)))
    rep.warnings += [t("clean.skipped", path=rel_path(p, root), reason=why) for p, why in skipped]
    if orphans:
        rep.warnings.append(t("clean.orphans", n=len(orphans), listing=path_listing(orphans, root)))

    # read everything first: a bad file stops the run before anything is written
    originals: dict[Path, tuple[str, bool]] = {}
    for f in files:
        if f.caption in originals:
            continue
        if f.caption.is_file():
            info = read_caption_info(f.caption)
            originals[f.caption] = (info.text, info.clean_utf8)
        else:
            rep.missing_captions.append(f.image)
    if rep.missing_captions:
        rep.warnings.append(t("clean.missing", n=len(rep.missing_captions),
                              listing=path_listing(rep.missing_captions, root)))
    counts = None
    if opts.sort == "frequency":
        counts = Counter(tag_key(t) for text, _ in originals.values() for t in split_tags(text))

    new_text: dict[Path, str] = {}
    concept_of = {f.caption: f.concept for f in files}
    for cap, (old, clean_utf8) in originals.items():
        new = clean_caption(old, opts, trigger=triggers[concept_of[cap]], counts=counts)
        new_text[cap] = new
        if new != old:
            rep.changes.append((cap, old, new))
        else:
            rep.unchanged += 1
        if not clean_utf8:
            rep.reencoded.append(cap)
        if not new:
            rep.emptied.append(cap)
    if rep.emptied:
        rep.warnings.append(t("clean.emptied", n=len(rep.emptied), listing=path_listing(rep.emptied, root)))
    if opts.keep_tokens and any(rep.triggers.values()):
        late = [cap for cap, text in new_text.items() if triggers[concept_of[cap]]
                and not any(has_trigger(t, triggers[concept_of[cap]])
                            for t in split_tags(text)[:opts.keep_tokens])]
        if late:
            rep.warnings.append(t("clean.late_trigger", n=len(late), keep=opts.keep_tokens))
    if dry_run:
        return rep

    if in_place:
        todo = [cap for cap, (old, clean_utf8) in originals.items() if new_text[cap] != old or not clean_utf8]
        rep.backup = backup_files(root, todo, label="tags")
        for cap in todo:
            write_caption(cap, new_text[cap])
        if rep.triggers:
            _save_triggers(root, triggers)
        return rep

    with atomic_dir(out) as tmp:
        for f in files:
            dest_img = tmp / f.image.relative_to(root)
            _copy(f.image, dest_img)
            if f.caption in new_text:
                write_caption(tmp / f.caption.relative_to(root), new_text[f.caption])
        if rep.triggers:
            _save_triggers(tmp, triggers)
    return rep


def _save_triggers(folder: Path, triggers: dict[str, str]) -> None:
    data = {k: v for k, v in triggers.items() if v}
    atomic_write_text(folder / TRIGGERS_FILE, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
