"""Learning hyperparameters by maximising the log marginal likelihood (L-BFGS or Adam).

An exact evaluation of ``log p(y)`` and its gradient costs one Cholesky and one triangular
inverse, O(n³). The fit therefore spends its evaluations where they are cheap:

1. **Restarts** run on a random subset of at most ``restart_points`` rows. The first start is
   set from the data's scale (mean and variance of ``y``, spread of ``x``); later starts
   perturb it log-uniformly. The start with the highest evidence wins.
2. **Refinement** continues from the winner on at most ``max_points`` rows (all of them when
   ``n <= max_points``, or when ``max_points`` is None).

The posterior is then always conditioned on every row (``GaussianProcess.posterior``).
``best_of_starts`` is the restart loop itself; the GPyTorch backend of ``GPRegressor`` runs
its starts through it too.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from dllab.core.checks import check_choice, check_int, check_positive, check_positive_int
from dllab.gp.kernels import LinearKernel, PeriodicKernel, ScaleKernel, _LengthscaleKernel
from dllab.gp.posterior import (
    GaussianProcess,
    NotPositiveDefiniteError,
    _check_data,
    check_scale,
)

OPTIMIZERS = ("lbfgs", "adam")
DEFAULT_RESTART_POINTS = 256
"""Rows the restarts use by default (a random subset when n is larger)."""
DEFAULT_MAX_POINTS = 1024
"""Rows the refinement uses by default (a random subset when n is larger)."""
SINGLE_THREAD_ROWS = 1024
"""Stages on at most this many rows run single-threaded (see ``_threads_for``)."""


@dataclass
class FitResult:
    """What a fit did.

    Attributes:
        log_marginal_likelihood: final ``log p(y)`` on the rows the last stage used.
        points_used: rows in the last stage (``n`` unless the data were subsampled).
        restart_values: final ``log p(y)`` of each restart (``-inf`` for a failed start).
        history: ``log p(y)`` after every evaluation of the winning run and the refinement.
        seconds: wall time of the fit.
    """

    log_marginal_likelihood: float
    points_used: int
    restart_values: list[float] = field(default_factory=list)
    history: list[float] = field(default_factory=list)
    seconds: float = 0.0


def initialize_from_data(
    gp: GaussianProcess, x: Tensor, y: Tensor, generator: torch.Generator | None = None
) -> None:
    """Set every hyperparameter from the scale of the data.

    With a ``generator`` the values are perturbed log-uniformly (for restarts): lengthscales
    and periods by up to 10x either way, the noise between 0.1% and 30% of ``var(y)``.
    """

    def jitter(low: float, high: float, shape: tuple[int, ...] = ()) -> Tensor:
        if generator is None:
            return torch.ones(shape, dtype=torch.float64)
        u = torch.rand(shape, generator=generator, dtype=torch.float64)
        return torch.exp(math.log(low) + u * (math.log(high) - math.log(low)))

    _check_data(x, y)
    check_scale(x, "x")
    check_scale(y, "y")
    x, y = x.detach().double(), y.detach().double()
    var_y = float(y.var()) if y.numel() > 1 else 1.0
    var_y = var_y if var_y > 0 else 1.0
    spread = x.std(0) if x.shape[0] > 1 else torch.ones(x.shape[1], dtype=torch.float64)
    spread = torch.where(spread > 0, spread, torch.ones_like(spread))  # (d,)
    extent = (x.max(0).values - x.min(0).values).clamp_min(1e-3)  # (d,)
    scaled = [m for m in gp.kernel.modules() if isinstance(m, ScaleKernel)]
    with torch.no_grad():
        gp.mean_constant.fill_(float(y.mean()))
        gp.noise = max(0.05 * var_y * float(jitter(0.02, 6.0)), 2 * gp.noise_floor)
        for m in scaled:
            m.outputscale = var_y / len(scaled) * jitter(0.3, 3.0)
        for m in gp.kernel.modules():
            if isinstance(m, _LengthscaleKernel):
                dims = m.raw_lengthscale.shape
                ard = m.ard_num_dims is not None  # else one value for all inputs: their average
                spread_m, extent_m = (spread, extent) if ard else (spread.mean(), extent.mean())
            if isinstance(m, PeriodicKernel):
                m.period = (extent_m / 5).expand(dims) * jitter(0.2, 2.0, dims)
                m.lengthscale = jitter(0.3, 3.0, dims)
            elif isinstance(m, _LengthscaleKernel):
                m.lengthscale = (spread_m / 2).expand(dims) * jitter(0.1, 10.0, dims)
            elif isinstance(m, LinearKernel):
                m.variance = (
                    var_y / float(x.pow(2).sum(1).mean().clamp_min(1e-12)) * jitter(0.1, 10)
                )


def _optimize(
    gp: GaussianProcess, x: Tensor, y: Tensor, optimizer: str, max_iter: int, lr: float
) -> list[float]:
    """Maximise ``log p(y)`` in place; returns the value after each evaluation."""
    params = [p for p in gp.parameters() if p.requires_grad]
    history: list[float] = []
    n = x.shape[0]

    def closure() -> Tensor:
        opt.zero_grad()
        loss = -gp.log_marginal_likelihood(x, y) / n
        loss.backward()
        history.append(-float(loss.detach()) * n)
        return loss

    if optimizer == "lbfgs":
        opt = torch.optim.LBFGS(
            params,
            lr=1.0,
            max_iter=max_iter,
            history_size=20,
            line_search_fn="strong_wolfe",
            tolerance_grad=1e-6,
            tolerance_change=1e-10,
        )
        opt.step(closure)
    else:
        opt = torch.optim.Adam(params, lr=lr)
        for _ in range(max_iter):
            opt.step(closure)
    return history


@contextlib.contextmanager
def _threads_for(rows: int) -> Iterator[None]:
    """One intra-op thread for small matrices: thread start-up and spinning cost more than the
    arithmetic they share, and much more on a busy machine. Restored afterwards."""
    before = torch.get_num_threads()
    if rows <= SINGLE_THREAD_ROWS and before > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def best_of_starts(
    model: nn.Module,
    starts: int,
    start: Callable[[int], None],
    optimize: Callable[[], tuple[float, list[float]]],
) -> tuple[float, list[float], list[float]]:
    """Run ``starts`` optimisations and leave the best hyperparameters in ``model``.

    Start ``r`` sets the hyperparameters (``start(r)``; ``r = 0`` is the data-scaled start),
    then ``optimize()`` climbs the evidence and returns ``(log p(y), history)``. A start whose
    covariance was never positive definite, or whose evidence is not finite, scores ``-inf``.

    Returns:
        ``(best log p(y), log p(y) of every start, history of the best start)``.

    Raises:
        NotPositiveDefiniteError: if every start failed.
    """
    starts = check_positive_int(starts, "restarts")
    best_value, best_state, best_history, values = -math.inf, None, [], []
    for r in range(starts):
        start(r)
        try:
            value, history = optimize()
        except NotPositiveDefiniteError:
            value, history = -math.inf, []
        values.append(value if math.isfinite(value) else -math.inf)
        if values[-1] > best_value:
            best_value, best_history = values[-1], history
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    if best_state is None:
        raise NotPositiveDefiniteError(
            f"all {starts} starts failed: the kernel matrix was never positive definite"
        )
    model.load_state_dict(best_state)
    return best_value, values, best_history


def _subset(n: int, size: int | None, generator: torch.Generator) -> Tensor | None:
    if size is None or n <= size:
        return None
    return torch.randperm(n, generator=generator)[:size]


def fit_hyperparameters(
    gp: GaussianProcess,
    x: Tensor,
    y: Tensor,
    optimizer: str = "lbfgs",
    restarts: int = 3,
    max_iter: int = 50,
    lr: float = 0.05,
    restart_points: int | None = DEFAULT_RESTART_POINTS,
    max_points: int | None = DEFAULT_MAX_POINTS,
    refine_iter: int = 10,
    seed: int = 0,
) -> FitResult:
    """Maximise the log marginal likelihood of ``gp`` over its hyperparameters, in place.

    Args:
        gp: the model; its current values are overwritten by the data-scaled start.
        x: ``(n, d)`` inputs.
        y: ``(n,)`` targets.
        optimizer: ``"lbfgs"`` (strong Wolfe line search) or ``"adam"``.
        restarts: number of starts (the first from the data scale, the rest perturbed).
        max_iter: L-BFGS iterations, or Adam steps, per start.
        lr: Adam learning rate (L-BFGS uses its line search).
        restart_points: rows used by the restarts (None: all).
        max_points: rows used by the refinement (None: all).
        refine_iter: iterations (or steps) of the refinement.
        seed: seeds the restarts and the subsets.

    Returns:
        A ``FitResult``; the best hyperparameters are left in ``gp``.
    """
    _check_data(x, y)
    check_choice(optimizer, "optimizer", OPTIMIZERS)
    restarts = check_positive_int(restarts, "restarts")
    max_iter = check_positive_int(max_iter, "max_iter")
    lr = check_positive(lr, "lr")
    refine_iter = check_int(refine_iter, "refine_iter", min=0)
    for name, size in (("restart_points", restart_points), ("max_points", max_points)):
        if size is not None:
            check_int(size, name, min=2)
    began = time.perf_counter()
    generator = torch.Generator().manual_seed(seed)
    x, y = x.to(torch.float64), y.to(torch.float64)
    rows = _subset(x.shape[0], restart_points, generator)
    xs, ys = (x, y) if rows is None else (x[rows], y[rows])

    def start(r: int) -> None:
        initialize_from_data(gp, x, y, generator if r > 0 else None)

    def optimize() -> tuple[float, list[float]]:
        with _threads_for(xs.shape[0]):
            history = _optimize(gp, xs, ys, optimizer, max_iter, lr)
        with torch.no_grad():
            return float(gp.log_marginal_likelihood(xs, ys)), history

    best_value, values, best_history = best_of_starts(gp, restarts, start, optimize)
    best_state = {k: v.clone() for k, v in gp.state_dict().items()}
    used = xs.shape[0]
    if rows is not None and refine_iter > 0 and (max_points is None or max_points > used):
        rows = _subset(x.shape[0], max_points, generator)
        xr, yr = (x, y) if rows is None else (x[rows], y[rows])
        try:
            with _threads_for(xr.shape[0]):
                best_history += _optimize(gp, xr, yr, optimizer, refine_iter, lr)
            with torch.no_grad():
                refined = float(gp.log_marginal_likelihood(xr, yr))
            if not math.isfinite(refined):
                raise NotPositiveDefiniteError("refinement left the evidence non-finite")
            best_value, used = refined, xr.shape[0]
        except NotPositiveDefiniteError:  # keep the restart winner
            gp.load_state_dict(best_state)
    return FitResult(best_value, used, values, best_history, time.perf_counter() - began)
