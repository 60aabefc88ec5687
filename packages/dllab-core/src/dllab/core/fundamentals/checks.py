"""Argument and input checks shared by the fundamentals models.

Constructor arguments are checked before anything is built, and every batch is checked at
``forward`` (a cheap shape/dtype test, no device sync), so a wrong input fails with an error
that names what was expected instead of a matrix-multiplication error deep inside the model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from torch import Tensor

from dllab.core.checks import check_positive_int, check_probability


def check_hiddens(num_hiddens: Any) -> list[int]:
    """Hidden-layer widths as a list of positive ints (a single int means one layer)."""
    if isinstance(num_hiddens, int) and not isinstance(num_hiddens, bool):
        num_hiddens = [num_hiddens]
    if isinstance(num_hiddens, str) or not isinstance(num_hiddens, Sequence):
        raise TypeError(f"num_hiddens must be a sequence of ints, got {num_hiddens!r}")
    if len(num_hiddens) == 0:
        raise ValueError("num_hiddens must name at least one hidden layer width")
    return [check_positive_int(h, f"num_hiddens[{i}]") for i, h in enumerate(num_hiddens)]


def check_dropout(dropout: Any, num_layers: int) -> list[float]:
    """One drop probability per hidden layer, each in ``[0, 1)``."""
    if isinstance(dropout, int | float) and not isinstance(dropout, bool):
        probs = [dropout] * num_layers
    elif isinstance(dropout, Sequence) and not isinstance(dropout, str):
        if len(dropout) != num_layers:
            raise ValueError(
                f"dropout has {len(dropout)} values but there are {num_layers} hidden layers"
            )
        probs = list(dropout)
    else:
        raise TypeError(f"dropout must be a float or one float per hidden layer, got {dropout!r}")
    return [check_probability(p, "dropout") for p in probs]


def flatten_inputs(X: Any, num_inputs: int, owner: str = "model") -> Tensor:
    """Check a batch and flatten each sample: ``(B, *shape)`` -> ``(B, num_inputs)``.

    Raises:
        TypeError: ``X`` is not a floating-point tensor.
        ValueError: ``X`` has no batch axis or the wrong number of features per sample.
    """
    if not isinstance(X, Tensor):
        raise TypeError(f"{owner} expects a torch.Tensor, got {type(X).__name__}")
    if not X.is_floating_point():
        raise TypeError(
            f"{owner} expects floating-point inputs, got dtype {X.dtype} (convert with X.float())"
        )
    if X.dim() < 2:
        raise ValueError(
            f"{owner} expects a batch of shape (B, {num_inputs}) or (B, C, H, W), "
            f"got shape {tuple(X.shape)}"
        )
    features = math.prod(X.shape[1:])
    if features != num_inputs:
        raise ValueError(
            f"{owner} expects {num_inputs} features per sample, got {features} "
            f"(input shape {tuple(X.shape)})"
        )
    return X.reshape(X.shape[0], num_inputs)


def regression_targets(y_hat: Tensor, y: Any) -> Tensor:
    """Targets reshaped to ``y_hat``'s shape (``(B,)`` and ``(B, 1)`` both accepted)."""
    if not isinstance(y, Tensor):
        raise TypeError(f"targets must be a torch.Tensor, got {type(y).__name__}")
    if not y.is_floating_point():
        raise TypeError(f"regression targets must be floating point, got dtype {y.dtype}")
    if y.shape != y_hat.shape:
        if y.numel() != y_hat.numel():
            raise ValueError(
                f"targets of shape {tuple(y.shape)} do not match predictions {tuple(y_hat.shape)}"
            )
        y = y.reshape(y_hat.shape)
    return y
