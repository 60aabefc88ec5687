"""Parity of the from-scratch softmax, cross-entropy, activations, dropout and Xavier init
against torch, plus their bad-input errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from dllab.core.fundamentals import functional as fn
from dllab.core.testing import assert_close_to_reference

# Per-dtype tolerances for the softmax family (outputs in [0, 1] or log-probabilities that
# can reach -2e4 for logits of +-1e4, hence the relative part).
TOL = {torch.float64: {"atol": 1e-12, "rtol": 1e-12}, torch.float32: {"atol": 1e-6, "rtol": 1e-6}}


def logits_up_to(scale: float, dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    """(32, 10) logits spread over [-scale, scale], with one row holding both extremes."""
    g = torch.Generator().manual_seed(seed)
    X = (torch.rand(32, 10, generator=g, dtype=torch.float64) * 2 - 1) * scale
    X[0, 0], X[0, 1] = scale, -scale
    return X.to(dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("scale", [1.0, 100.0, 1e4])
def test_softmax_and_log_softmax_match_torch(dtype, scale):
    X = logits_up_to(scale, dtype)
    for ours, ref in [(fn.softmax, F.softmax), (fn.log_softmax, F.log_softmax)]:
        out = ours(X, dim=-1)
        assert out.dtype == dtype and torch.isfinite(out).all()
        assert_close_to_reference(out, ref(X, dim=-1), **TOL[dtype], name=ours.__name__)
    assert_close_to_reference(fn.softmax(X, dim=0), F.softmax(X, dim=0), **TOL[dtype])


def test_softmax_gradient_matches_torch():
    X = logits_up_to(50.0, torch.float64).requires_grad_()
    weights = torch.randn(32, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    for f in (fn.softmax, fn.log_softmax):
        (g_ours,) = torch.autograd.grad((f(X) * weights).sum(), X)
        ref = F.softmax if f is fn.softmax else F.log_softmax
        (g_ref,) = torch.autograd.grad((ref(X, dim=-1) * weights).sum(), X)
        assert_close_to_reference(g_ours, g_ref, atol=1e-12, name=f"d {f.__name__}")


def test_naive_softmax_overflows_where_stable_does_not():
    small = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64)
    assert_close_to_reference(fn.softmax_naive(small), F.softmax(small, dim=-1), atol=1e-12)
    for dtype, big in [(torch.float32, 100.0), (torch.float64, 1000.0)]:
        X = torch.tensor([[big, 0.0, -big]], dtype=dtype)
        assert torch.isnan(fn.softmax_naive(X)).any(), f"naive softmax should overflow in {dtype}"
        stable = fn.softmax(X)
        assert torch.isfinite(stable).all()
        assert_close_to_reference(stable, F.softmax(X, dim=-1), atol=1e-6)
        assert_close_to_reference(stable.sum(-1), torch.ones(1), atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("scale", [1.0, 1e4])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_matches_torch(dtype, scale, reduction):
    X = logits_up_to(scale, dtype, seed=2).requires_grad_()
    y = torch.randint(0, 10, (32,), generator=torch.Generator().manual_seed(3))
    ours = fn.cross_entropy(X, y, reduction=reduction)
    ref = F.cross_entropy(X, y, reduction=reduction)
    assert torch.isfinite(ours).all()
    assert_close_to_reference(ours, ref, **TOL[dtype], name=f"cross_entropy[{reduction}]")
    (g_ours,) = torch.autograd.grad(ours.sum(), X)
    (g_ref,) = torch.autograd.grad(ref.sum(), X)
    assert_close_to_reference(g_ours, g_ref, **TOL[dtype], name="d cross_entropy")


def test_cross_entropy_takes_classes_on_the_last_axis():
    g = torch.Generator().manual_seed(4)
    X = torch.randn(4, 6, 5, dtype=torch.float64, generator=g)  # (B, T, C)
    y = torch.randint(0, 5, (4, 6), generator=g)
    ours = fn.cross_entropy(X, y, reduction="none")
    assert ours.shape == (4, 6)
    ref = F.cross_entropy(X.transpose(1, 2), y, reduction="none")  # torch wants (B, C, T)
    assert_close_to_reference(ours, ref, atol=1e-12)
    unchecked = fn.cross_entropy_unchecked(X, y)
    assert_close_to_reference(unchecked, ref.mean(), atol=1e-12)


@pytest.mark.parametrize(
    ("ours", "ours_grad", "ref"),
    [
        (fn.relu, fn.relu_grad, torch.relu),
        (fn.sigmoid, fn.sigmoid_grad, torch.sigmoid),
        (fn.tanh, fn.tanh_grad, torch.tanh),
    ],
)
def test_activations_and_derivatives_match_autograd(ours, ours_grad, ref):
    grid = torch.linspace(-8, 8, 161, dtype=torch.float64)
    X = torch.cat([grid, torch.tensor([-1e3, -40.0, 0.0, 1e-9, 40.0, 1e3], dtype=torch.float64)])
    X = X.requires_grad_()
    y_ref = ref(X)
    (g_ref,) = torch.autograd.grad(y_ref.sum(), X)
    y = ours(X)
    assert_close_to_reference(y, y_ref, atol=1e-12, rtol=1e-12, name=ours.__name__)
    assert_close_to_reference(ours_grad(X), g_ref, atol=1e-12, name=ours_grad.__name__)
    # Autograd through the scratch version agrees too, and stays finite at +-1e3.
    (g_auto,) = torch.autograd.grad(y.sum(), X)
    assert torch.isfinite(g_auto).all()
    assert_close_to_reference(g_auto, g_ref, atol=1e-12, name=f"autograd {ours.__name__}")


@pytest.mark.parametrize(
    ("ours", "ref"), [(fn.relu, torch.relu), (fn.sigmoid, torch.sigmoid), (fn.tanh, torch.tanh)]
)
def test_activations_propagate_nan_and_inf_like_torch(ours, ref):
    X = torch.tensor([float("nan"), float("inf"), -float("inf"), 0.0])
    assert_close_to_reference(ours(X), ref(X), atol=0.0, name=ours.__name__)


def test_tanh_keeps_relative_precision_near_zero():
    X = torch.tensor([1e-12, -3e-10], dtype=torch.float64)
    assert_close_to_reference(fn.tanh(X), torch.tanh(X), atol=0.0, rtol=1e-12)


# ---- dropout ---------------------------------------------------------------------------------
def test_dropout_is_identity_in_eval_mode_and_for_p_zero():
    X = torch.randn(64, 32)
    assert torch.equal(fn.dropout_layer(X, 0.5, training=False), X)
    assert torch.equal(fn.dropout_layer(X, 0.0), X)
    assert torch.equal(fn.dropout_layer(X, 1.0), torch.zeros_like(X))


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_mask_statistics_and_scaling(p):
    X = torch.rand(200, 500, dtype=torch.float64) + 0.5  # strictly positive, so 0 means dropped
    out = fn.dropout_layer(X, p, generator=torch.Generator().manual_seed(0))
    dropped = out == 0
    n = X.numel()
    # Dropped fraction ~ Binomial(n, p) / n: allow 5 standard deviations.
    assert abs(dropped.double().mean().item() - p) < 5 * math.sqrt(p * (1 - p) / n)
    kept = ~dropped
    assert_close_to_reference(out[kept], X[kept] / (1 - p), atol=1e-12, name="kept entries")
    # E[out] = X: the mean ratio is 1 within the same 5-sigma band.
    ratio_sd = math.sqrt(p / (1 - p) / n)
    assert abs((out / X).mean().item() - 1.0) < 5 * ratio_sd


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dropout_draws_the_same_mask_as_torch_under_the_same_seed(dtype):
    X = torch.randn(16, 40, dtype=dtype, requires_grad=True)
    torch.manual_seed(7)
    ours = fn.dropout_layer(X, 0.3)
    torch.manual_seed(7)
    ref = F.dropout(X, 0.3, training=True)
    assert torch.equal(ours, ref)
    (g_ours,) = torch.autograd.grad(ours.sum(), X)
    (g_ref,) = torch.autograd.grad(ref.sum(), X)
    assert torch.equal(g_ours, g_ref)  # mask / (1 - p)


def test_dropout_generator_makes_masks_reproducible():
    X = torch.ones(10, 10)
    a = fn.dropout_layer(X, 0.5, generator=torch.Generator().manual_seed(3))
    b = fn.dropout_layer(X, 0.5, generator=torch.Generator().manual_seed(3))
    c = fn.dropout_layer(X, 0.5, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


# ---- Xavier ----------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(30, 20), (8, 4, 3, 3)])
@pytest.mark.parametrize(
    ("ours", "ref"),
    [
        (fn.xavier_uniform_, torch.nn.init.xavier_uniform_),
        (fn.xavier_normal_, torch.nn.init.xavier_normal_),
    ],
)
def test_xavier_draws_exactly_what_torch_draws(shape, ours, ref):
    a = ours(torch.empty(shape), gain=1.5, generator=torch.Generator().manual_seed(0))
    b = ref(torch.empty(shape), gain=1.5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    assert fn.fan_in_and_fan_out(a) == torch.nn.init._calculate_fan_in_and_fan_out(a)


@pytest.mark.parametrize(
    ("init", "kurtosis"), [(fn.xavier_uniform_, 9 / 5), (fn.xavier_normal_, 3.0)]
)
def test_xavier_variance_is_two_over_fan_sum(init, kurtosis):
    fan_out, fan_in = 300, 500
    W = init(
        torch.empty(fan_out, fan_in, dtype=torch.float64),
        generator=torch.Generator().manual_seed(0),
    )
    target = 2.0 / (fan_in + fan_out)
    # The sample variance of n draws has sd sigma^2 * sqrt((kurtosis - 1) / n); allow 5 sd.
    tolerance = 5 * target * math.sqrt((kurtosis - 1) / W.numel())
    assert abs(W.var().item() - target) < tolerance
    assert abs(W.mean().item()) < 5 * math.sqrt(target / W.numel())
    if init is fn.xavier_uniform_:
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        assert W.abs().max() <= bound and W.abs().max() > 0.99 * bound


def test_xavier_matches_torch_distribution_under_other_seeds():
    scipy_stats = pytest.importorskip("scipy.stats")
    ours = fn.xavier_normal_(torch.empty(200, 100), generator=torch.Generator().manual_seed(1))
    ref = torch.nn.init.xavier_normal_(
        torch.empty(200, 100), generator=torch.Generator().manual_seed(2)
    )
    result = scipy_stats.ks_2samp(ours.flatten().numpy(), ref.flatten().numpy())
    assert result.pvalue > 1e-3


# ---- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "f", [fn.softmax, fn.softmax_naive, fn.log_softmax, fn.relu, fn.sigmoid, fn.tanh]
)
def test_elementwise_functions_reject_non_float_input(f):
    with pytest.raises(TypeError, match="floating-point"):
        f(torch.arange(4))
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        f([1.0, 2.0])


def test_softmax_rejects_bad_dim():
    with pytest.raises(ValueError, match="out of range"):
        fn.softmax(torch.randn(2, 3), dim=2)
    with pytest.raises(ValueError, match="0-d"):
        fn.log_softmax(torch.tensor(1.0))


def test_cross_entropy_rejects_bad_input():
    X, y = torch.randn(4, 3), torch.tensor([0, 1, 2, 1])
    with pytest.raises(TypeError, match="integer"):
        fn.cross_entropy(X, y.float())
    with pytest.raises(TypeError, match="floating-point"):
        fn.cross_entropy(X.long(), y)
    with pytest.raises(ValueError, match=r"do not match labels"):
        fn.cross_entropy(X, y[:3])
    with pytest.raises(ValueError, match=r"\[0, 2\], found \[0, 3\]"):
        fn.cross_entropy(X, torch.tensor([0, 1, 3, 1]))
    with pytest.raises(ValueError, match="reduction"):
        fn.cross_entropy(X, y, reduction="avg")


def test_dropout_and_xavier_reject_bad_input():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fn.dropout_layer(torch.ones(3), 1.5)
    with pytest.raises(TypeError, match="number"):
        fn.dropout_layer(torch.ones(3), "0.5")
    with pytest.raises(TypeError, match="floating-point"):
        fn.dropout_layer(torch.ones(3, dtype=torch.long), 0.5)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        fn.xavier_uniform_(torch.empty(5))
    with pytest.raises(ValueError, match="gain"):
        fn.xavier_normal_(torch.empty(3, 3), gain=0.0)
    with pytest.raises(TypeError, match="floating-point"):
        fn.xavier_uniform_(torch.empty(3, 3, dtype=torch.long))
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        fn.fan_in_and_fan_out([[1.0, 2.0]])
    with pytest.raises(ValueError, match="empty weight"):
        fn.xavier_normal_(torch.empty(0, 0))
