"""Exact GP regression from scratch: Cholesky with adaptive jitter, evidence and predictions.

Follows Rasmussen & Williams, *Gaussian Processes for Machine Learning* (2006), Algorithm 2.1:

    L = cholesky(K + σ²I),   α = Lᵀ \\ (L \\ (y - m))
    mean* = m + K*ᵀ α,        var* = k** - |L \\ K*|²  (+ σ² for a noisy observation)
    log p(y) = -½ (y - m)ᵀ α - Σ log Lᵢᵢ - n/2 log 2π

The log marginal likelihood has an analytic gradient with respect to the covariance,
``∂ log p / ∂K = ½ (α αᵀ - K⁻¹)``, which ``GaussianLogLikelihood`` supplies to autograd; the
chain rule through the kernel then gives the gradient for every hyperparameter at the cost of
one Cholesky and one inverse from its factor (cheaper than differentiating through ``cholesky``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from dllab.core.checks import check_float
from dllab.gp.kernels import Kernel, in_place
from dllab.gp.memory import EVIDENCE_GRAD_MATRICES, POSTERIOR_MATRICES, check_dense_memory

NOISE_FLOOR = 1e-6
"""Default smallest observation-noise variance (keeps ``K + σ²I`` well conditioned). A
noise-free model that must interpolate its data lowers it with ``noise_floor``."""


MAX_MAGNITUDE = 1e100
"""Largest input or target magnitude a fit accepts (its squares must stay finite)."""


class NotPositiveDefiniteError(ValueError):
    """A covariance matrix stayed indefinite even after the largest jitter was added."""


def cholesky_with_jitter(matrix: Tensor, max_tries: int = 6) -> tuple[Tensor, float]:
    """Lower Cholesky factor of a symmetric matrix, adding diagonal jitter only if needed.

    The jitter starts at ``1e-10`` (float64) or ``1e-6`` (float32) times the mean diagonal
    and grows tenfold per failed try.

    Args:
        matrix: symmetric ``(n, n)`` matrix, expected positive definite.
        max_tries: how many growing jitters to try after the plain factorisation fails.

    Returns:
        ``(L, jitter)``: the factor of ``matrix + jitter·I`` and the jitter used (0.0 if none).

    Raises:
        NotPositiveDefiniteError: if every try fails, or the matrix holds NaN/inf.
    """
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"expected a square matrix, got shape {tuple(matrix.shape)}")
    if not bool(torch.isfinite(matrix).all()):
        raise NotPositiveDefiniteError("covariance matrix holds NaN or inf values")
    L, info = torch.linalg.cholesky_ex(matrix)
    if int(info) == 0:
        return L, 0.0
    del L  # each failed factor is freed before the next try: peak memory stays 3 n×n
    scale = float(matrix.diagonal().abs().mean().detach()) or 1.0
    jitter = scale * (1e-10 if matrix.dtype == torch.float64 else 1e-6)
    shifted = matrix.detach().clone()  # one n×n copy, its diagonal shifted in place
    diagonal = matrix.diagonal().detach()
    for _ in range(max_tries):
        shifted.diagonal().copy_(diagonal + jitter)
        L, info = torch.linalg.cholesky_ex(shifted)
        if int(info) == 0:
            return L, jitter
        del L
        jitter *= 10
    raise NotPositiveDefiniteError(
        f"covariance matrix ({matrix.shape[0]}x{matrix.shape[0]}) is not positive definite "
        f"even with jitter {jitter / 10:.1e}; check for NaNs, extreme hyperparameters "
        "or a noise level that is too small"
    )


class GaussianLogLikelihood(torch.autograd.Function):
    """``log N(r | 0, K)`` with the analytic gradient ``½ (α αᵀ - K⁻¹)`` for ``K``."""

    @staticmethod
    def forward(ctx, cov: Tensor, residual: Tensor) -> Tensor:
        L, _ = cholesky_with_jitter(cov)
        alpha = torch.cholesky_solve(residual[:, None], L)[:, 0]  # (n,)
        n = residual.shape[0]
        value = -0.5 * residual @ alpha - L.diagonal().log().sum() - 0.5 * n * math.log(2 * math.pi)
        ctx.save_for_backward(L, alpha)
        return value

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        L, alpha = ctx.saved_tensors
        grad_cov = grad_residual = None
        if ctx.needs_input_grad[0]:
            cov_inv = torch.cholesky_inverse(L)  # (n, n)
            grad_cov = 0.5 * grad * (torch.outer(alpha, alpha) - cov_inv)
        if ctx.needs_input_grad[1]:
            grad_residual = -grad * alpha
        return grad_cov, grad_residual


def _check_data(x: Tensor, y: Tensor | None = None) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"x must have shape (n, d), got {tuple(x.shape)}")
    if y is None:
        return
    if not isinstance(y, Tensor):
        raise TypeError(f"y must be a torch.Tensor, got {type(y).__name__}")
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise ValueError(f"y must have shape ({x.shape[0]},) to match x, got {tuple(y.shape)}")
    if not bool(torch.isfinite(x).all()) or not bool(torch.isfinite(y).all()):
        raise ValueError("x and y must be finite (no NaN or inf)")


def check_scale(values: Tensor, name: str) -> None:
    """Refuse values so large that exact GP arithmetic overflows float64.

    Squared distances and variances square the data, so magnitudes above ``MAX_MAGNITUDE``
    (1e100) would turn into inf and NaN deep inside a fit.
    """
    largest = float(values.detach().abs().max()) if values.numel() else 0.0
    if largest > MAX_MAGNITUDE:
        raise ValueError(
            f"{name} holds values up to {largest:.3g} in magnitude; exact GP arithmetic "
            f"squares them and overflows beyond {MAX_MAGNITUDE:.0e}: rescale {name} "
            "(e.g. standardise each column)"
        )


class GaussianProcess(nn.Module):
    """A GP regression model: constant mean, a kernel and Gaussian observation noise.

    The noise variance is stored as ``noise_floor + exp(raw_noise)``, so no optimiser step
    can take it below the floor. Exact memory use is checked before each ``n × n`` matrix is
    built (``dllab.gp.memory``): a problem too large for the machine raises
    ``ProblemTooLargeError`` instead of exhausting memory.

    Args:
        kernel: the covariance function.
        noise: observation-noise variance σ² (>= ``noise_floor``).
        mean: the constant prior mean.
        noise_floor: smallest noise variance the model can take (default ``NOISE_FLOOR``,
            1e-6). Lower it (e.g. 1e-12) for a noise-free model that interpolates its data.
    """

    def __init__(
        self,
        kernel: Kernel,
        noise: float = 0.1,
        mean: float = 0.0,
        noise_floor: float = NOISE_FLOOR,
    ) -> None:
        super().__init__()
        if not isinstance(kernel, Kernel):
            raise TypeError(f"kernel must be a dllab.gp Kernel, got {type(kernel).__name__}")
        self.noise_floor = check_float(noise_floor, "noise_floor", min=0.0, max=1.0)
        self.kernel = kernel
        self.raw_noise = nn.Parameter(torch.tensor(0.0, dtype=torch.float64))
        self.mean_constant = nn.Parameter(torch.tensor(float(mean), dtype=torch.float64))
        self.noise = noise

    @property
    def noise(self) -> Tensor:
        """Observation-noise variance σ² (``noise_floor + exp(raw_noise)``)."""
        return self.noise_floor + self.raw_noise.exp()

    @noise.setter
    def noise(self, value: float | Tensor) -> None:
        value = check_float(float(value), "noise", min=self.noise_floor)
        if value <= 0:
            raise ValueError(f"noise must be a variance > 0, got {value}")
        excess = value - self.noise_floor
        # a value at the floor is stored a hair above it (exp(raw) > 0 always)
        raw = math.log(excess) if excess > 0 else math.log(value) - 30.0
        with torch.no_grad():
            self.raw_noise.fill_(raw)

    def hyperparameters(self) -> dict[str, Tensor]:
        """All hyperparameter values: ``mean``, ``noise`` and the kernel's."""
        return {
            "mean": self.mean_constant.detach().clone(),
            "noise": self.noise.detach(),
            **self.kernel.hyperparameters(),
        }

    def set_hyperparameters(self, values: Mapping[str, float | Tensor]) -> None:
        """Assign hyperparameters by the names ``hyperparameters()`` uses.

        Raises:
            ValueError: for an unknown name or a non-positive value; nothing is assigned then.
        """
        slots_of = getattr(self.kernel, "hyperparameter_slots", list)
        slots = {name: (module, attr) for name, module, attr in slots_of()}
        unknown = sorted(set(values) - set(slots) - {"mean", "noise"})
        if unknown:
            known = ", ".join(["mean", "noise", *slots])
            raise ValueError(f"unknown hyperparameter(s) {unknown}; known: {known}")
        backup = {k: v.clone() for k, v in self.state_dict().items()}
        try:
            for name, value in values.items():
                if name == "mean":
                    with torch.no_grad():
                        self.mean_constant.fill_(float(value))
                elif name == "noise":
                    self.noise = value
                else:
                    module, attr = slots[name]
                    setattr(module, attr, value)
        except (ValueError, TypeError, RuntimeError):
            self.load_state_dict(backup)
            raise

    def train_covariance(self, x: Tensor) -> Tensor:
        """``K(x, x) + σ² I``, shape ``(n, n)``.

        Raises:
            ProblemTooLargeError: if the exact computation would not fit in memory.
        """
        matrices = EVIDENCE_GRAD_MATRICES if torch.is_grad_enabled() else POSTERIOR_MATRICES
        check_dense_memory(
            x.shape[0], matrices, itemsize=x.element_size(), what="an exact GP",
            way_out="use a random subsample of fewer rows (dllab.gp.subsample)",
        )  # fmt: skip
        cov = self.kernel(x)  # (n, n)
        if in_place():
            cov.diagonal().add_(self.noise)
            return cov
        return torch.diagonal_scatter(cov, cov.diagonal() + self.noise)

    def log_marginal_likelihood(self, x: Tensor, y: Tensor) -> Tensor:
        """``log p(y | x)``, differentiable in every hyperparameter (not divided by n)."""
        _check_data(x, y)
        return GaussianLogLikelihood.apply(self.train_covariance(x), y - self.mean_constant)

    def posterior(self, x: Tensor, y: Tensor) -> Posterior:
        """Condition on training data; the result predicts at new inputs."""
        _check_data(x, y)
        with torch.no_grad():
            L, jitter = cholesky_with_jitter(self.train_covariance(x))
            alpha = torch.cholesky_solve((y - self.mean_constant)[:, None], L)[:, 0]  # (n,)
        return Posterior(self, x, L, alpha, jitter)


