"""Synthetic movie reviews: the embedded, seeded sentiment dataset and BERT's pretraining text.

Reviews are built from a few hundred words, one to three short sentences each:

- sentiment clauses: ``the plot was very dull`` (an aspect, an optional intensifier, an
  adjective of the review's polarity);
- negation that flips polarity: ``the ending was not good`` and ``the film was never boring``
  carry the opposite adjective, as do ``i did not like it`` and ``i would not recommend it``;
- contrast: ``the plot was dull but the acting was superb``: the clause after ``but`` decides;
- neutral filler: ``my sister picked it on a rainy sunday``.

``make_negation_reviews`` is the stress test. Each of its reviews holds one negated and one
plain clause, ``the plot was not dull and the acting was superb`` (positive) against ``the plot
was not superb and the acting was dull`` (negative), so every review has exactly one positive
and one negative adjective and a negator, whatever its label. A bag of words carries no
signal there (its accuracy is chance); only word order (``not dull``) tells the labels apart.
The same construction appears among ``make_reviews``'s sentences, so a model can learn it.

``pretraining_paragraphs`` strings sentences of one polarity and one genre into paragraphs,
so BERT's next-sentence task has something to find (a random sentence usually belongs to
another genre or polarity).
"""

from __future__ import annotations

import random

from dllab.core.checks import check_int

POSITIVE = (
    "good", "great", "superb", "excellent", "wonderful", "brilliant", "delightful", "charming",
    "gripping", "moving", "clever", "fresh", "stunning", "beautiful", "funny", "thrilling",
    "solid", "engaging", "memorable", "touching",
)  # fmt: skip
NEGATIVE = (
    "bad", "awful", "dull", "boring", "terrible", "weak", "poor", "tedious", "bland", "clumsy",
    "messy", "silly", "predictable", "lifeless", "forgettable", "painful", "flat", "sloppy",
    "shallow", "annoying",
)  # fmt: skip
ASPECTS = (
    "the plot", "the acting", "the script", "the music", "the ending", "the cast",
    "the dialogue", "the pacing", "the direction", "the visuals", "the story", "the characters",
    "the humor", "the editing", "the film", "the movie", "this film", "this movie",
)  # fmt: skip
INTENSIFIERS = ("very", "really", "truly", "quite", "extremely", "so", "rather", "pretty")
NEGATORS = ("not", "never")
VERBS = {1: ("liked", "loved", "enjoyed", "adored"), 0: ("hated", "disliked")}
NEGATED_VERBS = {1: ("hate", "dislike"), 0: ("like", "love", "enjoy")}  # "i did not <verb> it"
RECOMMEND = {1: "i would recommend it", 0: "i would not recommend it"}
_FILLERS = (
    "i watched it on a {day}",
    "my {person} picked it on a rainy {day}",
    "it runs about {number} hours",
    "i saw it at the {place} with my {person}",
    "the {place} was half empty",
    "it came out {number} years ago",
    "i went in knowing nothing about it",
    "we had popcorn and a drink",
    "it is based on a novel by a {place} owner",
    "my {person} had already seen it {number} times",
)
_SLOTS = {
    "day": ("monday", "tuesday", "friday", "saturday", "sunday", "holiday"),
    "person": ("sister", "brother", "friend", "cousin", "neighbour", "roommate", "father"),
    "number": ("two", "three", "four", "five"),
    "place": ("cinema", "festival", "theater", "library", "airport", "hotel"),
}
GENRES = {
    "horror": ("ghosts", "monsters", "screams", "shadows"),
    "comedy": ("jokes", "gags", "pranks", "punchlines"),
    "action": ("fights", "chases", "explosions", "stunts"),
    "romance": ("kisses", "dates", "letters", "weddings"),
    "western": ("horses", "cowboys", "duels", "saloons"),
    "science fiction": ("robots", "spaceships", "aliens", "lasers"),
}


def _adjective(rng: random.Random, polarity: int) -> str:
    return rng.choice(POSITIVE if polarity else NEGATIVE)


def _subject(rng: random.Random, subject: str | None) -> str:
    """``the plot was`` or ``the characters were``."""
    subject = subject or rng.choice(ASPECTS)
    verbs = ("were", "are") if subject.endswith("s") else ("was", "is")
    return f"{subject} {rng.choice(verbs)}"


def _plain(rng: random.Random, polarity: int, subject: str | None = None) -> str:
    """``the plot was (very) superb``: the adjective has the clause's polarity."""
    intensifier = f"{rng.choice(INTENSIFIERS)} " if rng.random() < 0.3 else ""
    return f"{_subject(rng, subject)} {intensifier}{_adjective(rng, polarity)}"


