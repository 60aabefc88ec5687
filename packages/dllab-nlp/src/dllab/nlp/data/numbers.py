"""The embedded translation corpus: numbers written in English words, paired with French.

``english_number(342)`` is ``"three hundred forty-two"`` and ``french_number(342)`` is
``"trois cent quarante-deux"``, for every ``n`` in ``0 .. MAX_NUMBER`` (999,999). French is
written in the traditional spelling, with its irregular forms:

- 17-19 and 70-79, 90-99 count on from ten: ``dix-sept``, ``soixante-dix``,
  ``soixante et onze``, ``quatre-vingt-dix-neuf``;
- ``et un`` joins the one of 21, 31, ..., 61 and ``onze`` of 71 (``vingt et un``), but not of
  81 or 91 (``quatre-vingt-un``, ``quatre-vingt-onze``);
- ``vingt`` and ``cent`` take an ``s`` when multiplied and nothing follows them
  (``quatre-vingts``, ``deux cents``) but not before another number or ``mille``
  (``quatre-vingt-un``, ``deux cent un``, ``deux cent mille``);
- ``mille`` never takes an ``s`` and never follows ``un`` (``mille``, ``deux mille``).

``make_number_pairs`` embeds the numbers in a few short sentence templates ("i have forty-two
books ." -> "j'ai quarante-deux livres .") and splits them by the number itself: a held-out
number never appears in a training pair, so the validation BLEU measures translating numbers
never seen whole, from their parts.
"""

from __future__ import annotations

import random

from dllab.core.checks import check_float, check_int, check_positive_int

MAX_NUMBER = 999_999
"""The largest number ``english_number`` and ``french_number`` spell."""
DEFAULT_MAX_NUMBER = 9_999
"""The numbers of the default corpus are ``0 .. DEFAULT_MAX_NUMBER``: every French sentence
then fits in 16 word tokens, ``<eos>`` included (``num_steps=16``)."""

_EN_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_EN_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_FR_ONES = [
    "zéro",
    "un",
    "deux",
    "trois",
    "quatre",
    "cinq",
    "six",
    "sept",
    "huit",
    "neuf",
    "dix",
    "onze",
    "douze",
    "treize",
    "quatorze",
    "quinze",
    "seize",
]
_FR_TENS = {2: "vingt", 3: "trente", 4: "quarante", 5: "cinquante", 6: "soixante"}

# (english, french) templates; {n} is the number, {noun} a masculine noun (so "un", never "une")
_TEMPLATES = (
    ("{n} .", "{n} ."),
    ("i have {n} {noun} .", "j'ai {n} {noun} ."),
    ("here are {n} {noun} .", "voici {n} {noun} ."),
    ("we see {n} {noun} .", "nous voyons {n} {noun} ."),
    ("he is {n} {years} old .", "il a {n} {ans} ."),
)
# (english singular, english plural, french singular, french plural)
_NOUNS = (
    ("book", "books", "livre", "livres"),
    ("cat", "cats", "chat", "chats"),
    ("dog", "dogs", "chien", "chiens"),
    ("tree", "trees", "arbre", "arbres"),
)


def _check_number(n: int) -> int:
    return check_int(n, "n", min=0, max=MAX_NUMBER)


