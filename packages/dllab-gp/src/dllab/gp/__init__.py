"""dllab.gp: Gaussian processes from scratch and with GPyTorch.

Kernels, prior samples, exact posterior inference (Cholesky with adaptive jitter), the log
marginal likelihood and its maximisation, confidence regions, and one ``GPRegressor`` API
over both backends. Names load lazily, so ``import dllab.gp`` imports no torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

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
    "synthetic": "dllab.gp.data",
    "load_csv": "dllab.gp.data",
    "load_inputs": "dllab.gp.data",
    "RegressionData": "dllab.gp.data",
    "GPyTorchRegressionModel": "dllab.gp.gpytorch_models",
    "make_gpytorch_model": "dllab.gp.gpytorch_models",
    "train_gpytorch": "dllab.gp.gpytorch_models",
    "predict_gpytorch": "dllab.gp.gpytorch_models",
}

__all__ = sorted([*_LAZY, "__version__"])


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dllab.gp' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
