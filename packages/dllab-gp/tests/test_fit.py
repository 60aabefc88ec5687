"""Hyperparameter learning: L-BFGS reaches scikit-learn's optimum, Adam climbs, subsets."""

from __future__ import annotations

import math

import pytest
import torch
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process import kernels as skk

from dllab.gp.fit import fit_hyperparameters, initialize_from_data
from dllab.gp.kernels import SpecKernel
from dllab.gp.posterior import GaussianProcess


def test_lbfgs_reaches_the_sklearn_optimum(sin_data):
    """Same model (C·RBF + noise, zero mean fixed out by centring): evidence within 1e-3."""
    x, y = sin_data
    y = y - y.mean()
    kernel = skk.ConstantKernel() * skk.RBF() + skk.WhiteKernel()
    sk = GaussianProcessRegressor(kernel, alpha=0.0, n_restarts_optimizer=3, random_state=0)
    sk.fit(x.numpy(), y.numpy())
    gp = GaussianProcess(SpecKernel("rbf"))
    gp.mean_constant.requires_grad_(False)
    result = fit_hyperparameters(gp, x, y, restarts=3)
    gp.mean_constant.zero_()
    ours = float(gp.log_marginal_likelihood(x, y).detach())
    assert result.points_used == 80
    assert ours >= sk.log_marginal_likelihood_value_ - 1e-3
    params = sk.kernel_.get_params()
    assert float(gp.hyperparameters()["rbf.lengthscale"]) == pytest.approx(
        params["k1__k2__length_scale"], rel=0.02
    )
    assert float(gp.noise.detach()) == pytest.approx(params["k2__noise_level"], rel=0.02)


def test_adam_climbs_the_evidence(sin_data):
    x, y = sin_data
    gp = GaussianProcess(SpecKernel("matern52"))
    result = fit_hyperparameters(gp, x, y, optimizer="adam", restarts=1, max_iter=60, lr=0.1)
    assert len(result.history) == 60
    assert result.history[-1] > result.history[0] + 5
    assert result.log_marginal_likelihood == pytest.approx(result.history[-1], abs=0.5)


def test_learned_posterior_recovers_the_function(sin_data):
    x, y = sin_data
    gp = GaussianProcess(SpecKernel("rbf"))
    fit_hyperparameters(gp, x, y)
    grid = torch.linspace(0.5, 9.5, 100, dtype=torch.float64)[:, None]
    mean, _ = gp.posterior(x, y).predict(grid)
    rmse = (mean - torch.sin(grid[:, 0])).pow(2).mean().sqrt()
    assert rmse < 0.12


def test_restarts_and_subsets_are_reported():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(150, 1, generator=g, dtype=torch.float64) * 6
    y = torch.cos(x[:, 0]) + 0.1 * torch.randn(150, generator=g, dtype=torch.float64)
    gp = GaussianProcess(SpecKernel("rbf"))
    result = fit_hyperparameters(gp, x, y, restarts=3, restart_points=40, max_points=100)
    assert len(result.restart_values) == 3
    assert result.points_used == 100
    assert all(math.isfinite(v) for v in result.restart_values)
    full = fit_hyperparameters(gp, x, y, restarts=1, restart_points=None)
    assert full.points_used == 150


def test_initialisation_follows_the_data_scale():
    x = torch.linspace(0, 100, 50, dtype=torch.float64)[:, None]
    y = 50 + 10 * torch.sin(x[:, 0] / 10)
    gp = GaussianProcess(SpecKernel("rbf+periodic"))
    initialize_from_data(gp, x, y)
    values = gp.hyperparameters()
    assert float(values["mean"]) == pytest.approx(float(y.mean()))
    assert float(values["rbf.outputscale"]) == pytest.approx(float(y.var()) / 2)
    assert float(values["rbf.lengthscale"]) == pytest.approx(float(x.std()) / 2)
    assert float(values["periodic.period"]) == pytest.approx(20.0)


def test_initialisation_rejects_mismatched_data(sin_data):
    x, y = sin_data
    with pytest.raises(ValueError, match=r"y must have shape \(80,\)"):
        initialize_from_data(GaussianProcess(SpecKernel("rbf")), x, y[:10])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"optimizer": "sgd"}, "optimizer must be"),
        ({"restarts": 0}, "restarts"),
        ({"max_iter": 0}, "max_iter"),
        ({"lr": -1.0}, "lr must be"),
        ({"restart_points": 1}, "restart_points"),
        ({"refine_iter": -1}, "refine_iter"),
    ],
)
def test_bad_arguments(sin_data, kwargs, match):
    x, y = sin_data
    with pytest.raises(ValueError, match=match):
        fit_hyperparameters(GaussianProcess(SpecKernel("rbf")), x, y, **kwargs)


def test_isotropic_kernel_on_several_inputs_starts_from_their_average_spread(data_2d):
    x, y, _ = data_2d
    gp = GaussianProcess(SpecKernel("rbf+periodic"))  # one lengthscale shared by 2 inputs
    initialize_from_data(gp, x, y)
    assert float(gp.hyperparameters()["rbf.lengthscale"]) == pytest.approx(
        float(x.std(0).mean()) / 2
    )
    with torch.no_grad():
        at_start = float(gp.log_marginal_likelihood(x, y))
    result = fit_hyperparameters(gp, x, y, restarts=2, max_iter=30)
    with torch.no_grad():
        fitted = float(gp.log_marginal_likelihood(x, y))
    # measured: -13.2 nats at the start, 17.5 after the fit
    assert fitted > at_start + 20, (at_start, fitted)
    assert result.log_marginal_likelihood == pytest.approx(fitted, abs=1e-9)


@pytest.mark.parametrize(
    ("n", "restart_rows", "refine_rows"),
    [(200, 200, None), (600, 256, 600), (1500, 256, 1024)],
)
def test_default_subsets_are_256_rows_for_restarts_and_1024_for_the_refinement(
    n, restart_rows, refine_rows, monkeypatch
):
    """The README's defaults: restarts on 256 random rows, refinement on at most 1,024 rows
    (every row when n <= 1,024), and no refinement when the restarts already saw every row."""
    import dllab.gp.fit as fit_module

    seen: list[int] = []
    optimize = fit_module._optimize

    def spy(gp, x, y, *args):
        seen.append(x.shape[0])
        return optimize(gp, x, y, *args)

    monkeypatch.setattr(fit_module, "_optimize", spy)
    g = torch.Generator().manual_seed(5)
    x = torch.rand(n, 1, generator=g, dtype=torch.float64) * 10
    y = torch.sin(x[:, 0]) + 0.2 * torch.randn(n, generator=g, dtype=torch.float64)
    result = fit_hyperparameters(GaussianProcess(SpecKernel("rbf")), x, y, restarts=2, max_iter=3)
    expected = [restart_rows, restart_rows] + ([] if refine_rows is None else [refine_rows])
    assert seen == expected
    assert result.points_used == (restart_rows if refine_rows is None else refine_rows)
