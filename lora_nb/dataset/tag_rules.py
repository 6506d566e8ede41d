"""Caption rules as pure text functions: split and join tags, normalise, add the trigger, remove,
replace, dedupe and sort. Each takes a caption string and returns a new one; `clean.clean_caption`
chains them and `clean.clean_folder` applies them to a dataset.

The rules come from the tutorials: every caption carries the trigger (FluxTrainer walkthrough §6), a unique id per
concept (Flux LoRA guide), and the features the LoRA should learn are *removed* from the captions so
they are baked into the trigger (FluxTrainer walkthrough §6; LoRA explainer: delete "black hair" to always get black
hair). Earlier tags weigh more (Kohya practice guide, LoRA explainer), so `keep_tokens` holds the trigger in front
while the rest may be shuffled at training time.

Both comma-separated tags ("1girl, black hair, smile") and natural-language captions ("A girl
with black hair smiles.") are handled: tag operations work on whole tags, text operations on
whole words/phrases; sorting applies to tag captions only.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping

from ..errors import DatasetError

_SPLIT = re.compile(r"\s*[,，]\s*")  # ASCII and full-width commas both separate tags
# a sentence ends after a word: "A cat." is prose, the danbooru tag "!?" is not
_SENTENCE_END = re.compile(r"(?<=[^\W\d_])[.!?。！？](\s|$)")
# WD14 kaomoji tags whose underscores are part of the face (kohya's tagger keeps them too).
KAOMOJI = frozenset({"0_0", "(o)_(o)", "+_+", "+_-", "._.", "<o>_<o>", "<|>_<|>", "=_=", ">_<", "3_3", "6_9",
                     ">_o", "@_@", "^_^", "o_o", "u_u", "x_x", "|_|", "||_||"})


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


def caption_style(caption: str, style: str) -> str:
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
    if caption_style(caption, style) == "tags":
        return join_tags(normalize_tag(t, underscores, lowercase) for t in split_tags(caption))
    text = tidy_text(caption)
    if underscores:
        text = " ".join(w if w in KAOMOJI else w.replace("_", " ") for w in text.split())
    return text.lower() if lowercase else text


def tidy_text(text: str) -> str:
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


def tag_key(tag: str) -> str:
    """Tags compare case-insensitively, with '_' and ' ' the same (long_hair == Long Hair)."""
    return tag if tag in KAOMOJI else " ".join(tag.replace("_", " ").split()).lower()


def _matches(tag: str, pattern: str) -> bool:
    key, pat = tag_key(tag), tag_key(pattern)
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
    if caption_style(caption, style) == "tags":
        rest = [t for t in split_tags(caption) if tag_key(t) != tag_key(trigger)]
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
    keep_keys = {tag_key(k) for k in keep if k}
    if caption_style(caption, style) == "tags":
        return join_tags(t for t in split_tags(caption)
                         if tag_key(t) in keep_keys or not any(_matches(t, p) for p in patterns))
    text = caption
    for p in patterns:
        if any(c in p for c in "*?[") or tag_key(p) in keep_keys:
            continue  # wildcards would eat arbitrary words of a sentence
        text = _phrase_re(p).sub("", text)
    return tidy_text(text)


def replace_tags(caption: str, mapping: Mapping[str, str], style: str = "auto") -> str:
    """Rename tags (tag lists) or phrases (prose): {'old': 'new'}; an empty 'new' removes."""
    if not mapping:
        return caption
    if caption_style(caption, style) == "tags":
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
    return tidy_text(text)


def dedupe_tags(caption: str) -> str:
    """Keep the first of repeated comma-separated tags/clauses (case and '_' ignored)."""
    seen, out = set(), []
    for t in split_tags(caption):
        k = tag_key(t)
        if k not in seen:
            seen.add(k)
            out.append(t)
    return join_tags(out)


def sort_tags(caption: str, keep_tokens: int = 0, counts: Mapping[str, int] | None = None,
              style: str = "auto") -> str:
    """Sort the tags after the first `keep_tokens`: alphabetically, or most frequent first when
    dataset-wide `counts` are given. Prose is returned unchanged (sorting words breaks sentences).
    """
    if caption_style(caption, style) != "tags":
        return caption
    tags = split_tags(caption)
    head, tail = tags[:keep_tokens], tags[keep_tokens:]
    if counts is None:
        tail.sort(key=tag_key)
    else:
        tail.sort(key=lambda t: (-counts.get(tag_key(t), 0), tag_key(t)))
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
