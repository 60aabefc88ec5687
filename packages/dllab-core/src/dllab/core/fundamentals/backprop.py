"""Backpropagation by hand: the gradients of a two-layer MLP, written out formula by formula.

The network is ``X -> Linear -> ReLU -> Linear -> softmax cross-entropy``, with the loss
averaged over the batch and weights stored ``(in, out)`` as in ``MLPScratch``. With ``n``
samples, ``d`` inputs, ``h`` hidden units and ``c`` classes, the forward pass is::

    Z1 = X W1 + b1                  (n, h)
    H  = relu(Z1)                   (n, h)
    Z2 = H W2 + b2                  (n, c)
    L  = mean_i -log softmax(Z2)[i, y_i]

and the chain rule, applied from the loss back to the input, gives (``Y`` is one-hot ``y``)::

    dZ2 = (softmax(Z2) - Y) / n     (n, c)   the 1/n comes from the mean
    dW2 = Hᵀ dZ2                    (h, c)
    db2 = sum_i dZ2[i]              (c,)
    dH  = dZ2 W2ᵀ                   (n, h)
    dZ1 = dH ⊙ relu'(Z1)            (n, h)
    dW1 = Xᵀ dZ1                    (d, h)
    db1 = sum_i dZ1[i]              (h,)

Each gradient has the shape of the parameter it belongs to. The test suite proves them equal
to autograd's in float64. Follows section 5.3 of Dive into Deep Learning (d2l.ai).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from dllab.core.checks import check_float_tensor, check_int_tensor
from dllab.core.fundamentals.functional import cross_entropy, relu, relu_grad, softmax

__all__ = ["MLPGradients", "mlp_backward"]


@dataclass(frozen=True)
class MLPGradients:
    """The loss of a two-layer MLP and its gradient for every parameter."""

    loss: Tensor
    """The mean cross-entropy over the batch, a 0-d tensor."""
    W1: Tensor
    """``dL/dW1``, shape ``(d, h)``."""
    b1: Tensor
    """``dL/db1``, shape ``(h,)``."""
    W2: Tensor
    """``dL/dW2``, shape ``(h, c)``."""
    b2: Tensor
    """``dL/db2``, shape ``(c,)``."""


def _check_shapes(X: Tensor, y: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor) -> None:
    n, d = X.shape
    h, c = W2.shape
    expected = {"y": (n,), "W1": (d, h), "b1": (h,), "b2": (c,)}
    for name, tensor in {"y": y, "W1": W1, "b1": b1, "b2": b2}.items():
        if tuple(tensor.shape) != expected[name]:
            raise ValueError(
                f"{name} must have shape {expected[name]} for X of shape {(n, d)} and W2 of "
                f"shape {(h, c)}, got {tuple(tensor.shape)}"
            )
    for name, tensor in {"W1": W1, "b1": b1, "W2": W2, "b2": b2}.items():
        if tensor.dtype != X.dtype or tensor.device != X.device:
            raise ValueError(
                f"{name} is {tensor.dtype} on {tensor.device} but X is {X.dtype} on {X.device}: "
                "convert all parameters to X's dtype and device"
            )


@torch.no_grad()
def mlp_backward(
    X: Tensor, y: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor
) -> MLPGradients:
    """Loss and gradients of ``relu(X W1 + b1) W2 + b2`` under mean softmax cross-entropy.

    Every gradient is computed by the formulas in the module docstring, without autograd.

    Args:
        X: inputs, floating point, shape ``(n, d)`` with ``n >= 1``.
        y: class indices, an integer tensor of shape ``(n,)`` with values in ``[0, c)``.
        W1: first-layer weight, ``(d, h)``.
        b1: first-layer bias, ``(h,)``.
        W2: output-layer weight, ``(h, c)``.
        b2: output-layer bias, ``(c,)``.

    Returns:
        The loss and ``dL/dW1``, ``dL/db1``, ``dL/dW2``, ``dL/db2``.

    Raises:
        TypeError: an argument is not a tensor.
        ValueError: a wrong dtype, dimension or shape, mixed dtypes or devices, an empty
            batch, or a label outside ``[0, c)``.
    """
    check_float_tensor(X, "X", ndim=2)
    check_int_tensor(y, "y")
    for name, value, ndim in [("W1", W1, 2), ("b1", b1, 1), ("W2", W2, 2), ("b2", b2, 1)]:
        check_float_tensor(value, name, ndim=ndim)
    if X.shape[0] == 0:
        raise ValueError("X holds no samples: the mean loss of an empty batch is undefined")
    _check_shapes(X, y, W1, b1, W2, b2)
    n, num_classes = X.shape[0], W2.shape[1]

    # forward, keeping what the backward pass needs
    Z1 = X @ W1 + b1  # (n, h)
    H = relu(Z1)  # (n, h)
    Z2 = H @ W2 + b2  # (n, c)
    loss = cross_entropy(Z2, y)  # checks the label range

    # backward, from the loss to the first layer
    Y = F.one_hot(y.long(), num_classes).to(X.dtype)  # (n, c)
    dZ2 = (softmax(Z2) - Y) / n  # (n, c)
    dW2 = H.T @ dZ2  # (h, c)
    db2 = dZ2.sum(dim=0)  # (c,)
    dH = dZ2 @ W2.T  # (n, h)
    dZ1 = dH * relu_grad(Z1)  # (n, h)
    dW1 = X.T @ dZ1  # (d, h)
    db1 = dZ1.sum(dim=0)  # (h,)
    return MLPGradients(loss=loss, W1=dW1, b1=db1, W2=dW2, b2=db2)