def _negated(rng: random.Random, polarity: int, subject: str | None = None) -> str:
    """``the plot was not (very) dull``: a negator before the opposite adjective."""
    negator = rng.choice(NEGATORS)
    intensifier = f"{rng.choice(INTENSIFIERS)} " if negator == "not" and rng.random() < 0.2 else ""
    adjective = _adjective(rng, 1 - polarity)
    return f"{_subject(rng, subject)} {negator} {intensifier}{adjective}"


def _verb(rng: random.Random, polarity: int) -> str:
    """``i loved it``, ``i did not like it``, ``i would not recommend it``."""
    form = rng.random()
    if form < 0.4:
        adverb = "really " if rng.random() < 0.3 else ""
        return f"i {adverb}{rng.choice(VERBS[polarity])} it"
    if form < 0.75:
        return f"i did not {rng.choice(NEGATED_VERBS[polarity])} it"
    return RECOMMEND[polarity]


def _clause(rng: random.Random, polarity: int, subject: str | None = None) -> str:
    return (_negated if rng.random() < 0.35 else _plain)(rng, polarity, subject)


def _sentiment_sentence(rng: random.Random, polarity: int) -> str:
    kind = rng.random()
    if kind < 0.45:
        return _plain(rng, polarity)
    if kind < 0.6:
        return _negated(rng, polarity)
    if kind < 0.7:
        return _verb(rng, polarity)
    if kind < 0.8:
        return f"{_clause(rng, 1 - polarity)} but {_clause(rng, polarity)}"  # contrast
    return _negation_pair(rng, polarity) if rng.random() < 0.5 else _double(rng, polarity)


def _double(rng: random.Random, polarity: int) -> str:
    return f"{_clause(rng, polarity)} and {_clause(rng, polarity)}"


def _negation_pair(rng: random.Random, polarity: int) -> str:
    """One negated and one plain clause: one positive and one negative adjective either way."""
    clauses = [_negated(rng, polarity), _plain(rng, polarity)]
    rng.shuffle(clauses)
    return " and ".join(clauses)


def _filler(rng: random.Random) -> str:
    template = rng.choice(_FILLERS)
    return template.format(**{slot: rng.choice(words) for slot, words in _SLOTS.items()})


def _review(rng: random.Random, polarity: int, negation_only: bool = False) -> str:
    if negation_only:
        sentences = [_negation_pair(rng, polarity)]
    else:
        sentences = [_sentiment_sentence(rng, polarity) for _ in range(rng.choice((1, 1, 2)))]
    if rng.random() < 0.5:
        sentences.insert(rng.randrange(len(sentences) + 1), _filler(rng))
    return " ".join(f"{sentence} ." for sentence in sentences)


def _labels(n: int, seed: int, name: str) -> tuple[random.Random, list[int]]:
    n = check_int(n, name, min=1)
    rng = random.Random(check_int(seed, "seed"))
    labels = [i % 2 for i in range(n)]  # balanced, then shuffled
    rng.shuffle(labels)
    return rng, labels


def make_reviews(n: int, seed: int = 0) -> tuple[list[str], list[int]]:
    """``n`` synthetic reviews and labels (1 = positive, 0 = negative), balanced and seeded."""
    rng, labels = _labels(n, seed, "n")
    return [_review(rng, label) for label in labels], labels


def make_negation_reviews(n: int, seed: int = 0) -> tuple[list[str], list[int]]:
    """``n`` reviews a bag of words cannot classify: one negated and one plain clause each."""
    rng, labels = _labels(n, seed, "n")
    return [_review(rng, label, negation_only=True) for label in labels], labels


def pretraining_paragraphs(n: int, seed: int = 0) -> list[list[str]]:
    """``n`` paragraphs of 3 to 5 sentences, each paragraph of one genre and one polarity."""
    n = check_int(n, "n", min=1)
    rng = random.Random(check_int(seed, "seed"))
    paragraphs = []
    for _ in range(n):
        genre = rng.choice(list(GENRES))
        polarity = rng.randrange(2)
        article = "an" if genre[0] in "aeiou" else "a"
        sentences = [f"i watched {article} {genre} film"]
        for _ in range(rng.randint(2, 4)):
            kind = rng.random()
            if kind < 0.35:
                sentences.append(_clause(rng, polarity, f"the {rng.choice(GENRES[genre])}"))
            elif kind < 0.85:
                sentences.append(_sentiment_sentence(rng, polarity))
            else:
                sentences.append(_filler(rng))
        paragraphs.append(sentences)
    return paragraphs