def _english_below_1000(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    parts = [f"{_EN_ONES[hundreds]} hundred"] if hundreds else []
    if rest or not hundreds:
        tens, ones = divmod(rest, 10)
        if rest < 20:
            parts.append(_EN_ONES[rest])
        else:
            parts.append(_EN_TENS[tens] + (f"-{_EN_ONES[ones]}" if ones else ""))
    return " ".join(parts)


def english_number(n: int) -> str:
    """``n`` (0 .. 999,999) in American English words: ``"three hundred forty-two"``."""
    n = _check_number(n)
    thousands, rest = divmod(n, 1000)
    parts = [f"{_english_below_1000(thousands)} thousand"] if thousands else []
    if rest or not thousands:
        parts.append(_english_below_1000(rest))
    return " ".join(parts)


def _french_below_100(n: int, final: bool) -> str:
    """1 .. 99; ``final``: nothing follows, so 80 is ``quatre-vingts``."""
    if n <= 16:
        return _FR_ONES[n]
    if n < 20:
        return f"dix-{_FR_ONES[n - 10]}"
    tens, ones = divmod(n, 10)
    if tens in (7, 9):  # sixty-ten and four-twenty-ten: count on from 60 or 80 with 10 .. 19
        base, rest = ("soixante", n - 60) if tens == 7 else ("quatre-vingt", n - 80)
        if n == 71:
            return "soixante et onze"
        return f"{base}-{_french_below_100(rest, final)}"
    if tens == 8:
        if ones == 0:
            return "quatre-vingts" if final else "quatre-vingt"
        return f"quatre-vingt-{_FR_ONES[ones]}"
    if ones == 0:
        return _FR_TENS[tens]
    if ones == 1:
        return f"{_FR_TENS[tens]} et un"
    return f"{_FR_TENS[tens]}-{_FR_ONES[ones]}"


def _french_below_1000(n: int, final: bool) -> str:
    """1 .. 999; ``final``: nothing follows (``mille`` does follow the thousands)."""
    hundreds, rest = divmod(n, 100)
    parts = []
    if hundreds == 1:
        parts.append("cent")
    elif hundreds:
        parts.append(f"{_FR_ONES[hundreds]} {'cents' if final and not rest else 'cent'}")
    if rest:
        parts.append(_french_below_100(rest, final))
    return " ".join(parts)


def french_number(n: int) -> str:
    """``n`` (0 .. 999,999) in French words: ``"trois cent quarante-deux"``, ``"quatre-vingts"``."""
    n = _check_number(n)
    if n == 0:
        return _FR_ONES[0]
    thousands, rest = divmod(n, 1000)
    parts = []
    if thousands == 1:
        parts.append("mille")
    elif thousands:
        parts.append(f"{_french_below_1000(thousands, final=False)} mille")
    if rest:
        parts.append(_french_below_1000(rest, final=True))
    return " ".join(parts)


def number_sentence(n: int, template: int = 0, noun: int = 0) -> tuple[str, str]:
    """The English and French sentence of template ``template`` around ``n`` and ``noun``.

    Nouns agree with the number: singular for one (and for zero in French), plural otherwise.
    """
    template = check_int(template, "template", min=0, max=len(_TEMPLATES) - 1)
    noun = check_int(noun, "noun", min=0, max=len(_NOUNS) - 1)
    en_one, en_many, fr_one, fr_many = _NOUNS[noun]
    en_template, fr_template = _TEMPLATES[template]
    en = en_template.format(
        n=english_number(n),
        noun=en_one if n == 1 else en_many,
        years="year" if n == 1 else "years",
    )
    fr = fr_template.format(
        n=french_number(n), noun=fr_one if n <= 1 else fr_many, ans="an" if n <= 1 else "ans"
    )
    return en, fr


def make_number_pairs(
    num_pairs: int | None = None,
    seed: int = 0,
    held_out: float = 0.1,
    max_number: int = DEFAULT_MAX_NUMBER,
) -> dict[str, list[tuple[str, str]]]:
    """Seeded (English, French) sentence pairs about numbers, split by the number.

    The numbers ``0 .. max_number`` are shuffled with ``seed``; the first ``held_out`` share of
    them are the validation numbers, the rest the training numbers. Each pair puts one number
    in a seeded template with a seeded noun, so no validation number appears in any training
    sentence.

    Args:
        num_pairs: pairs in all (``held_out`` of them for validation); ``None`` gives one pair
            per number. More pairs than numbers reuse numbers in other sentences.
        seed: seed of the split, the order and the templates.
        held_out: share of the numbers (and of the pairs) held out for validation.
        max_number: the largest number (at most ``MAX_NUMBER``).

    Returns:
        ``{"train": [...], "val": [...]}``, lists of ``(english, french)`` pairs.
    """
    seed = check_int(seed, "seed")
    held_out = check_float(held_out, "held_out", min=0.0, max=1.0, min_open=True, max_open=True)
    max_number = check_int(max_number, "max_number", min=1, max=MAX_NUMBER)
    total = max_number + 1
    num_pairs = total if num_pairs is None else check_int(num_pairs, "num_pairs", min=2)
    numbers = list(range(total))
    rng = random.Random(seed)
    rng.shuffle(numbers)
    n_val_numbers = min(max(1, round(total * held_out)), total - 1)
    pools = {"val": numbers[:n_val_numbers], "train": numbers[n_val_numbers:]}
    n_val = min(max(1, round(num_pairs * held_out)), num_pairs - 1)
    sizes = {"train": num_pairs - n_val, "val": n_val}
    splits: dict[str, list[tuple[str, str]]] = {}
    for split in ("train", "val"):
        pool, size = pools[split], check_positive_int(sizes[split], f"{split} pairs")
        chosen = [pool[i % len(pool)] for i in range(size)]  # each number once before repeats
        splits[split] = [
            number_sentence(n, rng.randrange(len(_TEMPLATES)), rng.randrange(len(_NOUNS)))
            for n in chosen
        ]
    return splits
