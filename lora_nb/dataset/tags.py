"""Caption cleaning: trigger words, removals, replacements, dedupe, sort, and caption statistics.

Pure text functions first (each takes a caption string and returns a new one), then the
folder driver `clean_folder` that applies them to a dataset and writes the result to a new
folder (or in place with a backup, when asked), then statistics (`caption_stats`,
`tag_frequency`, the chart).

The rules come from the tutorials: every caption carries the trigger (FluxTrainer walkthrough §6), a unique id per
concept (Flux LoRA guide), and the features the LoRA should learn are *removed* from the captions so
they are baked into the trigger (FluxTrainer walkthrough §6; LoRA explainer: delete "black hair" to always get black
hair). Earlier tags weigh more (Kohya practice guide, LoRA explainer), so `keep_tokens` holds the trigger in front while
the rest may be shuffled at training time.

Both comma-separated tags ("1girl, black hair, smile") and natural-language captions ("A girl
with black hair smiles.") are handled: tag operations work on whole tags, text operations on
whole words/phrases; sorting applies to tag captions only.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import os
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from .concepts import scan_concepts
from ..errors import DatasetError

TRIGGERS_FILE = "triggers.json"  # concept folder -> trigger, kept beside the captions
CLIP_MAX_TOKENS = 77  # CLIP's context incl. start/end tokens; kohya truncates beyond it (75 usable)
_SPLIT = re.compile(r"\s*[,，]\s*")  # ASCII and full-width commas both separate tags
# a sentence ends after a word: "A cat." is prose, the danbooru tag "!?" is not
_SENTENCE_END = re.compile(r"(?<=[^\W\d_])[.!?。！？](\s|$)")
# WD14 kaomoji tags whose underscores are part of the face (kohya's tagger keeps them too).
KAOMOJI = frozenset({"0_0", "(o)_(o)", "+_+", "+_-", "._.", "<o>_<o>", "<|>_<|>", "=_=", ">_<", "3_3", "6_9",
                     ">_o", "@_@", "^_^", "o_o", "u_u", "x_x", "|_|", "||_||"})


# ---------------------------------------------------------------------------------------------
# pure text functions
# ---------------------------------------------------------------------------------------------
def split_tags(caption: str) -> list[str]:
    """'a, b ,,c' -> ['a', 'b', 'c'] (empty tags dropped; full-width commas split too)."""
    return [t for t in _SPLIT.split(caption.strip()) if t]


def join_tags(tags: Iterable[str]) -> str:
    return ", ".join(t for t in tags if t)


def is_natural_language(caption: str) -> bool:
    """Guess whether a caption is prose (BLIP/Florence) rather than a tag list (WD14, hand tags).

    Prose has sentence punctuation, a comma-chunk longer than four words, or is a single chunk of
    three or more words ("a red cat"); a tag list is short chunks separated by commas.
    """
    chunks = split_tags(caption)
    if not chunks:
        return False
    if _SENTENCE_END.search(caption.strip()):
        return True
    words = [len(c.split()) for c in chunks]
    return max(words) > 4 or (len(chunks) == 1 and words[0] >= 3)


def _style(caption: str, style: str) -> str:
    if style not in ("auto", "tags", "text"):
        raise ValueError(f"style must be auto, tags or text, not {style!r}")
    if style != "auto":
        return style
    return "text" if is_natural_language(caption) else "tags"


def normalize_tag(tag: str, underscores: bool = False, lowercase: bool = False) -> str:
    """Collapse whitespace; optionally `long_hair` -> `long hair` (kaomoji like ^_^ kept) and lowercase."""
    t = " ".join(tag.split())
    if underscores and t not in KAOMOJI:
        t = " ".join(t.replace("_", " ").split())
    return t.lower() if lowercase else t


def normalize_caption(caption: str, underscores: bool = False, lowercase: bool = False,
                      style: str = "auto") -> str:
    """Whitespace, comma spacing and empty tags tidied; underscores/case as asked."""
    caption = " ".join(caption.split())
    if _style(caption, style) == "tags":
        return join_tags(normalize_tag(t, underscores, lowercase) for t in split_tags(caption))
    text = _tidy_text(caption)
    if underscores:
        text = " ".join(w if w in KAOMOJI else w.replace("_", " ") for w in text.split())
    return text.lower() if lowercase else text


def _tidy_text(text: str) -> str:
    """Fix what phrase edits leave behind: double spaces, ' ,', ',,', leading/trailing commas."""
    text = " ".join(text.split())
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    text = re.sub(r",\s*([.!?])", r"\1", text)
    text = re.sub(r"([,;:])(?=\S)", r"\1 ", text)
    return text.strip(" ,;:")


def _phrase_re(phrase: str) -> re.Pattern:
    """Whole-word, case-insensitive match of a phrase; spaces match any whitespace/underscore."""
    parts = [re.escape(p) for p in re.split(r"[\s_]+", phrase.strip()) if p]
    return re.compile(r"(?<![\w])" + r"[\s_]+".join(parts) + r"(?![\w])", re.IGNORECASE)


def _tag_key(tag: str) -> str:
    """Tags compare case-insensitively, with '_' and ' ' the same (long_hair == Long Hair)."""
    return tag if tag in KAOMOJI else " ".join(tag.replace("_", " ").split()).lower()


def _matches(tag: str, pattern: str) -> bool:
    key, pat = _tag_key(tag), _tag_key(pattern)
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(key, pat)
    return key == pat


def has_trigger(caption: str, trigger: str) -> bool:
    """Whether `trigger` occurs in the caption as a whole word or tag."""
    return bool(trigger) and bool(_phrase_re(trigger).search(caption))


def add_trigger(caption: str, trigger: str, template: str | None = None, style: str = "auto") -> str:
    """Put the trigger word in the caption; applying it twice changes nothing.

    Without a template the trigger becomes the first tag (an existing copy elsewhere in a tag
    list moves to the front, so `keep_tokens=1` holds it). With a template, `{trigger}` (or
    `{id}`) and `{caption}` are filled in, as in the Flux LoRA guide's
    "This image is labeled as {id}. {caption}". A prose caption that already names the trigger is
    left as it is.
    """
    trigger = trigger.strip()
    if not trigger:
        return caption
    caption = caption.strip()
    if template:
        if has_trigger(caption, trigger):
            return caption
        t = template.replace("{id}", "{trigger}")
        if "{trigger}" not in t:
            raise ValueError(f"template {template!r} has no {{trigger}} (or {{id}}) placeholder")
        if "{caption}" not in t:
            t = t.rstrip() + " {caption}"
        return " ".join(t.replace("{trigger}", trigger).replace("{caption}", caption).split()).strip(" ,")
    if _style(caption, style) == "tags":
        rest = [t for t in split_tags(caption) if _tag_key(t) != _tag_key(trigger)]
        return join_tags([trigger, *rest])
    if has_trigger(caption, trigger):
        return caption
    return f"{trigger}, {caption}" if caption else trigger


def remove_tags(caption: str, patterns: Iterable[str], style: str = "auto", keep: Iterable[str] = ()) -> str:
    """Drop tags matching any pattern (exact, case/underscore-insensitive; `*`/`?` wildcards allowed:
    `*hair` drops 'black hair' and 'long hair'). In prose the phrases are cut out as whole words.
    Tags in `keep` (e.g. the trigger) are never removed.
    """
    patterns = [p.strip() for p in patterns if p and p.strip()]
    if not patterns:
        return caption
    keep_keys = {_tag_key(k) for k in keep if k}
    if _style(caption, style) == "tags":
        return join_tags(t for t in split_tags(caption)
                         if _tag_key(t) in keep_keys or not any(_matches(t, p) for p in patterns))
    text = caption
    for p in patterns:
        if any(c in p for c in "*?[") or _tag_key(p) in keep_keys:
            continue  # wildcards would eat arbitrary words of a sentence
        text = _phrase_re(p).sub("", text)
    return _tidy_text(text)


def replace_tags(caption: str, mapping: Mapping[str, str], style: str = "auto") -> str:
    """Rename tags (tag lists) or phrases (prose): {'old': 'new'}; an empty 'new' removes."""
    if not mapping:
        return caption
    if _style(caption, style) == "tags":
        out = []
        for t in split_tags(caption):
            for old, new in mapping.items():
                if _matches(t, old):
                    t = new.strip()
                    break
            out.append(t)
        return join_tags(out)
    text = caption
    for old, new in mapping.items():
        text = _phrase_re(old).sub(new.strip().replace("\\", "\\\\"), text)
    return _tidy_text(text)


def dedupe_tags(caption: str) -> str:
    """Keep the first of repeated comma-separated tags/clauses (case and '_' ignored)."""
    seen, out = set(), []
    for t in split_tags(caption):
        k = _tag_key(t)
        if k not in seen:
            seen.add(k)
            out.append(t)
    return join_tags(out)


def sort_tags(caption: str, keep_tokens: int = 0, counts: Mapping[str, int] | None = None,
              style: str = "auto") -> str:
    """Sort the tags after the first `keep_tokens`: alphabetically, or most frequent first when
    dataset-wide `counts` are given. Prose is returned unchanged (sorting words breaks sentences).
    """
    if _style(caption, style) != "tags":
        return caption
    tags = split_tags(caption)
    head, tail = tags[:keep_tokens], tags[keep_tokens:]
    if counts is None:
        tail.sort(key=_tag_key)
    else:
        tail.sort(key=lambda t: (-counts.get(_tag_key(t), 0), _tag_key(t)))
    return join_tags(head + tail)


def parse_replacements(items: Iterable[str]) -> dict[str, str]:
    """['old=new', 'a=b'] -> {'old': 'new', 'a': 'b'}; 'old=' means remove."""
    out = {}
    for item in items:
        if "=" not in item:
            raise DatasetError(f"replacement {item!r} has no '=' -> write it as OLD=NEW (e.g. "
                               f"'long_hair=long hair'), or OLD= to remove")
        old, new = item.split("=", 1)
        if not old.strip():
            raise DatasetError(f"replacement {item!r} has an empty OLD part -> write OLD=NEW")
        out[old.strip()] = new.strip()
    return out


def parse_tag_list(text: str) -> list[str]:
    """Tags from a comma- and/or newline-separated text (a --remove value or a blacklist file);
    lines starting with '#' are comments."""
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    return [t for ln in lines for t in split_tags(ln)]


@dataclass
class CleanOptions:
    """What `clean_caption` / `clean_folder` do, in this order: normalise, replace, remove
    (incl. blacklist), dedupe, add the trigger, sort."""

    trigger: str | dict[str, str] = ""  # one word for all, {concept folder: word}, or "auto" (folder driver)
    template: str = ""  # e.g. "This image is labeled as {trigger}. {caption}" (Flux LoRA guide); empty: trigger first
    remove: list[str] = field(default_factory=list)  # tags/phrases the LoRA should learn; wildcards ok
    blacklist: list[str] = field(default_factory=list)  # tags never wanted (watermark, signature, ...)
    replace: dict[str, str] = field(default_factory=dict)
    dedupe: bool = False
    sort: str = ""  # "", "alpha" or "frequency"
    keep_tokens: int = 0  # leading tags left in place by sort (and by shuffling at training time)
    underscores: bool = False  # long_hair -> long hair
    lowercase: bool = False
    style: str = "auto"  # auto, tags or text
    seed: int | None = None  # for trigger="auto"
    tokenizer: object = None  # for trigger="auto": also avoid ids the base model's tokenizer knows

    def __post_init__(self):
        if self.sort not in ("", "alpha", "frequency"):
            raise DatasetError(f"sort {self.sort!r} -> use 'alpha', 'frequency' or '' (no sorting)")
        if self.keep_tokens < 0:
            raise DatasetError("keep_tokens must be >= 0")
        if self.template and "{trigger}" not in self.template and "{id}" not in self.template:
            raise DatasetError(f"template {self.template!r} has no {{trigger}} placeholder -> e.g. "
                               f"'This image is labeled as {{trigger}}. {{caption}}'")


def clean_caption(caption: str, opts: CleanOptions, trigger: str | None = None,
                  counts: Mapping[str, int] | None = None) -> str:
    """Apply `opts` to one caption. `trigger` overrides opts.trigger (the folder driver passes the
    concept's own); `counts` are dataset-wide tag counts for sort='frequency'."""
    trig = trigger if trigger is not None else (opts.trigger if isinstance(opts.trigger, str) else "")
    trig = "" if trig == "auto" else trig
    style = _style(caption, opts.style)
    text = normalize_caption(caption, opts.underscores, opts.lowercase, style)
    text = replace_tags(text, opts.replace, style)
    text = remove_tags(text, [*opts.remove, *opts.blacklist], style, keep=[trig])
    if opts.dedupe:
        text = dedupe_tags(text) if style == "tags" else _tidy_text(text)
    text = add_trigger(text, trig, opts.template or None, style)
    if opts.sort:
        keep = max(opts.keep_tokens, 1 if trig else 0)  # the trigger (or the template's first clause) stays first
        text = sort_tags(text, keep, counts if opts.sort == "frequency" else None, style)
    return text


# ---------------------------------------------------------------------------------------------
# dataset scanning shared by the driver and the statistics
# ---------------------------------------------------------------------------------------------
@dataclass
class CaptionFile:
    image: Path
    caption: Path
    concept: str  # concept folder name, the key of ss_tag_frequency


def scan_captions(root: str | os.PathLike, ext: str = ".txt") -> tuple[list[CaptionFile], list[Path],
                                                                      dict[Path, list[Path]]]:
    """(image/caption pairs, orphan caption files without an image, captions shared by several
    images such as a.png + a.jpg -> a.txt) for a dataset laid out as `concepts.scan_concepts` reads it."""
    root = Path(root)
    try:
        concepts = scan_concepts(root)
    except (FileNotFoundError, NotADirectoryError):
        raise DatasetError(f"{root}: not a folder -> pass the dataset folder (the one with the images or the "
                           f"N_name concept folders)") from None
    files, claimed = [], {}
    for c in concepts:
        for img in c.images:
            cap = img.with_suffix(ext)
            files.append(CaptionFile(img, cap, c.folder.name))
            claimed.setdefault(cap, []).append(img)
    folders = [root] + sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    orphans = sorted(p for d in folders for p in d.glob(f"*{ext}")
                     if p.is_file() and not p.name.startswith(".") and p not in claimed)
    shared = {cap: imgs for cap, imgs in claimed.items() if len(imgs) > 1 and cap.exists()}
    return files, orphans, shared


# ---------------------------------------------------------------------------------------------
# the folder driver
# ---------------------------------------------------------------------------------------------
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
            rel = _rel(path, self.root)
            parts.extend(difflib.unified_diff([old], [new], f"a/{rel}", f"b/{rel}", n=context, lineterm=""))
        return "\n".join(parts)

    def summary(self) -> str:
        verb = "would change" if self.dry_run else "changed"
        lines = [f"{verb} {len(self.changes)} caption(s), {self.unchanged} unchanged"
                 + (f"; written to {self.out}" if self.out and not self.dry_run else "")]
        if self.triggers:
            lines.append("triggers: " + ", ".join(f"{k} -> {v}" for k, v in self.triggers.items()))
        if self.backup:
            lines.append(f"originals backed up in {self.backup}")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _listing(paths: list[Path], root: Path, n: int = 5) -> str:
    """The first `n` paths (relative to the dataset) for a one-line warning."""
    return ", ".join(_rel(p, root) for p in paths[:n]) + (" ..." if len(paths) > n else "")


def load_triggers(folder: str | os.PathLike) -> dict[str, str]:
    """The {concept folder: trigger} map saved by an earlier run ({} if none)."""
    p = Path(folder) / TRIGGERS_FILE
    if not p.is_file():
        return {}
    try:
        data = json.loads(p.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as e:
        raise DatasetError(f"{p}: not valid JSON ({e}) -> fix it or delete it to generate new ids") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise DatasetError(f"{p}: expected {{\"concept folder\": \"trigger\"}} -> fix it or delete it")
    return data


def _resolve_triggers(root: Path, opts: CleanOptions, concepts: list[str], out: Path | None = None) -> dict[str, str]:
    t = opts.trigger
    if isinstance(t, dict):
        unknown = sorted(set(t) - set(concepts))
        if unknown:
            raise DatasetError(f"trigger given for unknown concept folder(s) {unknown} -> use one of "
                               f"{sorted(set(concepts))}")
        return {c: t.get(c, "") for c in concepts}
    if t == "auto":  # Flux LoRA guide: one unique id per concept, kept across runs in triggers.json
        from .identifiers import assign_identifiers

        existing = {**(load_triggers(out) if out is not None and Path(out).is_dir() else {}), **load_triggers(root)}
        return assign_identifiers(concepts, tokenizer=opts.tokenizer, seed=opts.seed, existing=existing)
    return {c: t for c in concepts}


def _link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link (instant, no extra space) where the filesystem allows it, else copy."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def clean_folder(root: str | os.PathLike, opts: CleanOptions, out: str | os.PathLike | None = None,
                 in_place: bool = False, dry_run: bool = False, overwrite: bool = False,
                 ext: str = ".txt") -> CleanReport:
    """Clean every caption of a dataset and write the result to `out`, never over the originals.

    `out` receives the same folder layout: images hard-linked (or copied) and cleaned captions in
    UTF-8. `in_place=True` rewrites the captions inside `root` instead, after copying the
    originals of every file it changes to `root/.lora_nb_backup/`. `dry_run=True` writes nothing;
    the report's `diff()` shows what would change. Images without captions, caption files without
    images and captions emptied by the cleaning are listed in the report, not silently dropped.
    """
    from ..fileio import atomic_dir
    from ..textio import backup_files, read_caption_info, write_caption

    root = Path(root)
    if not dry_run and not in_place and out is None:
        raise DatasetError("no output given -> pass out=FOLDER (a new folder), in_place=True, or dry_run=True")
    if in_place and out is not None:
        raise DatasetError("both out and in_place given -> choose one")
    files, orphans, shared = scan_captions(root, ext)
    if not files:
        raise DatasetError(f"{root}: no images found -> put the images (with .txt captions) in this folder or in "
                           f"N_name concept folders")
    if out is not None and not dry_run:
        out = Path(out)
        r, o = root.resolve(), out.resolve()
        if o == r or r in o.parents or o in r.parents:
            raise DatasetError(f"output {out} overlaps the dataset {root} -> choose a folder outside it, or use "
                               f"in-place mode")
        if out.exists() and any(out.iterdir()) and not overwrite:
            raise DatasetError(f"output folder {out} already exists and is not empty -> choose another folder or "
                               f"allow overwriting it (--overwrite)")

    concepts = list(dict.fromkeys(f.concept for f in files))
    triggers = _resolve_triggers(root, opts, concepts, None if in_place else out)
    rep = CleanReport(root, None if dry_run else (root if in_place else Path(out)), dry_run,
                      orphan_captions=orphans, triggers={k: v for k, v in triggers.items() if v})
    for cap, imgs in shared.items():
        rep.warnings.append(f"{_rel(cap, root)} is the caption of {len(imgs)} images "
                            f"({', '.join(i.name for i in imgs)}) -> rename the images so each has its own")
    if orphans:
        rep.warnings.append(f"{len(orphans)} caption file(s) without an image, not carried over: "
                            f"{_listing(orphans, root)}")

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
        rep.warnings.append(f"{len(rep.missing_captions)} image(s) without a caption file, left without one: "
                            f"{_listing(rep.missing_captions, root)}")
    counts = None
    if opts.sort == "frequency":
        counts = Counter(_tag_key(t) for text, _ in originals.values() for t in split_tags(text))

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
        rep.warnings.append(f"{len(rep.emptied)} caption(s) are empty after cleaning: {_listing(rep.emptied, root)}")
    if opts.keep_tokens and any(rep.triggers.values()):
        late = [cap for cap, text in new_text.items() if triggers[concept_of[cap]]
                and not any(has_trigger(t, triggers[concept_of[cap]])
                            for t in split_tags(text)[:opts.keep_tokens])]
        if late:
            rep.warnings.append(f"{len(late)} caption(s) do not have the trigger within the first "
                                f"{opts.keep_tokens} tag(s) kept fixed when shuffling")
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
            _link_or_copy(f.image, dest_img)
            if f.caption in new_text:
                write_caption(tmp / f.caption.relative_to(root), new_text[f.caption])
        if rep.triggers:
            _save_triggers(tmp, triggers)
    return rep


def _save_triggers(folder: Path, triggers: dict[str, str]) -> None:
    from ..fileio import atomic_write_text

    data = {k: v for k, v in triggers.items() if v}
    atomic_write_text(folder / TRIGGERS_FILE, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------------------------
def tag_frequency(root: str | os.PathLike, ext: str = ".txt") -> dict[str, dict[str, int]]:
    """{concept folder name: {tag: count}} over the dataset's captions, as kohya's
    `ss_tag_frequency` metadata: tags are the comma-separated parts, stripped and lowercased.
    Images without a caption contribute nothing."""
    from ..textio import read_caption

    files, _, _ = scan_captions(Path(root), ext)
    out: dict[str, dict[str, int]] = {}
    done = set()
    for f in files:
        per = out.setdefault(f.concept, {})
        if f.caption in done or not f.caption.is_file():
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

    from ..errors import ModelLoadError

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
            return _listing(paths, self.root)

        w = []
        if self.missing_captions:
            w.append(f"{len(self.missing_captions)} image(s) have no caption file: {r(self.missing_captions)} "
                     f"-> caption them (lora-nb caption) or the trainer uses its missing_caption rule")
        if self.empty_captions:
            w.append(f"{len(self.empty_captions)} caption(s) are empty: {r(self.empty_captions)}")
        if self.orphan_captions:
            w.append(f"{len(self.orphan_captions)} caption file(s) have no image: {r(self.orphan_captions)} "
                     f"-> delete them or restore the images")
        if self.missing_trigger:
            w.append(f"{len(self.missing_trigger)} caption(s) lack the trigger: {r(self.missing_trigger)} "
                     f"-> lora-nb tags --trigger WORD")
        if self.too_long:
            w.append(f"{len(self.too_long)} caption(s) are longer than {self.max_tokens} CLIP tokens and will be "
                     f"cut off: {r(self.too_long)} -> shorten them or remove tags")
        for p, err in self.unreadable.items():
            w.append(err)
        for cap, imgs in self.shared_captions.items():
            w.append(f"{_rel(cap, self.root)} is shared by {len(imgs)} images -> give each image its own caption")
        if self.not_plain_utf8:
            w.append(f"{len(self.not_plain_utf8)} caption(s) are not plain one-line UTF-8 (read correctly; "
                     f"lora-nb tags rewrites them as UTF-8): {r(list(self.not_plain_utf8))}")
        return w

    def summary(self, top: int = 10) -> str:
        lines = [f"{self.images} image(s) in {len(self.frequency)} concept folder(s); "
                 f"{len(self.overall)} distinct tag(s)"]
        if self.token_lengths:
            lens = list(self.token_lengths.values())
            lines.append(f"caption length: {min(lens)}-{max(lens)} CLIP tokens (limit {self.max_tokens})")
        lines.append("top tags: " + ", ".join(f"{t} ({n})" for t, n in self.top(top)))
        lines += [f"warning: {w}" for w in self.warnings()]
        return "\n".join(lines)


def caption_stats(root: str | os.PathLike, trigger: str | dict[str, str] = "", tokenizer=None,
                  ext: str = ".txt", max_tokens: int = CLIP_MAX_TOKENS) -> CaptionStats:
    """Tag frequencies per concept and overall, captions missing/empty/orphaned/without the
    trigger, encodings that needed fixing, and, with a CLIP tokenizer (object, tokenizer folder
    or base model folder), each caption's length in tokens against the 77-token limit.

    `trigger` is one word or {concept folder: word}; by default the saved triggers.json is used.
    """
    from ..textio import read_caption_info

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
        t = trig.get(f.concept, "") if isinstance(trig, dict) else trig
        if t and not has_trigger(text, t):
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
    from matplotlib.figure import Figure

    if isinstance(stats, CaptionStats):
        items = stats.top(top, concept)
    else:
        items = Counter(stats).most_common(top)
    fig = Figure(figsize=(7, max(2.0, 0.28 * len(items) + 1)), layout="constrained")
    ax = fig.add_subplot()
    names = [t for t, _ in items][::-1]
    values = [n for _, n in items][::-1]
    ax.barh(names, values, color="#4c72b0")
    ax.set_xlabel("occurrences in captions")
    ax.set_title(title or (f"Top {len(items)} tags" + (f" in {concept}" if concept else "")))
    if not items:
        ax.text(0.5, 0.5, "no tags", ha="center", va="center", transform=ax.transAxes)
    ax.tick_params(axis="y", labelsize=8)
    return fig
