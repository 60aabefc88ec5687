"""Linear regression, softmax regression and the MLP, each from scratch and concise.

Every model comes as a pair that computes the same function:

- the *scratch* model holds explicit ``nn.Parameter`` weights stored ``(in, out)`` and
  computes ``X @ W + b`` with the from-scratch ``relu``, ``dropout_layer`` and
  ``cross_entropy`` of ``dllab.core.fundamentals.functional``;
- the *concise* model is an ``nn.Sequential`` of ``nn.Flatten``/``nn.Linear``/``nn.ReLU``/
  ``nn.Dropout`` trained with ``F.cross_entropy`` (or ``F.mse_loss``).

``copy_scratch_weights(scratch, concise)`` copies one into the other, which is how the tests
prove each pair equal (same outputs and gradients). Inputs of shape ``(B, num_inputs)`` or
``(B, 1, 28, 28)``-like images are flattened; a wrong feature count or a non-float dtype is
rejected at the door. Follows chapters 3-5 of Dive into Deep Learning (d2l.ai).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import torch
from torch import Tensor, nn

from dllab.core.checks import check_int, check_positive, check_positive_int
from dllab.core.fundamentals.checks import (
    check_dropout,
    check_hiddens,
    flatten_inputs,
    regression_targets,
)
from dllab.core.fundamentals.functional import (
    cross_entropy_unchecked,
    dropout_layer,
    relu,
    xavier_uniform_,
)
from dllab.core.module import Classifier, Module

__all__ = [
    "MLP",
    "LinearRegression",
    "LinearRegressionScratch",
    "MLPScratch",
    "SoftmaxRegression",
    "SoftmaxRegressionScratch",
    "copy_scratch_weights",
    "dropout_layer",
    "flatten_inputs",
]


# ---- linear regression -----------------------------------------------------------------------
class LinearRegressionScratch(Module):
    """``y = X w + b`` with explicit parameters and a hand-written squared loss.

    Args:
        num_inputs: features per sample.
        lr: learning rate (minibatch SGD by default).
        sigma: standard deviation of the initial weights (biases start at 0).
        **module_kwargs: ``optimizer``, ``weight_decay``, ``momentum`` (see ``Module``).
    """

    def __init__(
        self, num_inputs: int, lr: float = 0.03, sigma: float = 0.01, **module_kwargs: Any
    ) -> None:
        check_positive_int(num_inputs, "num_inputs")
        check_positive(sigma, "sigma")
        super().__init__(lr=lr, **module_kwargs)
        self.save_hyperparameters()
        self.num_inputs = num_inputs
        self.w = nn.Parameter(torch.randn(num_inputs, 1) * sigma)  # (num_inputs, 1)
        self.b = nn.Parameter(torch.zeros(1))

    def forward(self, X: Tensor) -> Tensor:
        X = flatten_inputs(X, self.num_inputs, type(self).__name__)
        return X @ self.w + self.b  # (B, 1)

    def loss(self, y_hat: Tensor, y: Tensor) -> Tensor:
        """Mean squared error, written out."""
        y = regression_targets(y_hat, y)
        return ((y_hat - y) ** 2).mean()

    def linear_params(self) -> list[tuple[Tensor, Tensor]]:
        """``[(W, b)]`` with ``W`` stored ``(in, out)``."""
        return [(self.w, self.b)]


class LinearRegression(Module):
    """Concise linear regression: ``nn.Linear`` and ``F.mse_loss``.

    Args:
        num_inputs: features per sample.
        lr: learning rate.
        **module_kwargs: ``optimizer``, ``weight_decay``, ``momentum`` (see ``Module``).
    """

    def __init__(self, num_inputs: int, lr: float = 0.03, **module_kwargs: Any) -> None:
        check_positive_int(num_inputs, "num_inputs")
        super().__init__(lr=lr, **module_kwargs)
        self.save_hyperparameters()
        self.num_inputs = num_inputs
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, 1))
        nn.init.normal_(self.net[1].weight, 0.0, 0.01)
        nn.init.zeros_(self.net[1].bias)

    def forward(self, X: Tensor) -> Tensor:
        flatten_inputs(X, self.num_inputs, type(self).__name__)
        return self.net(X)  # (B, 1)

    def loss(self, y_hat: Tensor, y: Tensor) -> Tensor:
        return nn.functional.mse_loss(y_hat, regression_targets(y_hat, y))


# ---- classifiers -----------------------------------------------------------------------------
class _ScratchClassifier(Classifier):
    """A ``Classifier`` whose loss is the from-scratch (log-sum-exp) cross-entropy."""

    def loss(self, y_hat: Tensor, y: Tensor) -> Tensor:
        self._check_targets(y_hat, y)
        return cross_entropy_unchecked(y_hat.reshape(-1, y_hat.shape[-1]), y.reshape(-1))


class SoftmaxRegressionScratch(_ScratchClassifier):
    """Softmax regression with explicit parameters: logits ``X W + b``, scratch cross-entropy.

    ``forward`` returns logits; ``softmax`` of them gives the class probabilities.

    Args:
        num_inputs: features per sample (784 for 28x28 images).
        num_outputs: number of classes (>= 2).
        lr: learning rate.
        sigma: standard deviation of the initial weights (biases start at 0).
        **module_kwargs: ``optimizer``, ``weight_decay``, ``momentum`` (see ``Module``).
    """

    def __init__(
        self,
        num_inputs: int = 784,
        num_outputs: int = 10,
        lr: float = 0.1,
        sigma: float = 0.01,
        **module_kwargs: Any,
    ) -> None:
        check_positive_int(num_inputs, "num_inputs")
        check_int(num_outputs, "num_outputs", min=2)
        check_positive(sigma, "sigma")
        super().__init__(num_classes=num_outputs, lr=lr, **module_kwargs)
        self.save_hyperparameters()
        self.num_inputs, self.num_outputs = num_inputs, num_outputs
        self.W = nn.Parameter(torch.randn(num_inputs, num_outputs) * sigma)  # (in, out)
        self.b = nn.Parameter(torch.zeros(num_outputs))

    def forward(self, X: Tensor) -> Tensor:
        X = flatten_inputs(X, self.num_inputs, type(self).__name__)  # (B, in)
        return X @ self.W + self.b  # (B, num_outputs)

    def linear_params(self) -> list[tuple[Tensor, Tensor]]:
        """``[(W, b)]`` with ``W`` stored ``(in, out)``."""
        return [(self.W, self.b)]


class SoftmaxRegression(Classifier):
    """Concise softmax regression: ``nn.Flatten`` + ``nn.Linear``, ``F.cross_entropy``.

    Args:
        num_inputs: features per sample.
        num_outputs: number of classes (>= 2).
        lr: learning rate.
        **module_kwargs: ``optimizer``, ``weight_decay``, ``momentum`` (see ``Module``).
    """

    def __init__(
        self, num_inputs: int = 784, num_outputs: int = 10, lr: float = 0.1, **module_kwargs: Any
    ) -> None:
        check_positive_int(num_inputs, "num_inputs")
        check_int(num_outputs, "num_outputs", min=2)
        super().__init__(num_classes=num_outputs, lr=lr, **module_kwargs)
        self.save_hyperparameters()
        self.num_inputs, self.num_outputs = num_inputs, num_outputs
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, num_outputs))
        nn.init.normal_(self.net[1].weight, 0.0, 0.01)
        nn.init.zeros_(self.net[1].bias)

    def forward(self, X: Tensor) -> Tensor:
        flatten_inputs(X, self.num_inputs, type(self).__name__)
        return self.net(X)  # (B, num_outputs)


class MLPScratch(_ScratchClassifier):
    """A multilayer perceptron with explicit parameters, scratch ReLU, dropout and loss.

    Each hidden layer computes ``dropout(relu(H W + b))``; the output layer gives logits.
    Weights start Xavier-uniform, biases at 0.

    Args:
        num_inputs: features per sample.
        num_outputs: number of classes (>= 2).
        num_hiddens: width of each hidden layer, e.g. ``(256,)`` or ``(256, 128)``.
        dropout: drop probability in ``[0, 1)``, one for all hidden layers or one per layer.
        lr: learning rate.
        **module_kwargs: ``optimizer``, ``weight_decay``, ``momentum`` (see ``Module``).
    """

    def __init__(
        self,
        num_inputs: int = 784,
        num_outputs: int = 10,
        num_hiddens: Sequence[int] = (256,),
        dropout: float | Sequence[float] = 0.0,
        lr: float = 0.1,
        **module_kwargs: Any,
    ) -> None:
        check_positive_int(num_inputs, "num_inputs")
        check_int(num_outputs, "num_outputs", min=2)
        num_hiddens = check_hiddens(num_hiddens)
        dropouts = check_dropout(dropout, len(num_hiddens))
        if not isinstance(dropout, int | float):
            dropout = dropouts  # recorded in hparams.yaml as a plain list
        super().__init__(num_classes=num_outputs, lr=lr, **module_kwargs)
        self.save_hyperparameters()
        self.num_inputs, self.num_outputs = num_inputs, num_outputs
        self.dropouts = dropouts
        widths = [num_inputs, *num_hiddens, num_outputs]
        self.weights = nn.ParameterList(
            nn.Parameter(xavier_uniform_(torch.empty(n_in, n_out)))  # (in, out)
            for n_in, n_out in pairwise(widths)
        )
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(n)) for n in widths[1:])

    def forward(self, X: Tensor) -> Tensor:
        H = flatten_inputs(X, self.num_inputs, type(self).__name__)  # (B, in)
        hidden = zip(self.weights[:-1], self.biases[:-1], self.dropouts, strict=True)
        for W, b, p in hidden:
            H = relu(H @ W + b)  # (B, h)
            H = dropout_layer(H, p, training=self.training)
        return H @ self.weights[-1] + self.biases[-1]  # (B, num_outputs)

    def linear_params(self) -> list[tuple[Tensor, Tensor]]:
        """``[(W, b), ...]`` per layer, ``W`` stored ``(in, out)``."""
        return list(zip(self.weights, self.biases, strict=True))


class MLP(Classifier):
    """Concise MLP: ``nn.Sequential`` of ``Flatten``, ``(Linear, ReLU, Dropout)`` per hidden
    layer and a final ``Linear``; ``F.cross_entropy``. Arguments as ``MLPScratch``."""

    def __init__(
        self,
        num_inputs: int = 784,
        num_outputs: int = 10,
        num_hiddens: Sequence[int] = (256,),
        dropout: float | Sequence[float] = 0.0,
        lr: float = 0.1,
        **module_kwargs: Any,
    ) -> None:
        check_positive_int(num_inputs, "num_inputs")
        check_int(num_outputs, "num_outputs", min=2)
        num_hiddens = check_hiddens(num_hiddens)
        dropouts = check_dropout(dropout, len(num_hiddens))
        if not isinstance(dropout, int | float):
            dropout = dropouts
        super().__init__(num_classes=num_outputs, lr=lr, **module_kwargs)
        self.save_hyperparameters()
        self.num_inputs, self.num_outputs = num_inputs, num_outputs
        layers: list[nn.Module] = [nn.Flatten()]
        width = num_inputs
        for h, p in zip(num_hiddens, dropouts, strict=True):
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(p)]
            width = h
        layers.append(nn.Linear(width, num_outputs))
        self.net = nn.Sequential(*layers)
        for layer in self.net:
            if isinstance(layer, nn.Linear):
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)

    def forward(self, X: Tensor) -> Tensor:
        flatten_inputs(X, self.num_inputs, type(self).__name__)
        return self.net(X)  # (B, num_outputs)


# ---- scratch <-> concise ---------------------------------------------------------------------
@torch.no_grad()
def copy_scratch_weights(scratch: nn.Module, concise: nn.Module) -> nn.Module:
    """Copy a scratch model's ``(W, b)`` layers into the ``nn.Linear`` layers of its twin.

    ``W`` is stored ``(in, out)`` for ``X @ W``; ``nn.Linear.weight`` is ``(out, in)``, so
    it receives ``W.T``. Returns ``concise``.

    Raises:
        TypeError: ``scratch`` has no ``linear_params()``.
        ValueError: the two models do not have the same layer shapes.
    """
    if not hasattr(scratch, "linear_params"):
        raise TypeError(f"{type(scratch).__name__} is not a scratch model (no linear_params)")
    pairs = scratch.linear_params()
    linears = [m for m in concise.modules() if isinstance(m, nn.Linear)]
    if len(pairs) != len(linears):
        raise ValueError(
            f"{type(scratch).__name__} has {len(pairs)} layers but "
            f"{type(concise).__name__} has {len(linears)} nn.Linear layers"
        )
    for i, ((W, b), linear) in enumerate(zip(pairs, linears, strict=True)):
        if tuple(W.T.shape) != tuple(linear.weight.shape):
            raise ValueError(
                f"layer {i}: scratch weight {tuple(W.shape)} (in, out) does not fit "
                f"nn.Linear weight {tuple(linear.weight.shape)} (out, in)"
            )
        linear.weight.copy_(W.T)
        linear.bias.copy_(b)
    return concise
