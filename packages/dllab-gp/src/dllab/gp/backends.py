"""The two engines behind ``GPRegressor``: exact inference from scratch, and GPyTorch's ExactGP.

Both implement ``Backend``: build a model from a kernel spec and training data, fit its
hyperparameters through the one restart loop (``dllab.gp.fit.best_of_starts``), condition on
the data, predict, and report the evidence and the hyperparameters under the same names.
``GPRegressor`` holds one backend and never asks which it is.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from dllab.core.checks import check_float
from dllab.gp.memory import (
    EVIDENCE_GRAD_MATRICES,
    GPYTORCH_MATRICES,
    POSTERIOR_MATRICES,
    check_dense_memory,
)


class Backend(ABC):
    """One GP engine on fixed training data ``x (n, d)``, ``y (n,)`` (float64).

    Args:
        kernel: canonical kernel spec, e.g. ``"rbf+periodic"``.
        x: training inputs.
        y: training targets.
        ard: one lengthscale per input dimension.
        noise_floor: smallest noise variance (None: the backend's ``default_noise_floor``).
    """

    name: ClassVar[str]
    default_optimizer: ClassVar[str]
    default_lr: ClassVar[float]
    default_noise_floor: ClassVar[float]

    def __init__(
        self, kernel: str, x: Tensor, y: Tensor, ard: bool, noise_floor: float | None = None
    ) -> None:
        self.kernel, self.x, self.y, self.ard = kernel, x, y, ard
        floor = self.default_noise_floor if noise_floor is None else noise_floor
        self.noise_floor = check_float(floor, "noise_floor", min=0.0, max=1.0)
        self.ard_dims = x.shape[1] if ard else None

    @classmethod
    def check_memory(cls, n: int, way_out: str) -> None:
        """Raise ``ProblemTooLargeError`` if fitting on ``n`` rows would exhaust memory."""
        check_dense_memory(n, POSTERIOR_MATRICES, what=f"an exact GP ({cls.name})", way_out=way_out)

    @property
    @abstractmethod
    def model(self) -> nn.Module:
        """The module that holds every hyperparameter (its state is what restarts compare)."""

    @abstractmethod
    def hyperparameters(self) -> dict[str, Tensor]:
        """Hyperparameter values by name: ``mean``, ``noise`` and the kernel's."""

    @abstractmethod
    def set_hyperparameters(self, values: Mapping[str, float | Tensor]) -> None:
        """Assign hyperparameters by the names ``hyperparameters()`` uses."""

    @abstractmethod
    def fit(
        self, optimizer: str, restarts: int, max_iter: int, lr: float, seed: int, progress: bool
    ) -> dict[str, Any]:
        """Maximise the evidence from ``restarts`` starts; returns what the fit did."""

    @abstractmethod
    def condition(self) -> None:
        """Condition on the training data with the current hyperparameters."""

    @abstractmethod
    def predict(self, x: Tensor, include_noise: bool) -> tuple[Tensor, Tensor]:
        """Predictive mean and variance, each ``(t,)``, at ``x (t, d)``."""

    @abstractmethod
    def log_marginal_likelihood(self) -> float:
        """Exact ``log p(y | x)`` of the training data."""


class ScratchBackend(Backend):
    """This package's exact inference: ``GaussianProcess`` and ``fit_hyperparameters``."""

    name = "scratch"
    default_optimizer = "lbfgs"
    default_lr = 0.05
    default_noise_floor = 1e-6

    def __init__(
        self, kernel: str, x: Tensor, y: Tensor, ard: bool, noise_floor: float | None = None
    ) -> None:
        from dllab.gp.kernels import SpecKernel
        from dllab.gp.posterior import GaussianProcess

        super().__init__(kernel, x, y, ard, noise_floor)
        self.gp = GaussianProcess(SpecKernel(kernel, self.ard_dims), noise_floor=self.noise_floor)
        self.noise_floor = self.gp.noise_floor
        self.posterior: Any = None

    @classmethod
    def check_memory(cls, n: int, way_out: str) -> None:
        from dllab.gp.fit import DEFAULT_MAX_POINTS

        super().check_memory(n, way_out)  # the posterior on every row
        check_dense_memory(  # the evidence with its gradient, on the fit's subset
            min(n, DEFAULT_MAX_POINTS), EVIDENCE_GRAD_MATRICES, what="an exact GP fit",
            way_out=way_out,
        )  # fmt: skip

    @property
    def model(self) -> nn.Module:
        return self.gp

    def hyperparameters(self) -> dict[str, Tensor]:
        return self.gp.hyperparameters()

    def set_hyperparameters(self, values: Mapping[str, float | Tensor]) -> None:
        self.gp.set_hyperparameters(values)

    def fit(
        self, optimizer: str, restarts: int, max_iter: int, lr: float, seed: int, progress: bool
    ) -> dict[str, Any]:
        from dllab.gp.fit import fit_hyperparameters

        result = fit_hyperparameters(
            self.gp, self.x, self.y, optimizer, restarts, max_iter, lr, seed=seed
        )
        return {
            "restart_values": result.restart_values,
            "points_used": result.points_used,
            "seconds": result.seconds,
        }

    def condition(self) -> None:
        self.posterior = self.gp.posterior(self.x, self.y)

    def predict(self, x: Tensor, include_noise: bool) -> tuple[Tensor, Tensor]:
        return self.posterior.predict(x, include_noise=include_noise)

    def log_marginal_likelihood(self) -> float:
        with torch.no_grad():
            return float(self.gp.log_marginal_likelihood(self.x, self.y))


class GPyTorchBackend(Backend):
    """GPyTorch's ``ExactGP`` built from the same spec (``dllab.gp.gpytorch_models``)."""

    name = "gpytorch"
    default_optimizer = "adam"
    default_lr = 0.1
    default_noise_floor = 1e-4  # GPyTorch's own default

    def __init__(
        self, kernel: str, x: Tensor, y: Tensor, ard: bool, noise_floor: float | None = None
    ) -> None:
        from dllab.gp.gpytorch_models import make_gpytorch_model

        super().__init__(kernel, x, y, ard, noise_floor)
        self.gpytorch_model, self.likelihood = make_gpytorch_model(
            x, y, kernel, self.ard_dims, noise_floor=self.noise_floor
        )

    @classmethod
    def check_memory(cls, n: int, way_out: str) -> None:
        # GPyTorch's dense kernel matrix is formed on every path, CG included
        check_dense_memory(n, GPYTORCH_MATRICES, what="an exact GP (gpytorch)", way_out=way_out)

    @property
    def model(self) -> nn.Module:
        return self.gpytorch_model

    def hyperparameters(self) -> dict[str, Tensor]:
        return self.gpytorch_model.hyperparameters()

    def set_hyperparameters(self, values: Mapping[str, float | Tensor]) -> None:
        self.gpytorch_model.set_hyperparameters(values)

    def _start_values(self, generator: torch.Generator | None) -> dict[str, Tensor]:
        """The scratch model's data-scaled (or perturbed) start, above GPyTorch's floor."""
        from dllab.gp.fit import initialize_from_data
        from dllab.gp.kernels import SpecKernel
        from dllab.gp.posterior import GaussianProcess

        guide = GaussianProcess(SpecKernel(self.kernel, self.ard_dims), noise_floor=0.0)
        initialize_from_data(guide, self.x, self.y, generator)
        values = guide.hyperparameters()
        values["noise"] = values["noise"].clamp_min(2 * self.noise_floor)
        return values

    def fit(
        self, optimizer: str, restarts: int, max_iter: int, lr: float, seed: int, progress: bool
    ) -> dict[str, Any]:
        from linear_operator.utils.errors import NotPSDError

        from dllab.gp.fit import best_of_starts
        from dllab.gp.gpytorch_models import train_gpytorch
        from dllab.gp.posterior import NotPositiveDefiniteError

        generator = torch.Generator().manual_seed(seed)
        n = self.x.shape[0]

        def start(r: int) -> None:
            self.set_hyperparameters(self._start_values(generator if r else None))

        def optimize() -> tuple[float, list[float]]:
            try:
                losses = train_gpytorch(
                    self.gpytorch_model, self.likelihood, max_iter, lr, optimizer, progress=progress
                )
            except NotPSDError as err:
                raise NotPositiveDefiniteError(str(err)) from err
            history = [-loss * n for loss in losses]
            return (history[-1] if math.isfinite(history[-1]) else -math.inf), history

        _, values, _ = best_of_starts(self.gpytorch_model, restarts, start, optimize)
        return {"restart_values": values, "points_used": n}

    def condition(self) -> None:
        self.gpytorch_model.eval()
        self.likelihood.eval()

    def predict(self, x: Tensor, include_noise: bool) -> tuple[Tensor, Tensor]:
        from dllab.gp.gpytorch_models import predict_gpytorch

        return predict_gpytorch(self.gpytorch_model, self.likelihood, x, include_noise)

    def log_marginal_likelihood(self) -> float:
        from dllab.gp.gpytorch_models import exact_log_marginal_likelihood

        return exact_log_marginal_likelihood(self.gpytorch_model, self.likelihood)


BACKENDS: dict[str, type[Backend]] = {"scratch": ScratchBackend, "gpytorch": GPyTorchBackend}
"""Backend classes by the name ``GPRegressor(backend=...)`` takes."""
