"""Covariance functions from scratch: RBF, Matérn (ν = 1/2, 3/2, 5/2), periodic and linear.

Kernels compose with ``+`` and ``*`` and take an output scale through ``ScaleKernel``, as in
GPyTorch (whose formulas and parameter names they follow, so the two agree to round-off).
Every hyperparameter is stored as the log of its value (``raw_*`` parameters), which keeps it
positive and makes the marginal likelihood better conditioned for L-BFGS. Parameters are
created in float64; ``.float()`` converts a kernel for single-precision work.

Inputs are ``(n, d)`` tensors; ``kernel(x1, x2)`` returns the ``(n, m)`` covariance matrix.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from dllab.core.checks import check_positive, check_positive_int
from dllab.gp.spec import MATERN_NU, parse_kernel_spec, term_is_scaled, term_names


def _check_inputs(x1: Tensor, x2: Tensor | None, dims: int | None) -> Tensor:
    for name, x in (("x1", x1), ("x2", x2)):
        if x is None:
            continue
        if not isinstance(x, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if x.ndim != 2:
            raise ValueError(f"{name} must have shape (n, d), got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}")
        if dims is not None and x.shape[1] != dims:
            raise ValueError(f"{name} has {x.shape[1]} input dims but the kernel expects {dims}")
    x2 = x1 if x2 is None else x2
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(f"x1 has {x1.shape[1]} input dims but x2 has {x2.shape[1]}")
    return x2


def _checked_positive(value: float | Tensor, name: str, dtype: torch.dtype) -> Tensor:
    """``value`` as a tensor whose every element is a finite number > 0."""
    value = torch.as_tensor(value, dtype=dtype)
    for element in value.detach().reshape(-1).tolist():
        check_positive(element, name)
    return value


def _log_parameter(value: float | Tensor, shape: tuple[int, ...], name: str) -> nn.Parameter:
    value = _checked_positive(value, name, torch.float64)
    return nn.Parameter(value.expand(shape).clone().log())


def _assign(raw: nn.Parameter, value: float | Tensor, name: str) -> None:
    value = _checked_positive(value, name, raw.dtype).to(raw.device)
    with torch.no_grad():
        raw.copy_(value.expand_as(raw).log())


def in_place() -> bool:
    """Whether ``(n, m)`` intermediates may be overwritten: only while autograd is off.

    A fresh large buffer costs page faults that can exceed the arithmetic on it, so the
    no-grad path (posteriors, predictions) updates its buffers in place.
    """
    return not torch.is_grad_enabled()


def scaled_sq_dist(x1: Tensor, x2: Tensor) -> Tensor:
    """Squared Euclidean distances ``(n, m)``; inputs are centred first for accuracy."""
    mean = x1.mean(dim=0, keepdim=True)  # (1, d)
    a, b = x1 - mean, x2 - mean
    sq = torch.addmm(b.pow(2).sum(-1)[None, :], a, b.T, alpha=-2)  # |b|² - 2 a·b, (n, m)
    a2 = a.pow(2).sum(-1, keepdim=True)  # (n, 1)
    return sq.add_(a2).clamp_min_(0) if in_place() else (sq + a2).clamp_min(0)


def exact_dist(x1: Tensor, x2: Tensor) -> Tensor:
    """Euclidean distances ``(n, m)`` from exact coordinate differences.

    ``sqrt(|a|² + |b|² - 2a·b)`` turns the rounding noise of the expansion (~1e-16) into
    distances of ~1e-8 between coincident inputs; kernels that are not smooth at zero
    (Matérn 1/2 moves by ``√(2ν)·d/ℓ``) need ``d = 0`` exactly there.
    """
    return torch.cdist(x1, x2, compute_mode="donot_use_mm_for_euclid_dist")


class Kernel(nn.Module):
    """Base class: ``k(x1, x2) -> (n, m)``; ``+`` and ``*`` build sums and products."""

    def __init__(self, ard_num_dims: int | None = None) -> None:
        super().__init__()
        if ard_num_dims is not None:
            ard_num_dims = check_positive_int(ard_num_dims, "ard_num_dims")
        self.ard_num_dims = ard_num_dims

    @property
    def _param_shape(self) -> tuple[int, ...]:
        return (self.ard_num_dims or 1,)

    def forward(self, x1: Tensor, x2: Tensor | None = None) -> Tensor:
        """Covariance matrix ``(n, m)`` between the rows of ``x1`` and ``x2`` (default ``x1``)."""
        x2 = _check_inputs(x1, x2, self.ard_num_dims)
        return self.covariance(x1, x2)

    def covariance(self, x1: Tensor, x2: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def diag(self, x: Tensor) -> Tensor:
        """``k(x_i, x_i)`` for every row, shape ``(n,)``; stationary kernels give ones."""
        _check_inputs(x, None, self.ard_num_dims)
        return torch.ones(x.shape[0], dtype=x.dtype, device=x.device)

    def hyperparameters(self) -> dict[str, Tensor]:
        """Current positive hyperparameter values by name (detached)."""
        return {}

    def __add__(self, other: Kernel) -> SumKernel:
        return SumKernel(self, other)

    def __mul__(self, other: Kernel) -> ProductKernel:
        return ProductKernel(self, other)


class _LengthscaleKernel(Kernel):
    def __init__(self, lengthscale: float | Tensor = 1.0, ard_num_dims: int | None = None):
        super().__init__(ard_num_dims)
        self.raw_lengthscale = _log_parameter(lengthscale, self._param_shape, "lengthscale")

    @property
    def lengthscale(self) -> Tensor:
        return self.raw_lengthscale.exp()

    @lengthscale.setter
    def lengthscale(self, value: float | Tensor) -> None:
        _assign(self.raw_lengthscale, value, "lengthscale")

    def hyperparameters(self) -> dict[str, Tensor]:
        return {"lengthscale": self.lengthscale.detach()}


class RBFKernel(_LengthscaleKernel):
    """``exp(-|x - x'|² / 2ℓ²)`` (squared exponential), one ℓ per dim with ARD."""

    def covariance(self, x1: Tensor, x2: Tensor) -> Tensor:
        ls = self.lengthscale
        sq = scaled_sq_dist(x1 / ls, x2 / ls)  # (n, m)
        return sq.mul_(-0.5).exp_() if in_place() else torch.exp(-0.5 * sq)


class MaternKernel(_LengthscaleKernel):
    """Matérn kernel with ν in {1/2, 3/2, 5/2}; ν = 1/2 is the exponential kernel.

    Distances come from exact differences (``exact_dist``), so ``k(x, x) = 1`` exactly.
    """

    def __init__(
        self, nu: float = 2.5, lengthscale: float | Tensor = 1.0, ard_num_dims: int | None = None
    ) -> None:
        if nu not in (0.5, 1.5, 2.5):
            raise ValueError(f"nu must be 0.5, 1.5 or 2.5, got {nu!r}")
        super().__init__(lengthscale, ard_num_dims)
        self.nu = nu

    def covariance(self, x1: Tensor, x2: Tensor) -> Tensor:
        ls = self.lengthscale
        d = exact_dist(x1 / ls, x2 / ls)  # (n, m)
        if self.nu == 0.5:
            return d.mul_(-math.sqrt(2 * self.nu)).exp_() if in_place() else torch.exp(-d)
        exp_part = torch.exp(-math.sqrt(2 * self.nu) * d)
        if self.nu == 1.5:
            if in_place():
                return d.mul_(math.sqrt(3)).add_(1).mul_(exp_part)
            return (1 + math.sqrt(3) * d) * exp_part
        if in_place():
            poly = d.square().mul_(5.0 / 3.0).add_(d, alpha=math.sqrt(5)).add_(1)  # (n, m)
            return poly.mul_(exp_part)
        return (1 + math.sqrt(5) * d + 5.0 / 3.0 * d**2) * exp_part


class PeriodicKernel(_LengthscaleKernel):
    """``exp(-2 Σ_d sin²(π |x_d - x'_d| / p_d) / ℓ_d)``, GPyTorch's parameterisation."""

    def __init__(
        self,
        lengthscale: float | Tensor = 1.0,
        period: float | Tensor = 1.0,
        ard_num_dims: int | None = None,
    ) -> None:
        super().__init__(lengthscale, ard_num_dims)
        self.raw_period = _log_parameter(period, self._param_shape, "period")

    @property
    def period(self) -> Tensor:
        return self.raw_period.exp()

    @period.setter
    def period(self, value: float | Tensor) -> None:
        _assign(self.raw_period, value, "period")

    def covariance(self, x1: Tensor, x2: Tensor) -> Tensor:
        diff = x1[:, None, :] - x2[None, :, :]  # (n, m, d)
        sin2 = torch.sin(math.pi * diff / self.period).pow(2)  # (n, m, d)
        total = (sin2 / self.lengthscale).sum(-1)  # (n, m)
        return total.mul_(-2.0).exp_() if in_place() else torch.exp(-2.0 * total)

    def hyperparameters(self) -> dict[str, Tensor]:
        return {**super().hyperparameters(), "period": self.period.detach()}


class LinearKernel(Kernel):
    """``σ² x·x'``: Bayesian linear regression through the origin."""

    def __init__(self, variance: float | Tensor = 1.0) -> None:
        super().__init__(None)
        self.raw_variance = _log_parameter(variance, (1,), "variance")

    @property
    def variance(self) -> Tensor:
        return self.raw_variance.exp()

    @variance.setter
    def variance(self, value: float | Tensor) -> None:
        _assign(self.raw_variance, value, "variance")

    def covariance(self, x1: Tensor, x2: Tensor) -> Tensor:
        product = x1 @ x2.T  # (n, m)
        return product.mul_(self.variance) if in_place() else self.variance * product

    def diag(self, x: Tensor) -> Tensor:
        _check_inputs(x, None, None)
        return self.variance * x.pow(2).sum(-1)

    def hyperparameters(self) -> dict[str, Tensor]:
        return {"variance": self.variance.detach()}


class ScaleKernel(Kernel):
    """``s · k(x, x')``: an output scale (signal variance) over another kernel."""

    def __init__(self, base: Kernel, outputscale: float | Tensor = 1.0) -> None:
        if not isinstance(base, Kernel):
            raise TypeError(f"base must be a Kernel, got {type(base).__name__}")
        super().__init__(base.ard_num_dims)
        self.base = base
        self.raw_outputscale = _log_parameter(outputscale, (), "outputscale")

    @property
    def outputscale(self) -> Tensor:
        return self.raw_outputscale.exp()

    @outputscale.setter
    def outputscale(self, value: float | Tensor) -> None:
        _assign(self.raw_outputscale, value, "outputscale")

    def covariance(self, x1: Tensor, x2: Tensor) -> Tensor:
        cov = self.base.covariance(x1, x2)  # (n, m)
        return cov.mul_(self.outputscale) if in_place() else self.outputscale * cov

    def diag(self, x: Tensor) -> Tensor:
        return self.outputscale * self.base.diag(x)

    def hyperparameters(self) -> dict[str, Tensor]:
        return {"outputscale": self.outputscale.detach(), **self.base.hyperparameters()}


class _CombinedKernel(Kernel):
    def __init__(self, *kernels: Kernel) -> None:
        for k in kernels:
            if not isinstance(k, Kernel):
                raise TypeError(f"can only combine Kernels, got {type(k).__name__}")
        dims = {k.ard_num_dims for k in kernels} - {None}
        if len(dims) > 1:
            raise ValueError(f"combined kernels disagree on ard_num_dims: {sorted(dims)}")
        super().__init__(dims.pop() if dims else None)
        self.kernels = nn.ModuleList(kernels)

    def hyperparameters(self) -> dict[str, Tensor]:
        return {
            f"{i}.{name}": value
            for i, k in enumerate(self.kernels)
            for name, value in k.hyperparameters().items()
        }


class SumKernel(_CombinedKernel):
    """``k1 + k2 + ...``"""

    def covariance(self, x1: Tensor, x2: Tensor) -> Tensor:
        out = self.kernels[0].covariance(x1, x2)
        for k in self.kernels[1:]:
            out = out.add_(k.covariance(x1, x2)) if in_place() else out + k.covariance(x1, x2)
        return out

    def diag(self, x: Tensor) -> Tensor:
        return sum(k.diag(x) for k in self.kernels)


class ProductKernel(_CombinedKernel):
    """``k1 · k2 · ...`` (element-wise product of covariance matrices)."""

    def covariance(self, x1: Tensor, x2: Tensor) -> Tensor:
        out = self.kernels[0].covariance(x1, x2)
        for k in self.kernels[1:]:
            out = out.mul_(k.covariance(x1, x2)) if in_place() else out * k.covariance(x1, x2)
        return out

    def diag(self, x: Tensor) -> Tensor:
        out = self.kernels[0].diag(x)
        for k in self.kernels[1:]:
            out = out * k.diag(x)
        return out


def base_kernel(name: str, ard_num_dims: int | None = None) -> Kernel:
    """One base kernel by spec name (``rbf``, ``matern52``, ``periodic``, ``linear``, ...)."""
    if name == "rbf":
        return RBFKernel(ard_num_dims=ard_num_dims)
    if name in MATERN_NU:
        return MaternKernel(MATERN_NU[name], ard_num_dims=ard_num_dims)
    if name == "periodic":
        return PeriodicKernel(ard_num_dims=ard_num_dims)
    if name == "linear":
        return LinearKernel()
    parse_kernel_spec(name)  # raises the error that lists valid names
    raise ValueError(f"{name!r} is a combination, not a base kernel")


class SpecKernel(SumKernel):
    """A kernel built from a spec string, with readable hyperparameter names.

    ``SpecKernel("rbf+periodic")`` is ``s1·RBF + s2·Periodic``; its hyperparameters are named
    ``rbf.outputscale``, ``rbf.lengthscale``, ``periodic.outputscale``, ... The GPyTorch
    backend builds the same structure with the same names.
    """

    def __init__(self, spec: str, ard_num_dims: int | None = None) -> None:
        self.terms = parse_kernel_spec(spec)
        self.names = term_names(self.terms)
        parts: list[Kernel] = []
        for factors in self.terms:
            kernels = [base_kernel(f, ard_num_dims) for f in factors]
            term = kernels[0] if len(kernels) == 1 else ProductKernel(*kernels)
            parts.append(ScaleKernel(term) if term_is_scaled(factors) else term)
        super().__init__(*parts)
        self.spec = "+".join("*".join(f) for f in self.terms)
        self.ard_num_dims = ard_num_dims

    def term_factors(self, i: int) -> list[Kernel]:
        """The base kernels of term ``i``."""
        term = self.kernels[i]
        term = term.base if isinstance(term, ScaleKernel) else term
        return list(term.kernels) if isinstance(term, ProductKernel) else [term]

    def hyperparameter_slots(self) -> list[tuple[str, Kernel, str]]:
        """``(name, module, attribute)`` for every hyperparameter, in a stable order."""
        slots: list[tuple[str, Kernel, str]] = []
        for i, (name, factors) in enumerate(zip(self.names, self.terms, strict=True)):
            term = self.kernels[i]
            if isinstance(term, ScaleKernel):
                slots.append((f"{name}.outputscale", term, "outputscale"))
            for j, kernel in enumerate(self.term_factors(i)):
                prefix = name if len(factors) == 1 else f"{name}.{j}:{factors[j]}"
                slots += [(f"{prefix}.{key}", kernel, key) for key in kernel.hyperparameters()]
        return slots

    def hyperparameters(self) -> dict[str, Tensor]:
        return {name: _plain(getattr(m, attr)) for name, m, attr in self.hyperparameter_slots()}


def _plain(value: Tensor) -> Tensor:
    """A detached scalar (one element) or 1-D tensor (several)."""
    value = value.detach()
    return value.reshape(()) if value.numel() == 1 else value.reshape(-1)
