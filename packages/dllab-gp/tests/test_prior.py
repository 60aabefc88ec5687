"""Prior draws: right covariance, reproducible, clear errors."""

from __future__ import annotations

import pytest
import torch

from dllab.gp.kernels import MaternKernel, RBFKernel
from dllab.gp.posterior import cholesky_with_jitter
from dllab.gp.prior import sample_prior


def test_sample_covariance_matches_the_kernel():
    """4,000 draws at 5 points: empirical covariance within 0.1 of K (std error ~0.02)."""
    x = torch.linspace(0, 3, 5, dtype=torch.float64)[:, None]
    kernel = MaternKernel(1.5, lengthscale=0.8)
    g = torch.Generator().manual_seed(0)
    draws = sample_prior(kernel, x, num_samples=4000, generator=g)  # (4000, 5)
    assert draws.shape == (4000, 5)
    empirical = torch.cov(draws.T)
    assert (empirical - kernel(x).detach()).abs().max() < 0.1
    assert draws.mean(0).abs().max() < 0.1


def test_draws_are_reproducible_and_shifted_by_the_mean():
    x = torch.linspace(0, 5, 50, dtype=torch.float64)[:, None]
    a = sample_prior(RBFKernel(), x, 3, mean=2.0, generator=torch.Generator().manual_seed(7))
    b = sample_prior(RBFKernel(), x, 3, mean=0.0, generator=torch.Generator().manual_seed(7))
    assert torch.allclose(a - 2.0, b)


def test_smooth_kernel_on_a_dense_grid_needs_and_gets_jitter():
    """3,000 draws: per-point variance within 0.1 of K's diagonal (std error ~0.03)."""
    x = torch.linspace(0, 1, 300, dtype=torch.float64)[:, None]
    kernel = RBFKernel(lengthscale=2.0)
    K = kernel(x).detach()
    assert int(torch.linalg.cholesky_ex(K).info) != 0  # the plain factorisation fails
    _, jitter = cholesky_with_jitter(K)
    assert 0.0 < jitter <= 1e-6 * float(K.diagonal().mean())  # added, and kept small
    g = torch.Generator().manual_seed(3)
    draws = sample_prior(kernel, x, 3000, generator=g)  # (3000, 300)
    assert torch.isfinite(draws).all()
    variance = draws.var(dim=0)  # (300,)
    assert (variance - K.diagonal()).abs().max() < 0.1, variance


def test_bad_arguments():
    x = torch.zeros(4, 1, dtype=torch.float64)
    with pytest.raises(ValueError, match="num_samples"):
        sample_prior(RBFKernel(), x, 0)
    with pytest.raises(TypeError, match="Kernel"):
        sample_prior("rbf", x)
    with pytest.raises(ValueError, match=r"shape \(n, d\)"):
        sample_prior(RBFKernel(), torch.zeros(4, dtype=torch.float64))
