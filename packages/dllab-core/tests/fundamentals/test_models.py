"""Each scratch model equals its concise twin (float64, outputs and gradients), and every
model checks its arguments and inputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dllab.core.fundamentals.models import (
    MLP,
    LinearRegression,
    LinearRegressionScratch,
    MLPScratch,
    SoftmaxRegression,
    SoftmaxRegressionScratch,
    copy_scratch_weights,
)
from dllab.core.testing import assert_close_to_reference

ATOL = 1e-10  # float64: the two paths differ only by summation order (~1e-15)


def regression_batch(n: int = 16, features: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, features, dtype=torch.float64, generator=g)
    return X, torch.randn(n, 1, dtype=torch.float64, generator=g)


def image_batch(n: int = 16, flat: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    X = torch.rand(n, 1, 28, 28, dtype=torch.float64, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return (X.reshape(n, 784) if flat else X), y


PAIRS = {
    "linear-regression": (
        lambda: LinearRegressionScratch(12, sigma=0.5),
        lambda: LinearRegression(12),
        regression_batch,
    ),
    "softmax-regression": (
        lambda: SoftmaxRegressionScratch(sigma=0.1),
        SoftmaxRegression,
        image_batch,
    ),
    "softmax-regression-flat": (
        SoftmaxRegressionScratch,
        SoftmaxRegression,
        lambda: image_batch(flat=True),
    ),
    "mlp-one-hidden": (
        lambda: MLPScratch(num_hiddens=(32,)),
        lambda: MLP(num_hiddens=(32,)),
        image_batch,
    ),
    "mlp-two-hidden-dropout-eval": (
        lambda: MLPScratch(num_hiddens=(32, 16), dropout=0.5).eval(),
        lambda: MLP(num_hiddens=(32, 16), dropout=0.5).eval(),
        image_batch,
    ),
}


def twins(make_scratch, make_concise):
    torch.manual_seed(0)
    scratch, concise = make_scratch().double(), make_concise().double()
    copy_scratch_weights(scratch, concise)
    return scratch, concise


def assert_same_gradients(scratch, concise) -> None:
    linears = [m for m in concise.modules() if isinstance(m, nn.Linear)]
    for i, ((W, b), linear) in enumerate(zip(scratch.linear_params(), linears, strict=True)):
        assert W.grad is not None and linear.weight.grad is not None
        assert_close_to_reference(W.grad, linear.weight.grad.T, atol=ATOL, name=f"dW{i}")
        assert_close_to_reference(b.grad, linear.bias.grad, atol=ATOL, name=f"db{i}")


@pytest.mark.parametrize("pair", list(PAIRS))
def test_scratch_equals_concise(pair):
    make_scratch, make_concise, make_batch = PAIRS[pair]
    scratch, concise = twins(make_scratch, make_concise)
    X, y = make_batch()
    out_scratch, out_concise = scratch(X), concise(X)
    assert_close_to_reference(out_scratch, out_concise, atol=ATOL, name="outputs")
    loss_scratch, loss_concise = scratch.loss(out_scratch, y), concise.loss(out_concise, y)
    assert_close_to_reference(loss_scratch, loss_concise, atol=ATOL, name="loss")
    loss_scratch.backward()
    loss_concise.backward()
    assert_same_gradients(scratch, concise)


def test_copy_is_not_vacuous():
    """Without the copy the twins differ, so the parity test above can fail."""
    torch.manual_seed(0)
    scratch, concise = MLPScratch(num_hiddens=(8,)).double(), MLP(num_hiddens=(8,)).double()
    X, _ = image_batch()
    assert (scratch(X) - concise(X)).abs().max() > 1e-3


@pytest.mark.parametrize("dropout", [0.5, (0.3, 0.6)])
def test_scratch_dropout_equals_nn_dropout_under_the_same_seed(dropout):
    scratch, concise = twins(
        lambda: MLPScratch(num_hiddens=(32, 16), dropout=dropout),
        lambda: MLP(num_hiddens=(32, 16), dropout=dropout),
    )
    X, y = image_batch()
    torch.manual_seed(11)
    out_scratch = scratch(X)
    torch.manual_seed(11)
    out_concise = concise(X)
    assert_close_to_reference(out_scratch, out_concise, atol=ATOL, name="train-mode outputs")
    scratch.loss(out_scratch, y).backward()
    concise.loss(out_concise, y).backward()
    assert_same_gradients(scratch, concise)
    torch.manual_seed(12)
    assert (scratch(X) - out_scratch).abs().max() > 1e-3, "a new seed should drop other units"


@pytest.mark.parametrize("cls", [MLPScratch, MLP])
def test_dropout_is_identity_in_eval_mode(cls):
    torch.manual_seed(0)
    with_dropout = cls(num_hiddens=(32,), dropout=0.7).double()
    without = cls(num_hiddens=(32,), dropout=0.0).double()
    without.load_state_dict(with_dropout.state_dict())
    X, _ = image_batch()
    with_dropout.eval()
    assert torch.equal(with_dropout(X), with_dropout(X))
    assert_close_to_reference(with_dropout(X), without(X), atol=0.0, name="eval output")
    with_dropout.train()
    assert (with_dropout(X) - without(X)).abs().max() > 1e-3


def test_per_layer_dropout_reaches_each_layer():
    concise = MLP(num_hiddens=(16, 8), dropout=[0.25, 0.5])
    assert [m.p for m in concise.net if isinstance(m, nn.Dropout)] == [0.25, 0.5]
    assert MLPScratch(num_hiddens=(16, 8), dropout=[0.25, 0.5]).dropouts == [0.25, 0.5]


@pytest.mark.parametrize("cls", [MLPScratch, MLP])
def test_hyperparameters_and_optimizer_pass_through(cls):
    model = cls(
        num_inputs=20,
        num_outputs=3,
        num_hiddens=(8, 4),
        dropout=(0.1, 0.2),
        lr=0.01,
        optimizer="adam",
        weight_decay=1e-3,
    )
    assert dict(model.hparams) == {
        "num_inputs": 20,
        "num_outputs": 3,
        "num_hiddens": [8, 4],
        "dropout": [0.1, 0.2],
        "lr": 0.01,
        "optimizer": "adam",
        "weight_decay": 1e-3,
    }
    optimizer = model.configure_optimizers()
    assert isinstance(optimizer, torch.optim.Adam)
    assert optimizer.param_groups[0]["weight_decay"] == 1e-3
    assert sum(p.numel() for p in model.parameters()) == 20 * 8 + 8 + 8 * 4 + 4 + 4 * 3 + 3


def test_scratch_mlp_starts_xavier_uniform():
    torch.manual_seed(0)
    W = MLPScratch(num_inputs=400, num_hiddens=(600,)).weights[0]
    bound = (6 / (400 + 600)) ** 0.5
    assert W.abs().max() <= bound and W.abs().max() > 0.99 * bound


def test_predict_returns_classes():
    torch.manual_seed(0)
    model = SoftmaxRegressionScratch()
    X, _ = image_batch()
    pred = model.predict(X.float())
    assert pred.shape == (16,) and pred.dtype == torch.int64
    assert torch.equal(pred, model(X.float()).argmax(-1))


# ---- bad input -------------------------------------------------------------------------------
ALL_CLASSIFIERS = [SoftmaxRegressionScratch, SoftmaxRegression, MLPScratch, MLP]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"num_inputs": 0}, ValueError, "num_inputs must be >= 1"),
        ({"num_inputs": 7.5}, TypeError, "num_inputs must be an int"),
        ({"num_inputs": True}, TypeError, "num_inputs must be an int"),
        ({"num_outputs": 1}, ValueError, "num_outputs must be >= 2"),
        ({"lr": -1.0}, ValueError, "lr must be > 0"),
        ({"optimizer": "rmsprop"}, ValueError, "optimizer must be one of"),
    ],
)
@pytest.mark.parametrize("cls", ALL_CLASSIFIERS)
def test_classifiers_reject_bad_arguments(cls, kwargs, error, match):
    with pytest.raises(error, match=match):
        cls(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"dropout": 1.0}, ValueError, r"dropout must be in \[0, 1\)"),
        ({"dropout": -0.1}, ValueError, r"dropout must be in \[0, 1\)"),
        ({"dropout": (0.1, 0.2)}, ValueError, "2 values but there are 1 hidden layers"),
        ({"dropout": "0.5"}, TypeError, "dropout must be a float"),
        ({"num_hiddens": (256, 0)}, ValueError, r"num_hiddens\[1\] must be >= 1"),
        ({"num_hiddens": ()}, ValueError, "at least one hidden layer"),
        ({"num_hiddens": "256"}, TypeError, "sequence of ints"),
        ({"num_hiddens": (256.0,)}, TypeError, r"num_hiddens\[0\] must be an int"),
    ],
)
@pytest.mark.parametrize("cls", [MLPScratch, MLP])
def test_mlps_reject_bad_arguments(cls, kwargs, error, match):
    with pytest.raises(error, match=match):
        cls(**kwargs)


@pytest.mark.parametrize("cls", [LinearRegressionScratch, LinearRegression])
def test_regressions_reject_bad_arguments(cls):
    with pytest.raises(ValueError, match="num_inputs must be >= 1"):
        cls(0)
    with pytest.raises(ValueError, match="lr must be > 0"):
        cls(3, lr=0.0)
    if cls is LinearRegressionScratch:
        with pytest.raises(ValueError, match="sigma"):
            cls(3, sigma=0.0)


@pytest.mark.parametrize("cls", ALL_CLASSIFIERS)
def test_classifiers_reject_bad_inputs(cls):
    model = cls()
    with pytest.raises(ValueError, match=r"expects 784 features per sample, got 780"):
        model(torch.rand(4, 780))
    with pytest.raises(ValueError, match=r"expects 784 features per sample, got 3072"):
        model(torch.rand(4, 3, 32, 32))
    with pytest.raises(ValueError, match="batch of shape"):
        model(torch.rand(784))
    with pytest.raises(TypeError, match=r"floating-point inputs, got dtype torch\.uint8"):
        model(torch.zeros(4, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        model([[0.0] * 784])
    logits = model(torch.rand(4, 1, 28, 28))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 9\]"):
        model.loss(logits, torch.tensor([0, 1, 2, 10]))
    with pytest.raises(TypeError, match="integer"):
        model.loss(logits, torch.zeros(4))


@pytest.mark.parametrize("cls", [LinearRegressionScratch, LinearRegression])
def test_regressions_reject_bad_inputs_and_targets(cls):
    model = cls(5)
    with pytest.raises(ValueError, match="expects 5 features per sample, got 4"):
        model(torch.rand(8, 4))
    y_hat = model(torch.rand(8, 5))
    assert y_hat.shape == (8, 1)
    flat, column = model.loss(y_hat, torch.ones(8)), model.loss(y_hat, torch.ones(8, 1))
    assert_close_to_reference(flat, column, atol=0.0, name="(B,) vs (B, 1) targets")
    with pytest.raises(ValueError, match="do not match predictions"):
        model.loss(y_hat, torch.ones(7))
    with pytest.raises(TypeError, match="floating point"):
        model.loss(y_hat, torch.ones(8, 1, dtype=torch.long))


def test_copy_scratch_weights_rejects_mismatched_models():
    with pytest.raises(ValueError, match="layer 0"):
        copy_scratch_weights(MLPScratch(num_hiddens=(8,)), MLP(num_hiddens=(16,)))
    with pytest.raises(ValueError, match="has 3 layers"):
        copy_scratch_weights(MLPScratch(num_hiddens=(8, 4)), MLP(num_hiddens=(8,)))
    with pytest.raises(TypeError, match="not a scratch model"):
        copy_scratch_weights(MLP(), MLP())
