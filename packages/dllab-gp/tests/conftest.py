"""Shared fixtures for dllab-gp tests: float64 data and one torch thread per worker.

One intra-op thread keeps small-matrix work fast and predictable when several test workers
share the machine.
"""

from __future__ import annotations

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture
def data_2d() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seeded 2-D training inputs, targets and test inputs in float64."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(40, 2, generator=g, dtype=torch.float64) * 4
    y = torch.sin(x[:, 0]) * torch.cos(x[:, 1]) + 0.1 * torch.randn(40, generator=g).double()
    x_test = torch.rand(25, 2, generator=g, dtype=torch.float64) * 4
    return x, y, x_test


@pytest.fixture
def sin_data() -> tuple[torch.Tensor, torch.Tensor]:
    """80 noisy points of ``sin`` on [0, 10], float64."""
    g = torch.Generator().manual_seed(1)
    x = torch.rand(80, 1, generator=g, dtype=torch.float64) * 10
    y = torch.sin(x[:, 0]) + 0.2 * torch.randn(80, generator=g, dtype=torch.float64)
    return x, y
