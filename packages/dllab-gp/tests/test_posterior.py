"""Exact posterior from scratch against GPyTorch (mean, variance) and scikit-learn (evidence).

All parity checks run in float64 with identical hyperparameters; tolerance 1e-6 absolute.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process import kernels as skk

from dllab.core.testing import assert_close_to_reference
from dllab.gp.gpytorch_models import make_gpytorch_model, predict_gpytorch
from dllab.gp.kernels import MaternKernel, PeriodicKernel, ScaleKernel, SpecKernel
from dllab.gp.posterior import (
    NOISE_FLOOR,
    GaussianProcess,
    NotPositiveDefiniteError,
    cholesky_with_jitter,
)

TOL = 1e-6


def _values(gp: GaussianProcess, seed: int) -> dict[str, torch.Tensor]:
    """Random but reasonable values for every hyperparameter of ``gp``."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, value in gp.hyperparameters().items():
        out[name] = 0.4 + torch.rand(value.shape, generator=g, dtype=torch.float64)
    out["noise"] = torch.tensor(0.05, dtype=torch.float64)
    out["mean"] = torch.tensor(0.3, dtype=torch.float64)
    return out


@pytest.mark.parametrize("spec", ["rbf", "matern12", "matern52", "rbf*periodic+linear"])
@pytest.mark.parametrize("ard", [False, True])
def test_mean_and_variance_match_gpytorch_exact_gp(spec, ard, data_2d):
    x, y, x_test = data_2d
    dims = 2 if ard else None
    gp = GaussianProcess(SpecKernel(spec, dims))
    values = _values(gp, seed=len(spec))
    gp.set_hyperparameters(values)
    model, likelihood = make_gpytorch_model(x, y, spec, dims)
    model.set_hyperparameters(values)
    posterior = gp.posterior(x, y)
    for include_noise in (False, True):
        mean, var = posterior.predict(x_test, include_noise=include_noise)
        ref_mean, ref_var = predict_gpytorch(model, likelihood, x_test, include_noise)
        assert_close_to_reference(mean, ref_mean, atol=TOL, name=f"{spec} mean")
        assert_close_to_reference(var, ref_var, atol=TOL, name=f"{spec} variance")


def test_full_covariance_matches_gpytorch_and_the_blocked_variances(data_2d):
    import gpytorch

    x, y, x_test = data_2d
    gp = GaussianProcess(SpecKernel("matern32"))
    values = _values(gp, seed=3)
    gp.set_hyperparameters(values)
    model, _ = make_gpytorch_model(x, y, "matern32")
    model.set_hyperparameters(values)
    model.eval()
    with torch.no_grad(), gpytorch.settings.max_cholesky_size(10_000):
        reference = model(x_test)
    posterior = gp.posterior(x, y)
    mean, cov = posterior.predict(x_test, full_cov=True)
    assert_close_to_reference(mean, reference.mean, atol=TOL, name="posterior mean")
    assert_close_to_reference(
        cov, reference.covariance_matrix, atol=TOL, name="posterior covariance"
    )
    _, var = posterior.predict(x_test, batch_size=4)
    assert_close_to_reference(var, cov.diagonal(), atol=1e-12, name="blocked variance")


def test_full_covariance_with_noise_matches_gpytorch_likelihood(data_2d):
    """``full_cov=True, include_noise=True`` is the latent covariance plus ``σ²I`` (to 1e-6)."""
    import gpytorch

    x, y, x_test = data_2d
    gp = GaussianProcess(SpecKernel("rbf"))
    values = _values(gp, seed=5)
    gp.set_hyperparameters(values)
    model, likelihood = make_gpytorch_model(x, y, "rbf")
    model.set_hyperparameters(values)
    model.eval()
    likelihood.eval()
    with torch.no_grad(), gpytorch.settings.max_cholesky_size(10_000):
        reference = likelihood(model(x_test))  # y* = f* + ε
    posterior = gp.posterior(x, y)
    mean, cov = posterior.predict(x_test, full_cov=True, include_noise=True)
    assert_close_to_reference(mean, reference.mean, atol=TOL, name="noisy mean")
    assert_close_to_reference(cov, reference.covariance_matrix, atol=TOL, name="noisy covariance")
    _, latent = posterior.predict(x_test, full_cov=True)
    noise = float(values["noise"])
    eye = torch.eye(x_test.shape[0], dtype=torch.float64)
    assert_close_to_reference(cov - latent, noise * eye, atol=1e-12, name="added noise")
    _, var = posterior.predict(x_test, include_noise=True, batch_size=4)
    assert_close_to_reference(var, cov.diagonal(), atol=1e-12, name="blocked noisy variance")


