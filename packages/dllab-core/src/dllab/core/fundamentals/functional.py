"""From-scratch building blocks of the fundamentals: softmax, cross-entropy, activations, init.

Everything here is written with elementary tensor operations (``exp``, ``log``, ``sum``,
``where``, matrix products) so it can be read as the math, and each function has a parity
test against its ``torch`` twin:

- ``softmax_naive`` is the textbook ``exp(x) / sum(exp(x))``; it overflows for large logits.
- ``softmax``, ``log_softmax`` and ``cross_entropy`` subtract the row maximum first (the
  log-sum-exp trick), so they stay finite for any finite logits.
- ``relu``, ``sigmoid``, ``tanh`` and their derivatives ``*_grad``, for plotting and for
  checking backpropagation by hand.
- ``dropout_layer``: inverted dropout (keep with probability ``1 - p``, scale by
  ``1 / (1 - p)``), drawing its mask the way ``F.dropout`` does on CPU.
- ``xavier_uniform_`` / ``xavier_normal_``: Glorot & Bengio (2010) initialization.

Follows chapters 4-5 of Dive into Deep Learning (d2l.ai).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from dllab.core.checks import check_positive, check_probability

__all__ = [
    "cross_entropy",
    "cross_entropy_unchecked",
    "dropout_layer",
    "fan_in_and_fan_out",
    "log_softmax",
    "relu",
    "relu_grad",
    "sigmoid",
    "sigmoid_grad",
    "softmax",
    "softmax_naive",
    "tanh",
    "tanh_grad",
    "xavier_normal_",
    "xavier_uniform_",
]


def _check_float_tensor(X: object, name: str = "X") -> Tensor:
    if not isinstance(X, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(X).__name__}")
    if not X.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {X.dtype}")
    return X


def _check_dim(X: Tensor, dim: int) -> None:
    if X.dim() == 0:
        raise ValueError("softmax needs at least one dimension, got a 0-d tensor")
    if not -X.dim() <= dim < X.dim():
        raise ValueError(f"dim {dim} is out of range for a tensor with {X.dim()} dimensions")


# ---- softmax and cross-entropy ---------------------------------------------------------------
def softmax_naive(X: Tensor, dim: int = -1) -> Tensor:
    """Textbook softmax ``exp(X) / sum(exp(X))``: overflows to NaN once a logit passes ~88
    (float32) or ~709 (float64). Kept for teaching; use ``softmax``."""
    _check_float_tensor(X)
    _check_dim(X, dim)
    X_exp = torch.exp(X)
    return X_exp / X_exp.sum(dim=dim, keepdim=True)


def _shifted(X: Tensor, dim: int) -> Tensor:
    """``X - max(X)`` along ``dim``; the largest entry becomes 0, so ``exp`` cannot overflow.

    The maximum is a constant shift (softmax is invariant to it), so it is detached: the
    gradient then flows only through ``X``, exactly as for the unshifted formula.
    """
    return X - X.amax(dim=dim, keepdim=True).detach()


def softmax(X: Tensor, dim: int = -1) -> Tensor:
    """Numerically stable softmax along ``dim``; equals ``F.softmax``."""
    _check_float_tensor(X)
    _check_dim(X, dim)
    X_exp = torch.exp(_shifted(X, dim))  # entries in (0, 1]
    return X_exp / X_exp.sum(dim=dim, keepdim=True)


def log_softmax(X: Tensor, dim: int = -1) -> Tensor:
    """Stable ``log(softmax(X))`` via log-sum-exp; equals ``F.log_softmax``.

    ``log softmax(x)_i = (x_i - m) - log sum_j exp(x_j - m)`` with ``m = max_j x_j``.
    """
    _check_float_tensor(X)
    _check_dim(X, dim)
    Z = _shifted(X, dim)
    return Z - torch.log(torch.exp(Z).sum(dim=dim, keepdim=True))


def cross_entropy(logits: Tensor, labels: Tensor, reduction: str = "mean") -> Tensor:
    """Cross-entropy of integer ``labels`` under ``softmax(logits)``, from the logits.

    Classes lie on the LAST axis: ``logits`` is ``(*batch, C)`` and ``labels`` is ``(*batch)``
    with values in ``[0, C)``. For ``(N, C)`` logits this equals ``F.cross_entropy``.

    Args:
        logits: unnormalized scores, floating point.
        labels: class indices, an integer tensor.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per-sample losses).
    """
    _check_float_tensor(logits, "logits")
    if not isinstance(labels, Tensor):
        raise TypeError(f"labels must be a torch.Tensor, got {type(labels).__name__}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"labels must be an integer tensor of class indices, got {labels.dtype}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if logits.dim() == 0 or logits.shape[:-1] != labels.shape:
        raise ValueError(
            f"logits {tuple(logits.shape)} do not match labels {tuple(labels.shape)}: "
            "expected logits of shape (*labels.shape, num_classes)"
        )
    num_classes = logits.shape[-1]
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        lo, hi = int(labels.min()), int(labels.max())
        raise ValueError(f"labels must lie in [0, {num_classes - 1}], found [{lo}, {hi}]")
    return cross_entropy_unchecked(logits, labels, reduction)


def cross_entropy_unchecked(logits: Tensor, labels: Tensor, reduction: str = "mean") -> Tensor:
    """``cross_entropy`` without input checks (no label-range test, hence no device sync).

    For training loops whose labels were validated once; shapes as in ``cross_entropy``.
    """
    Z = _shifted(logits, -1)  # (*batch, C), max entry 0
    log_probs = Z - torch.log(torch.exp(Z).sum(dim=-1, keepdim=True))  # (*batch, C)
    picked = log_probs.gather(-1, labels.long().unsqueeze(-1)).squeeze(-1)  # (*batch,)
    losses = -picked
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


# ---- activations and their derivatives -------------------------------------------------------
def relu(X: Tensor) -> Tensor:
    """``max(x, 0)`` element-wise; NaN stays NaN (as ``torch.relu``), so divergence shows."""
    _check_float_tensor(X)
    return torch.where(X <= 0, 0.0, X)


def relu_grad(X: Tensor) -> Tensor:
    """Derivative of ``relu``: 1 where ``x > 0``, else 0 (0 at ``x = 0``, as autograd)."""
    _check_float_tensor(X)
    return (X > 0).to(X.dtype)


def sigmoid(X: Tensor) -> Tensor:
    """``1 / (1 + exp(-x))``, evaluated without overflow for large ``|x|``.

    For ``x < 0`` the equal form ``exp(x) / (1 + exp(x))`` is used. Each branch only ever
    sees inputs of its own sign, so neither overflows and autograd through it stays finite.
    """
    _check_float_tensor(X)
    positive = X >= 0
    x_pos = torch.where(positive, X, 0.0)
    x_neg = torch.where(positive, 0.0, X)
    exp_neg = torch.exp(x_neg)  # in (0, 1]
    return torch.where(positive, 1 / (1 + torch.exp(-x_pos)), exp_neg / (1 + exp_neg))


def sigmoid_grad(X: Tensor) -> Tensor:
    """Derivative of ``sigmoid``: ``s(x) * (1 - s(x))``."""
    s = sigmoid(X)
    return s * (1 - s)


def tanh(X: Tensor) -> Tensor:
    """``(1 - exp(-2x)) / (1 + exp(-2x))``, evaluated without overflow or cancellation.

    ``expm1`` keeps full precision near 0, and ``tanh(-x) = -tanh(x)`` gives the branch
    for negative inputs, so ``exp`` only ever sees non-positive arguments.
    """
    _check_float_tensor(X)
    positive = X >= 0
    x_abs = torch.where(positive, X, -X)
    e = torch.exp(-2 * x_abs)  # in (0, 1]
    t = -torch.expm1(-2 * x_abs) / (1 + e)  # tanh(|x|)
    return torch.where(positive, t, -t)


def tanh_grad(X: Tensor) -> Tensor:
    """Derivative of ``tanh``: ``1 - tanh(x)^2``."""
    return 1 - tanh(X) ** 2


# ---- dropout ---------------------------------------------------------------------------------
def dropout_layer(
    X: Tensor, p: float, training: bool = True, generator: torch.Generator | None = None
) -> Tensor:
    """Inverted dropout: zero each entry with probability ``p``, scale the rest by ``1/(1-p)``.

    The expectation of every entry is unchanged, so evaluation needs no rescaling: with
    ``training=False`` (or ``p == 0``) ``X`` is returned as is. The keep-mask is drawn with
    ``bernoulli_(1 - p)`` like ``F.dropout`` on CPU, so under the same seed both drop the same
    entries.

    Args:
        X: input activations, floating point.
        p: drop probability in ``[0, 1]``; ``p == 1`` returns zeros.
        training: apply dropout (True) or the identity (False).
        generator: optional random generator for the mask (default: torch's global one).
    """
    _check_float_tensor(X)
    p = check_probability(p, "dropout probability p", allow_one=True)
    if not training or p == 0:
        return X
    if p == 1:
        return torch.zeros_like(X)
    keep = torch.empty_like(X).bernoulli_(1 - p, generator=generator)  # 1 = keep, 0 = drop
    return X * (keep / (1 - p))


# ---- Xavier initialization -------------------------------------------------------------------
def fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight, with torch's convention for ``(out, in, *kernel)``.

    For a 2-D ``(rows, cols)`` weight, fan_in is ``cols`` and fan_out is ``rows``; extra
    dimensions (a convolution kernel) multiply both. Xavier only uses their sum, so a weight
    stored ``(in, out)`` for ``X @ W`` gets the same scale.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
    if tensor.dim() < 2:
        raise ValueError(
            f"Xavier initialization needs a weight with at least 2 dimensions, "
            f"got shape {tuple(tensor.shape)}"
        )
    receptive_field = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _xavier_std(tensor: Tensor, gain: float) -> float:
    _check_float_tensor(tensor, "tensor")
    check_positive(gain, "gain")
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    if fan_in + fan_out == 0:
        raise ValueError(f"cannot initialize an empty weight of shape {tuple(tensor.shape)}")
    return gain * math.sqrt(2.0 / float(fan_in + fan_out))


@torch.no_grad()
def xavier_uniform_(
    tensor: Tensor, gain: float = 1.0, generator: torch.Generator | None = None
) -> Tensor:
    """Fill ``tensor`` in place from ``U(-a, a)``, ``a = gain * sqrt(6 / (fan_in + fan_out))``.

    The variance ``a^2 / 3 = gain^2 * 2 / (fan_in + fan_out)`` keeps activations and gradients
    at the same scale through the layer. Returns ``tensor``.
    """
    bound = math.sqrt(3.0) * _xavier_std(tensor, gain)
    return tensor.uniform_(-bound, bound, generator=generator)


@torch.no_grad()
def xavier_normal_(
    tensor: Tensor, gain: float = 1.0, generator: torch.Generator | None = None
) -> Tensor:
    """Fill ``tensor`` in place from ``N(0, gain^2 * 2 / (fan_in + fan_out))``. Returns it."""
    return tensor.normal_(0.0, _xavier_std(tensor, gain), generator=generator)
