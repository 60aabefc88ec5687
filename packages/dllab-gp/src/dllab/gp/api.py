"""One API over both backends: ``GPRegressor(kernel, backend="scratch" | "gpytorch")``.

``fit`` learns the hyperparameters by maximising the marginal likelihood, ``predict``
returns the predictive mean, standard deviation and a confidence region, and ``save`` /
``GPRegressor.load`` keep a fitted model as plain tensors (loaded with ``weights_only=True``).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dllab.gp.spec import canonical_spec

BACKENDS = ("scratch", "gpytorch")
FORMAT = "dllab-gp-model"
FORMAT_VERSION = 1


@dataclass
class Prediction:
    """Predictive distribution at test inputs (all ``(t,)`` tensors).

    Attributes:
        mean: predictive mean.
        std: predictive standard deviation.
        lower: lower end of the central ``level`` interval.
        upper: upper end of the central ``level`` interval.
        level: coverage of ``[lower, upper]`` under the model, e.g. 0.95.
    """

    mean: Tensor
    std: Tensor
    lower: Tensor
    upper: Tensor
    level: float


def normal_quantile(level: float) -> float:
    """``z`` with ``P(|Z| <= z) = level`` for a standard normal ``Z`` (1.96 for 0.95)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    return math.sqrt(2) * float(torch.special.erfinv(torch.tensor(level, dtype=torch.float64)))


def as_inputs(x: Any, name: str = "x", dims: int | None = None) -> Tensor:
    """``x`` as a float64 ``(n, d)`` tensor; a 1-D array counts as ``d = 1``."""
    if isinstance(x, Tensor):
        x = x.detach().to(torch.float64)
    else:
        try:
            x = torch.as_tensor(np.asarray(x, dtype=np.float64))
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must be numeric (array or tensor): {err}") from err
    x = x[:, None] if x.ndim == 1 else x
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{name} must have shape (n,) or (n, d) with n > 0, got {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} holds NaN or inf values")
    if dims is not None and x.shape[1] != dims:
        raise ValueError(f"{name} has {x.shape[1]} input dims but the model was fit on {dims}")
    return x


def as_targets(y: Any, n: int) -> Tensor:
    """``y`` as a float64 ``(n,)`` tensor."""
    y = as_inputs(y, "y")
    if y.shape[1] != 1 or y.shape[0] != n:
        raise ValueError(f"y must have shape ({n},) to match x, got {tuple(y.shape)}")
    return y[:, 0]


