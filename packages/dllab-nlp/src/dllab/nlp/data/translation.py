"""``TranslationData``: English-French sentence pairs as padded id tensors for seq2seq models.

Two sources:

- ``"numbers"`` (embedded, the default): ``dllab.nlp.data.numbers``' sentences about numbers,
  split by the number, so validation numbers never appear in training.
- ``"fra-eng"``: the tab-separated pairs published by manythings.org (Tatoeba, via Anki),
  ``fra.txt``, one pair per line: ``english<TAB>french`` in d2l's copy (``FRA_ENG_URL``),
  ``english<TAB>french<TAB>attribution`` in the current download. Columns after the second
  are ignored; a line without a tab, or with an empty side, is skipped and counted in one
  warning. A seeded ``val_fraction`` of the pairs is held out.

Both go through d2l's ``preprocess_nmt``. Source and target each get their own encoder
(a word ``Vocab`` or a BPE tokenizer), built from the training pairs only.

Batches are ``(src, src_valid_lens, tgt_in, tgt_out)``, as in core's reversal task, each
``(B, num_steps)`` except ``src_valid_lens (B,)``::

    src      x1 .. xm <eos> <pad> ..     (src_valid_lens = m + 1)
    tgt_in   <bos> y1 .. yn <pad> ..
    tgt_out  y1 .. yn <eos> <pad> ..

A text longer than ``num_steps - 1`` tokens is cut (with a warning counting the cuts), so
``<eos>`` and ``<bos>`` always fit.
"""

from __future__ import annotations

import os
import random
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from dllab.core.checks import check_choice, check_float, check_int, check_positive_int
from dllab.core.data.datamodule import TensorDataModule
from dllab.core.data.download import download as fetch
from dllab.core.data.download import extract_archive, require_path
from dllab.nlp.data.numbers import DEFAULT_MAX_NUMBER, make_number_pairs
from dllab.nlp.data.sentiment import build_encoder
from dllab.nlp.encoding import TextEncoder, check_texts
from dllab.nlp.special import BOS_ID, EOS_ID, PAD_ID

DATASETS = ("numbers", "fra-eng")
TOKENIZERS = ("word", "bpe")
SPLITS = ("train", "val")
FRA_ENG_URL = "http://d2l-data.s3-accelerate.amazonaws.com/fra-eng.zip"
FRA_ENG_SHA1 = "94646ad1522d915e7b0f9296181140edcf86a4f5"
"""The sha1 of d2l's ``fra-eng.zip`` (which unpacks to ``fra-eng/fra.txt``)."""
FOLDER = "fra-eng"
FILE = "fra.txt"
_HYPHEN = re.compile(r"(?<=\w) - (?=\w)")


