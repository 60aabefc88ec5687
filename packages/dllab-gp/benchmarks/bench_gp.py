"""Fit-and-predict time and accuracy: dllab scratch GP vs GPyTorch vs scikit-learn.

Data: ``y = sin(x) + N(0, 0.2²)`` with ``x ~ U(0, 10)`` at n = 1,000 and 3,000, and 500
test points on a grid; RMSE is measured against the noise-free ``sin``. Contenders:

- ``scratch``: ``dllab.gp.GPRegressor("rbf")`` (L-BFGS with restarts, exact posterior);
- ``gpytorch``: GPyTorch's standard example loop (ExactGP, ScaleKernel(RBF), Adam lr 0.1,
  50 steps, then ``fast_pred_var`` prediction), float32 as in its tutorial;
- ``sklearn``: ``GaussianProcessRegressor(C * RBF + WhiteKernel)``, no optimizer restarts.

After a warm-up on a small dataset, the contenders run interleaved ``--repeats`` times
(``dllab.core.bench``) and their minimum times are compared. Every sample is printed; the
last line is one JSON object of ratios.

    uv run --frozen python packages/dllab-gp/benchmarks/bench_gp.py [--sizes 1000,3000]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

import numpy as np
import torch

NOISE = 0.2
TEST_POINTS = 500


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Noisy ``sin`` training data and a test grid with its true values."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, n)
    y = np.sin(x) + NOISE * rng.standard_normal(n)
    x_test = np.linspace(0, 10, TEST_POINTS)
    return x, y, x_test, np.sin(x_test)


def run_scratch(x, y, x_test) -> np.ndarray:
    """dllab's from-scratch exact GP."""
    from dllab.gp.api import GPRegressor

    return GPRegressor("rbf").fit(x, y).predict(x_test).mean.numpy()


def run_gpytorch(x, y, x_test, steps: int = 50) -> np.ndarray:
    """GPyTorch's standard regression example, unchanged."""
    import gpytorch

    train_x = torch.as_tensor(x, dtype=torch.float32)
    train_y = torch.as_tensor(y, dtype=torch.float32)
    test_x = torch.as_tensor(x_test, dtype=torch.float32)

    class ExactGPModel(gpytorch.models.ExactGP):
        def __init__(self, train_x, train_y, likelihood):
            super().__init__(train_x, train_y, likelihood)
            self.mean_module = gpytorch.means.ConstantMean()
            self.covar_module = gpytorch.kernels.ScaleKernel(gpytorch.kernels.RBFKernel())

        def forward(self, x):
            return gpytorch.distributions.MultivariateNormal(
                self.mean_module(x), self.covar_module(x)
            )

    likelihood = gpytorch.likelihoods.GaussianLikelihood()
    model = ExactGPModel(train_x, train_y, likelihood)
    model.train()
    likelihood.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(likelihood, model)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = -mll(model(train_x), train_y)
        loss.backward()
        optimizer.step()
    model.eval()
    likelihood.eval()
    with torch.no_grad(), gpytorch.settings.fast_pred_var():
        return likelihood(model(test_x)).mean.numpy().astype(np.float64)


def run_sklearn(x, y, x_test) -> np.ndarray:
    """scikit-learn's GaussianProcessRegressor with C * RBF + WhiteKernel."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, WhiteKernel
    from sklearn.gaussian_process.kernels import ConstantKernel as C

    kernel = C(1.0) * RBF(1.0) + WhiteKernel(1.0)
    model = GaussianProcessRegressor(kernel, n_restarts_optimizer=0, random_state=0)
    return model.fit(x[:, None], y).predict(x_test[:, None])


CONTENDERS: dict[str, Callable] = {
    "scratch": run_scratch,
    "gpytorch": run_gpytorch,
    "sklearn": run_sklearn,
}


def rmse(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((pred - truth) ** 2)))


def main(
    sizes: tuple[int, ...] = (1000, 3000),
    repeats: int = 3,
    warmup_n: int = 200,
    threads: int | None = None,
) -> dict:
    """Time every contender at every size; returns (and prints last) the ratio summary.

    ``threads`` caps torch's and the BLAS pools' threads for every contender alike.
    """
    from dllab.core.checks import check_positive_int

    check_positive_int(repeats, "repeats")
    if not sizes:
        raise ValueError("need at least one size")
    if threads is not None:
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(check_positive_int(threads, "threads"))
        with threadpool_limits(threads):
            return _run(sizes, repeats, warmup_n)
    return _run(sizes, repeats, warmup_n)


def _timed(x, y, x_test, predictions: dict[str, np.ndarray]) -> dict[str, Callable[[], None]]:
    """Zero-argument contenders that keep their last prediction in ``predictions``."""

    def bind(name: str, fn: Callable) -> Callable[[], None]:
        def call() -> None:
            predictions[name] = fn(x, y, x_test)

        return call

    return {name: bind(name, fn) for name, fn in CONTENDERS.items()}


def _run(sizes: tuple[int, ...], repeats: int, warmup_n: int) -> dict:
    from dllab.core.bench import interleaved, ratio, report

    print(f"torch threads: {torch.get_num_threads()}", flush=True)
    x, y, x_test, _ = make_data(warmup_n, seed=1)
    warm = interleaved(_timed(x, y, x_test, {}), repeats=1, warmup=0)  # imports, first calls
    report(f"warm-up (n={warmup_n})", warm, unit=1.0, unit_name="s")
    by_n: dict[int, dict[str, float]] = {}
    for n in sizes:
        x, y, x_test, truth = make_data(n)
        predictions: dict[str, np.ndarray] = {}
        samples = interleaved(_timed(x, y, x_test, predictions), repeats=repeats, warmup=0)
        best = report(f"n={n} ({repeats} interleaved repeats)", samples, unit=1.0, unit_name="s")
        by_n[n] = {
            "gpytorch_over_scratch": ratio(best, "gpytorch", "scratch", digits=2),
            "sklearn_over_scratch": ratio(best, "sklearn", "scratch", digits=2),
            **{f"rmse_{name}": round(rmse(pred, truth), 4) for name, pred in predictions.items()},
        }
        print(
            f"n={n} rmse: " + ", ".join(f"{k} {rmse(v, truth):.4f}" for k, v in predictions.items())
        )
    result = {**by_n[sizes[-1]], "n": sizes[-1], "by_n": by_n}
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,3000", help="comma-separated n values")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="cap threads for all")
    args = parser.parse_args()
    main(tuple(int(s) for s in args.sizes.split(",")), args.repeats, threads=args.threads)