def _sklearn_pair(name: str):
    """(our kernel, the same scikit-learn kernel) with fixed hyperparameters."""
    if name == "rbf":
        return SpecKernel("rbf"), skk.ConstantKernel(1.7, "fixed") * skk.RBF(0.8, "fixed")
    if name == "matern32":
        ours = ScaleKernel(MaternKernel(1.5, lengthscale=[0.7, 1.9], ard_num_dims=2), 0.9)
        return ours, skk.ConstantKernel(0.9, "fixed") * skk.Matern([0.7, 1.9], "fixed", nu=1.5)
    # scikit-learn's ExpSineSquared squares its lengthscale; GPyTorch's (and ours) does not
    ours = ScaleKernel(PeriodicKernel(lengthscale=1.2**2, period=2.5), 1.3)
    theirs = skk.ConstantKernel(1.3, "fixed") * skk.ExpSineSquared(1.2, 2.5, "fixed", "fixed")
    return ours, theirs


@pytest.mark.parametrize("name", ["rbf", "matern32", "periodic"])
def test_log_marginal_likelihood_matches_sklearn(name, data_2d):
    x, y, _ = data_2d
    x = x if name == "matern32" else x[:, :1]
    ours, theirs = _sklearn_pair(name)
    if name == "rbf":
        ours.kernels[0].outputscale, ours.term_factors(0)[0].lengthscale = 1.7, 0.8
    gp = GaussianProcess(ours, noise=0.05)
    sk_kernel = theirs + skk.WhiteKernel(0.05, "fixed")
    sk = GaussianProcessRegressor(sk_kernel, alpha=0.0, optimizer=None).fit(x.numpy(), y.numpy())
    lml = gp.log_marginal_likelihood(x, y)
    assert_close_to_reference(lml, sk.log_marginal_likelihood_value_, atol=TOL, name="log p(y)")


def test_analytic_gradient_matches_sklearn_and_finite_differences(sin_data):
    """sklearn's gradient is w.r.t. log-hyperparameters: our raw parameters, up to the noise
    floor (d noise / d raw = noise - floor)."""
    x, y = sin_data
    gp = GaussianProcess(SpecKernel("rbf"), noise=0.04)
    gp.set_hyperparameters({"rbf.outputscale": 0.8, "rbf.lengthscale": 1.3})
    kernel = skk.ConstantKernel(0.8) * skk.RBF(1.3) + skk.WhiteKernel(0.04)
    sk = GaussianProcessRegressor(kernel, alpha=0.0, optimizer=None).fit(x.numpy(), y.numpy())
    _, sk_grad = sk.log_marginal_likelihood(sk.kernel_.theta, eval_gradient=True)  # os, ls, noise
    gp.log_marginal_likelihood(x, y).backward()
    noise_ratio = (0.04 - NOISE_FLOOR) / 0.04
    ours = [
        gp.kernel.kernels[0].raw_outputscale.grad,
        gp.kernel.kernels[0].base.raw_lengthscale.grad[0],
        gp.raw_noise.grad / noise_ratio,
    ]
    assert_close_to_reference(torch.stack(ours), sk_grad, atol=1e-6, name="gradient")
    # the mean has no sklearn twin: central differences, step 1e-5
    with torch.no_grad():
        gp.mean_constant += 1e-5
        up = gp.log_marginal_likelihood(x, y)
        gp.mean_constant -= 2e-5
        down = gp.log_marginal_likelihood(x, y)
    assert_close_to_reference(gp.mean_constant.grad, (up - down) / 2e-5, atol=1e-5, name="dmean")


