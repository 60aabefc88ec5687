"""Subword tokenizers (WordPiece for BERT, BPE for translation) trained with HF tokenizers.

A pipeline is composed from HF's parts, and the trainer is kept apart from the model:

- normalizer: ``<br />`` -> space, Unicode normalization, lowercase;
- pre-tokenizer: BERT's split on whitespace and punctuation (WordPiece), or SentencePiece's
  ``▁`` word marker (BPE, so decoding restores the spaces);
- model: ``WordPiece`` (continuation pieces marked ``##``) or ``BPE``, ``<unk>`` for the rest;
- post-processor: ``<cls> A <sep>`` and ``<cls> A <sep> B <sep>`` with segment ids 0 and 1.

The trainers reserve the seven special tokens first, so ``<pad>`` = 0 ... ``<mask>`` = 6 as in
``Vocab``. Padding, truncation and attention masks come from HF's ``enable_padding`` and
``enable_truncation`` and run in Rust, batched.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import torch
from torch import Tensor

from dllab.core.checks import check_choice, check_int, check_positive_int
from dllab.core.runs import atomic_write_text
from dllab.nlp.encoding import Encoding, check_max_len, check_outcome, check_pairs, check_texts
from dllab.nlp.special import CLS, CLS_ID, PAD, PAD_ID, SEP, SEP_ID, SPECIAL_TOKENS, UNK

if TYPE_CHECKING:
    from tokenizers import Tokenizer

SubwordModel = Literal["wordpiece", "bpe"]
MODELS: tuple[str, ...] = ("wordpiece", "bpe")


class SubwordTokenizer:
    """An HF ``Tokenizer`` wrapped as a ``TextEncoder``; build one with ``train_tokenizer``."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        from tokenizers import models

        for expected, token in enumerate(SPECIAL_TOKENS):
            if tokenizer.token_to_id(token) != expected:
                raise ValueError(
                    f"tokenizer must give {token} the id {expected} (the order of "
                    f"SPECIAL_TOKENS), got {tokenizer.token_to_id(token)}"
                )
        if isinstance(tokenizer.model, models.WordPiece):
            self.kind = "wordpiece"
        elif isinstance(tokenizer.model, models.BPE):
            self.kind = "bpe"
        else:
            raise ValueError(f"expected a WordPiece or BPE model, got {tokenizer.model}")
        tokenizer.encode_special_tokens = True  # "<mask>" typed in a text is text, not id 6
        self.hf = tokenizer

    @property
    def vocab_size(self) -> int:
        return self.hf.get_vocab_size()

    def tokenize(self, text: str) -> list[str]:
        """The subword pieces of one text (no special tokens)."""
        return self.hf.encode(text, add_special_tokens=False).tokens

    def _encode(
        self, inputs: list, max_len: int, add_special_tokens: bool, name: str | None
    ) -> Encoding:
        hf = self.hf
        hf.enable_truncation(max_length=max_len)
        hf.enable_padding(pad_id=PAD_ID, pad_token=PAD, length=max_len)
        try:
            encodings = hf.encode_batch(inputs, add_special_tokens=add_special_tokens)
        finally:
            hf.no_truncation()
            hf.no_padding()
        ids = torch.tensor([e.ids for e in encodings], dtype=torch.long)  # (N, max_len)
        mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.long)
        segments = None
        if isinstance(inputs[0], tuple):
            segments = torch.tensor([e.type_ids for e in encodings], dtype=torch.long)
        truncated = sum(bool(e.overflowing) for e in encodings)
        encoding = Encoding(ids, mask.sum(dim=1), segments, truncated)
        marker = self.hf.token_to_id("▁")  # BPE's word marker alone is no word
        blank = () if marker is None else (marker,)
        check_outcome(encoding.ids, truncated, max_len, blank_ids=blank, name=name, stacklevel=4)
        return encoding

    def encode_batch(
        self, texts: Sequence[str], max_len: int, *, add_cls_sep: bool = False
    ) -> Encoding:
        """Ids ``(N, max_len)`` padded with ``<pad>``; ``<cls> ... <sep>`` with add_cls_sep."""
        texts = check_texts(texts)
        max_len = check_max_len(max_len, 2 if add_cls_sep else 0)
        return self._encode(texts, max_len, add_cls_sep, "texts")

    def encode_pairs(self, firsts: Sequence[str], seconds: Sequence[str], max_len: int) -> Encoding:
        """``<cls> a <sep> b <sep>`` with segments 0/1; the longer text is cut first."""
        firsts, seconds = check_pairs(firsts, seconds)
        max_len = check_max_len(max_len, 3)
        return self._encode(list(zip(firsts, seconds, strict=True)), max_len, True, None)

    def decode(self, ids: Sequence[int] | Tensor) -> str:
        """The text of ``ids``, special tokens dropped."""
        ids = ids.tolist() if isinstance(ids, Tensor) else [int(i) for i in ids]
        return self.hf.decode(ids, skip_special_tokens=True)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write HF's ``tokenizer.json`` (atomically); ``load_encoder`` reads it back."""
        return atomic_write_text(path, self.hf.to_str())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SubwordTokenizer:
        from tokenizers import Tokenizer

        try:
            return cls(Tokenizer.from_file(os.fspath(path)))
        except Exception as err:  # tokenizers raises a plain Exception on a damaged file
            if isinstance(err, ValueError):
                raise
            raise ValueError(f"{path} is not a readable tokenizer.json: {err}") from err

    def __repr__(self) -> str:
        return f"SubwordTokenizer(kind={self.kind!r}, vocab_size={self.vocab_size})"


