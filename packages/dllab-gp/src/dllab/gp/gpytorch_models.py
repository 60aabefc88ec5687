"""The GPyTorch path: an ExactGP built from the same kernel spec, with train/predict helpers.

Below ``cg_threshold`` training points (10,000 by default) GPyTorch is told to use exact
Cholesky solves, so it agrees with the from-scratch posterior. From that size on it switches
to its scalable path: conjugate gradients with Lanczos for training and ``fast_pred_var`` for
predictive variances, with a progress bar over training steps and prediction blocks.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Mapping

import gpytorch
import torch
from torch import Tensor

from dllab.core.checks import check_choice, check_float, check_positive, check_positive_int
from dllab.gp.kernels import _plain
from dllab.gp.spec import MATERN_NU, parse_kernel_spec, term_is_scaled, term_names

CG_THRESHOLD = 10_000
"""Training-set size from which the scalable (CG, fast predictive variance) path is used."""

_ATTR = {"outputscale": "outputscale", "lengthscale": "lengthscale", "period": "period_length"}


def _base_kernel(name: str, ard_num_dims: int | None) -> gpytorch.kernels.Kernel:
    dims = {} if ard_num_dims is None else {"ard_num_dims": ard_num_dims}
    if name == "rbf":
        return gpytorch.kernels.RBFKernel(**dims)
    if name in MATERN_NU:
        return gpytorch.kernels.MaternKernel(nu=MATERN_NU[name], **dims)
    if name == "periodic":
        return gpytorch.kernels.PeriodicKernel(**dims)
    return gpytorch.kernels.LinearKernel()


def build_gpytorch_kernel(spec: str, ard_num_dims: int | None = None) -> gpytorch.kernels.Kernel:
    """The GPyTorch twin of ``dllab.gp.kernels.SpecKernel(spec)``."""
    terms = []
    for factors in parse_kernel_spec(spec):
        parts = [_base_kernel(f, ard_num_dims) for f in factors]
        term = parts[0] if len(parts) == 1 else gpytorch.kernels.ProductKernel(*parts)
        terms.append(gpytorch.kernels.ScaleKernel(term) if term_is_scaled(factors) else term)
    return terms[0] if len(terms) == 1 else gpytorch.kernels.AdditiveKernel(*terms)


class GPyTorchRegressionModel(gpytorch.models.ExactGP):
    """ExactGP with a constant mean and a spec-built kernel, named like the scratch model.

    Args:
        x: ``(n, d)`` training inputs.
        y: ``(n,)`` training targets.
        likelihood: usually ``gpytorch.likelihoods.GaussianLikelihood()``.
        spec: kernel spec such as ``"rbf"`` or ``"rbf+periodic"``.
        ard_num_dims: one lengthscale per input dim when set.
    """

    def __init__(
        self,
        x: Tensor,
        y: Tensor,
        likelihood: gpytorch.likelihoods.GaussianLikelihood,
        spec: str = "rbf",
        ard_num_dims: int | None = None,
    ) -> None:
        super().__init__(x, y, likelihood)
        self.spec = "+".join("*".join(f) for f in parse_kernel_spec(spec))
        self.ard_num_dims = ard_num_dims
        self.mean_module = gpytorch.means.ConstantMean()
        self.covar_module = build_gpytorch_kernel(spec, ard_num_dims)

    def forward(self, x: Tensor) -> gpytorch.distributions.MultivariateNormal:
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))

    def hyperparameter_slots(self) -> list[tuple[str, torch.nn.Module, str]]:
        """``(name, module, attribute)`` per hyperparameter, with the scratch model's names."""
        terms = parse_kernel_spec(self.spec)
        covar = self.covar_module
        modules = list(covar.kernels) if len(terms) > 1 else [covar]
        slots: list[tuple[str, torch.nn.Module, str]] = [
            ("mean", self.mean_module, "constant"),
            ("noise", self.likelihood, "noise"),
        ]
        for name, factors, term in zip(term_names(terms), terms, modules, strict=True):
            if term_is_scaled(factors):
                slots.append((f"{name}.outputscale", term, "outputscale"))
                term = term.base_kernel
            parts = list(term.kernels) if len(factors) > 1 else [term]
            for j, (factor, kernel) in enumerate(zip(factors, parts, strict=True)):
                prefix = name if len(factors) == 1 else f"{name}.{j}:{factor}"
                keys = ["variance"] if factor == "linear" else ["lengthscale"]
                keys += ["period"] if factor == "periodic" else []
                slots += [(f"{prefix}.{k}", kernel, _ATTR.get(k, k)) for k in keys]
        return slots

    def hyperparameters(self) -> dict[str, Tensor]:
        """Hyperparameter values by name (scalars for one element, else 1-D)."""
        return {name: _plain(getattr(m, attr)) for name, m, attr in self.hyperparameter_slots()}

    def set_hyperparameters(self, values: Mapping[str, float | Tensor]) -> None:
        """Assign hyperparameters by name; an unknown name raises before anything is set."""
        slots = {name: (m, attr) for name, m, attr in self.hyperparameter_slots()}
        unknown = sorted(set(values) - set(slots))
        if unknown:
            raise ValueError(f"unknown hyperparameter(s) {unknown}; known: {', '.join(slots)}")
        for name, value in values.items():
            module, attr = slots[name]
            current = getattr(module, attr)
            value = torch.as_tensor(value, dtype=current.dtype).expand_as(current).clone()
            if name == "mean":
                with torch.no_grad():
                    module.constant.copy_(value)
            else:
                setattr(module, attr, value)


