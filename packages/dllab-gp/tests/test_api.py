"""GPRegressor: one API over both backends, confidence regions, save and load."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import norm

from dllab.core.testing import assert_close_to_reference
from dllab.gp.api import GPRegressor, normal_quantile


@pytest.fixture(scope="module")
def fitted() -> dict[str, tuple[GPRegressor, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, 60)
    y = np.sin(x) + 0.2 * rng.standard_normal(60)
    scratch = GPRegressor("rbf").fit(x, y, restarts=2)
    gpt = GPRegressor("rbf", backend="gpytorch").fit(x, y, restarts=1, max_iter=60)
    return {"scratch": (scratch, x, y), "gpytorch": (gpt, x, y)}


@pytest.mark.parametrize("backend", ["scratch", "gpytorch"])
def test_both_backends_learn_the_function(fitted, backend):
    gp, *_ = fitted[backend]
    grid = np.linspace(0.5, 9.5, 80)
    pred = gp.predict(grid)
    rmse = float(np.sqrt(np.mean((pred.mean.numpy() - np.sin(grid)) ** 2)))
    assert rmse < 0.15
    z = norm.ppf(0.975)
    assert_close_to_reference(pred.upper - pred.mean, z * pred.std, atol=1e-9, name="upper")
    assert_close_to_reference(pred.mean - pred.lower, z * pred.std, atol=1e-9, name="lower")
    latent = gp.predict(grid, include_noise=False)
    assert (latent.std < pred.std).all()
    assert set(gp.hyperparameters()) == {"mean", "noise", "rbf.outputscale", "rbf.lengthscale"}
    assert gp.fit_info["restart_values"]


def test_backends_agree_on_the_evidence_at_equal_hyperparameters(fitted):
    scratch, x, y = fitted["scratch"]
    twin = GPRegressor("rbf", backend="gpytorch").fit(x, y, restarts=1, max_iter=1)
    twin.set_hyperparameters(scratch.hyperparameters())
    assert twin.log_marginal_likelihood() == pytest.approx(
        scratch.log_marginal_likelihood(), abs=1e-6
    )
    grid = np.linspace(0, 10, 7)
    assert_close_to_reference(
        twin.predict(grid).std, scratch.predict(grid).std, atol=1e-6, name="std"
    )


@pytest.mark.parametrize("level", [0.5, 0.9, 0.95, 0.99])
def test_normal_quantile_matches_scipy(level):
    assert normal_quantile(level) == pytest.approx(norm.ppf(0.5 + level / 2), abs=1e-12)


@pytest.mark.parametrize("backend", ["scratch", "gpytorch"])
def test_save_and_load_round_trip(fitted, backend, tmp_path):
    gp, _, _ = fitted[backend]
    path = gp.save(tmp_path / "model.pt", metadata={"x_columns": ["x1"]})
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temp file left
    loaded = GPRegressor.load(path)
    assert (loaded.backend, loaded.kernel) == (backend, "rbf")
    assert loaded.metadata == {"x_columns": ["x1"]}
    grid = np.linspace(0, 10, 11)
    a, b = gp.predict(grid), loaded.predict(grid)
    assert_close_to_reference(b.mean, a.mean, atol=1e-9, name="mean after load")
    assert_close_to_reference(b.std, a.std, atol=1e-9, name="std after load")
    raw = torch.load(path, weights_only=True)  # plain tensors, strings and numbers only
    assert raw["format"] == "dllab-gp-model"


def test_load_rejects_damaged_and_foreign_files(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        GPRegressor.load(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="truncated or corrupt"):
        GPRegressor.load(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a dllab-gp model"):
        GPRegressor.load(tmp_path / "other.pt")
    torch.save({"format": "dllab-gp-model", "version": 1}, tmp_path / "partial.pt")
    with pytest.raises(ValueError, match="lacks the field"):
        GPRegressor.load(tmp_path / "partial.pt")


def test_ard_gives_one_lengthscale_per_input():
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 5, (50, 2))
    y = np.sin(x[:, 0]) + 0.01 * x[:, 1] + 0.05 * rng.standard_normal(50)
    gp = GPRegressor("matern52", ard=True).fit(x, y, restarts=1)
    first, second = gp.hyperparameters()["matern52.lengthscale"]
    assert second > 3 * first  # the nearly irrelevant input gets the longer lengthscale


def test_bad_inputs_are_rejected(fitted):
    gp, x, _ = fitted["scratch"]
    with pytest.raises(ValueError, match="backend must be"):
        GPRegressor("rbf", backend="sklearn")
    with pytest.raises(ValueError, match="unknown kernel"):
        GPRegressor("squared")
    with pytest.raises(RuntimeError, match="not fitted"):
        GPRegressor().predict([1.0])
    with pytest.raises(ValueError, match="NaN"):
        GPRegressor().fit([1.0, np.nan, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"y must have shape \(3,\)"):
        GPRegressor().fit([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="at least 2"):
        GPRegressor().fit([1.0], [1.0])
    with pytest.raises(TypeError, match="numeric"):
        GPRegressor().fit(["a", "b"], [1.0, 2.0])
    with pytest.raises(ValueError, match="2 input dims"):
        gp.predict(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="level must be"):
        gp.predict(x, level=1.5)
