"""``SentimentData``: synthetic or IMDb reviews as padded id tensors on core's in-memory loader.

Batches are ``(ids (B, max_len), valid_lens (B,), y (B,))``.

Why fixed-length padding rather than length buckets: the whole split lives in three tensors,
so core's ``TensorLoader`` serves a batch with one fancy-index, and its order (seeded by
``seed + epoch``) is what makes a resumed run see exactly the batches of an uninterrupted
one. Buckets would need their own sampler to keep that guarantee. Padding is cheap here: the
synthetic reviews are under 48 tokens, IMDb is cut at ``max_len``, and no model reads padding
(TextCNN masks it before max-pooling, BiRNN packs sequences, BERT masks attention).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor

from dllab.core.checks import check_choice, check_int, check_positive_int
from dllab.core.data.datamodule import TensorDataModule, TensorLoader, batched_loader
from dllab.nlp.data.reviews import make_negation_reviews, make_reviews
from dllab.nlp.encoding import TextEncoder

DATASETS = ("synthetic", "imdb")
SPLITS = ("train", "test", "negation")
ENCODER_KINDS = ("word", "wordpiece", "bpe")
SYNTHETIC_SIZES = {"train": 5000, "test": 1000, "negation": 1000}
"""How many synthetic reviews each split holds by default (``n_train`` overrides train)."""
_SPLIT_SEEDS = {"train": 0, "test": 1_000_003, "negation": 2_000_003}  # offsets of ``seed``


def build_encoder(
    kind: Literal["word", "wordpiece", "bpe"],
    texts: Sequence[str],
    vocab_size: int | None = None,
    min_freq: int = 1,
) -> TextEncoder:
    """Fit an encoder on ``texts``: a word ``Vocab`` or a WordPiece/BPE tokenizer.

    ``vocab_size`` caps the word vocabulary (most frequent first) and sets the subword
    vocabulary's size (default 5000); ``min_freq`` drops rarer tokens (merges, for subwords).
    """
    kind = check_choice(kind, "kind", ENCODER_KINDS)
    if kind == "word":
        from dllab.nlp.vocab import Vocab, WordTokenizer, tokenize

        if isinstance(texts, str) or not any(str(t).strip() for t in texts):
            raise ValueError("texts is empty: no text to build a vocabulary from")
        vocab = Vocab.build((tokenize(t) for t in texts), min_freq=min_freq, max_size=vocab_size)
        return WordTokenizer(vocab)
    from dllab.nlp.subword import train_tokenizer

    size = 5000 if vocab_size is None else vocab_size
    return train_tokenizer(texts, kind, vocab_size=size, min_frequency=min_freq)  # type: ignore[arg-type]


class SentimentData(TensorDataModule):
    """Reviews labelled 1 (positive) or 0 (negative), encoded to fixed-length ids.

    Args:
        encoder: the ``TextEncoder``; ``None`` fits a word vocabulary on the training texts
            (``min_freq``) when first needed.
        dataset: ``"synthetic"`` (embedded, seeded) or ``"imdb"`` (the aclImdb tree).
        max_len: every text is padded or cut to this many ids (a warning counts the cuts).
        batch_size: batch size of every loader.
        seed: seed of the synthetic reviews, the validation split and the shuffling.
        root: data folder for IMDb (see ``dllab.core.data.data_root``).
        download: fetch IMDb when it is missing.
        n_train: how many training reviews (synthetic default 5000; IMDb default all 25,000,
            else a seeded subset).
        add_cls_sep: wrap each text as ``<cls> ... <sep>`` (BERT).
        val_fraction: share of the training reviews held out for validation.
        min_freq: ``min_freq`` of the word vocabulary built when ``encoder`` is None.
    """

    classes = ("negative", "positive")

    def __init__(
        self,
        encoder: TextEncoder | None = None,
        dataset: str = "synthetic",
        max_len: int = 48,
        batch_size: int = 64,
        seed: int = 0,
        root: str | os.PathLike[str] | None = None,
        download: bool = False,
        n_train: int | None = None,
        add_cls_sep: bool = False,
        val_fraction: float = 0.2,
        min_freq: int = 1,
    ) -> None:
        super().__init__(batch_size=batch_size, val_fraction=val_fraction, seed=seed, root=root)
        if encoder is not None and not isinstance(encoder, TextEncoder):
            raise TypeError(f"encoder must be a TextEncoder or None, got {type(encoder).__name__}")
        self.dataset = check_choice(dataset, "dataset", DATASETS)
        self.max_len = check_int(max_len, "max_len", min=3 if add_cls_sep else 1)
        self.n_train = None if n_train is None else check_positive_int(n_train, "n_train")
        self.min_freq = check_positive_int(min_freq, "min_freq")
        self.download, self.add_cls_sep = bool(download), bool(add_cls_sep)
        self._encoder = encoder
        self._texts: dict[str, tuple[list[str], list[int]]] = {}
        self._split_tensors: dict[str, tuple[Tensor, ...]] = {}

    @property
    def encoder(self) -> TextEncoder:
        """The encoder (built from the training texts if none was given)."""
        if self._encoder is None:
            self._encoder = build_encoder("word", self.texts("train"), min_freq=self.min_freq)
        return self._encoder

    @property
    def vocab_size(self) -> int:
        return self.encoder.vocab_size

    def texts_and_labels(self, split: str) -> tuple[list[str], list[int]]:
        """The raw reviews and labels of ``"train"`` (train + validation), ``"test"`` or
        ``"negation"`` (synthetic only)."""
        split = check_choice(split, "split", SPLITS)
        if split not in self._texts:
            self._texts[split] = self._read(split)
        return self._texts[split]

    def texts(self, split: str = "train") -> list[str]:
        """The raw reviews of a split (``"train"`` is the pool the validation set comes from)."""
        return self.texts_and_labels(split)[0]

    def _read(self, split: str) -> tuple[list[str], list[int]]:
        if self.dataset == "synthetic":
            n = self.n_train if split == "train" and self.n_train else SYNTHETIC_SIZES[split]
            make = make_negation_reviews if split == "negation" else make_reviews
            return make(n, self.seed + _SPLIT_SEEDS[split])
        if split == "negation":
            raise ValueError("the negation split exists for dataset='synthetic' only")
        from dllab.nlp.data.imdb import imdb_folder, read_imdb

        texts, labels = read_imdb(imdb_folder(self.root, self.download), split)
        if split == "train" and self.n_train and self.n_train < len(texts):
            generator = torch.Generator().manual_seed(self.seed)
            keep = torch.randperm(len(texts), generator=generator)[: self.n_train].tolist()
            texts, labels = [texts[i] for i in keep], [labels[i] for i in keep]
        return texts, labels

    def tensors(self, split: str) -> tuple[Tensor, Tensor, Tensor]:
        """``(ids (N, max_len), valid_lens (N,), y (N,))`` of a split, encoded once."""
        if split not in self._split_tensors:
            texts, labels = self.texts_and_labels(split)
            encoding = self.encoder.encode_batch(texts, self.max_len, add_cls_sep=self.add_cls_sep)
            y = torch.tensor(labels, dtype=torch.long)
            self._split_tensors[split] = (encoding.ids, encoding.valid_lens, y)
        return self._split_tensors[split]  # type: ignore[return-value]

    def build(self) -> tuple[Tensor, Tensor, Tensor]:
        return self.tensors("train")

    def _loader(self, split: str) -> TensorLoader:
        return batched_loader(*self.tensors(split), batch_size=self.batch_size, shuffle=False)

    def test_dataloader(self) -> TensorLoader:
        return self._loader("test")

    def negation_dataloader(self) -> TensorLoader:
        """The negation split (synthetic): a bag-of-words model is at chance on it."""
        return self._loader("negation")


class IMDbData(SentimentData):
    """``SentimentData`` on IMDb: the aclImdb tree under ``root`` (fetched with ``download``).

    Reviews are long (230 words on average), so ``max_len`` defaults to 256 ids; a warning
    counts the reviews cut. Every other argument is ``SentimentData``'s.
    """

    def __init__(
        self,
        encoder: TextEncoder | None = None,
        root: str | os.PathLike[str] | None = None,
        download: bool = False,
        max_len: int = 256,
        **kwargs: Any,
    ) -> None:
        if "dataset" in kwargs:
            raise TypeError("IMDbData reads IMDb; use SentimentData to choose a dataset")
        super().__init__(encoder, "imdb", max_len=max_len, root=root, download=download, **kwargs)
