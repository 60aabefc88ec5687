"""Draws from a GP prior: ``f ~ N(m, K(x, x))`` sampled through a jittered Cholesky factor."""

from __future__ import annotations

import torch
from torch import Tensor

from dllab.gp.kernels import Kernel
from dllab.gp.posterior import cholesky_with_jitter


def sample_prior(
    kernel: Kernel,
    x: Tensor,
    num_samples: int = 5,
    mean: float = 0.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Sample functions from ``GP(mean, kernel)`` at the rows of ``x``.

    Smooth kernels on dense grids give nearly singular covariances, so the factorisation adds
    the smallest jitter that works (see ``cholesky_with_jitter``).

    Args:
        kernel: covariance function.
        x: ``(n, d)`` inputs.
        num_samples: how many functions to draw.
        mean: constant prior mean.
        generator: random generator, for reproducible draws.

    Returns:
        ``(num_samples, n)`` function values.
    """
    if not isinstance(kernel, Kernel):
        raise TypeError(f"kernel must be a dllab.gp Kernel, got {type(kernel).__name__}")
    if not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive int, got {num_samples!r}")
    with torch.no_grad():
        L, _ = cholesky_with_jitter(kernel(x))  # (n, n)
        z = torch.randn(x.shape[0], num_samples, generator=generator, dtype=x.dtype)  # (n, s)
        return mean + (L @ z).T  # (s, n)
