"""``dllab gp ...``: GP prior samples, hyperparameter fitting and prediction.

- ``prior`` plots sample functions for one kernel at several lengthscales.
- ``fit`` learns the hyperparameters on the embedded data or a CSV, prints them with the log
  marginal likelihood, plots the posterior with its 95% region and saves the model.
- ``predict`` loads a ``fit`` run and writes the predictive mean and std for a CSV of inputs.

Each command checks its options first, then writes ``runs/gp-<command>/version_N/`` with
``hparams.yaml`` and ``summary.json``, prints the run folder and, as its last line, the
summary as JSON. torch and gpytorch load inside the commands, so ``dllab --help`` stays fast.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated, Any

import typer

from dllab.core.cli.options import Quick, RunsDir, Seed, quick_mode

app = typer.Typer(
    help="Gaussian processes: priors, exact posterior inference, confidence regions.",
    no_args_is_help=True,
)

KernelOpt = Annotated[
    str,
    typer.Option(
        "--kernel",
        help="rbf, matern12, matern32, matern52, periodic, linear; combine with + and *.",
    ),
]
MODEL_FILE = "model.pt"


def _kernel(spec: str) -> str:
    from dllab.gp.spec import canonical_spec

    try:
        return canonical_spec(spec)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--kernel") from None


def _positive(name: str, value: float | None) -> None:
    if value is not None and not value > 0:
        raise typer.BadParameter(f"must be > 0, got {value}", param_hint=name)


def _finish(run_dir: Path, hparams: dict[str, Any], summary: dict[str, Any]) -> None:
    from dllab.core.runs import write_hparams, write_summary

    write_hparams(run_dir, hparams)
    write_summary(run_dir, summary)
    typer.echo(f"run folder: {run_dir}")
    typer.echo(json.dumps(json.loads((run_dir / "summary.json").read_text()), sort_keys=True))


def _in_new_run(runs_dir: Path, name: str, write: Any) -> Path:
    """Create the run folder, let ``write(run_dir)`` fill it; remove it again on failure."""
    from dllab.core.runs import new_run_dir

    run_dir = new_run_dir(runs_dir, name)
    try:
        write(run_dir)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return run_dir


@app.command("prior")
def prior_command(
    kernel: KernelOpt = "rbf",
    lengthscale: Annotated[
        list[float] | None,
        typer.Option("--lengthscale", help="Lengthscale; repeat for one panel each."),
    ] = None,
    period: Annotated[float, typer.Option("--period", help="Period (periodic kernel).")] = 2.0,
    samples: Annotated[int, typer.Option("--samples", min=1, max=50)] = 5,
    points: Annotated[int, typer.Option("--points", min=2, max=2000, help="Grid size.")] = 200,
    xmax: Annotated[float, typer.Option("--xmax", help="Plot x in [0, xmax].")] = 10.0,
    seed: Seed = 0,
    runs_dir: RunsDir = Path("runs"),
) -> None:
    """Plot functions drawn from a GP prior, one panel per lengthscale."""
    options = dict(locals())
    spec = _kernel(kernel)
    lengthscales = list(lengthscale or [0.5, 1.0, 2.0])
    for value in lengthscales:
        _positive("--lengthscale", value)
    _positive("--period", period)
    _positive("--xmax", xmax)
    import torch

    from dllab.gp.kernels import LinearKernel, PeriodicKernel, SpecKernel, _LengthscaleKernel
    from dllab.gp.plots import plot_prior_samples
    from dllab.gp.prior import sample_prior

    x = torch.linspace(0, xmax, points, dtype=torch.float64)[:, None]
    panels = []
    for ls in lengthscales:
        k = SpecKernel(spec)
        for m in k.modules():
            if isinstance(m, _LengthscaleKernel):
                m.lengthscale = ls
            if isinstance(m, PeriodicKernel):
                m.period = period
            if isinstance(m, LinearKernel):
                m.variance = 1.0 / xmax**2
        g = torch.Generator().manual_seed(seed)
        panels.append((f"{spec}, lengthscale={ls:g}", x[:, 0], sample_prior(k, x, samples, 0, g)))

    def write(run_dir: Path) -> None:
        plot_prior_samples(panels, run_dir / "prior.png")
        options.update(kernel=spec, lengthscale=lengthscales)
        _finish(
            run_dir, options, {"kernel": spec, "lengthscales": lengthscales, "plot": "prior.png"}
        )

    _in_new_run(runs_dir, "gp-prior", write)


def _load_training_data(
    data: Path | None, x: str | None, y: str | None, dataset: str, n: int, noise: float, seed: int
) -> Any:
    from dllab.gp.data import SYNTHETIC, load_csv, synthetic

    if data is None:
        if x is not None or y is not None:
            raise typer.BadParameter("--x/--y need a DATA.csv argument", param_hint="--x/--y")
        if dataset not in SYNTHETIC:
            choices = ", ".join(SYNTHETIC)
            raise typer.BadParameter(f"unknown dataset {dataset!r}; choose from {choices}")
        return synthetic(dataset, n, noise, seed)
    if x is None or y is None:
        raise typer.BadParameter("a CSV needs --x col[,col] and --y col", param_hint="--x/--y")
    try:
        return load_csv(data, x, y)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="DATA") from None


def _print_hyperparameters(hyper: dict[str, Any], lml: float) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("hyperparameter", "value", title="learned hyperparameters")
    for name, value in hyper.items():
        shown = ", ".join(f"{v:.4g}" for v in value) if isinstance(value, list) else f"{value:.4g}"
        table.add_row(name, shown)
    table.add_row("log marginal likelihood", f"{lml:.4f}")
    Console().print(table)


def _plot_fit(gp: Any, data: Any, path: Path) -> dict[str, float]:
    """Posterior plot for 1-D / 2-D inputs (predicted vs observed otherwise); test metrics."""
    import numpy as np

    from dllab.gp import plots

    dims = data.x.shape[1]
    metrics: dict[str, float] = {}
    if dims <= 2:
        axis = [np.linspace(data.x[:, j].min(), data.x[:, j].max(), 60) for j in range(dims)]
        if dims == 1:
            grid = np.linspace(axis[0][0], axis[0][-1], 400)[:, None]
        else:
            grid = np.stack([a.ravel() for a in np.meshgrid(*axis, indexing="xy")], axis=1)
        pred, latent = gp.predict(grid), gp.predict(grid, include_noise=False)
        if data.true_function is not None:
            truth = data.true_function(grid)
            metrics["rmse_true_function"] = float(
                np.sqrt(np.mean((pred.mean.numpy() - truth) ** 2))
            )
        else:
            truth = None
        if dims == 1:
            plots.plot_posterior_1d(
                data.x, data.y, grid, pred.mean, pred.lower, pred.upper, path, truth=truth,
                title=f"GP posterior ({gp.kernel}, {gp.backend})",
                latent=(latent.lower, latent.upper),
            )  # fmt: skip
        else:
            plots.plot_posterior_2d(data.x, grid, latent.mean, latent.std, path, title=gp.kernel)
    train = gp.predict(data.x)
    if dims > 2:
        plots.plot_predicted_vs_observed(data.y, train.mean, train.lower, train.upper, path)
    inside = (data.y >= train.lower.numpy()) & (data.y <= train.upper.numpy())
    metrics["train_rmse"] = float(np.sqrt(np.mean((train.mean.numpy() - data.y) ** 2)))
    metrics["train_coverage_95"] = float(inside.mean())
    return metrics


@app.command("fit")
def fit_command(
    data: Annotated[Path | None, typer.Argument(help="CSV with a header row (optional).")] = None,
    x: Annotated[str | None, typer.Option("--x", help="Input column(s): col[,col].")] = None,
    y: Annotated[str | None, typer.Option("--y", help="Target column.")] = None,
    dataset: Annotated[
        str, typer.Option("--dataset", help="Embedded data when no CSV: sin-1d or bumps-2d.")
    ] = "sin-1d",
    n: Annotated[int, typer.Option("--n", min=3, help="Points of embedded data.")] = 200,
    noise: Annotated[float, typer.Option("--noise", min=0.0, help="Noise std (embedded).")] = 0.2,
    kernel: KernelOpt = "rbf",
    backend: Annotated[str, typer.Option("--backend", help="scratch or gpytorch.")] = "scratch",
    optimizer: Annotated[
        str | None, typer.Option("--optimizer", help="lbfgs or adam (default per backend).")
    ] = None,
    restarts: Annotated[int, typer.Option("--restarts", min=1)] = 3,
    iters: Annotated[int | None, typer.Option("--iters", min=1, help="Steps per start.")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Adam learning rate.")] = None,
    ard: Annotated[bool, typer.Option("--ard", help="One lengthscale per input.")] = False,
    seed: Seed = 0,
    runs_dir: RunsDir = Path("runs"),
    quick: Quick = False,
) -> None:
    """Fit GP hyperparameters, plot the posterior with its 95% region, save the model."""
    options = dict(locals())
    options["kernel"] = spec = _kernel(kernel)
    if backend not in ("scratch", "gpytorch"):
        raise typer.BadParameter(
            f"must be scratch or gpytorch, got {backend!r}", param_hint="--backend"
        )
    if optimizer not in (None, "lbfgs", "adam"):
        raise typer.BadParameter(
            f"must be lbfgs or adam, got {optimizer!r}", param_hint="--optimizer"
        )
    _positive("--lr", lr)
    options["quick"] = quick = quick_mode(quick)
    if quick:
        n, iters, restarts = min(n, 60), min(iters or 20, 20), 1
        options.update(n=n, iters=iters, restarts=restarts)
    train = _load_training_data(data, x, y, dataset, n, noise, seed)
    from dllab.gp.api import GPRegressor

    gp = GPRegressor(spec, backend, ard=ard, seed=seed)
    gp.fit(train.x, train.y, optimizer, restarts, iters, lr, progress=True)
    lml = gp.log_marginal_likelihood()
    hyper = gp.hyperparameters()
    _print_hyperparameters(hyper, lml)

    def write(run_dir: Path) -> None:
        metrics = _plot_fit(gp, train, run_dir / "posterior.png")
        meta = {"x_columns": train.x_columns, "y_column": train.y_column}
        gp.save(run_dir / MODEL_FILE, metadata=meta)
        summary = {
            "kernel": spec,
            "backend": backend,
            "n": len(train.y),
            "log_marginal_likelihood": lml,
            "hyperparameters": hyper,
            **metrics,
        }
        _finish(run_dir, {**options, "data": str(data) if data else None}, summary)

    _in_new_run(runs_dir, "gp-fit", write)


@app.command("predict")
def predict_command(
    inputs: Annotated[Path, typer.Argument(help="CSV of inputs, with the fit's x columns.")],
    run: Annotated[Path, typer.Option("--run", help="A gp-fit run folder (or its model.pt).")],
    x: Annotated[
        str | None, typer.Option("--x", help="Input column(s) (default: the fit's).")
    ] = None,
    noise: Annotated[
        bool, typer.Option("--noise/--latent", help="Predict noisy y* or the latent f*.")
    ] = True,
    level: Annotated[float, typer.Option("--level", help="Interval coverage.")] = 0.95,
    runs_dir: RunsDir = Path("runs"),
) -> None:
    """Write the predictive mean, std and interval at the inputs of a CSV."""
    options = dict(locals())
    if not 0 < level < 1:
        raise typer.BadParameter(f"must be in (0, 1), got {level}", param_hint="--level")
    model_path = run / MODEL_FILE if run.is_dir() else run
    if not model_path.is_file():
        raise typer.BadParameter(f"no fitted model at {model_path}", param_hint="--run")
    from dllab.gp.api import GPRegressor
    from dllab.gp.data import load_inputs, write_csv

    try:
        gp = GPRegressor.load(model_path)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--run") from None
    columns = x.split(",") if x else gp.metadata.get("x_columns") or ["x1"]
    try:
        values = load_inputs(inputs, columns)
        pred = gp.predict(values, include_noise=noise, level=level)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="INPUTS/--x") from None
    table = {name.strip(): values[:, j] for j, name in enumerate(columns)}
    table.update(mean=pred.mean.numpy(), std=pred.std.numpy())
    table.update(lower=pred.lower.numpy(), upper=pred.upper.numpy())

    def write(run_dir: Path) -> None:
        write_csv(run_dir / "predictions.csv", table)
        summary = {"model": str(model_path), "rows": len(values), "predictions": "predictions.csv"}
        _finish(
            run_dir, {k: str(v) if isinstance(v, Path) else v for k, v in options.items()}, summary
        )

    _in_new_run(runs_dir, "gp-predict", write)
