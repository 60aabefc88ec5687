"""Trainable models assembled from ``dllab.core.nn``'s building blocks.

- ``seq2seq``: ``Seq2SeqTransformer`` (an encoder–decoder with separate source and target
  vocabularies and greedy decoding that stops at ``<eos>``), ``Seq2SeqConfig`` and
  ``exact_match``.

Names load lazily, so ``import dllab.core.models`` does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dllab.core.lazy import lazy_exports

if TYPE_CHECKING:
    from dllab.core.models.seq2seq import Seq2SeqConfig, Seq2SeqTransformer, exact_match

_LAZY = {
    "Seq2SeqConfig": "dllab.core.models.seq2seq",
    "Seq2SeqTransformer": "dllab.core.models.seq2seq",
    "exact_match": "dllab.core.models.seq2seq",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY)
