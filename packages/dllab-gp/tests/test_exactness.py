"""Exactness at coincident inputs and without noise, against scikit-learn (float64).

- Matérn kernels give ``k(x, x) = 1`` exactly (1e-12) in 2-D and 3-D, so the predictive
  variance at the training inputs equals scikit-learn's to 1e-6 relative.
- With ``noise_floor`` lowered, a noise-free GP interpolates its data as tightly as
  scikit-learn's ``GaussianProcessRegressor(alpha=1e-10)`` (its own test: 7 decimals).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process import kernels as skk

from dllab.core.testing import assert_close_to_reference
from dllab.gp.api import GPRegressor
from dllab.gp.kernels import MaternKernel, RBFKernel, ScaleKernel
from dllab.gp.posterior import GaussianProcess

NOISE = 0.01
LENGTHSCALE, OUTPUTSCALE = 0.8, 1.7


def _data(d: int, n: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(d)
    x = torch.rand(n, d, generator=g, dtype=torch.float64) * 3
    y = torch.sin(x.sum(1)) + 0.1 * torch.randn(n, generator=g, dtype=torch.float64)
    return x, y


@pytest.mark.parametrize("nu", [0.5, 1.5, 2.5])
@pytest.mark.parametrize("d", [2, 3])
def test_matern_is_exactly_one_at_coincident_inputs(d, nu):
    x, _ = _data(d)
    kernel = MaternKernel(nu, lengthscale=LENGTHSCALE)
    for grad in (True, False):  # the autograd path and the in-place no-grad path
        with torch.set_grad_enabled(grad):
            same = kernel(x)  # (n, n), x against itself
            copies = kernel(x, x.clone())  # equal rows held by another tensor
        assert (same.diagonal() - 1).abs().max() <= 1e-12
        assert (copies.diagonal() - 1).abs().max() <= 1e-12
    reference = skk.Matern(length_scale=LENGTHSCALE, nu=nu)(x.numpy())
    assert_close_to_reference(kernel(x).detach(), reference, atol=1e-12, name="Matérn vs sklearn")


@pytest.mark.parametrize("nu", [0.5, 1.5, 2.5])
@pytest.mark.parametrize("d", [2, 3])
def test_predictive_variance_at_training_inputs_matches_sklearn(d, nu):
    x, y = _data(d)
    gp = GaussianProcess(ScaleKernel(MaternKernel(nu, lengthscale=LENGTHSCALE), OUTPUTSCALE))
    gp.noise = NOISE
    _, var = gp.posterior(x, y).predict(x)  # latent f at the training inputs
    kernel = skk.ConstantKernel(OUTPUTSCALE) * skk.Matern(length_scale=LENGTHSCALE, nu=nu)
    sk = GaussianProcessRegressor(kernel, alpha=NOISE, optimizer=None).fit(x.numpy(), y.numpy())
    _, sk_std = sk.predict(x.numpy(), return_std=True)
    relative = ((var - torch.as_tensor(sk_std**2)).abs() / var).max()
    assert relative <= 1e-6, f"max relative error {float(relative):.2e}"


def _sklearn_interpolation_data() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's own interpolation fixture: f(x) = x sin(x) at six points."""
    x = np.atleast_2d([1.0, 3.0, 5.0, 6.0, 7.0, 8.0]).T
    return x, (x * np.sin(x)).ravel()


@pytest.mark.parametrize("noise_floor", [1e-10, 1e-12, 0.0])
def test_a_lower_noise_floor_lets_a_noise_free_gp_interpolate(noise_floor):
    x, y = _sklearn_interpolation_data()
    gp = GaussianProcess(RBFKernel(lengthscale=1.0), noise=1e-10, noise_floor=noise_floor)
    assert float(gp.noise.detach()) == pytest.approx(1e-10, rel=1e-9)
    posterior = gp.posterior(torch.as_tensor(x), torch.as_tensor(y))
    mean, var = posterior.predict(torch.as_tensor(x))
    np.testing.assert_almost_equal(mean.numpy(), y, decimal=7)  # sklearn's own tolerance
    np.testing.assert_almost_equal(var.numpy(), 0.0, decimal=7)
    sk = GaussianProcessRegressor(skk.RBF(1.0), alpha=1e-10, optimizer=None).fit(x, y)
    sk_mean, sk_std = sk.predict(x, return_std=True)
    assert_close_to_reference(mean, sk_mean, atol=1e-6, name="mean vs sklearn")
    assert_close_to_reference(var.sqrt(), sk_std, atol=1e-4, name="std vs sklearn")


def test_the_default_floor_keeps_noise_at_or_above_1e_6():
    x, y = _sklearn_interpolation_data()
    gp = GaussianProcess(RBFKernel(lengthscale=1.0))
    with pytest.raises(ValueError, match=r"noise must be .*1e-06"):
        gp.noise = 1e-10
    gp.noise = 1e-6  # the floor itself is allowed, stored a hair above it
    assert float(gp.noise.detach()) == pytest.approx(1e-6, rel=1e-12)
    mean, _ = gp.posterior(torch.as_tensor(x), torch.as_tensor(y)).predict(torch.as_tensor(x))
    assert np.abs(mean.numpy() - y).max() > 1.5e-7  # why the floor has to be an option


@pytest.mark.parametrize("backend", ["scratch", "gpytorch"])
def test_regressor_noise_floor_reaches_the_backend_and_survives_save(backend, tmp_path):
    x, y = _sklearn_interpolation_data()
    gp = GPRegressor("rbf", backend=backend, noise_floor=1e-9).fit(x, y, restarts=1, max_iter=5)
    assert gp.hyperparameters()["noise"] >= 1e-9
    loaded = GPRegressor.load(gp.save(tmp_path / "gp.pt"))
    assert loaded.noise_floor == 1e-9
    assert loaded.hyperparameters()["noise"] == pytest.approx(gp.hyperparameters()["noise"])
    with pytest.raises(ValueError, match="noise_floor must be"):
        GPRegressor("rbf", noise_floor=-1.0)
