"""Attention masks and the masked softmax (d2l 11.3, "Attention Scoring Functions").

Convention in this file: a *keep mask* is a boolean tensor that is True where a query may
attend to a key. It is the meaning of a boolean ``attn_mask`` in
``F.scaled_dot_product_attention``. A *float mask* is added to the scores (``-inf`` blocks).
``nn.MultiheadAttention`` spells boolean masks the other way round (True = blocked);
``MultiHeadAttention`` keeps that spelling for drop-in use and converts with ``~``.

Masked positions get exactly zero weight, and a row whose keys are all masked gets all-zero
weights (no NaN, in the forward pass or in the gradient).
"""

from __future__ import annotations

import torch
from torch import Tensor

from dllab.core.checks import check_int_tensor


def lengths_to_mask(valid_lens: Tensor, num_keys: int) -> Tensor:
    """Keep mask from valid lengths: ``mask[..., j] = j < valid_lens[...]``.

    Args:
        valid_lens: integer tensor, ``(B,)`` (one length per sequence) or ``(B, Tq)``
            (one length per query). Lengths above ``num_keys`` mean "all keys".
        num_keys: number of keys ``Tk``.

    Returns:
        Boolean tensor of shape ``(*valid_lens.shape, num_keys)``.
    """
    check_int_tensor(valid_lens, "valid_lens")
    if valid_lens.numel() and int(valid_lens.min()) < 0:
        raise ValueError(f"valid_lens must be >= 0, got min {int(valid_lens.min())}")
    positions = torch.arange(num_keys, device=valid_lens.device)  # (Tk,)
    return positions < valid_lens.unsqueeze(-1)  # (*valid_lens.shape, Tk)


def padding_mask(valid_lens: Tensor, max_len: int) -> Tensor:
    """``nn.MultiheadAttention``-style ``key_padding_mask``: True marks padding, ``(B, max_len)``."""
    if valid_lens.dim() != 1:
        raise ValueError(f"valid_lens must have shape (B,), got {tuple(valid_lens.shape)}")
    return ~lengths_to_mask(valid_lens, max_len)