def make_gpytorch_model(
    x: Tensor,
    y: Tensor,
    spec: str = "rbf",
    ard_num_dims: int | None = None,
    noise_floor: float | None = None,
) -> tuple[GPyTorchRegressionModel, gpytorch.likelihoods.GaussianLikelihood]:
    """A model and its Gaussian likelihood, in the dtype of ``x``.

    ``noise_floor`` bounds the noise variance from below (None: GPyTorch's default, 1e-4).
    """
    if noise_floor is None:
        likelihood = gpytorch.likelihoods.GaussianLikelihood()
    else:
        floor = check_float(noise_floor, "noise_floor", min=0.0, max=1.0)
        constraint = gpytorch.constraints.GreaterThan(floor)
        likelihood = gpytorch.likelihoods.GaussianLikelihood(noise_constraint=constraint)
    likelihood = likelihood.to(x.dtype)
    model = GPyTorchRegressionModel(x, y, likelihood, spec, ard_num_dims).to(x.dtype)
    return model, likelihood


@contextlib.contextmanager
def inference_settings(n: int, cg_threshold: int = CG_THRESHOLD) -> Iterator[bool]:
    """Exact Cholesky below ``cg_threshold`` points, CG and fast predictive variance above.

    Yields True when the scalable path is on.
    """
    scalable = n >= cg_threshold
    with contextlib.ExitStack() as stack:
        if scalable:
            stack.enter_context(gpytorch.settings.max_cholesky_size(cg_threshold - 1))
            stack.enter_context(gpytorch.settings.fast_computations(True, True, True))
            stack.enter_context(gpytorch.settings.fast_pred_var(True))
        else:
            stack.enter_context(gpytorch.settings.max_cholesky_size(max(n, 1) + 1))
            stack.enter_context(gpytorch.settings.fast_computations(False, False, False))
            stack.enter_context(gpytorch.settings.fast_pred_var(False))
        yield scalable