class GPRegressor:
    """Exact GP regression with a spec-built kernel on either backend.

    Args:
        kernel: kernel spec, e.g. ``"rbf"``, ``"matern52"``, ``"rbf+periodic"``.
        backend: ``"scratch"`` (this package's inference) or ``"gpytorch"``.
        ard: one lengthscale per input dimension.
        seed: seeds restarts and subsets.

    Example:
        >>> gp = GPRegressor("rbf").fit(x, y)
        >>> pred = gp.predict(x_test)   # pred.mean, pred.std, pred.lower, pred.upper
    """

    def __init__(
        self, kernel: str = "rbf", backend: str = "scratch", ard: bool = False, seed: int = 0
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.kernel = canonical_spec(kernel)
        self.backend, self.ard, self.seed = backend, bool(ard), int(seed)
        self.fit_info: dict[str, Any] = {}
        self.metadata: dict[str, Any] = {}
        self._model: Any = None
        self._likelihood: Any = None
        self._posterior: Any = None
        self._x: Tensor | None = None
        self._y: Tensor | None = None

    # construction -------------------------------------------------------------------------
    def _build(self, x: Tensor, y: Tensor) -> None:
        ard_dims = x.shape[1] if self.ard else None
        if self.backend == "scratch":
            from dllab.gp.kernels import SpecKernel
            from dllab.gp.posterior import GaussianProcess

            self._model = GaussianProcess(SpecKernel(self.kernel, ard_dims))
        else:
            from dllab.gp.gpytorch_models import make_gpytorch_model

            self._model, self._likelihood = make_gpytorch_model(x, y, self.kernel, ard_dims)
        self._x, self._y = x, y

    def _start_values(self, x: Tensor, y: Tensor, generator: torch.Generator | None) -> dict:
        from dllab.gp.fit import initialize_from_data
        from dllab.gp.kernels import SpecKernel
        from dllab.gp.posterior import GaussianProcess

        guide = GaussianProcess(SpecKernel(self.kernel, x.shape[1] if self.ard else None))
        initialize_from_data(guide, x, y, generator)
        values = guide.hyperparameters()
        values["noise"] = values["noise"].clamp_min(2e-4)  # GPyTorch's noise floor is 1e-4
        return values

    def _condition(self) -> None:
        if self.backend == "scratch":
            self._posterior = self._model.posterior(self._x, self._y)
        else:
            self._model.eval()
            self._likelihood.eval()

    # fitting ------------------------------------------------------------------------------
    def fit(
        self,
        x: Any,
        y: Any,
        optimizer: str | None = None,
        restarts: int = 3,
        max_iter: int | None = None,
        lr: float | None = None,
        progress: bool = False,
    ) -> GPRegressor:
        """Learn hyperparameters by maximising the marginal likelihood, then condition on data.

        Args:
            x: ``(n, d)`` or ``(n,)`` inputs.
            y: ``(n,)`` targets.
            optimizer: ``"lbfgs"`` or ``"adam"``; default L-BFGS for scratch, Adam for gpytorch.
            restarts: number of starts (the first from the data scale).
            max_iter: L-BFGS iterations or Adam steps per start (default 50).
            lr: Adam learning rate (default 0.05 scratch, 0.1 gpytorch).
            progress: show a progress bar (gpytorch backend).

        Returns:
            ``self``, fitted.
        """
        x = as_inputs(x)
        y = as_targets(y, x.shape[0])
        if x.shape[0] < 2:
            raise ValueError(f"need at least 2 training points, got {x.shape[0]}")
        optimizer = optimizer or ("lbfgs" if self.backend == "scratch" else "adam")
        max_iter = 50 if max_iter is None else max_iter
        self._build(x, y)
        if self.backend == "scratch":
            from dllab.gp.fit import fit_hyperparameters

            result = fit_hyperparameters(
                self._model, x, y, optimizer, restarts, max_iter, lr or 0.05, seed=self.seed
            )
            self.fit_info = {
                "optimizer": optimizer,
                "restart_values": result.restart_values,
                "points_used": result.points_used,
                "seconds": result.seconds,
            }
        else:
            self._fit_gpytorch(x, y, optimizer, restarts, max_iter, lr or 0.1, progress)
        self._condition()
        return self

    def _fit_gpytorch(self, x, y, optimizer, restarts, steps, lr, progress) -> None:
        from dllab.gp.gpytorch_models import train_gpytorch

        if not isinstance(restarts, int) or restarts < 1:
            raise ValueError(f"restarts must be a positive int, got {restarts!r}")
        generator = torch.Generator().manual_seed(self.seed)
        best, best_state, finals = math.inf, None, []
        for r in range(restarts):
            self._model.set_hyperparameters(self._start_values(x, y, generator if r else None))
            losses = train_gpytorch(
                self._model, self._likelihood, steps, lr, optimizer, progress=progress
            )
            finals.append(-losses[-1] * x.shape[0])
            if losses[-1] < best:
                best = losses[-1]
                best_state = {k: v.clone() for k, v in self._model.state_dict().items()}
        self._model.load_state_dict(best_state)
        self.fit_info = {"optimizer": optimizer, "restart_values": finals, "points_used": len(x)}

    # results ------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if self._model is None:
            raise RuntimeError("the model is not fitted yet: call fit(x, y) or GPRegressor.load")

    @property
    def num_dims(self) -> int:
        """Input dimension the model was fit on."""
        self._check_fitted()
        return self._x.shape[1]

    def predict(self, x: Any, include_noise: bool = True, level: float = 0.95) -> Prediction:
        """Predictive mean, std and central ``level`` interval at ``x``.

        Args:
            x: ``(t, d)`` or ``(t,)`` test inputs.
            include_noise: describe a new noisy observation ``y*`` (True) or the latent ``f*``.
            level: coverage of the interval, 0.95 for a 95% confidence region.
        """
        self._check_fitted()
        z = normal_quantile(level)
        x = as_inputs(x, "x", self.num_dims)
        if self.backend == "scratch":
            mean, var = self._posterior.predict(x, include_noise=include_noise)
        else:
            from dllab.gp.gpytorch_models import predict_gpytorch

            mean, var = predict_gpytorch(self._model, self._likelihood, x, include_noise)
        mean, std = mean.detach(), var.detach().clamp_min(0).sqrt()
        return Prediction(mean, std, mean - z * std, mean + z * std, level)

    def log_marginal_likelihood(self) -> float:
        """Exact ``log p(y | x)`` of the training data under the current hyperparameters."""
        self._check_fitted()
        if self.backend == "scratch":
            with torch.no_grad():
                return float(self._model.log_marginal_likelihood(self._x, self._y))
        from dllab.gp.gpytorch_models import exact_log_marginal_likelihood

        return exact_log_marginal_likelihood(self._model, self._likelihood)

    def hyperparameters(self) -> dict[str, float | list[float]]:
        """Learned hyperparameters by name, as plain floats (lists for ARD)."""
        self._check_fitted()
        return {
            k: v.tolist() if v.ndim else float(v) for k, v in self._model.hyperparameters().items()
        }

    # persistence --------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], metadata: Mapping[str, Any] | None = None) -> Path:
        """Write the fitted model (plain tensors, strings and numbers) atomically to ``path``."""
        self._check_fitted()
        state = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "backend": self.backend,
            "kernel": self.kernel,
            "ard": self.ard,
            "seed": self.seed,
            "hyperparameters": dict(self._model.hyperparameters()),
            "train_x": self._x.clone(),
            "train_y": self._y.clone(),
            "metadata": dict(self.metadata if metadata is None else metadata),
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            torch.save(state, tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> GPRegressor:
        """Rebuild a model saved by ``save`` (``torch.load(weights_only=True)``).

        Raises:
            ValueError: if the file is missing, damaged or not a dllab-gp model.
        """
        from dllab.core.checkpoint import load_checkpoint

        state = load_checkpoint(path)
        if state.get("format") != FORMAT:
            raise ValueError(f"{path} is not a dllab-gp model (no '{FORMAT}' format tag)")
        if state.get("version") != FORMAT_VERSION:
            raise ValueError(f"{path}: unsupported model version {state.get('version')!r}")
        try:
            gp = cls(state["kernel"], state["backend"], state["ard"], state["seed"])
            x, y = state["train_x"], state["train_y"]
            gp._build(x, y)
            gp._model.set_hyperparameters(state["hyperparameters"])
        except KeyError as err:
            raise ValueError(f"{path}: model file lacks the field {err}") from err
        gp.metadata = dict(state.get("metadata", {}))
        gp._condition()
        return gp
