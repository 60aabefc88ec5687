"""Checks of the ``(ids, valid_lens)`` batches every text network takes.

A batch is ``ids`` ``(B, T)`` of integer token ids, padded after each text, and
``valid_lens`` ``(B,)`` of how many leading tokens of each row are real, in ``1..T``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dllab.core.checks import check_int_tensor


def check_token_batch(ids: Tensor, valid_lens: Tensor, vocab_size: int) -> None:
    """Raise a clear error unless ``ids`` and ``valid_lens`` form a batch for ``vocab_size``.

    Raises:
        TypeError: either is not a tensor.
        ValueError: a float or bool dtype, wrong shapes, an id outside ``[0, vocab_size)``, or a
            length outside ``1..T``.
    """
    check_int_tensor(ids, "ids")
    check_int_tensor(valid_lens, "valid_lens")
    if ids.ndim != 2:
        raise ValueError(f"ids must have shape (B, T), got {tuple(ids.shape)}")
    if valid_lens.shape != ids.shape[:1]:
        raise ValueError(
            f"valid_lens must have shape (B,) = ({ids.shape[0]},), got {tuple(valid_lens.shape)}"
        )
    if ids.numel() == 0:
        raise ValueError(f"ids is empty: shape {tuple(ids.shape)}")
    lo, hi = torch.aminmax(ids)
    if int(lo) < 0 or int(hi) >= vocab_size:
        raise ValueError(
            f"token ids must lie in [0, {vocab_size - 1}] (the model's vocab_size is "
            f"{vocab_size}), found ids in [{int(lo)}, {int(hi)}]: was the text encoded with "
            "another tokenizer?"
        )
    shortest, longest = torch.aminmax(valid_lens)
    if int(shortest) < 1 or int(longest) > ids.shape[1]:
        raise ValueError(
            f"valid_lens must lie in [1, {ids.shape[1]}] (T = ids.shape[1]), found "
            f"[{int(shortest)}, {int(longest)}]"
        )
