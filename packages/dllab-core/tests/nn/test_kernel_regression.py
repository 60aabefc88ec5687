"""Nadaraya–Watson attention pooling: closed forms, SDPA parity, and a learned width."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from dllab.core.nn.kernel_regression import (
    NadarayaWatson,
    kernel_weights,
    leave_one_out_mask,
    nadaraya_watson,
)
from dllab.core.testing import assert_close_to_reference

KERNELS_NP = {
    "gaussian": lambda d: np.exp(-(d**2) / 2),
    "boxcar": lambda d: (np.abs(d) < 1.0).astype(float),
    "constant": lambda d: np.ones_like(d),
    "epanechnikov": lambda d: np.maximum(1.0 - np.abs(d), 0.0),
}


def numpy_nadaraya_watson(queries, keys, values, kernel, width):
    """The textbook formula, one query at a time."""
    out = []
    for q in queries:
        k = KERNELS_NP[kernel](np.abs(q - keys) / width)
        out.append(k @ values / k.sum() if k.sum() > 0 else 0.0)
    return np.array(out)


@pytest.mark.parametrize("kernel", sorted(KERNELS_NP))
def test_matches_the_textbook_formula(kernel):
    keys = torch.rand(40, dtype=torch.float64) * 5
    values = torch.sin(keys) + 0.1 * torch.randn(40, dtype=torch.float64)
    queries = torch.linspace(0, 5, 30, dtype=torch.float64)
    predictions, weights = nadaraya_watson(queries, keys, values, kernel=kernel, width=0.7)
    expected = numpy_nadaraya_watson(queries.numpy(), keys.numpy(), values.numpy(), kernel, 0.7)
    assert_close_to_reference(predictions, expected, atol=1e-12, name=kernel)
    assert weights.shape == (30, 40) and torch.all(weights >= 0)


def test_gaussian_pooling_equals_sdpa_with_a_key_bias():
    """-(q - k)^2 / 2 = q k - q^2 / 2 - k^2 / 2; the q^2 term cancels in the softmax."""
    keys = torch.randn(25, dtype=torch.float64)
    values = torch.randn(25, 3, dtype=torch.float64)
    queries = torch.randn(10, dtype=torch.float64)
    predictions, _ = nadaraya_watson(queries, keys, values)
    bias = (-(keys**2) / 2).expand(10, 25)
    expected = F.scaled_dot_product_attention(
        queries[:, None], keys[:, None], values, attn_mask=bias, scale=1.0
    )
    assert_close_to_reference(predictions, expected, atol=1e-12, name="SDPA parity")


def test_multivariate_points_use_euclidean_distance():
    keys, queries = torch.randn(20, 2, dtype=torch.float64), torch.randn(6, 2, dtype=torch.float64)
    values = torch.randn(20, dtype=torch.float64)
    weights = kernel_weights(queries, keys, width=0.5)
    dist2 = ((queries.numpy()[:, None] - keys.numpy()[None]) ** 2).sum(-1)
    expected = np.exp(-dist2 / (2 * 0.25))
    assert_close_to_reference(weights, expected / expected.sum(1, keepdims=True), atol=1e-12)
    assert nadaraya_watson(queries, keys, values)[0].shape == (6,)


def test_constant_kernel_predicts_the_mean_and_empty_boxcar_rows_are_zero():
    keys, values = torch.arange(5.0), torch.tensor([1.0, 2.0, 3.0, 4.0, 10.0])
    predictions, _ = nadaraya_watson(torch.tensor([0.0, 2.5]), keys, values, kernel="constant")
    assert torch.allclose(predictions, values.mean().expand(2))
    predictions, weights = nadaraya_watson(torch.tensor([100.0]), keys, values, kernel="boxcar")
    assert torch.all(weights == 0) and predictions.item() == 0.0


def test_learned_width_fits_better_than_a_wide_kernel():
    """Seeded learning test: leave-one-out training of w lowers the held-out error."""
    torch.manual_seed(0)
    x_train, _ = torch.sort(torch.rand(60) * 5)
    y_train = 2 * torch.sin(x_train) + x_train**0.8 + 0.3 * torch.randn(60)
    x_test = torch.linspace(0.1, 4.9, 50)
    y_test = 2 * torch.sin(x_test) + x_test**0.8
    model = NadarayaWatson(init_w=0.3)  # starts too wide: width 1 / 0.3
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    mask = leave_one_out_mask(60)

    def test_error():
        with torch.no_grad():
            return F.mse_loss(model(x_test, x_train, y_train), y_test).item()

    before = test_error()
    losses = []
    for _ in range(80):
        loss = F.mse_loss(model(x_train, x_train, y_train, mask=mask), y_train)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], (losses[0], losses[-1])
    assert test_error() < 0.5 * before
    assert model.w.item() > 1.0
    assert model.attention_weights.shape == (50, 60)


def test_leave_one_out_mask_hides_the_diagonal():
    mask = leave_one_out_mask(4)
    assert not mask.diagonal().any() and mask.sum() == 12


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: nadaraya_watson(torch.randn(3), torch.randn(5), torch.randn(4)),
            ValueError,
            "same length",
        ),
        (
            lambda: nadaraya_watson(torch.randn(3, 2), torch.randn(5), torch.randn(5)),
            ValueError,
            "features",
        ),
        (
            lambda: nadaraya_watson(torch.randn(3), torch.randn(5), torch.randn(5), kernel="tri"),
            ValueError,
            "kernel",
        ),
        (
            lambda: nadaraya_watson(torch.randn(3), torch.randn(5), torch.randn(5), width=0.0),
            ValueError,
            "width",
        ),
        (
            lambda: nadaraya_watson(torch.randn(3), torch.randn(5), torch.randn(5).double()),
            ValueError,
            "dtype",
        ),
        (
            lambda: nadaraya_watson(torch.arange(3), torch.randn(5), torch.randn(5)),
            ValueError,
            "floating-point",
        ),
        (lambda: nadaraya_watson([1.0], torch.randn(5), torch.randn(5)), TypeError, "Tensor"),
        (
            lambda: NadarayaWatson()(torch.randn(3), torch.randn(5), torch.randn(5, 1, 1)),
            ValueError,
            "dimensions",
        ),
    ],
)
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()
