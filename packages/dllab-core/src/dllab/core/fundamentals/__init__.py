"""Fundamentals: regression, softmax, MLP and dropout, from scratch and concise.

- ``functional``: stable ``softmax``/``log_softmax``/``cross_entropy`` (and the naive
  ``softmax_naive``), ``relu``/``sigmoid``/``tanh`` with derivatives, ``dropout_layer``,
  Xavier initialization.
- ``models``: ``LinearRegression``, ``SoftmaxRegression`` and ``MLP``, each with a
  ``*Scratch`` twin, and ``copy_scratch_weights`` to prove a pair equal.
- ``backprop``: ``mlp_backward``, the gradients of a two-layer MLP written out by hand.

Names load lazily, so importing this package does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dllab.core.lazy import lazy_exports

if TYPE_CHECKING:
    from dllab.core.fundamentals.backprop import MLPGradients, mlp_backward
    from dllab.core.fundamentals.functional import (
        cross_entropy,
        cross_entropy_unchecked,
        dropout_layer,
        fan_in_and_fan_out,
        log_softmax,
        relu,
        relu_grad,
        sigmoid,
        sigmoid_grad,
        softmax,
        softmax_naive,
        tanh,
        tanh_grad,
        xavier_normal_,
        xavier_uniform_,
    )
    from dllab.core.fundamentals.models import (
        MLP,
        LinearRegression,
        LinearRegressionScratch,
        MLPScratch,
        SoftmaxRegression,
        SoftmaxRegressionScratch,
        copy_scratch_weights,
        flatten_inputs,
    )

_FUNCTIONAL = "dllab.core.fundamentals.functional"
_MODELS = "dllab.core.fundamentals.models"
_BACKPROP = "dllab.core.fundamentals.backprop"

_LAZY = {
    **dict.fromkeys(["MLPGradients", "mlp_backward"], _BACKPROP),
    **dict.fromkeys(
        [
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
        ],
        _FUNCTIONAL,
    ),
    **dict.fromkeys(
        [
            "LinearRegression",
            "LinearRegressionScratch",
            "MLP",
            "MLPScratch",
            "SoftmaxRegression",
            "SoftmaxRegressionScratch",
            "copy_scratch_weights",
            "flatten_inputs",
        ],
        _MODELS,
    ),
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY)