def preprocess_nmt(text: str) -> str:
    """d2l's cleaning: non-breaking spaces become spaces, lowercase, a space before ``,.!?``."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    text = text.replace("\u202f", " ").replace("\xa0", " ").lower()
    return "".join(
        " " + char if i > 0 and char in ",.!?" and text[i - 1] != " " else char
        for i, char in enumerate(text)
    )


def fra_eng_file(root: str | os.PathLike[str], download: bool = False) -> Path:
    """``root/fra-eng/fra.txt``; with ``download``, d2l's archive fetched (sha1-checked) and
    unpacked when it is missing.

    Raises:
        FileNotFoundError: the file is missing and ``download`` is False (names the path and
            ``--download``).
    """
    folder = Path(root).expanduser()
    path = folder / FOLDER / FILE
    if download and not path.is_file():
        archive = fetch(FRA_ENG_URL, f"sha1:{FRA_ENG_SHA1}", folder)
        extract_archive(archive, folder)
    return require_path(path, "English-French pairs (fra-eng/fra.txt)")


def read_fra_eng(path_or_root: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """The raw ``(english, french)`` pairs of a ``fra.txt`` file, in file order.

    ``path_or_root`` is the file, or a folder holding ``fra.txt`` or ``fra-eng/fra.txt``.
    Columns after the second (the attribution) are ignored. Lines without a tab, and lines
    with an empty side, are skipped; one warning counts them.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file holds no pair.
    """
    path = Path(path_or_root).expanduser()
    if path.is_dir():
        path = path / FILE if (path / FILE).is_file() else path / FOLDER / FILE
    if not path.is_file():
        raise FileNotFoundError(f"no English-French pairs file at {path}")
    pairs: list[tuple[str, str]] = []
    no_tab = empty = 0
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            line = line.rstrip("\r\n")
            if "\t" not in line:
                if line.strip():
                    no_tab += 1
                else:
                    empty += 1
                continue
            english, french = line.split("\t")[:2]
            if not english.strip() or not french.strip():
                empty += 1
                continue
            pairs.append((english, french))
    if no_tab or empty:
        warnings.warn(
            f"{path}: skipped {no_tab + empty} lines ({no_tab} without a tab, {empty} empty "
            "or with an empty side)",
            stacklevel=2,
        )
    if not pairs:
        raise ValueError(f"{path} holds no tab-separated sentence pair")
    return pairs


class TranslationData(TensorDataModule):
    """English -> French pairs as ``(src, src_valid_lens, tgt_in, tgt_out)`` batches.

    Args:
        dataset: ``"numbers"`` (embedded, seeded) or ``"fra-eng"`` (``fra.txt``).
        num_steps: every sequence is padded or cut to this many ids.
        batch_size: batch size of every loader.
        seed: seed of the numbers corpus, the split and the shuffling.
        root: data folder for fra-eng (see ``dllab.core.data.data_root``).
        download: fetch fra-eng when it is missing.
        num_pairs: pairs in all (numbers: default one per number, see ``make_number_pairs``;
            fra-eng: the first ``num_pairs`` lines, which are the shortest; default all).
        tokenizer: ``"word"`` (a ``Vocab`` per language) or ``"bpe"`` (a BPE tokenizer each).
        src_encoder, tgt_encoder: encoders to use instead of building them (a resumed run).
        min_freq: rarer words (or merges) are dropped; default 1 for numbers, 2 for fra-eng
            (as d2l).
        vocab_size: size of each BPE vocabulary (default 2000); caps a word vocabulary.
        val_fraction: share held out for validation (numbers: the share of the numbers).
    """

    def __init__(
        self,
        dataset: str = "numbers",
        num_steps: int = 16,
        batch_size: int = 128,
        seed: int = 0,
        root: str | os.PathLike[str] | None = None,
        download: bool = False,
        num_pairs: int | None = None,
        tokenizer: str = "word",
        src_encoder: TextEncoder | None = None,
        tgt_encoder: TextEncoder | None = None,
        min_freq: int | None = None,
        vocab_size: int | None = None,
        val_fraction: float = 0.1,
    ) -> None:
        val_fraction = check_float(
            val_fraction, "val_fraction", min=0.0, max=1.0, min_open=True, max_open=True
        )
        super().__init__(batch_size=batch_size, val_fraction=val_fraction, seed=seed, root=root)
        self.dataset = check_choice(dataset, "dataset", DATASETS)
        self.num_steps = check_int(num_steps, "num_steps", min=2)
        self.num_pairs = None if num_pairs is None else check_int(num_pairs, "num_pairs", min=2)
        self.tokenizer = check_choice(tokenizer, "tokenizer", TOKENIZERS)
        for name, encoder in (("src_encoder", src_encoder), ("tgt_encoder", tgt_encoder)):
            if encoder is not None and not isinstance(encoder, TextEncoder):
                raise TypeError(f"{name} must be a TextEncoder or None, got {type(encoder)}")
        default_freq = 1 if self.dataset == "numbers" else 2
        self.min_freq = check_positive_int(
            default_freq if min_freq is None else min_freq, "min_freq"
        )
        self.vocab_size = (
            None if vocab_size is None else check_positive_int(vocab_size, "vocab_size")
        )
        self.download = bool(download)
        self._src_encoder, self._tgt_encoder = src_encoder, tgt_encoder
        self._pairs: dict[str, list[tuple[str, str]]] | None = None
        self._tensors: dict[str, tuple[Tensor, Tensor, Tensor, Tensor]] = {}

    # ---- text -----------------------------------------------------------------------------
    def _read(self) -> dict[str, list[tuple[str, str]]]:
        if self.dataset == "numbers":
            raw = make_number_pairs(
                self.num_pairs, self.seed, self.val_fraction, max_number=DEFAULT_MAX_NUMBER
            )
        else:
            lines = read_fra_eng(fra_eng_file(self.root, self.download))
            lines = lines[: self.num_pairs] if self.num_pairs else lines
            if len(lines) < 2:
                raise ValueError("fra-eng needs at least 2 pairs (one to train, one to validate)")
            order = list(range(len(lines)))
            random.Random(self.seed).shuffle(order)
            n_val = min(max(1, round(len(lines) * self.val_fraction)), len(lines) - 1)
            raw = {
                "val": [lines[i] for i in sorted(order[:n_val])],
                "train": [lines[i] for i in sorted(order[n_val:])],
            }
        return {
            split: [(preprocess_nmt(en), preprocess_nmt(fr)) for en, fr in raw[split]]
            for split in SPLITS
        }

    def pairs(self, split: str = "train") -> list[tuple[str, str]]:
        """The preprocessed ``(english, french)`` pairs of ``"train"`` or ``"val"``."""
        split = check_choice(split, "split", SPLITS)
        if self._pairs is None:
            self._pairs = self._read()
        return self._pairs[split]

    # ---- encoders -------------------------------------------------------------------------
    def _build_encoder(self, side: int) -> TextEncoder:
        texts = [pair[side] for pair in self.pairs("train")]
        kind = self.tokenizer
        size = self.vocab_size if kind == "word" or self.vocab_size else 2000
        return build_encoder(kind, texts, vocab_size=size, min_freq=self.min_freq)  # type: ignore[arg-type]

    @property
    def src_encoder(self) -> TextEncoder:
        """The English encoder (built from the training pairs if none was given)."""
        if self._src_encoder is None:
            self._src_encoder = self._build_encoder(0)
        return self._src_encoder

    @property
    def tgt_encoder(self) -> TextEncoder:
        """The French encoder (built from the training pairs if none was given)."""
        if self._tgt_encoder is None:
            self._tgt_encoder = self._build_encoder(1)
        return self._tgt_encoder

    @property
    def src_vocab_size(self) -> int:
        return self.src_encoder.vocab_size

    @property
    def tgt_vocab_size(self) -> int:
        return self.tgt_encoder.vocab_size

    # ---- encoding -------------------------------------------------------------------------
    def encode_source(self, texts: Sequence[str]) -> tuple[Tensor, Tensor]:
        """``(src (N, num_steps), src_valid_lens (N,))``: preprocessed, encoded, ``<eos>`` added.

        Raises:
            ValueError: a text is empty or gives no token. A text made only of unknown words
                is encoded with a warning; a text over ``num_steps - 1`` tokens is cut, with
                a warning.
        """
        texts = [preprocess_nmt(t) for t in check_texts(texts)]
        encoding = self.src_encoder.encode_batch(texts, self.num_steps - 1)
        src = torch.full((len(texts), self.num_steps), PAD_ID, dtype=torch.long)
        src[:, : self.num_steps - 1] = encoding.ids
        src[torch.arange(len(texts)), encoding.valid_lens] = EOS_ID
        return src, encoding.valid_lens + 1

    def encode_target(self, texts: Sequence[str]) -> tuple[Tensor, Tensor]:
        """``(tgt_in, tgt_out)``, each ``(N, num_steps)``: ``<bos> y`` and ``y <eos>``."""
        texts = [preprocess_nmt(t) for t in check_texts(texts)]
        encoding = self.tgt_encoder.encode_batch(texts, self.num_steps - 1)
        n = len(texts)
        bos = torch.full((n, 1), BOS_ID, dtype=torch.long)
        pad = torch.full((n, 1), PAD_ID, dtype=torch.long)
        tgt_in = torch.cat((bos, encoding.ids), dim=1)  # (N, num_steps)
        tgt_out = torch.cat((encoding.ids, pad), dim=1)  # (N, num_steps)
        tgt_out[torch.arange(n), encoding.valid_lens] = EOS_ID
        return tgt_in, tgt_out

    def decode_target(self, ids: Tensor) -> list[str]:
        """Target ids ``(N, T)`` back to text: each row stops at its first ``<eos>``; special
        tokens are dropped. Word tokens are joined as ``preprocess_nmt`` writes them (a space
        between words and before punctuation, none around an inner hyphen)."""
        if not isinstance(ids, Tensor) or ids.ndim != 2:
            raise ValueError(f"ids must be a 2-D tensor (N, T), got {getattr(ids, 'shape', ids)}")
        texts = []
        for row in ids.tolist():
            row = row[: row.index(EOS_ID)] if EOS_ID in row else row
            text = self.tgt_encoder.decode(row)
            texts.append(_HYPHEN.sub("-", text) if self.tgt_encoder.kind == "word" else text)
        return texts

    def tensors(self, split: str) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(src, src_valid_lens, tgt_in, tgt_out)`` of a split, encoded once."""
        split = check_choice(split, "split", SPLITS)
        if split not in self._tensors:
            pairs = self.pairs(split)
            src, src_valid_lens = self.encode_source([en for en, _ in pairs])
            tgt_in, tgt_out = self.encode_target([fr for _, fr in pairs])
            self._tensors[split] = (src, src_valid_lens, tgt_in, tgt_out)
        return self._tensors[split]

    def build(self) -> tuple[Tensor, ...]:
        return self.tensors("train")

    def setup(self, stage: str | None = None) -> None:
        """Train and validation tensors come from their own splits (not a random cut)."""
        if self.train_tensors is None:
            self.train_tensors = self.tensors("train")
            self.val_tensors = self.tensors("val")

    def __repr__(self) -> str:
        return (
            f"TranslationData(dataset={self.dataset!r}, num_steps={self.num_steps}, "
            f"tokenizer={self.tokenizer!r})"
        )
