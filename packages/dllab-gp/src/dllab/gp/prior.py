"""Draws from a GP prior: ``f ~ N(m, K(x, x))`` sampled through a jittered Cholesky factor."""

from __future__ import annotations

import torch
from torch import Tensor

from dllab.core.checks import check_positive_int
from dllab.gp.kernels import Kernel
from dllab.gp.memory import POSTERIOR_MATRICES, check_dense_memory
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
    num_samples = check_positive_int(num_samples, "num_samples")
    if isinstance(x, Tensor):
        check_dense_memory(
            x.shape[0], POSTERIOR_MATRICES, itemsize=x.element_size(), what="a prior sample",
            way_out="sample on fewer points",
        )  # fmt: skip
    with torch.no_grad():
        L, _ = cholesky_with_jitter(kernel(x))  # (n, n)
        z = torch.randn(x.shape[0], num_samples, generator=generator, dtype=x.dtype)  # (n, s)
        return mean + (L @ z).T  # (s, n)
