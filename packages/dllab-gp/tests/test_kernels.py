"""Kernels against GPyTorch, float64, same hyperparameters: equal to 1e-6 (GPyTorch style:
one test class per kernel family, each supplying only its factory)."""

from __future__ import annotations

import gpytorch
import pytest
import torch

from dllab.core.testing import assert_close_to_reference
from dllab.gp import kernels as K
from dllab.gp.gpytorch_models import build_gpytorch_kernel

TOL = 1e-6  # absolute, float64


def _inputs(d: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(d)
    return (
        torch.randn(17, d, generator=g, dtype=torch.float64) * 2,
        torch.randn(11, d, generator=g, dtype=torch.float64) * 2,
    )


class KernelParityCase:
    """Subclasses supply ``make(d)`` -> (our kernel, GPyTorch kernel) with equal values."""

    dims = (1, 3)

    def make(self, d: int):  # pragma: no cover - abstract
        raise NotImplementedError

    @pytest.mark.parametrize("d", [1, 3])
    def test_cross_covariance_matches_gpytorch(self, d):
        ours, theirs = self.make(d)
        x1, x2 = _inputs(d)
        expected = theirs.double()(x1, x2).to_dense().detach()
        assert_close_to_reference(ours(x1, x2), expected, atol=TOL, name=type(self).__name__)

    @pytest.mark.parametrize("d", [1, 3])
    def test_train_covariance_and_diag_match_gpytorch(self, d):
        ours, theirs = self.make(d)
        x1, _ = _inputs(d)
        expected = theirs.double()(x1).to_dense().detach()
        assert_close_to_reference(ours(x1), expected, atol=TOL, name="K(x, x)")
        assert_close_to_reference(ours.diag(x1), expected.diagonal(), atol=TOL, name="diag")

    def test_in_place_no_grad_path_equals_the_autograd_path(self):
        ours, _ = self.make(3)
        x1, x2 = _inputs(3)
        with torch.no_grad():
            fast = ours(x1, x2)
        assert_close_to_reference(fast, ours(x1, x2).detach(), atol=1e-12, name="no-grad path")

    def test_covariance_is_symmetric_positive_semidefinite(self):
        ours, _ = self.make(2)
        x1, _ = _inputs(2)
        cov = ours(x1).detach()
        assert torch.allclose(cov, cov.T, atol=1e-12)
        assert torch.linalg.eigvalsh(cov).min() > -1e-8

    def test_hyperparameters_are_positive_and_differentiable(self):
        ours, _ = self.make(2)
        x1, _ = _inputs(2)
        ours(x1).sum().backward()
        grads = [p.grad for p in ours.parameters()]
        assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
        assert all((v > 0).all() for v in ours.hyperparameters().values())


def _ls(d: int) -> torch.Tensor:
    return torch.linspace(0.6, 1.7, d, dtype=torch.float64)


class TestRBF(KernelParityCase):
    def make(self, d):
        ours, theirs = K.RBFKernel(ard_num_dims=d), gpytorch.kernels.RBFKernel(ard_num_dims=d)
        ours.lengthscale = theirs.lengthscale = _ls(d)
        return ours, theirs


class MaternCase(KernelParityCase):
    nu = 2.5

    def make(self, d):
        ours = K.MaternKernel(self.nu, ard_num_dims=d)
        theirs = gpytorch.kernels.MaternKernel(nu=self.nu, ard_num_dims=d)
        ours.lengthscale = theirs.lengthscale = _ls(d)
        return ours, theirs


class TestMatern12(MaternCase):
    nu = 0.5


class TestMatern32(MaternCase):
    nu = 1.5


class TestMatern52(MaternCase):
    nu = 2.5


class TestPeriodic(KernelParityCase):
    def make(self, d):
        ours = K.PeriodicKernel(ard_num_dims=d)
        theirs = gpytorch.kernels.PeriodicKernel(ard_num_dims=d)
        ours.lengthscale = theirs.lengthscale = _ls(d)
        ours.period = theirs.period_length = torch.linspace(1.5, 3.0, d, dtype=torch.float64)
        return ours, theirs


class TestLinear(KernelParityCase):
    def make(self, d):
        ours, theirs = K.LinearKernel(), gpytorch.kernels.LinearKernel()
        ours.variance = theirs.variance = torch.tensor(0.37, dtype=torch.float64)
        return ours, theirs


class TestScaledSumAndProduct(KernelParityCase):
    """``s1·RBF·Periodic + s2·Matérn32 + Linear`` through both spec builders."""

    def make(self, d):
        spec = "rbf*periodic+matern32+linear"
        ours, theirs = K.SpecKernel(spec, ard_num_dims=d), build_gpytorch_kernel(spec, d)
        rbf, periodic = theirs.kernels[0].base_kernel.kernels
        rbf.lengthscale, periodic.lengthscale = _ls(d), _ls(d) + 0.2
        periodic.period_length = torch.full((d,), 2.2, dtype=torch.float64)
        theirs.kernels[0].outputscale = torch.tensor(1.3, dtype=torch.float64)
        theirs.kernels[1].outputscale = torch.tensor(0.4, dtype=torch.float64)
        theirs.kernels[1].base_kernel.lengthscale = _ls(d) * 2
        theirs.kernels[2].variance = torch.tensor(0.05, dtype=torch.float64)
        (t_rbf, t_per), t_matern, t_lin = (
            ours.term_factors(0),
            *ours.term_factors(1),
            ours.kernels[2],
        )
        t_rbf.lengthscale, t_per.lengthscale, t_per.period = _ls(d), _ls(d) + 0.2, 2.2
        ours.kernels[0].outputscale, ours.kernels[1].outputscale = 1.3, 0.4
        t_matern.lengthscale, t_lin.variance = _ls(d) * 2, 0.05
        return ours, theirs


def test_operators_build_sums_and_products():
    a, b = K.RBFKernel(), K.LinearKernel()
    x = torch.randn(6, 1, dtype=torch.float64)
    assert torch.allclose((a + b)(x), a(x) + b(x))
    assert torch.allclose((a * b)(x), a(x) * b(x))
    assert torch.allclose(K.ScaleKernel(a, 2.5)(x), 2.5 * a(x))


def test_spec_kernel_names_its_hyperparameters():
    names = list(K.SpecKernel("rbf*periodic+linear", ard_num_dims=2).hyperparameters())
    assert names == [
        "rbf*periodic.outputscale",
        "rbf*periodic.0:rbf.lengthscale",
        "rbf*periodic.1:periodic.lengthscale",
        "rbf*periodic.1:periodic.period",
        "linear.variance",
    ]


def test_values_round_trip_through_the_log_parameterisation():
    k = K.PeriodicKernel(lengthscale=0.3, period=5.0)
    assert float(k.lengthscale.detach()) == pytest.approx(0.3, rel=1e-12)
    assert float(k.period.detach()) == pytest.approx(5.0, rel=1e-12)
    assert k.raw_lengthscale.dtype == torch.float64


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: K.RBFKernel(lengthscale=0.0), ValueError, "lengthscale must be > 0"),
        (lambda: K.RBFKernel(lengthscale=float("nan")), ValueError, "lengthscale must be a finite"),
        (lambda: K.MaternKernel(nu=2.0), ValueError, "nu must be"),
        (lambda: K.RBFKernel(ard_num_dims=0), ValueError, "ard_num_dims"),
        (lambda: K.ScaleKernel("rbf"), TypeError, "base must be a Kernel"),
        (lambda: K.SumKernel(K.RBFKernel(), 3), TypeError, "combine"),
        (
            lambda: K.RBFKernel(ard_num_dims=2) + K.RBFKernel(ard_num_dims=3),
            ValueError,
            "ard_num_dims",
        ),
        (lambda: K.SpecKernel("rbf+cosine"), ValueError, "unknown kernel 'cosine'"),
    ],
)
def test_bad_construction_is_rejected(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_bad_inputs_are_rejected():
    k = K.RBFKernel(ard_num_dims=2)
    with pytest.raises(ValueError, match=r"shape \(n, d\)"):
        k(torch.zeros(5, dtype=torch.float64))
    with pytest.raises(ValueError, match="expects 2"):
        k(torch.zeros(5, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match="floating"):
        k(torch.zeros(5, 2, dtype=torch.long))
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        k([[0.0, 1.0]])
    with pytest.raises(ValueError, match="x2 has 1"):
        K.RBFKernel()(torch.zeros(3, 2), torch.zeros(3, 1))
    with pytest.raises(ValueError, match="variance must be > 0"):
        K.LinearKernel().variance = -1.0
