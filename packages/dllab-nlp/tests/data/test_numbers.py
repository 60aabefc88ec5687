"""Numbers in English and French words, and the number-split parallel corpus."""

from __future__ import annotations

import re

import pytest

from dllab.nlp.data.numbers import (
    MAX_NUMBER,
    english_number,
    french_number,
    make_number_pairs,
    number_sentence,
)
from dllab.nlp.vocab import tokenize

# French in the traditional spelling, checked by hand against a grammar (Grevisse's rules
# for vingt, cent, mille and "et un").
FRENCH = {
    0: "zéro",
    1: "un",
    10: "dix",
    11: "onze",
    16: "seize",
    17: "dix-sept",
    19: "dix-neuf",
    20: "vingt",
    21: "vingt et un",
    22: "vingt-deux",
    31: "trente et un",
    61: "soixante et un",
    69: "soixante-neuf",
    70: "soixante-dix",
    71: "soixante et onze",
    72: "soixante-douze",
    77: "soixante-dix-sept",
    80: "quatre-vingts",
    81: "quatre-vingt-un",
    90: "quatre-vingt-dix",
    91: "quatre-vingt-onze",
    99: "quatre-vingt-dix-neuf",
    100: "cent",
    101: "cent un",
    180: "cent quatre-vingts",
    200: "deux cents",
    201: "deux cent un",
    280: "deux cent quatre-vingts",
    342: "trois cent quarante-deux",
    1000: "mille",
    1001: "mille un",
    1080: "mille quatre-vingts",
    2000: "deux mille",
    2200: "deux mille deux cents",
    21000: "vingt et un mille",
    80000: "quatre-vingt mille",
    200000: "deux cent mille",
    71071: "soixante et onze mille soixante et onze",
    999999: "neuf cent quatre-vingt-dix-neuf mille neuf cent quatre-vingt-dix-neuf",
}
ENGLISH = {
    0: "zero",
    13: "thirteen",
    40: "forty",
    42: "forty-two",
    100: "one hundred",
    342: "three hundred forty-two",
    1000: "one thousand",
    1001: "one thousand one",
    21000: "twenty-one thousand",
    999999: "nine hundred ninety-nine thousand nine hundred ninety-nine",
}


@pytest.mark.parametrize(("n", "words"), sorted(FRENCH.items()))
def test_french_numbers_follow_the_irregular_forms(n, words):
    assert french_number(n) == words


@pytest.mark.parametrize(("n", "words"), sorted(ENGLISH.items()))
def test_english_numbers(n, words):
    assert english_number(n) == words


def test_every_number_in_range_is_spelled_without_gaps_or_doubled_spaces():
    seen = set()
    for n in range(0, MAX_NUMBER + 1, 37):
        for words in (english_number(n), french_number(n)):
            assert re.fullmatch(r"[a-zé]+(?:[ -][a-zé]+)*", words), words
        seen.add(french_number(n))
    assert len(seen) == len(range(0, MAX_NUMBER + 1, 37))  # no two numbers share a spelling


@pytest.mark.parametrize("bad", [-1, MAX_NUMBER + 1])
def test_numbers_out_of_range_are_refused(bad):
    with pytest.raises(ValueError, match="n must be"):
        french_number(bad)
    with pytest.raises(ValueError, match="n must be"):
        english_number(bad)
    with pytest.raises(TypeError, match="must be an int"):
        french_number(1.5)


def test_sentences_agree_in_number():
    assert number_sentence(1, 1, 0) == ("i have one book .", "j'ai un livre .")
    assert number_sentence(0, 1, 0) == ("i have zero books .", "j'ai zéro livre .")
    assert number_sentence(80, 4) == ("he is eighty years old .", "il a quatre-vingts ans .")


def test_the_split_is_by_number_and_no_held_out_number_appears_in_training():
    pairs = make_number_pairs(num_pairs=3000, seed=0, held_out=0.1)
    assert len(pairs["train"]) == 2700 and len(pairs["val"]) == 300
    spelled = {french_number(n): n for n in range(10_000)}

    def numbers(split):
        found = set()
        for _, fr in pairs[split]:
            # the longest run of words that spells a number is the sentence's number
            words = fr.split()
            candidates = [
                " ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words))
            ]
            found.add(spelled[max((c for c in candidates if c in spelled), key=len)])
        return found

    train, val = numbers("train"), numbers("val")
    assert train and val and not train & val
    assert len(val) == 300  # each held-out number once before any repeats


def test_the_corpus_is_seeded_and_fits_sixteen_steps():
    first, again = make_number_pairs(seed=3), make_number_pairs(seed=3)
    assert first == again and first != make_number_pairs(seed=4)
    assert len(first["train"]) == 9000 and len(first["val"]) == 1000
    every = first["train"] + first["val"]
    assert max(len(tokenize(fr)) for _, fr in every) + 1 <= 16  # + <eos>
    assert max(len(tokenize(en)) for en, _ in every) + 1 <= 16
    assert len({template.split()[0] for template, _ in every}) >= 4  # several templates


def test_held_out_words_are_all_seen_in_training():
    """Word tokens split hyphens, so an unseen compound ("soixante-dix-sept") is made of
    seen words: every validation token is in the training vocabulary."""
    pairs = make_number_pairs(seed=0)
    for side in (0, 1):
        train_tokens = {t for pair in pairs["train"] for t in tokenize(pair[side])}
        val_tokens = {t for pair in pairs["val"] for t in tokenize(pair[side])}
        assert val_tokens <= train_tokens


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"held_out": 0.0}, "held_out"),
        ({"held_out": 1.0}, "held_out"),
        ({"num_pairs": 1}, "num_pairs"),
        ({"max_number": MAX_NUMBER + 1}, "max_number"),
    ],
)
def test_bad_corpus_settings_are_refused(kwargs, error):
    with pytest.raises(ValueError, match=error):
        make_number_pairs(**kwargs)
