"""Pretrained word vectors in GloVe's text format, matched to a vocabulary.

A GloVe file (``glove.6B.100d.txt``...) holds one word per line followed by its ``d``
numbers, separated by spaces. ``load_glove`` streams the file and keeps only the vocabulary's
words, so a multi-gigabyte file never sits in memory. A word GloVe lacks gets a random
vector drawn from ``N(0, s²)``, ``s`` being the standard deviation of the vectors found, from
a generator seeded by ``seed``; ``<pad>`` gets zeros. Whether the embedding is then frozen or
fine-tuned is the model's choice (``freeze_embeddings``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from dllab.core.checks import check_int
from dllab.nlp.special import PAD


def _vector(fields: list[str], path: Path, line_no: int) -> list[float]:
    try:
        return [float(x) for x in fields]
    except ValueError as err:
        raise ValueError(f"{path}, line {line_no}: not a GloVe vector ({err})") from None


def load_glove(
    path: str | os.PathLike[str], vocab_tokens: Sequence[str], seed: int = 0
) -> tuple[Tensor, int]:
    """Embedding weights ``(len(vocab_tokens), d)`` from a GloVe text file.

    Args:
        path: the GloVe ``.txt`` file (UTF-8). A word2vec-style first line ``"<count> <d>"``
            is skipped.
        vocab_tokens: the vocabulary in id order (``Vocab.idx_to_token``).
        seed: seed of the random vectors of words the file lacks.

    Returns:
        ``(weights, found)``: float32 weights, row ``i`` for ``vocab_tokens[i]``, and how many
        tokens the file held.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: an empty file, or a line whose vector length differs from the first's.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no GloVe file at {path}")
    if isinstance(vocab_tokens, str) or len(vocab_tokens) == 0:
        raise ValueError("vocab_tokens must be a non-empty sequence of tokens")
    seed = check_int(seed, "seed")
    rows = {token: i for i, token in enumerate(vocab_tokens)}
    found: dict[int, list[float]] = {}
    dim = None
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            parts = line.rstrip("\n").rstrip(" ").split(" ")
            if dim is None:
                if len(parts) == 2 and all(p.isdigit() for p in parts):
                    continue  # word2vec header: "<count> <dim>"
                dim = len(parts) - 1
                if dim < 1:
                    raise ValueError(f"{path}, line {line_no}: not a GloVe line (no numbers)")
            if len(parts) < dim + 1:
                raise ValueError(
                    f"{path}, line {line_no}: expected a word and {dim} numbers, "
                    f"got {len(parts)} fields"
                )
            word = " ".join(parts[:-dim])  # a few GloVe words contain spaces
            vector = _vector(parts[-dim:], path, line_no)
            if word in rows and rows[word] not in found:
                found[rows[word]] = vector
    if dim is None:
        raise ValueError(f"{path} holds no vectors")
    return _fill(found, len(vocab_tokens), dim, seed, rows.get(PAD)), len(found)


def _fill(found: dict[int, list[float]], n: int, dim: int, seed: int, pad: int | None) -> Tensor:
    """Found rows as read, the others ``N(0, s²)`` (seeded), ``<pad>`` zeros."""
    known = torch.tensor(list(found.values()), dtype=torch.float32).view(-1, dim)  # (F, d)
    scale = float(known.std()) if known.numel() > 1 else 1.0
    generator = torch.Generator().manual_seed(seed)
    weights = torch.randn(n, dim, generator=generator) * scale  # (V, d)
    if found:
        weights[list(found)] = known
    if pad is not None:
        weights[pad] = 0.0
    return weights
