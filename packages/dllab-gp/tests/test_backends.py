"""The ``Backend`` interface behind ``GPRegressor`` and the one restart loop both backends use."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import dllab.gp.fit as fit_module
from dllab.gp.api import GPRegressor
from dllab.gp.backends import BACKENDS, Backend, GPyTorchBackend, ScratchBackend
from dllab.gp.fit import best_of_starts
from dllab.gp.posterior import NotPositiveDefiniteError


def test_both_backends_implement_the_interface(sin_data):
    x, y = sin_data
    assert {"scratch": ScratchBackend, "gpytorch": GPyTorchBackend} == BACKENDS
    names = []
    for cls in BACKENDS.values():
        engine = cls("rbf+periodic", x, y, ard=False)
        assert isinstance(engine, Backend) and isinstance(engine.model, nn.Module)
        names.append(list(engine.hyperparameters()))
    assert names[0] == names[1]  # the same names on both engines
    assert ScratchBackend.default_noise_floor == 1e-6
    assert GPyTorchBackend.default_noise_floor == 1e-4  # GPyTorch's own


@pytest.mark.parametrize(("backend", "optimizer"), [("scratch", "lbfgs"), ("gpytorch", "adam")])
def test_every_backend_runs_its_starts_through_the_one_restart_loop(
    backend, optimizer, sin_data, monkeypatch
):
    calls: list[tuple[str, int]] = []

    def spy(model, starts, start, optimize):
        calls.append((type(model).__name__, starts))
        return best_of_starts(model, starts, start, optimize)

    monkeypatch.setattr(fit_module, "best_of_starts", spy)
    x, y = sin_data
    gp = GPRegressor("rbf", backend=backend).fit(x, y, restarts=2, max_iter=5)
    assert len(calls) == 1 and calls[0][1] == 2
    assert gp.fit_info["optimizer"] == optimizer
    assert len(gp.fit_info["restart_values"]) == 2


class _Scalar(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.value = nn.Parameter(torch.tensor(0.0))


def test_best_of_starts_keeps_the_best_and_scores_failures_minus_infinity():
    model = _Scalar()
    outcomes = {0: 1.0, 1: "fail", 2: 3.0, 3: float("nan")}

    def start(r: int) -> None:
        with torch.no_grad():
            model.value.fill_(float(r))

    def optimize() -> tuple[float, list[float]]:
        outcome = outcomes[int(model.value)]
        if outcome == "fail":
            raise NotPositiveDefiniteError("indefinite")
        return outcome, [outcome]

    best, values, history = best_of_starts(model, 4, start, optimize)
    assert (best, history) == (3.0, [3.0])
    assert values[:3] == [1.0, -math.inf, 3.0] and values[3] == -math.inf
    assert float(model.value.detach()) == 2.0  # the winning start's state is restored


def test_best_of_starts_raises_when_every_start_fails():
    def optimize() -> tuple[float, list[float]]:
        raise NotPositiveDefiniteError("indefinite")

    with pytest.raises(NotPositiveDefiniteError, match="all 2 starts failed"):
        best_of_starts(_Scalar(), 2, lambda r: None, optimize)
    with pytest.raises(ValueError, match="restarts must be"):
        best_of_starts(_Scalar(), 0, lambda r: None, optimize)