def train_gpytorch(
    model: GPyTorchRegressionModel,
    likelihood: gpytorch.likelihoods.GaussianLikelihood,
    steps: int = 50,
    lr: float = 0.1,
    optimizer: str = "adam",
    cg_threshold: int = CG_THRESHOLD,
    progress: bool = False,
) -> list[float]:
    """Maximise the marginal likelihood with Adam or L-BFGS (GPyTorch's training loop).

    Returns:
        The loss (negative log marginal likelihood divided by n) after each step.
    """
    check_choice(optimizer, "optimizer", ("adam", "lbfgs"))
    steps = check_positive_int(steps, "steps")
    lr = check_positive(lr, "lr")
    from rich.progress import Progress

    x, y = model.train_inputs[0], model.train_targets
    model.train()
    likelihood.train()
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(likelihood, model)
    params = list(model.parameters())  # the likelihood is a submodule of the model
    if optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr)
    else:
        opt = torch.optim.LBFGS(params, lr=1.0, max_iter=1, line_search_fn="strong_wolfe")
    losses: list[float] = []

    def closure() -> Tensor:
        opt.zero_grad()
        loss = -mll(model(x), y)
        loss.backward()
        return loss

    with (
        inference_settings(x.shape[0], cg_threshold),
        Progress(disable=not progress, transient=True) as bar,
    ):
        task = bar.add_task(f"gpytorch fit (n={x.shape[0]})", total=steps)
        for _ in range(steps):
            loss = opt.step(closure)
            losses.append(float(loss.detach()))
            bar.update(task, advance=1, description=f"gpytorch fit loss={losses[-1]:.4f}")
    model.eval()
    likelihood.eval()
    return losses


@torch.no_grad()
def predict_gpytorch(
    model: GPyTorchRegressionModel,
    likelihood: gpytorch.likelihoods.GaussianLikelihood,
    x: Tensor,
    include_noise: bool = False,
    cg_threshold: int = CG_THRESHOLD,
    batch_size: int = 1024,
    progress: bool = False,
) -> tuple[Tensor, Tensor]:
    """Predictive mean and variance at ``x`` in eval mode, block by block.

    Args:
        model: a trained model.
        likelihood: its likelihood.
        x: ``(t, d)`` test inputs.
        include_noise: the variance of a noisy observation instead of the latent function.
        cg_threshold: training size from which CG and ``fast_pred_var`` are used.
        batch_size: test points per block.
        progress: show a progress bar over blocks.

    Returns:
        ``(mean, var)``, each ``(t,)``.
    """
    from rich.progress import Progress

    train_x = model.train_inputs[0]
    if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != train_x.shape[1]:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(
            f"x must be a (t, {train_x.shape[1]}) tensor like the training inputs, got {shape}"
        )
    batch_size = check_positive_int(batch_size, "batch_size")
    model.eval()
    likelihood.eval()
    n = train_x.shape[0]
    means, variances = [], []
    blocks = x.split(batch_size)
    with (
        inference_settings(n, cg_threshold),
        Progress(disable=not progress, transient=True) as bar,
    ):
        task = bar.add_task(f"gpytorch predict (n={n})", total=len(blocks))
        for block in blocks:
            with warnings.catch_warnings():  # predicting at the training inputs is intended
                warnings.simplefilter("ignore", gpytorch.utils.warnings.GPInputWarning)
                dist = model(block)
            if include_noise:
                dist = likelihood(dist)
            means.append(dist.mean)
            variances.append(dist.variance.clamp_min(0))
            bar.update(task, advance=1)
    return torch.cat(means), torch.cat(variances)


def exact_log_marginal_likelihood(
    model: GPyTorchRegressionModel, likelihood: gpytorch.likelihoods.GaussianLikelihood
) -> float:
    """``log p(y)`` (not divided by n) through GPyTorch's exact Cholesky path."""
    x, y = model.train_inputs[0], model.train_targets
    was_training = model.training
    model.train()
    likelihood.train()
    with torch.no_grad(), inference_settings(x.shape[0], cg_threshold=math.inf):
        value = gpytorch.mlls.ExactMarginalLogLikelihood(likelihood, model)(model(x), y)
    model.train(was_training)
    likelihood.train(was_training)
    return float(value) * x.shape[0]
