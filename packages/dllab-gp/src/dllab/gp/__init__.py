"""dllab.gp: Gaussian processes from scratch and with GPyTorch.

Kernels, prior samples, exact posterior inference (Cholesky with adaptive jitter), the log
marginal likelihood and its maximisation, confidence regions, and one ``GPRegressor`` API
over both backends. Names load lazily, so ``import dllab.gp`` imports no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dllab.core.lazy import lazy_exports

__version__ = "0.2.0"

if TYPE_CHECKING:
    from dllab.gp.api import GPRegressor, Prediction
    from dllab.gp.data import RegressionData, load_csv, load_inputs, subsample, synthetic
    from dllab.gp.fit import FitResult, fit_hyperparameters, initialize_from_data
    from dllab.gp.gpytorch_models import (
        GPyTorchRegressionModel,
        make_gpytorch_model,
        predict_gpytorch,
        train_gpytorch,
    )
    from dllab.gp.kernels import (
        Kernel,
        LinearKernel,
        MaternKernel,
        PeriodicKernel,
        ProductKernel,
        RBFKernel,
        ScaleKernel,
        SpecKernel,
        SumKernel,
    )
    from dllab.gp.memory import ProblemTooLargeError
    from dllab.gp.posterior import (
        GaussianProcess,
        NotPositiveDefiniteError,
        Posterior,
        cholesky_with_jitter,
    )
    from dllab.gp.prior import sample_prior
    from dllab.gp.spec import BASE_KERNELS, parse_kernel_spec

_LAZY = {
    "BASE_KERNELS": "dllab.gp.spec",
    "parse_kernel_spec": "dllab.gp.spec",
    "Kernel": "dllab.gp.kernels",
    "RBFKernel": "dllab.gp.kernels",
    "MaternKernel": "dllab.gp.kernels",
    "PeriodicKernel": "dllab.gp.kernels",
    "LinearKernel": "dllab.gp.kernels",
    "ScaleKernel": "dllab.gp.kernels",
    "SumKernel": "dllab.gp.kernels",
    "ProductKernel": "dllab.gp.kernels",
    "SpecKernel": "dllab.gp.kernels",
    "sample_prior": "dllab.gp.prior",
    "GaussianProcess": "dllab.gp.posterior",
    "Posterior": "dllab.gp.posterior",
    "cholesky_with_jitter": "dllab.gp.posterior",
    "NotPositiveDefiniteError": "dllab.gp.posterior",
    "fit_hyperparameters": "dllab.gp.fit",
    "initialize_from_data": "dllab.gp.fit",
    "FitResult": "dllab.gp.fit",
    "GPRegressor": "dllab.gp.api",
    "Prediction": "dllab.gp.api",
    "ProblemTooLargeError": "dllab.gp.memory",
    "synthetic": "dllab.gp.data",
    "subsample": "dllab.gp.data",
    "load_csv": "dllab.gp.data",
    "load_inputs": "dllab.gp.data",
    "RegressionData": "dllab.gp.data",
    "GPyTorchRegressionModel": "dllab.gp.gpytorch_models",
    "make_gpytorch_model": "dllab.gp.gpytorch_models",
    "train_gpytorch": "dllab.gp.gpytorch_models",
    "predict_gpytorch": "dllab.gp.gpytorch_models",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY, eager=("__version__",))
