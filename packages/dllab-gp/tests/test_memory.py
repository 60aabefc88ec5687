"""Size guards: an exact GP too large for the machine is refused before any n×n allocation.

``available_memory`` is replaced to simulate a small machine; the inputs stay small arrays,
so a guard that failed to fire would show as a slow test, not as a crashed machine.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dllab.core import memory
from dllab.core.memory import format_bytes
from dllab.gp.api import GPRegressor
from dllab.gp.kernels import SpecKernel
from dllab.gp.memory import ProblemTooLargeError, check_dense_memory, dense_bytes
from dllab.gp.posterior import GaussianProcess

GIB = 2**30


@pytest.fixture
def small_machine(monkeypatch) -> int:
    """A machine with 1 GiB available."""
    monkeypatch.setattr(memory, "available_memory", lambda: GIB)
    return GIB


def test_estimate_and_message_name_n_bytes_and_the_way_out(small_machine):
    assert dense_bytes(50_000, 3) == 50_000**2 * 8 * 3
    assert format_bytes(20 * GIB) == "20.0 GiB"
    assert check_dense_memory(8000, 1) == 8000**2 * 8  # 488 MiB fits in 1 GiB
    with pytest.raises(ProblemTooLargeError) as caught:
        check_dense_memory(50_000, 3, what="an exact GP", way_out="use fewer rows")
    message = str(caught.value)
    assert "\n" not in message
    for part in ("n=50,000", "55.9 GiB", "1.0 GiB", "use fewer rows"):
        assert part in message, message
    assert isinstance(caught.value, ValueError)  # bad input, like every other refusal


def test_small_problems_are_not_checked(monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 0)  # would refuse anything
    assert check_dense_memory(1000, 8) == 1000**2 * 8 * 8  # 61 MiB: below UNCHECKED_BYTES


@pytest.mark.parametrize("backend", ["scratch", "gpytorch"])
def test_regressor_refuses_before_allocating_and_subsamples_on_request(small_machine, backend):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, 20_000)  # K would be 3.0 GiB per matrix
    y = np.sin(x) + 0.1 * rng.standard_normal(20_000)
    gp = GPRegressor("rbf", backend=backend)
    with pytest.raises(ProblemTooLargeError, match=r"n=20,000 rows needs about .*max_points"):
        gp.fit(x, y)
    with pytest.raises(RuntimeError, match="not fitted"):
        gp.predict([1.0])  # nothing was built
    gp.fit(x, y, restarts=1, max_iter=5, max_points=120)
    assert gp.num_points == 120 and gp.fit_info["rows_given"] == 20_000


def test_gaussian_process_checks_every_dense_step(small_machine):
    x = torch.linspace(0, 1, 12_000, dtype=torch.float64)[:, None]
    y = torch.sin(x[:, 0])
    gp = GaussianProcess(SpecKernel("rbf"))
    with pytest.raises(ProblemTooLargeError, match="n=12,000"):
        gp.posterior(x, y)  # 3 × 1.07 GiB
    with pytest.raises(ProblemTooLargeError, match="n=12,000"):
        gp.log_marginal_likelihood(x, y)  # with the gradient: 8 × 1.07 GiB
    posterior = gp.posterior(x[:50], y[:50])
    with pytest.raises(ProblemTooLargeError, match="full_cov=False"):
        posterior.predict(x, full_cov=True)
    mean, var = posterior.predict(x)  # variances only: blocks of 2048 test points
    assert mean.shape == var.shape == (12_000,)
