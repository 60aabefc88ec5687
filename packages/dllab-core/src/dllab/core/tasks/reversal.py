"""Sequence reversal: the embedded toy task for sequence-to-sequence models.

The source is a run of digits of random length, padded to a fixed width, and the target is
the same digits backwards followed by ``<eos>``. It is generated from a seed, so it needs no
download, and a two-layer ``dllab.core.models.Seq2SeqTransformer`` learns it in a minute on a
CPU. Padding exercises the masks (``valid_lens`` on the source, ``ignore_index`` in the loss).

Token ids: ``PAD, BOS, EOS = 0, 1, 2``, then digit ``d`` is ``d + NUM_SPECIAL``; source and
target share this vocabulary of ``num_digits + NUM_SPECIAL`` tokens.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dllab.core.checks import check_int, check_positive_int
from dllab.core.data.datamodule import TensorDataModule

PAD, BOS, EOS = 0, 1, 2
NUM_SPECIAL = 3


def make_reversal_data(
    num_samples: int, min_len: int = 3, max_len: int = 8, num_digits: int = 10, seed: int = 0
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Generate ``(src, src_valid_lens, tgt_in, tgt_out)`` for sequence reversal.

    Digits ``0 .. num_digits - 1`` are tokens ``3 ..``; ``0, 1, 2`` are pad, bos and eos.

    Returns:
        ``src (N, max_len)``, ``src_valid_lens (N,)``, ``tgt_in (N, max_len + 1)`` (bos then
        the reversed digits) and ``tgt_out (N, max_len + 1)`` (the reversed digits then eos).
    """
    check_positive_int(num_samples, "num_samples")
    check_positive_int(min_len, "min_len")
    check_positive_int(num_digits, "num_digits")
    check_int(seed, "seed")
    if max_len < min_len:
        raise ValueError(f"max_len ({max_len}) must be >= min_len ({min_len})")
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(min_len, max_len + 1, (num_samples,), generator=g)  # (N,)
    digits = torch.randint(0, num_digits, (num_samples, max_len), generator=g) + NUM_SPECIAL
    positions = torch.arange(max_len)  # (L,)
    src = torch.where(positions < lengths[:, None], digits, PAD)  # (N, L)
    # reversed: target position i holds source position len - 1 - i
    rev_index = (lengths[:, None] - 1 - positions).clamp(min=0)  # (N, L)
    reversed_digits = torch.where(positions < lengths[:, None], src.gather(1, rev_index), PAD)
    tgt_out = torch.cat((reversed_digits, torch.full((num_samples, 1), PAD)), dim=1)  # (N, L+1)
    tgt_out[torch.arange(num_samples), lengths] = EOS
    tgt_in = torch.cat((torch.full((num_samples, 1), BOS), reversed_digits), dim=1)  # (N, L+1)
    return src, lengths, tgt_in, tgt_out


class ReversalData(TensorDataModule):
    """Sequence reversal as a DataModule: batches are ``(src, src_valid_lens, tgt_in, tgt_out)``.

    Args:
        num_samples: sequences in all (a tenth is held out for validation).
        min_len: shortest source.
        max_len: longest source, and the padded width.
        num_digits: distinct digit tokens.
        batch_size: batch size.
        seed: seed for the data and the split.
    """

    def __init__(
        self,
        num_samples: int = 4000,
        min_len: int = 3,
        max_len: int = 8,
        num_digits: int = 10,
        batch_size: int = 64,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, val_fraction=0.1, seed=seed)
        self.num_samples, self.min_len, self.max_len = num_samples, min_len, max_len
        self.num_digits = num_digits
        self.vocab_size = num_digits + NUM_SPECIAL
        """Tokens in the (shared) source and target vocabulary, specials included."""

    def build(self) -> tuple[Tensor, ...]:  # type: ignore[override]
        return make_reversal_data(
            self.num_samples, self.min_len, self.max_len, self.num_digits, self.seed
        )
