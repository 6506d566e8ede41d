"""Unique 10-letter identifiers (Flux LoRA guide) that are new to the text encoder."""

import pytest

from lora_nb.dataset.identifiers import WORDS, assign_identifiers, identifier_problems, unique_identifiers


class FakeTokenizer:
    """Knows a few strings as single tokens, splits everything else into letter pairs."""

    def __init__(self, known):
        self.known = set(known)

    def tokenize(self, text):
        if text in self.known:
            return [text + "</w>"]
        return [text[i:i + 2] for i in range(0, len(text), 2)]


@pytest.fixture(scope="module")
def clip_tok(tmp_path_factory):
    from lora_nb.toy.testing import build_tiny_clip_tokenizer

    return build_tiny_clip_tokenizer(tmp_path_factory.mktemp("tok"))


def test_ids_are_ten_distinct_lowercase_letters():
    ids = unique_identifiers(20, seed=0)
    assert len(set(ids)) == 20
    assert all(len(i) == 10 and i.isalpha() and i.islower() and i.isascii() for i in ids)


def test_seed_makes_ids_reproducible():
    assert unique_identifiers(3, seed=42) == unique_identifiers(3, seed=42)
    assert unique_identifiers(3, seed=42) != unique_identifiers(3, seed=43)


def test_ids_contain_no_word_from_the_list():
    for i in unique_identifiers(200, seed=1):
        assert not any(w in i for w in WORDS if len(w) >= 4), i


def test_word_checks():
    assert identifier_problems("uehxbfklaq") == []  # Flux LoRA guide's example
    assert "contains the word 'black'" in identifier_problems("xqblackzvq")
    assert identifier_problems("flower") == ["'flower' is an English word"]
    assert identifier_problems("abc-defghi") == ["use only the letters a-z"]


def test_tokenizer_single_token_and_long_pieces_are_rejected():
    tok = FakeTokenizer({"qwzxkvjpmr"})
    assert any("1 piece" in p for p in identifier_problems("qwzxkvjpmr", tok))
    assert identifier_problems("qwzxkvjpmt", tok) == []  # five 2-letter pieces: new to the encoder

    class LongPieces:
        def tokenize(self, text):
            return ["▁qw", "zxkv", "jpmrt"]

    assert any("known token 'jpmrt'" in p for p in identifier_problems("qwzxkvjpmr", LongPieces()))

    class WordPiece:
        def tokenize(self, text):
            return ["qw", "##sky", "##jpmr"]

    assert any("'sky', an English word" in p for p in identifier_problems("qwskyjpmrq", WordPiece()))


def test_generator_skips_what_the_tokenizer_knows():
    class Picky:
        """Knows every id starting with a-m as one token."""

        def tokenize(self, text):
            return [text] if text[0] <= "m" else list(text)

    ids = unique_identifiers(30, tokenizer=Picky(), seed=3)
    assert all(i[0] > "m" for i in ids)


def test_with_a_real_clip_tokenizer(clip_tok):
    ids = unique_identifiers(10, tokenizer=clip_tok, seed=5)
    for i in ids:
        assert len(clip_tok.tokenize(i)) >= 3
        assert identifier_problems(i, clip_tok) == []
    # a word the tiny CLIP vocabulary learned is one or two pieces -> rejected
    assert identifier_problems("background", clip_tok)
    assert len(clip_tok.tokenize("background")) < 3


def test_avoid_and_errors():
    first = unique_identifiers(1, seed=7)[0]
    assert first not in unique_identifiers(5, seed=7, avoid=[first])
    with pytest.raises(ValueError):
        unique_identifiers(1, length=4)
    assert unique_identifiers(0) == []


def test_one_id_per_concept_and_existing_ids_kept():
    ids = assign_identifiers(["10_cat", "5_dog", "10_cat"], seed=0)
    assert list(ids) == ["10_cat", "5_dog"] and ids["10_cat"] != ids["5_dog"]
    again = assign_identifiers(["10_cat", "5_dog", "3_bird"], seed=99, existing={"10_cat": ids["10_cat"]})
    assert again["10_cat"] == ids["10_cat"]
    assert len(set(again.values())) == 3
