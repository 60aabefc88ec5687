"""A word-level vocabulary (d2l's ``Vocab``) and the ``WordTokenizer`` built on it.

``tokenize`` lowercases, turns IMDb's ``<br />`` line breaks into spaces and splits words and
punctuation with one regular expression. ``Vocab`` maps tokens to ids and back: the seven
special tokens of ``dllab.nlp.special`` first (``<pad>`` = 0, ``<bos>`` = 1, ``<eos>`` = 2,
``<unk>``, ``<cls>``, ``<sep>``, ``<mask>``), then reserved tokens, then every token seen at
least ``min_freq`` times, most frequent first (ties alphabetical, so a build is deterministic).
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import overload

from torch import Tensor

from dllab.core.checks import check_int, check_positive_int
from dllab.core.runs import atomic_write_text
from dllab.nlp.encoding import (
    Encoding,
    check_max_len,
    check_outcome,
    check_pairs,
    check_texts,
    pack,
    pack_pairs,
)
from dllab.nlp.special import SPECIAL_TOKENS, UNK_ID

_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TOKEN = re.compile(r"\w+(?:'\w+)?|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lowercase words (with inner apostrophes) and punctuation marks; ``<br />`` is a space."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _TOKEN.findall(_BREAK.sub(" ", text).lower())


class Vocab:
    """Token <-> id lookups; unknown tokens map to ``<unk>``.

    Build one with ``Vocab.build``; ``Vocab(tokens)`` takes the full id-ordered token list,
    which must start with ``SPECIAL_TOKENS``.
    """

    def __init__(self, tokens: Sequence[str]) -> None:
        tokens = list(tokens)
        if tuple(tokens[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            raise ValueError(f"a Vocab must start with the special tokens {SPECIAL_TOKENS}")
        if len(set(tokens)) != len(tokens):
            repeated = [t for t, c in Counter(tokens).items() if c > 1][:5]
            raise ValueError(f"a Vocab's tokens must be unique; repeated: {repeated}")
        self.idx_to_token = tokens
        self.token_to_idx = {token: i for i, token in enumerate(tokens)}

    @classmethod
    def build(
        cls,
        token_lists: Iterable[Sequence[str]],
        min_freq: int = 1,
        reserved: Sequence[str] = (),
        max_size: int | None = None,
    ) -> Vocab:
        """Count tokens over ``token_lists`` and keep those seen ``min_freq`` times or more.

        ``max_size`` caps the whole vocabulary (specials and reserved tokens included), keeping
        the most frequent tokens.
        """
        min_freq = check_positive_int(min_freq, "min_freq")
        if isinstance(token_lists, str):
            raise TypeError("token_lists must be lists of tokens, not one str")
        counts = Counter(token for tokens in token_lists for token in tokens)
        head = [*SPECIAL_TOKENS, *(t for t in dict.fromkeys(reserved) if t not in SPECIAL_TOKENS)]
        taken = set(head)
        frequent = sorted(
            (t for t, c in counts.items() if c >= min_freq and t not in taken),
            key=lambda t: (-counts[t], t),
        )
        if max_size is not None:
            max_size = check_int(max_size, "max_size", min=len(head))
            frequent = frequent[: max_size - len(head)]
        return cls([*head, *frequent])

    def __len__(self) -> int:
        return len(self.idx_to_token)

    @overload
    def __getitem__(self, tokens: str) -> int: ...
    @overload
    def __getitem__(self, tokens: Sequence[str]) -> list[int]: ...
    def __getitem__(self, tokens: str | Sequence[str]) -> int | list[int]:
        """The id of a token, or the ids of a list of tokens (``<unk>``'s for unknown ones)."""
        if isinstance(tokens, str):
            return self.token_to_idx.get(tokens, UNK_ID)
        return [self.token_to_idx.get(t, UNK_ID) for t in tokens]

    def __contains__(self, token: object) -> bool:
        return token in self.token_to_idx

    def to_tokens(self, ids: int | Sequence[int] | Tensor) -> str | list[str]:
        """The token of an id, or the tokens of a sequence (or 1-D tensor) of ids."""
        if isinstance(ids, Tensor):
            ids = ids.tolist()
        if isinstance(ids, int):
            return self._token(ids)
        return [self._token(int(i)) for i in ids]

    def _token(self, idx: int) -> str:
        if not 0 <= idx < len(self):
            raise IndexError(f"token id {idx} is outside the vocabulary (size {len(self)})")
        return self.idx_to_token[idx]

    def to_json(self) -> str:
        """The vocabulary as JSON: ``{"kind": "word", "tokens": [...]}`` in id order."""
        return json.dumps({"kind": "word", "tokens": self.idx_to_token}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Vocab:
        """Rebuild a vocabulary from ``to_json``'s output."""
        content = json.loads(text)
        if not isinstance(content, dict) or not isinstance(content.get("tokens"), list):
            raise ValueError("not a dllab vocabulary: expected a JSON object with 'tokens'")
        return cls(content["tokens"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.idx_to_token == other.idx_to_token

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)})"


class WordTokenizer:
    """``tokenize`` plus a ``Vocab``: the word-level ``TextEncoder``."""

    kind = "word"

    def __init__(self, vocab: Vocab) -> None:
        if not isinstance(vocab, Vocab):
            raise TypeError(f"vocab must be a Vocab, got {type(vocab).__name__}")
        self.vocab = vocab

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def _ids(self, texts: Sequence[str]) -> list[list[int]]:
        return [self.vocab[tokenize(text)] for text in texts]

    def encode_batch(
        self, texts: Sequence[str], max_len: int, *, add_cls_sep: bool = False
    ) -> Encoding:
        """Ids ``(N, max_len)`` padded with ``<pad>``; ``<cls> ... <sep>`` with add_cls_sep."""
        texts = check_texts(texts)
        max_len = check_max_len(max_len, 2 if add_cls_sep else 0)
        encoding = pack(self._ids(texts), max_len, add_cls_sep)
        check_outcome(encoding.ids, encoding.truncated, max_len)
        return encoding

    def encode_pairs(self, firsts: Sequence[str], seconds: Sequence[str], max_len: int) -> Encoding:
        """``<cls> a <sep> b <sep>`` with segments 0/1, as BERT's next-sentence task reads."""
        firsts, seconds = check_pairs(firsts, seconds)
        max_len = check_max_len(max_len, 3)
        encoding = pack_pairs(self._ids(firsts), self._ids(seconds), max_len)
        check_outcome(encoding.ids, encoding.truncated, max_len, name=None)
        return encoding

    def decode(self, ids: Sequence[int] | Tensor) -> str:
        """The tokens of ``ids`` joined by spaces, special tokens dropped."""
        tokens = self.vocab.to_tokens(ids.tolist() if isinstance(ids, Tensor) else list(ids))
        return " ".join(t for t in tokens if t not in SPECIAL_TOKENS)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the vocabulary as JSON (atomically); ``load_encoder`` reads it back."""
        return atomic_write_text(path, self.vocab.to_json() + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> WordTokenizer:
        return cls(Vocab.from_json(Path(path).read_text(encoding="utf-8")))

    def __repr__(self) -> str:
        return f"WordTokenizer(vocab_size={self.vocab_size})"
