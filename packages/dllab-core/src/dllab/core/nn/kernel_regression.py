"""Attention pooling by similarity: Nadaraya–Watson kernel regression (d2l 11.2).

``f(q) = sum_i alpha(q, k_i) v_i`` with ``alpha(q, k_i) = K((q - k_i) / h) / sum_j K(...)``:
the queries are the points where we predict, the keys are the training inputs and the values
their targets. ``nadaraya_watson`` is the non-parametric form (fixed kernel and width);
``NadarayaWatson`` is the parametric form whose inverse width ``w`` is learned, with the
Gaussian score ``-((q - k) w)^2 / 2``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from dllab.core.checks import check_float_tensor
from dllab.core.nn.masking import masked_softmax

KERNELS: dict[str, Callable[[Tensor], Tensor]] = {
    "gaussian": lambda d: torch.exp(-(d**2) / 2),
    "boxcar": lambda d: (d.abs() < 1.0).to(d.dtype),
    "constant": lambda d: torch.ones_like(d),
    "epanechnikov": lambda d: torch.clamp(1.0 - d.abs(), min=0.0),
}


def _as_points(x: Tensor, name: str) -> Tensor:
    check_float_tensor(x, name, ndim=(1, 2))
    return x.unsqueeze(-1) if x.dim() == 1 else x  # (n, D)


def squared_distances(queries: Tensor, keys: Tensor) -> Tensor:
    """Squared Euclidean distances ``(Nq, Nk)``; points are ``(N,)`` or ``(N, D)``."""
    q, k = _as_points(queries, "queries"), _as_points(keys, "keys")  # (Nq, D), (Nk, D)
    if q.shape[1] != k.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} features but keys have {k.shape[1]}")
    if q.dtype != k.dtype:
        raise ValueError(f"queries and keys need one dtype, got {q.dtype} and {k.dtype}")
    diff = q.unsqueeze(1) - k.unsqueeze(0)  # (Nq, Nk, D)
    return diff.pow(2).sum(-1)  # (Nq, Nk)


def kernel_weights(
    queries: Tensor, keys: Tensor, kernel: str = "gaussian", width: float = 1.0
) -> Tensor:
    """Attention weights ``(Nq, Nk)`` of Nadaraya–Watson regression; each row sums to 1.

    A query with no key inside a compactly supported kernel (boxcar, Epanechnikov) gets an
    all-zero row, so its prediction is 0 rather than NaN.
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {sorted(KERNELS)}, got {kernel!r}")
    if not width > 0:
        raise ValueError(f"width must be > 0, got {width}")
    sq = squared_distances(queries, keys) / width**2  # (Nq, Nk)
    if kernel == "gaussian":  # through softmax: stable for far-away queries
        return torch.softmax(-sq / 2, dim=-1)
    k = KERNELS[kernel](sq.sqrt())  # (Nq, Nk)
    total = k.sum(-1, keepdim=True)  # (Nq, 1)
    return torch.where(total > 0, k / total.clamp_min(torch.finfo(k.dtype).tiny), 0.0)


def _check_values(values: Tensor, keys: Tensor) -> None:
    check_float_tensor(keys, "keys", ndim=(1, 2))
    check_float_tensor(values, "values", ndim=(1, 2))
    if values.dtype != keys.dtype:
        raise ValueError(f"keys and values need one dtype, got {keys.dtype} and {values.dtype}")
    if values.shape[0] != keys.shape[0]:
        raise ValueError(
            f"keys and values must have the same length, got {keys.shape[0]} keys and "
            f"{values.shape[0]} values"
        )


def nadaraya_watson(
    queries: Tensor,
    keys: Tensor,
    values: Tensor,
    kernel: str = "gaussian",
    width: float = 1.0,
) -> tuple[Tensor, Tensor]:
    """Non-parametric attention pooling.

    Args:
        queries: ``(Nq,)`` or ``(Nq, D)`` points to predict at.
        keys: ``(Nk,)`` or ``(Nk, D)`` training inputs.
        values: ``(Nk,)`` or ``(Nk, Dv)`` training targets.
        kernel: ``"gaussian"``, ``"boxcar"``, ``"constant"`` or ``"epanechnikov"``.
        width: kernel width ``h`` (> 0).

    Returns:
        ``(predictions, weights)``: ``(Nq,)``/``(Nq, Dv)`` and ``(Nq, Nk)``.
    """
    _check_values(values, keys)
    weights = kernel_weights(queries, keys, kernel, width)  # (Nq, Nk)
    return weights @ values, weights


class NadarayaWatson(nn.Module):
    """Parametric Nadaraya–Watson regression with a learnable inverse width ``w``.

    ``alpha(q, k_i) = softmax_i(-((q - k_i) w)^2 / 2)``. The last weights are kept in
    ``attention_weights`` for plotting.

    Args:
        init_w: starting value of ``w``.
    """

    def __init__(self, init_w: float = 1.0) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(float(init_w)))
        self.attention_weights: Tensor | None = None

    def forward(
        self, queries: Tensor, keys: Tensor, values: Tensor, mask: Tensor | None = None
    ) -> Tensor:
        """Predict at ``queries``; ``mask`` ``(Nq, Nk)`` (True = use) can leave keys out.

        Training uses the training points as queries and masks each point's own key
        (leave-one-out), otherwise ``w`` grows without bound.
        """
        _check_values(values, keys)
        sq = squared_distances(queries, keys)  # (Nq, Nk)
        scores = -sq * self.w**2 / 2  # (Nq, Nk)
        weights = masked_softmax(scores, mask=mask)  # (Nq, Nk)
        self.attention_weights = weights.detach()
        return weights @ values  # (Nq,) or (Nq, Dv)


def leave_one_out_mask(n: int, device: torch.device | str | None = None) -> Tensor:
    """Keep mask ``(n, n)`` that hides each point's own key: True off the diagonal."""
    return ~torch.eye(n, dtype=torch.bool, device=device)