def _pipeline(model: str) -> Tokenizer:
    """An untrained tokenizer: normalizer, pre-tokenizer, model and decoder for ``model``."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

    clean = [normalizers.Replace(Regex(r"<br\s*/?>"), " "), normalizers.Lowercase()]
    if model == "wordpiece":
        tokenizer = Tokenizer(models.WordPiece(unk_token=UNK))
        tokenizer.normalizer = normalizers.Sequence(
            [normalizers.NFD(), normalizers.StripAccents(), *clean]
        )
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer.decoder = decoders.WordPiece()
    else:
        tokenizer = Tokenizer(models.BPE(unk_token=UNK))
        tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), *clean])
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
        tokenizer.decoder = decoders.Metaspace()
    return tokenizer


def _trainer(model: str, vocab_size: int, min_frequency: int, reserved: Sequence[str] = ()):
    from tokenizers import trainers

    kind = trainers.WordPieceTrainer if model == "wordpiece" else trainers.BpeTrainer
    return kind(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[*SPECIAL_TOKENS, *reserved],
        show_progress=False,
    )


def _continuations(tokenizer: Tokenizer, texts: Sequence[str]) -> list[str]:
    """The ``##c`` piece of every character ``c`` that continues a word of ``texts``, sorted.

    HF's WordPiece trainer adds these pieces in the order it meets them in a hash map, which
    changes from one process to the next; their ids then break the ties between equally frequent
    merges, so the vocabulary itself would change. Reserved up front, they get fixed ids.
    """
    normalizer, pre_tokenizer = tokenizer.normalizer, tokenizer.pre_tokenizer
    words: set[str] = set()
    for text in texts:
        words.update(
            word for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))
        )
    return [f"##{c}" for c in sorted({c for word in words for c in word[1:]})]


def _rebuilt(tokenizer: Tokenizer, model: str) -> Tokenizer:
    """A fresh pipeline around the trained model's vocabulary, with only the seven special tokens
    registered (the trainer marks the reserved ``##c`` pieces special too)."""
    from tokenizers import models

    vocab = tokenizer.get_vocab(with_added_tokens=False)
    rebuilt = _pipeline(model)
    rebuilt.model = models.WordPiece(vocab, unk_token=UNK, continuing_subword_prefix="##")
    rebuilt.add_special_tokens(list(SPECIAL_TOKENS))
    return rebuilt


class _Counted:
    """Passes texts through and counts the non-blank ones (an empty corpus must fail)."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.texts, self.count = texts, 0

    def __iter__(self) -> Iterator[str]:
        for text in self.texts:
            if not isinstance(text, str):
                raise TypeError(f"corpus texts must be str, got {type(text).__name__}")
            if text.strip():
                self.count += 1
                yield text


def train_tokenizer(
    texts: Iterable[str],
    model: SubwordModel = "wordpiece",
    vocab_size: int = 8000,
    min_frequency: int = 1,
) -> SubwordTokenizer:
    """Train a WordPiece or BPE tokenizer on ``texts`` (any iterable, read once).

    The same corpus gives the same vocabulary and ids in every process, so seeded runs repeat.

    Raises:
        ValueError: if the corpus holds no text, or ``vocab_size`` cannot hold the seven
            special tokens plus the corpus's alphabet (every character must stay encodable).
    """
    model = check_choice(model, "model", MODELS)
    vocab_size = check_int(vocab_size, "vocab_size", min=len(SPECIAL_TOKENS) + 1)
    min_frequency = check_positive_int(min_frequency, "min_frequency")
    if isinstance(texts, str):
        raise TypeError("texts must be an iterable of strings, not one str")
    from tokenizers import processors

    tokenizer = _pipeline(model)
    corpus = list(_Counted(texts))
    if not corpus:
        raise ValueError("the corpus is empty: no non-blank text to train a tokenizer on")
    reserved = _continuations(tokenizer, corpus) if model == "wordpiece" else []
    tokenizer.train_from_iterator(corpus, _trainer(model, vocab_size, min_frequency, reserved))
    if model == "wordpiece":
        tokenizer = _rebuilt(tokenizer, model)
    if tokenizer.get_vocab_size() > vocab_size:
        raise ValueError(
            f"vocab_size={vocab_size} is too small: the {len(SPECIAL_TOKENS)} special tokens and "
            f"the corpus's alphabet alone need {tokenizer.get_vocab_size()} entries"
        )
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{CLS} $A {SEP}",
        pair=f"{CLS} $A {SEP} $B:1 {SEP}:1",
        special_tokens=[(CLS, CLS_ID), (SEP, SEP_ID)],
    )
    return SubwordTokenizer(tokenizer)
