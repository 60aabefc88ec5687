"""Attention scoring: scaled dot-product and additive (Bahdanau) attention (d2l 11.3).

Two implementations of scaled dot-product attention sit side by side:

- ``dot_product_attention``: the readable path, written out (scores, masked softmax,
  dropout, weighted sum). It also returns the attention weights, for heatmaps.
- ``sdpa_attention``: the fast path users train with, one call to
  ``torch.nn.functional.scaled_dot_product_attention`` with the same masks.

Both take the same arguments and agree to float rounding; ``attend`` picks one by name.
Masks follow ``dllab.core.nn.masking``: a boolean ``mask`` is True where a query may attend.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from dllab.core.checks import check_float_tensor, check_positive_int, check_probability
from dllab.core.nn.masking import build_attention_mask, masked_softmax

Impl = Literal["scratch", "sdpa"]
IMPLS = ("scratch", "sdpa")


def check_qkv(queries: Tensor, keys: Tensor, values: Tensor) -> None:
    """Raise ``ValueError`` unless ``(..., Tq, d)``, ``(..., Tk, d)``, ``(..., Tk, dv)`` agree."""
    for name, x in (("queries", queries), ("keys", keys), ("values", values)):
        check_float_tensor(x, name)
        if x.dim() < 2:
            raise ValueError(f"{name} must have shape (..., length, features), got {x.shape}")
    if not queries.dim() == keys.dim() == values.dim():
        raise ValueError(
            f"queries, keys and values need the same number of dimensions, got "
            f"{tuple(queries.shape)}, {tuple(keys.shape)}, {tuple(values.shape)}"
        )
    if queries.shape[:-2] != keys.shape[:-2] or keys.shape[:-2] != values.shape[:-2]:
        raise ValueError(
            f"batch dimensions differ: queries {tuple(queries.shape)}, keys {tuple(keys.shape)}, "
            f"values {tuple(values.shape)}"
        )
    if queries.shape[-1] != keys.shape[-1]:
        raise ValueError(
            f"queries and keys need the same feature size for dot products, got "
            f"{queries.shape[-1]} and {keys.shape[-1]}"
        )
    if keys.shape[-2] != values.shape[-2]:
        raise ValueError(
            f"keys and values must have the same length, got {keys.shape[-2]} keys and "
            f"{values.shape[-2]} values"
        )
    if not queries.dtype == keys.dtype == values.dtype:
        raise ValueError(
            f"queries, keys and values need one dtype, got {queries.dtype}, {keys.dtype}, "
            f"{values.dtype}"
        )


def dot_product_attention(
    queries: Tensor,
    keys: Tensor,
    values: Tensor,
    *,
    mask: Tensor | None = None,
    valid_lens: Tensor | None = None,
    is_causal: bool = False,
    dropout_p: float = 0.0,
    scale: float | None = None,
) -> tuple[Tensor, Tensor]:
    """Scaled dot-product attention from scratch: ``softmax(q k^T / sqrt(d)) v``.

    Args:
        queries: ``(..., Tq, d)``.
        keys: ``(..., Tk, d)``.
        values: ``(..., Tk, dv)``.
        mask: keep mask (True = attend) or float mask added to the scores, broadcastable to
            ``(..., Tq, Tk)``.
        valid_lens: ``(B,)`` or ``(B, Tq)`` integer lengths of the keys.
        is_causal: query ``i`` sees keys ``j <= i + Tk - Tq`` (queries are the last positions).
        dropout_p: dropout on the attention weights (applied whenever > 0, as in SDPA).
        scale: score scale, default ``1 / sqrt(d)``.

    Returns:
        ``(output, weights)``: ``(..., Tq, dv)`` and ``(..., Tq, Tk)``.
    """
    check_qkv(queries, keys, values)
    check_probability(dropout_p, "dropout_p")
    scale = 1.0 / math.sqrt(queries.shape[-1]) if scale is None else scale
    scores = queries @ keys.transpose(-2, -1) * scale  # (..., Tq, Tk)
    combined = build_attention_mask(
        scores.shape, mask=mask, valid_lens=valid_lens, is_causal=is_causal, device=scores.device
    )
    weights = masked_softmax(scores, mask=combined)  # (..., Tq, Tk)
    dropped = F.dropout(weights, dropout_p) if dropout_p > 0 else weights
    return dropped @ values, weights  # (..., Tq, dv), (..., Tq, Tk)


def sdpa_attention(
    queries: Tensor,
    keys: Tensor,
    values: Tensor,
    *,
    mask: Tensor | None = None,
    valid_lens: Tensor | None = None,
    is_causal: bool = False,
    dropout_p: float = 0.0,
    scale: float | None = None,
) -> Tensor:
    """The same attention through ``F.scaled_dot_product_attention`` (the fast path).

    Arguments as in ``dot_product_attention``; returns only the output ``(..., Tq, dv)``.
    """
    check_qkv(queries, keys, values)
    check_probability(dropout_p, "dropout_p")
    num_queries, num_keys = queries.shape[-2], keys.shape[-2]
    scores_shape = torch.Size((*queries.shape[:-1], num_keys))
    kernel_causal = is_causal and mask is None and valid_lens is None and num_queries == num_keys
    combined = build_attention_mask(
        scores_shape,
        mask=mask,
        valid_lens=valid_lens,
        is_causal=is_causal and not kernel_causal,
        device=queries.device,
    )
    if combined is not None and combined.dtype != torch.bool:
        combined = combined.to(queries.dtype)
    return F.scaled_dot_product_attention(
        queries,
        keys,
        values,
        attn_mask=combined,
        dropout_p=dropout_p,
        is_causal=kernel_causal,
        scale=scale,
    )


def attend(
    queries: Tensor,
    keys: Tensor,
    values: Tensor,
    *,
    impl: Impl = "sdpa",
    **kwargs: object,
) -> tuple[Tensor, Tensor | None]:
    """Run ``impl`` (``"scratch"`` or ``"sdpa"``); returns ``(output, weights or None)``."""
    if impl == "scratch":
        return dot_product_attention(queries, keys, values, **kwargs)  # type: ignore[arg-type]
    if impl == "sdpa":
        return sdpa_attention(queries, keys, values, **kwargs), None  # type: ignore[arg-type]
    raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")


class DotProductAttention(nn.Module):
    """Scaled dot-product attention as a module; keeps the last weights for plotting.

    Args:
        dropout: dropout on the attention weights (training mode only).
        impl: ``"scratch"`` (keeps ``attention_weights``) or ``"sdpa"``.
    """

    def __init__(self, dropout: float = 0.0, impl: Impl = "scratch") -> None:
        super().__init__()
        self.dropout = check_probability(dropout, "dropout")
        if impl not in IMPLS:
            raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
        self.impl = impl
        self.attention_weights: Tensor | None = None

    def forward(
        self,
        queries: Tensor,
        keys: Tensor,
        values: Tensor,
        valid_lens: Tensor | None = None,
        mask: Tensor | None = None,
        is_causal: bool = False,
    ) -> Tensor:
        """``(B, Tq, d)``, ``(B, Tk, d)``, ``(B, Tk, dv)`` -> ``(B, Tq, dv)``."""
        p = self.dropout if self.training else 0.0
        out, weights = attend(
            queries,
            keys,
            values,
            impl=self.impl,
            mask=mask,
            valid_lens=valid_lens,
            is_causal=is_causal,
            dropout_p=p,
        )
        self.attention_weights = None if weights is None else weights.detach()
        return out


class AdditiveAttention(nn.Module):
    """Additive (Bahdanau) attention: ``score(q, k) = w_v^T tanh(W_q q + W_k k)``.

    Args:
        query_size: features of a query.
        key_size: features of a key.
        num_hiddens: width of the hidden layer inside the score.
        dropout: dropout on the attention weights (training mode only).
    """

    def __init__(
        self, query_size: int, key_size: int, num_hiddens: int, dropout: float = 0.0
    ) -> None:
        super().__init__()
        check_positive_int(query_size, "query_size")
        check_positive_int(key_size, "key_size")
        check_positive_int(num_hiddens, "num_hiddens")
        self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.dropout = nn.Dropout(check_probability(dropout, "dropout"))
        self.attention_weights: Tensor | None = None

    def scores(self, queries: Tensor, keys: Tensor) -> Tensor:
        """``(B, Tq, q)`` and ``(B, Tk, k)`` -> scores ``(B, Tq, Tk)``."""
        q, k = self.W_q(queries), self.W_k(keys)  # (B, Tq, h), (B, Tk, h)
        features = torch.tanh(q.unsqueeze(2) + k.unsqueeze(1))  # (B, Tq, Tk, h)
        return self.w_v(features).squeeze(-1)  # (B, Tq, Tk)

    def forward(
        self,
        queries: Tensor,
        keys: Tensor,
        values: Tensor,
        valid_lens: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        """``(B, Tq, q)``, ``(B, Tk, k)``, ``(B, Tk, dv)`` -> ``(B, Tq, dv)``."""
        for name, x, size in (
            ("queries", queries, self.W_q.in_features),
            ("keys", keys, self.W_k.in_features),
        ):
            check_float_tensor(x, name, ndim=3)
            if x.shape[-1] != size:
                raise ValueError(f"{name} must have {size} features, got {x.shape[-1]}")
        check_float_tensor(values, "values", ndim=3)
        if keys.shape[:2] != values.shape[:2] or queries.shape[0] != keys.shape[0]:
            raise ValueError(
                f"keys and values must be (B, Tk, ...) with the batch of queries, got queries "
                f"{tuple(queries.shape)}, keys {tuple(keys.shape)}, values {tuple(values.shape)}"
            )
        weights = masked_softmax(self.scores(queries, keys), valid_lens=valid_lens, mask=mask)
        self.attention_weights = weights.detach()
        return self.dropout(weights) @ values  # (B, Tq, dv)
