"""The hand-written backward pass of a two-layer MLP equals autograd, and rejects bad input."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from dllab.core.fundamentals import MLPScratch, mlp_backward
from dllab.core.testing import assert_close_to_reference

ATOL = 1e-12  # float64: the hand formulas and autograd differ by rounding only (~1e-16)


def _problem(n: int, d: int, h: int, c: int, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    return {
        "X": randn(n, d),
        "y": torch.randint(0, c, (n,), generator=g),
        "W1": randn(d, h),
        "b1": randn(h),
        "W2": randn(h, c),
        "b2": randn(c),
    }


def _autograd(p: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    params = {k: p[k].clone().requires_grad_() for k in ("W1", "b1", "W2", "b2")}
    H = torch.relu(p["X"] @ params["W1"] + params["b1"])
    loss = F.cross_entropy(H @ params["W2"] + params["b2"], p["y"])
    loss.backward()
    return {"loss": loss.detach(), **{k: v.grad for k, v in params.items()}}


@pytest.mark.parametrize(
    ("n", "d", "h", "c", "seed"),
    [(1, 1, 1, 2, 0), (7, 3, 5, 4, 1), (64, 20, 32, 10, 2), (33, 50, 8, 3, 3)],
)
def test_gradients_equal_autograd(n, d, h, c, seed):
    problem = _problem(n, d, h, c, seed)
    ours = mlp_backward(**problem)
    reference = _autograd(problem)
    assert (reference["W1"] != 0).any()  # the ReLU is not dead everywhere: a real check
    for name in ("loss", "W1", "b1", "W2", "b2"):
        got = getattr(ours, name)
        assert got.shape == reference[name].shape and got.dtype == torch.float64, name
        assert_close_to_reference(got, reference[name], atol=ATOL, name=name)


def test_gradients_equal_the_scratch_model_autograd():
    torch.manual_seed(0)
    model = MLPScratch(num_inputs=12, num_outputs=4, num_hiddens=(6,)).double()
    with torch.no_grad():
        model.biases[0].normal_()
        model.biases[1].normal_()
    X = torch.randn(9, 12, dtype=torch.float64)
    y = torch.randint(0, 4, (9,))
    model.loss(model(X), y).backward()
    (W1, b1), (W2, b2) = model.linear_params()
    ours = mlp_backward(X, y, W1, b1, W2, b2)
    for name, param in {"W1": W1, "b1": b1, "W2": W2, "b2": b2}.items():
        assert_close_to_reference(getattr(ours, name), param.grad, atol=ATOL, name=name)


def test_a_wrong_gradient_would_be_caught():
    problem = _problem(8, 4, 6, 3, seed=4)
    ours, reference = mlp_backward(**problem), _autograd(problem)
    with pytest.raises(AssertionError, match="W2"):  # forgetting the 1/n of the mean
        assert_close_to_reference(ours.W2 * 8, reference["W2"], atol=ATOL, name="W2")


def _bad(**changes: object) -> dict[str, object]:
    return {**_problem(5, 3, 4, 3, seed=5), **changes}


@pytest.mark.parametrize(
    ("inputs", "error", "message"),
    [
        (_bad(X=[[1.0, 2.0, 3.0]]), TypeError, "X must be a torch.Tensor"),
        (_bad(X=torch.ones(5, 3, dtype=torch.long)), ValueError, "X must be a floating-point"),
        (_bad(X=torch.ones(5, dtype=torch.float64)), ValueError, "X must have 2 dimensions"),
        (_bad(y=torch.zeros(5)), ValueError, "y must be an integer tensor"),
        (_bad(y=torch.zeros(4, dtype=torch.long)), ValueError, r"y must have shape \(5,\)"),
        (
            _bad(W1=torch.ones(4, 4, dtype=torch.float64)),
            ValueError,
            r"W1 must have shape \(3, 4\)",
        ),
        (_bad(b2=torch.ones(4, dtype=torch.float64)), ValueError, r"b2 must have shape \(3,\)"),
        (_bad(W2=torch.ones(4, 3)), ValueError, "W2 is torch.float32 .* convert"),
        (_bad(y=torch.tensor([0, 1, 2, 3, 0])), ValueError, r"labels must lie in \[0, 2\]"),
        (
            _bad(X=torch.ones(0, 3, dtype=torch.float64), y=torch.zeros(0, dtype=torch.long)),
            ValueError,
            "no samples",
        ),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(inputs, error, message):
    with pytest.raises(error, match=message):
        mlp_backward(**inputs)
