"""Synthetic reviews: seeded, balanced, built as documented, and a negation split that defeats
a bag of words while word order solves it."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from dllab.nlp.data.reviews import (
    NEGATIVE,
    POSITIVE,
    make_negation_reviews,
    make_reviews,
    pretraining_paragraphs,
)
from dllab.nlp.vocab import tokenize


def test_reviews_are_seeded_balanced_short_and_use_a_small_vocabulary():
    texts, labels = make_reviews(2000, seed=3)
    assert (texts, labels) == make_reviews(2000, seed=3)
    assert texts != make_reviews(2000, seed=4)[0]
    assert sum(labels) == 1000
    tokens = [tokenize(t) for t in texts]
    assert max(map(len, tokens)) <= 40  # fits max_len 48 even with <cls>/<sep>
    assert 100 < len({w for ts in tokens for w in ts}) < 400


def test_reviews_hold_intensifiers_contrast_negation_and_filler():
    texts, labels = make_reviews(1000, seed=0)
    joined = " ".join(texts)
    for marker in (" very ", " but ", " not ", " never ", " i did not ", "rainy"):
        assert marker in joined, marker
    # a plain one-clause review's adjective has the label's polarity
    for text, label in zip(texts, labels, strict=True):
        words = tokenize(text)
        if len(words) == 4 and words[0] in ("the", "this"):
            assert words[2] in (POSITIVE if label else NEGATIVE)


def test_the_clause_after_but_decides():
    texts, labels = make_reviews(3000, seed=1)
    checked = 0
    for text, label in zip(texts, labels, strict=True):
        sentences = text.split(" . ")
        for sentence in sentences:
            words = sentence.strip(" .").split()
            if "but" in words and "not" not in words and "never" not in words:
                after = words[-1]
                assert after in (POSITIVE if label else NEGATIVE), text
                checked += 1
    assert checked > 50


def test_negation_flips_polarity_in_the_negation_split():
    texts, labels = make_negation_reviews(500, seed=0)
    for text, label in zip(texts, labels, strict=True):
        words = tokenize(text)
        negator = next(i for i, w in enumerate(words) if w in ("not", "never"))
        negated = next(w for w in words[negator:] if w in POSITIVE or w in NEGATIVE)
        assert (negated in NEGATIVE) == bool(label), text
        # one positive and one negative adjective, whatever the label
        assert sum(w in POSITIVE for w in words) == 1 and sum(w in NEGATIVE for w in words) == 1


def test_every_word_is_equally_common_in_both_labels_of_the_negation_split():
    texts, labels = make_negation_reviews(8000, seed=5)
    counts = {0: Counter(), 1: Counter()}
    for text, label in zip(texts, labels, strict=True):
        counts[label].update(set(tokenize(text)))
    for word in ("not", "never", "superb", "dull", "good", "boring"):
        pos, neg = counts[1][word], counts[0][word]
        assert abs(pos - neg) / (pos + neg) < 0.15, (word, pos, neg)


def _ngrams(text: str, n: int) -> set[str]:
    words = tokenize(text)
    return {" ".join(words[i : i + k]) for k in range(1, n + 1) for i in range(len(words) - k + 1)}


def _naive_bayes_accuracy(train, y_train, test, y_test, n: int) -> float:
    """Multinomial naive Bayes (add-one smoothing) over word n-grams up to ``n``."""
    counts = {0: Counter(), 1: Counter()}
    for text, label in zip(train, y_train, strict=True):
        counts[label].update(_ngrams(text, n))
    known = set(counts[0]) | set(counts[1])
    totals = {c: sum(counts[c].values()) + len(known) for c in (0, 1)}
    right = 0
    for text, label in zip(test, y_test, strict=True):
        grams = _ngrams(text, n) & known
        score = sum(
            math.log((counts[1][g] + 1) / totals[1]) - math.log((counts[0][g] + 1) / totals[0])
            for g in grams
        )
        right += (score > 0) == bool(label)
    return right / len(test)


def test_bag_of_words_is_near_chance_on_the_negation_split_but_word_order_solves_it():
    train, y_train = make_reviews(2000, seed=0)
    negation, y_negation = make_negation_reviews(600, seed=1)
    bag = _naive_bayes_accuracy(train, y_train, negation, y_negation, n=1)
    ordered = _naive_bayes_accuracy(train, y_train, negation, y_negation, n=3)
    print(f"naive Bayes on the negation split: words {bag:.3f}, up to trigrams {ordered:.3f}")
    assert 0.4 <= bag <= 0.6
    assert ordered >= 0.85


@pytest.mark.slow
def test_bag_of_words_logistic_regression_is_near_chance_on_the_negation_split():
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    train, y_train = make_reviews(2000, seed=0)
    negation, y_negation = make_negation_reviews(600, seed=1)

    def fitted(ngrams: tuple[int, int]) -> float:
        words = CountVectorizer(ngram_range=ngrams, token_pattern=r"[^ ]+")
        model = LogisticRegression(max_iter=1000).fit(words.fit_transform(train), y_train)
        return model.score(words.transform(negation), y_negation)

    bag, ordered = fitted((1, 1)), fitted((1, 3))
    own_bag = CountVectorizer(token_pattern=r"[^ ]+").fit_transform(negation)
    within = cross_val_score(LogisticRegression(max_iter=1000), own_bag, y_negation, cv=3).mean()
    print(f"logistic regression on the negation split: words {bag:.3f} (trained on reviews), "
          f"{within:.3f} (cross-validated on the split itself); up to trigrams {ordered:.3f}")  # fmt: skip
    assert 0.4 <= bag <= 0.6 and 0.4 <= within <= 0.6
    assert ordered >= 0.85


def test_pretraining_paragraphs_have_several_sentences_of_one_polarity():
    paragraphs = pretraining_paragraphs(200, seed=0)
    assert paragraphs == pretraining_paragraphs(200, seed=0) and len(paragraphs) == 200
    assert all(3 <= len(p) <= 5 and all(s.strip() for s in p) for p in paragraphs)
    assert all(p[0].startswith("i watched a") for p in paragraphs)


@pytest.mark.parametrize("make", [make_reviews, make_negation_reviews, pretraining_paragraphs])
def test_bad_sizes_and_seeds_are_refused(make):
    with pytest.raises(ValueError, match="n must be >= 1"):
        make(0)
    with pytest.raises(TypeError, match="seed must be an int"):
        make(4, seed=1.5)
