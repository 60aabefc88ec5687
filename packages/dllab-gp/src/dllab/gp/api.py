"""One API over both backends: ``GPRegressor(kernel, backend="scratch" | "gpytorch")``.

``fit`` learns the hyperparameters by maximising the marginal likelihood, ``predict``
returns the predictive mean, standard deviation and a confidence region, and ``save`` /
``GPRegressor.load`` keep a fitted model as plain tensors (loaded with ``weights_only=True``).
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from dllab.core.checks import (
    check_choice,
    check_float,
    check_int,
    check_positive,
    check_positive_int,
    check_probability,
)
from dllab.core.runs import atomic_write_bytes
from dllab.gp.posterior import check_scale
from dllab.gp.spec import canonical_spec

if TYPE_CHECKING:
    from dllab.gp.backends import Backend

BACKENDS = ("scratch", "gpytorch")
OPTIMIZERS = ("lbfgs", "adam")
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
    level = check_probability(level, "level")
    if level == 0:
        raise ValueError("level must be > 0, got 0.0")
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


def check_training_data(x: Any, y: Any) -> tuple[Tensor, Tensor]:
    """``(x, y)`` as float64 ``(n, d)`` and ``(n,)`` tensors fit for an exact GP.

    Raises:
        TypeError: for non-numeric values.
        ValueError: for mismatched shapes, fewer than 2 rows, NaN/inf values, or magnitudes
            whose squares overflow float64 (``posterior.MAX_MAGNITUDE``).
    """
    x = as_inputs(x)
    y = as_targets(y, x.shape[0])
    if x.shape[0] < 2:
        raise ValueError(f"need at least 2 training points, got {x.shape[0]}")
    check_scale(x, "x")
    check_scale(y, "y")
    return x, y


class GPRegressor:
    """Exact GP regression with a spec-built kernel on either backend.

    Args:
        kernel: kernel spec, e.g. ``"rbf"``, ``"matern52"``, ``"rbf+periodic"``.
        backend: ``"scratch"`` (this package's inference) or ``"gpytorch"``.
        ard: one lengthscale per input dimension.
        seed: seeds restarts and subsets.
        noise_floor: smallest noise variance the fit may reach. None takes the backend's
            default: 1e-6 from scratch, GPyTorch's 1e-4. Lower it (e.g. 1e-12) to let a
            noise-free model interpolate its data.

    Example:
        >>> gp = GPRegressor("rbf").fit(x, y)
        >>> pred = gp.predict(x_test)   # pred.mean, pred.std, pred.lower, pred.upper
    """

    def __init__(
        self,
        kernel: str = "rbf",
        backend: str = "scratch",
        ard: bool = False,
        seed: int = 0,
        noise_floor: float | None = None,
    ) -> None:
        from dllab.gp.backends import BACKENDS

        self.backend = check_choice(backend, "backend", tuple(BACKENDS))
        self.kernel = canonical_spec(kernel)
        self.ard, self.seed = bool(ard), check_int(seed, "seed")
        if noise_floor is not None:
            noise_floor = check_float(noise_floor, "noise_floor", min=0.0, max=1.0)
        self.noise_floor = noise_floor
        self.fit_info: dict[str, Any] = {}
        self.metadata: dict[str, Any] = {}
        self._engine: Backend | None = None

    def _build(self, x: Tensor, y: Tensor) -> Backend:
        from dllab.gp.backends import BACKENDS

        self._engine = BACKENDS[self.backend](self.kernel, x, y, self.ard, self.noise_floor)
        return self._engine

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
        max_points: int | None = None,
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
            max_points: fit on at most this many rows, a random subsample seeded by ``seed``
                (None: every row).

        Returns:
            ``self``, fitted.

        Raises:
            ProblemTooLargeError: if the exact GP on these rows would not fit in memory
                (checked before anything is allocated); pass ``max_points``.
        """
        from dllab.gp.backends import BACKENDS
        from dllab.gp.data import subsample

        engine_class = BACKENDS[self.backend]
        optimizer = check_choice(
            optimizer or engine_class.default_optimizer, "optimizer", OPTIMIZERS
        )
        restarts = check_positive_int(restarts, "restarts")
        max_iter = check_positive_int(50 if max_iter is None else max_iter, "max_iter")
        lr = check_positive(engine_class.default_lr if lr is None else lr, "lr")
        x, y = check_training_data(x, y)
        given = x.shape[0]
        if max_points is not None:
            x, y = subsample(x, y, check_int(max_points, "max_points", min=2), self.seed)
        engine_class.check_memory(
            x.shape[0],
            way_out=f"pass max_points=M to fit on a random subsample of M < {given:,} rows",
        )
        engine = self._build(x, y)
        self.fit_info = {
            "optimizer": optimizer,
            **engine.fit(optimizer, restarts, max_iter, lr, self.seed, progress),
            "rows_given": given,
        }
        engine.condition()
        return self

    # results ------------------------------------------------------------------------------
    def _fitted(self) -> Backend:
        if self._engine is None:
            raise RuntimeError("the model is not fitted yet: call fit(x, y) or GPRegressor.load")
        return self._engine

    @property
    def num_dims(self) -> int:
        """Input dimension the model was fit on."""
        return self._fitted().x.shape[1]

    @property
    def num_points(self) -> int:
        """Training rows the model is conditioned on."""
        return self._fitted().x.shape[0]

    def predict(self, x: Any, include_noise: bool = True, level: float = 0.95) -> Prediction:
        """Predictive mean, std and central ``level`` interval at ``x``.

        Args:
            x: ``(t, d)`` or ``(t,)`` test inputs.
            include_noise: describe a new noisy observation ``y*`` (True) or the latent ``f*``.
            level: coverage of the interval, 0.95 for a 95% confidence region.
        """
        engine = self._fitted()
        z = normal_quantile(level)
        x = as_inputs(x, "x", self.num_dims)
        check_scale(x, "x")
        mean, var = engine.predict(x, include_noise)
        mean, std = mean.detach(), var.detach().clamp_min(0).sqrt()
        return Prediction(mean, std, mean - z * std, mean + z * std, level)

    def log_marginal_likelihood(self) -> float:
        """Exact ``log p(y | x)`` of the training data under the current hyperparameters."""
        return self._fitted().log_marginal_likelihood()

    def hyperparameters(self) -> dict[str, float | list[float]]:
        """Learned hyperparameters by name, as plain floats (lists for ARD)."""
        values = self._fitted().hyperparameters()
        return {k: v.tolist() if v.ndim else float(v) for k, v in values.items()}

    def set_hyperparameters(self, values: Mapping[str, float | Any]) -> None:
        """Assign hyperparameters by the names ``hyperparameters()`` uses, then re-condition.

        Raises:
            ValueError: for an unknown name or an invalid value.
        """
        engine = self._fitted()
        engine.set_hyperparameters(values)
        engine.condition()

    # persistence --------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], metadata: Mapping[str, Any] | None = None) -> Path:
        """Write the fitted model (plain tensors, strings and numbers) atomically to ``path``."""
        engine = self._fitted()
        state = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "backend": self.backend,
            "kernel": self.kernel,
            "ard": self.ard,
            "seed": self.seed,
            "noise_floor": engine.noise_floor,
            "hyperparameters": dict(engine.hyperparameters()),
            "train_x": engine.x.clone(),
            "train_y": engine.y.clone(),
            "metadata": dict(self.metadata if metadata is None else metadata),
        }
        buffer = io.BytesIO()
        torch.save(state, buffer)
        return atomic_write_bytes(path, buffer.getvalue())

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
            gp = cls(
                state["kernel"], state["backend"], state["ard"], state["seed"],
                noise_floor=state.get("noise_floor"),
            )  # fmt: skip
            engine = gp._build(state["train_x"], state["train_y"])
            engine.set_hyperparameters(state["hyperparameters"])
        except KeyError as err:
            raise ValueError(f"{path}: model file lacks the field {err}") from err
        gp.metadata = dict(state.get("metadata", {}))
        engine.condition()
        return gp