@dataclass
class Posterior:
    """The GP conditioned on ``(x, y)``: the Cholesky factor and weights ``α``.

    Attributes:
        gp: the model it came from (its hyperparameters at conditioning time are used).
        x: training inputs ``(n, d)``.
        chol: lower Cholesky factor of ``K + σ²I`` (plus ``jitter``).
        alpha: ``(K + σ²I)⁻¹ (y - m)``, shape ``(n,)``.
        jitter: diagonal jitter that the factorisation needed.
    """

    gp: GaussianProcess
    x: Tensor
    chol: Tensor
    alpha: Tensor
    jitter: float

    @torch.no_grad()
    def predict(
        self,
        x_test: Tensor,
        include_noise: bool = False,
        full_cov: bool = False,
        batch_size: int = 2048,
    ) -> tuple[Tensor, Tensor]:
        """Predictive mean and variance (or covariance) at ``x_test``.

        Args:
            x_test: ``(t, d)`` inputs.
            include_noise: predict a noisy observation ``y*`` instead of the latent ``f*``.
            full_cov: return the ``(t, t)`` covariance instead of the ``(t,)`` variances.
            batch_size: test points per block (bounds memory when ``full_cov`` is off).

        Returns:
            ``(mean, var)`` with shapes ``(t,)`` and ``(t,)`` or ``(t, t)``.
        """
        _check_data(x_test)
        if x_test.shape[1] != self.x.shape[1]:
            raise ValueError(
                f"x_test has {x_test.shape[1]} input dims but the model was fit on {self.x.shape[1]}"
            )
        x_test = x_test.to(self.x.dtype)
        gp, noise = self.gp, self.gp.noise
        if full_cov:
            check_dense_memory(
                x_test.shape[0], POSTERIOR_MATRICES, itemsize=x_test.element_size(),
                what="a full predictive covariance", way_out="predict variances (full_cov=False)",
            )  # fmt: skip
            k_star = gp.kernel(self.x, x_test)  # (n, t)
            v = torch.linalg.solve_triangular(self.chol, k_star, upper=False)  # (n, t)
            mean = gp.mean_constant + k_star.T @ self.alpha
            cov = gp.kernel(x_test) - v.T @ v  # (t, t)
            if include_noise:
                cov = cov + noise * torch.eye(cov.shape[0], dtype=cov.dtype, device=cov.device)
            return mean, cov
        means, variances = [], []
        for block in x_test.split(batch_size):
            k_star = gp.kernel(self.x, block)  # (n, b)
            v = torch.linalg.solve_triangular(self.chol, k_star, upper=False)  # (n, b)
            means.append(gp.mean_constant + k_star.T @ self.alpha)
            variances.append((gp.kernel.diag(block) - v.pow(2).sum(0)).clamp_min(0))
        var = torch.cat(variances)
        return torch.cat(means), (var + noise if include_noise else var)