def causal_mask(
    num_queries: int,
    num_keys: int | None = None,
    *,
    offset: int | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """Keep mask where query ``i`` may attend key ``j`` iff ``j <= offset + i``.

    Args:
        num_queries: ``Tq``.
        num_keys: ``Tk`` (default ``Tq``).
        offset: absolute position of the first query. The default ``Tk - Tq`` treats the
            queries as the last ``Tq`` positions of the key sequence, which is what incremental
            decoding with a key/value cache needs. For ``Tq == Tk`` it is the usual lower
            triangle.
        device: where to build the mask.

    Returns:
        Boolean tensor ``(Tq, Tk)``.
    """
    num_keys = num_queries if num_keys is None else num_keys
    if num_queries < 0 or num_keys < 0:
        raise ValueError(f"sizes must be >= 0, got Tq={num_queries}, Tk={num_keys}")
    offset = num_keys - num_queries if offset is None else offset
    rows = torch.arange(num_queries, device=device).unsqueeze(1)  # (Tq, 1)
    cols = torch.arange(num_keys, device=device)  # (Tk,)
    return cols <= rows + offset  # (Tq, Tk)


def check_mask(mask: object, scores_shape: torch.Size | tuple[int, ...], name: str) -> Tensor:
    """Check that ``mask`` is a boolean or floating tensor broadcastable to ``scores_shape``."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(mask).__name__}")
    if mask.dtype != torch.bool and not mask.is_floating_point():
        raise ValueError(
            f"{name} must be a bool tensor (True = attend) or a float tensor added to the "
            f"scores, got dtype {mask.dtype}"
        )
    try:
        broadcast = torch.broadcast_shapes(mask.shape, tuple(scores_shape))
    except RuntimeError:
        broadcast = None
    if broadcast != tuple(scores_shape):
        raise ValueError(
            f"{name} of shape {tuple(mask.shape)} does not broadcast to the attention scores "
            f"{tuple(scores_shape)} (batch..., queries, keys)"
        )
    return mask


def valid_lens_to_keep_mask(valid_lens: Tensor, scores_shape: torch.Size) -> Tensor:
    """Keep mask from ``valid_lens`` shaped to broadcast against scores ``(B, *mid, Tq, Tk)``."""
    check_int_tensor(valid_lens, "valid_lens")
    if len(scores_shape) < 3:
        raise ValueError(
            f"valid_lens needs batched scores (B, ..., Tq, Tk), got shape {tuple(scores_shape)}"
        )
    batch, num_queries, num_keys = scores_shape[0], scores_shape[-2], scores_shape[-1]
    middle = (1,) * (len(scores_shape) - 3)
    if valid_lens.shape == (batch,):
        keep = lengths_to_mask(valid_lens, num_keys)  # (B, Tk)
        return keep.view(batch, *middle, 1, num_keys)  # (B, 1.., 1, Tk)
    if valid_lens.shape == (batch, num_queries):
        keep = lengths_to_mask(valid_lens, num_keys)  # (B, Tq, Tk)
        return keep.view(batch, *middle, num_queries, num_keys)  # (B, 1.., Tq, Tk)
    raise ValueError(
        f"valid_lens must have shape ({batch},) or ({batch}, {num_queries}), "
        f"got {tuple(valid_lens.shape)}"
    )


def merge_masks(first: Tensor | None, second: Tensor | None) -> Tensor | None:
    """Combine two masks (keep or float); a float result adds ``-inf`` where a keep mask is False."""
    if first is None or second is None:
        return first if second is None else second
    if first.dtype == torch.bool and second.dtype == torch.bool:
        return first & second
    dtype = first.dtype if first.is_floating_point() else second.dtype
    return as_float_mask(first, dtype) + as_float_mask(second, dtype)


def as_float_mask(mask: Tensor, dtype: torch.dtype) -> Tensor:
    """A float mask: ``0`` where kept and ``-inf`` where blocked (float masks pass through)."""
    if mask.dtype != torch.bool:
        return mask.to(dtype)
    zeros = torch.zeros(mask.shape, dtype=dtype, device=mask.device)
    return zeros.masked_fill(~mask, float("-inf"))


def build_attention_mask(
    scores_shape: torch.Size,
    *,
    mask: Tensor | None = None,
    valid_lens: Tensor | None = None,
    is_causal: bool = False,
    device: torch.device | None = None,
) -> Tensor | None:
    """One mask (keep or float) from an explicit mask, valid lengths and causality, or None."""
    combined = None
    if mask is not None:
        combined = check_mask(mask, scores_shape, "mask")
    if valid_lens is not None:
        check_int_tensor(valid_lens, "valid_lens")
        if device is not None:
            valid_lens = valid_lens.to(device)
        combined = merge_masks(combined, valid_lens_to_keep_mask(valid_lens, scores_shape))
    num_queries, num_keys = scores_shape[-2], scores_shape[-1]
    if is_causal and num_queries > 1:  # one query is the last position: it sees every key
        combined = merge_masks(combined, causal_mask(num_queries, num_keys, device=device))
    return combined


def masked_softmax(
    scores: Tensor, valid_lens: Tensor | None = None, mask: Tensor | None = None
) -> Tensor:
    """Softmax over the last axis that gives masked keys exactly zero weight.

    Args:
        scores: ``(B, ..., Tq, Tk)`` attention scores (any shape ``(..., Tk)`` without
            ``valid_lens``).
        valid_lens: ``(B,)`` or ``(B, Tq)`` integer lengths; keys at or past the length
            are masked.
        mask: keep mask (True = attend) or float mask, broadcastable to ``scores``.

    Returns:
        Weights of the shape of ``scores``; fully masked rows are all zeros, not NaN.
    """
    if not isinstance(scores, Tensor) or not scores.is_floating_point():
        raise TypeError("scores must be a floating-point torch.Tensor")
    combined = build_attention_mask(
        scores.shape, mask=mask, valid_lens=valid_lens, device=scores.device
    )
    if combined is None:
        return torch.softmax(scores, dim=-1)
    if combined.dtype != torch.bool:
        scores = scores + combined.to(scores.dtype)
        combined = ~torch.isneginf(combined)
    # a finite fill keeps fully masked rows finite; the final fill makes their weights zero
    filled = scores.masked_fill(~combined, torch.finfo(scores.dtype).min)
    return torch.softmax(filled, dim=-1).masked_fill(~combined, 0.0)
