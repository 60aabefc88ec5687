"""The GPyTorch path: names shared with the scratch model, training, the scalable path."""

from __future__ import annotations

import pytest
import torch

from dllab.gp.gpytorch_models import (
    inference_settings,
    make_gpytorch_model,
    predict_gpytorch,
    train_gpytorch,
)
from dllab.gp.kernels import SpecKernel
from dllab.gp.posterior import GaussianProcess


@pytest.mark.parametrize("spec", ["rbf", "matern12*linear+periodic", "rbf+rbf"])
def test_hyperparameter_names_match_the_scratch_model(spec, data_2d):
    x, y, _ = data_2d
    model, _ = make_gpytorch_model(x, y, spec, ard_num_dims=2)
    scratch = GaussianProcess(SpecKernel(spec, ard_num_dims=2))
    assert list(model.hyperparameters()) == list(scratch.hyperparameters())
    values = {k: torch.full_like(v, 0.7) for k, v in scratch.hyperparameters().items()}
    model.set_hyperparameters(values)
    assert all(torch.allclose(v, values[k]) for k, v in model.hyperparameters().items())


def test_adam_training_lowers_the_loss(sin_data):
    x, y = sin_data
    model, likelihood = make_gpytorch_model(x, y, "rbf")
    losses = train_gpytorch(model, likelihood, steps=30, lr=0.1, progress=True)
    assert len(losses) == 30
    assert losses[-1] < losses[0] - 0.3
    mean, var = predict_gpytorch(model, likelihood, x[:5])
    assert mean.shape == var.shape == (5,)


def test_scalable_path_agrees_with_exact_cholesky(sin_data):
    """CG + fast_pred_var (forced on with a low threshold) vs exact Cholesky.

    Tolerances: mean within 1e-6 absolute, variance within 1e-4 relative (measured 1e-14
    and 1e-6; the variances span 0.004 to 0.14).
    """
    x, y = sin_data
    model, likelihood = make_gpytorch_model(x, y, "rbf")
    model.set_hyperparameters({"noise": 0.05, "rbf.lengthscale": 1.2})
    x_test = torch.linspace(0, 10, 30, dtype=torch.float64)[:, None]
    exact = predict_gpytorch(model, likelihood, x_test)
    fast = predict_gpytorch(model, likelihood, x_test, cg_threshold=10, batch_size=7, progress=True)
    assert (fast[0] - exact[0]).abs().max() < 1e-6
    assert bool((exact[1] > 1e-3).all())  # a latent variance, well away from zero
    relative = ((fast[1] - exact[1]).abs() / exact[1]).max()
    assert relative < 1e-4, f"fast_pred_var variance off by {float(relative):.2e} relative"
    with inference_settings(10, cg_threshold=10) as scalable:
        assert scalable
    with inference_settings(9, cg_threshold=10) as scalable:
        assert not scalable


def test_bad_arguments(sin_data):
    x, y = sin_data
    model, likelihood = make_gpytorch_model(x, y, "rbf")
    with pytest.raises(ValueError, match="optimizer"):
        train_gpytorch(model, likelihood, optimizer="sgd")
    with pytest.raises(ValueError, match="steps"):
        train_gpytorch(model, likelihood, steps=0)
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        model.set_hyperparameters({"rbf.period": 1.0})
    with pytest.raises(ValueError, match="unknown kernel"):
        make_gpytorch_model(x, y, "rbf+cosine")
    with pytest.raises(ValueError, match=r"x must be a \(t, 1\) tensor"):
        predict_gpytorch(model, likelihood, torch.zeros(3, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="batch_size"):
        predict_gpytorch(model, likelihood, x, batch_size=0)
