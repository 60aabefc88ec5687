"""Encoded text batches and the ``TextEncoder`` contract every tokenizer of dllab.nlp meets.

A batch of texts becomes an ``Encoding``: ids padded with ``<pad>`` (id 0) to one fixed
length, the valid length of each row, optional segment ids and how many texts were cut.
``WordTokenizer`` (``dllab.nlp.vocab``) and ``SubwordTokenizer`` (``dllab.nlp.subword``) share
the checks and warnings below, so every encoder treats bad input the same way:

- an empty text (after stripping), or one that gives no token (``<br />`` alone), raises
  ``ValueError`` naming its index;
- a text longer than ``max_len`` is truncated, with one warning naming how many were cut;
- a text whose tokens are all ``<unk>`` is encoded, with a warning.

``load_encoder`` reads back any saved encoder (a dllab vocab JSON or an HF tokenizer.json).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple, Protocol, runtime_checkable

import torch
from torch import Tensor

from dllab.core.checks import check_int
from dllab.nlp.special import CLS_ID, PAD_ID, SEP_ID, SPECIAL_TOKENS, UNK_ID


class Encoding(NamedTuple):
    """A padded batch of encoded texts."""

    ids: Tensor
    """``(N, max_len)`` int64 token ids, padded at the end with ``PAD_ID``."""
    valid_lens: Tensor
    """``(N,)`` int64: how many leading ids of each row are real tokens."""
    segments: Tensor | None = None
    """``(N, max_len)`` int64 segment ids (0 for the first text, 1 for the second), or None."""
    truncated: int = 0
    """How many texts were cut to fit ``max_len``."""

    @property
    def attention_mask(self) -> Tensor:
        """``(N, max_len)`` bool: True on real tokens, False on padding."""
        positions = torch.arange(self.ids.shape[1], device=self.ids.device)
        return positions[None, :] < self.valid_lens[:, None]  # (N, max_len)


@runtime_checkable
class TextEncoder(Protocol):
    """What sentiment data, BERT and the CLI need from a tokenizer."""

    kind: str
    """``"word"``, ``"wordpiece"`` or ``"bpe"``."""

    @property
    def vocab_size(self) -> int: ...

    def encode_batch(
        self, texts: Sequence[str], max_len: int, *, add_cls_sep: bool = False
    ) -> Encoding: ...

    def encode_pairs(
        self, firsts: Sequence[str], seconds: Sequence[str], max_len: int
    ) -> Encoding: ...

    def decode(self, ids: Sequence[int] | Tensor) -> str: ...

    def save(self, path: str | os.PathLike[str]) -> Path: ...


# ---- checks shared by every encoder -------------------------------------------------------------
def check_texts(texts: Sequence[str], name: str = "texts") -> list[str]:
    """A non-empty sequence of non-blank strings (a lone ``str`` is refused)."""
    if isinstance(texts, str | bytes) or not isinstance(texts, Sequence):
        raise TypeError(f"{name} must be a sequence of strings, got {type(texts).__name__}")
    if len(texts) == 0:
        raise ValueError(f"{name} is empty: nothing to encode")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{name}[{i}] must be a str, got {type(text).__name__}")
        if not text.strip():
            raise ValueError(f"{name}[{i}] is empty text: nothing to encode")
    return list(texts)


def check_max_len(max_len: int, specials: int) -> int:
    """``max_len`` must leave room for at least one token beside ``specials`` reserved ids."""
    return check_int(max_len, "max_len", min=specials + 1)


def check_outcome(
    ids: Tensor,
    truncated: int,
    max_len: int,
    *,
    blank_ids: Sequence[int] = (),
    name: str | None = "texts",
    stacklevel: int = 3,
) -> None:
    """Refuse texts that gave no token at all; warn about truncated and all-``<unk>`` texts.

    ``blank_ids`` are vocabulary entries that carry no word (BPE's lone ``▁`` word marker).
    ``name`` names the texts in the error (``None`` skips the no-token check: sentence pairs).
    """
    words = ids >= len(SPECIAL_TOKENS)  # (N, T) real vocabulary entries
    for blank in blank_ids:
        words &= ids != blank
    unknown = ids == UNK_ID
    if name is not None:
        empty = ~(words | unknown).any(dim=1)  # (N,)
        if empty.any():
            first = int(empty.nonzero()[0, 0])
            raise ValueError(f"{name}[{first}] gives no token (only markup or spaces)")
    if truncated:
        warnings.warn(
            f"{truncated} of {len(ids)} texts were longer than max_len={max_len} and were "
            "truncated",
            stacklevel=stacklevel,
        )
    all_unknown = (~words.any(dim=1)) & unknown.any(dim=1)  # (N,)
    if all_unknown.any():
        first = int(all_unknown.nonzero()[0, 0])
        warnings.warn(
            f"{int(all_unknown.sum())} texts are made only of unknown tokens (the first is "
            f"text {first}); the model sees nothing but <unk> for them",
            stacklevel=stacklevel,
        )


def pack(rows: Sequence[Sequence[int]], max_len: int, add_cls_sep: bool) -> Encoding:
    """Pad (or cut) id lists to ``max_len``; with ``add_cls_sep``: ``<cls> ... <sep>``."""
    room = max_len - 2 if add_cls_sep else max_len
    ids = torch.full((len(rows), max_len), PAD_ID, dtype=torch.long)
    valid_lens = torch.empty(len(rows), dtype=torch.long)
    truncated = 0
    for i, row in enumerate(rows):
        truncated += len(row) > room
        row = list(row[:room])
        if add_cls_sep:
            row = [CLS_ID, *row, SEP_ID]
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        valid_lens[i] = len(row)
    return Encoding(ids, valid_lens, None, truncated)


def pack_pairs(
    firsts: Sequence[Sequence[int]], seconds: Sequence[Sequence[int]], max_len: int
) -> Encoding:
    """``<cls> a <sep> b <sep>`` with segments 0 then 1; the longer part is cut first."""
    n = len(firsts)
    ids = torch.full((n, max_len), PAD_ID, dtype=torch.long)
    segments = torch.zeros((n, max_len), dtype=torch.long)
    valid_lens = torch.empty(n, dtype=torch.long)
    truncated = 0
    for i, (a, b) in enumerate(zip(firsts, seconds, strict=True)):
        a, b = list(a), list(b)
        truncated += len(a) + len(b) + 3 > max_len
        while len(a) + len(b) + 3 > max_len:  # longest-first, as HF tokenizers truncate pairs
            (a if len(a) >= len(b) else b).pop()
        row = [CLS_ID, *a, SEP_ID, *b, SEP_ID]
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        segments[i, len(a) + 2 : len(row)] = 1
        valid_lens[i] = len(row)
    return Encoding(ids, valid_lens, segments, truncated)


def check_pairs(firsts: Sequence[str], seconds: Sequence[str]) -> tuple[list[str], list[str]]:
    """Two equally long sequences of non-blank texts."""
    firsts, seconds = check_texts(firsts, "firsts"), check_texts(seconds, "seconds")
    if len(firsts) != len(seconds):
        raise ValueError(f"firsts and seconds differ in length: {len(firsts)} != {len(seconds)}")
    return firsts, seconds


# ---- loading ------------------------------------------------------------------------------------
def load_encoder(path: str | os.PathLike[str]) -> TextEncoder:
    """Read an encoder saved by ``WordTokenizer.save`` or ``SubwordTokenizer.save``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved encoder at {path}")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not a JSON encoder file: {err}") from err
    if isinstance(content, dict) and content.get("kind") == "word":
        from dllab.nlp.vocab import WordTokenizer

        return WordTokenizer.load(path)
    if isinstance(content, dict) and isinstance(content.get("model"), dict):
        from dllab.nlp.subword import SubwordTokenizer

        return SubwordTokenizer.load(path)
    raise ValueError(f"{path} is neither a dllab vocabulary (kind 'word') nor an HF tokenizer.json")