def _ornstein_uhlenbeck(x: np.ndarray, lengthscale: float, rng) -> np.ndarray:
    """An exact draw of a Matérn-1/2 GP at sorted ``x`` by its Markov recursion (no Cholesky)."""
    f = np.empty_like(x)
    f[0] = rng.standard_normal()
    rho = np.exp(-np.diff(x) / lengthscale)
    for i, r in enumerate(rho, start=1):
        f[i] = r * f[i - 1] + math.sqrt(1 - r * r) * rng.standard_normal()
    return f


@pytest.mark.parametrize("learn", [False, True])
def test_95_percent_interval_covers_95_percent_of_5000_held_out_points(learn):
    """Data from a known GP (Matérn-1/2, ℓ = 1, noise var 0.1, 40 lengthscales wide): 93% to
    97% coverage with the true hyperparameters and with learned ones."""
    from dllab.gp.fit import fit_hyperparameters

    rng = np.random.default_rng(0)
    x_all = np.sort(rng.uniform(0, 40, 5600))
    y_all = _ornstein_uhlenbeck(x_all, 1.0, rng) + math.sqrt(0.1) * rng.standard_normal(5600)
    train = np.zeros(5600, dtype=bool)
    train[rng.choice(5600, 600, replace=False)] = True
    x, y = torch.tensor(x_all[train])[:, None], torch.tensor(y_all[train])
    x_test, y_test = torch.tensor(x_all[~train])[:, None], torch.tensor(y_all[~train])
    gp = GaussianProcess(SpecKernel("matern12"), noise=0.1)
    gp.set_hyperparameters({"matern12.outputscale": 1.0, "matern12.lengthscale": 1.0})
    if learn:
        fit_hyperparameters(gp, x, y, restarts=2)
    mean, var = gp.posterior(x, y).predict(x_test, include_noise=True)
    half = 1.959963984540054 * var.sqrt()
    coverage = float(((y_test - mean).abs() <= half).double().mean())
    assert len(y_test) == 5000
    assert 0.93 <= coverage <= 0.97, coverage


def test_cholesky_with_jitter_adds_only_what_is_needed():
    a = torch.randn(6, 6, dtype=torch.float64)
    spd = a @ a.T + torch.eye(6, dtype=torch.float64)
    L, jitter = cholesky_with_jitter(spd)
    assert jitter == 0.0
    assert torch.allclose(L @ L.T, spd)
    v = torch.randn(8, 3, dtype=torch.float64)
    singular = v @ v.T  # rank 3
    L, jitter = cholesky_with_jitter(singular)
    assert jitter > 0
    assert_close_to_reference(L @ L.T, singular + jitter * torch.eye(8), atol=1e-9)


@pytest.mark.parametrize(
    ("matrix", "error", "match"),
    [
        (-torch.eye(4, dtype=torch.float64), NotPositiveDefiniteError, "not positive definite"),
        (torch.full((3, 3), float("nan")), NotPositiveDefiniteError, "NaN"),
        (torch.ones(3, 4), ValueError, "square"),
    ],
)
def test_cholesky_with_jitter_rejects_bad_matrices(matrix, error, match):
    with pytest.raises(error, match=match):
        cholesky_with_jitter(matrix)


def test_bad_inputs_are_rejected(sin_data):
    x, y = sin_data
    gp = GaussianProcess(SpecKernel("rbf"))
    with pytest.raises(ValueError, match=r"y must have shape \(80,\)"):
        gp.log_marginal_likelihood(x, y[:-1])
    with pytest.raises(ValueError, match="finite"):
        gp.posterior(x, torch.where(y > 0, y, torch.nan))
    with pytest.raises(ValueError, match="2 input dims"):
        gp.posterior(x, y).predict(torch.zeros(3, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="noise must be"):
        gp.noise = 0.0
    with pytest.raises(TypeError, match="Kernel"):
        GaussianProcess("rbf")
    before = gp.hyperparameters()
    with pytest.raises(ValueError, match=r"unknown hyperparameter.*'rbf.period'"):
        gp.set_hyperparameters({"noise": 0.5, "rbf.period": 1.0})
    with pytest.raises(ValueError, match="lengthscale must be > 0"):
        gp.set_hyperparameters({"noise": 0.5, "rbf.lengthscale": -1.0})
    after = gp.hyperparameters()
    assert all(torch.equal(before[k], after[k]) for k in before)  # nothing half-assigned
