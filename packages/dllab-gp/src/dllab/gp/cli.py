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
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from dllab.core.cli.options import Quick, RunsDir, Seed, quick_mode

app = typer.Typer(
    help="Gaussian processes: priors, exact posterior inference, confidence regions.",
    no_args_is_help=True,
)

T = TypeVar("T")


class Backend(StrEnum):
    """Where inference runs."""

    scratch = "scratch"
    gpytorch = "gpytorch"


class Optimizer(StrEnum):
    """How the evidence is maximised."""

    lbfgs = "lbfgs"
    adam = "adam"


class Dataset(StrEnum):
    """Embedded datasets (``dllab.gp.data.SYNTHETIC``)."""

    sin_1d = "sin-1d"
    bumps_2d = "bumps-2d"


KernelOpt = Annotated[
    str,
    typer.Option(
        "--kernel",
        help="rbf, matern12, matern32, matern52, periodic, linear; combine with + and *.",
    ),
]
MODEL_FILE = "model.pt"
MAX_XMAX = 1e6
"""Largest ``--xmax`` of ``prior`` (the plot's x range)."""


def _checked(param: str, check: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a ``dllab.core.checks`` check; its error becomes a one-line usage error (exit 2)."""
    try:
        return check(*args, **kwargs)
    except (TypeError, ValueError) as err:
        raise typer.BadParameter(str(err), param_hint=param) from None


def _fail(message: str, code: int = 2) -> NoReturn:
    """End the command with a one-line error: exit 2 for bad input, 1 for a failed run."""
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


def _kernel(spec: str) -> str:
    from dllab.gp.spec import canonical_spec

    return _checked("--kernel", canonical_spec, spec)


def _hparams(options: dict[str, Any]) -> dict[str, Any]:
    """Options as plain values for hparams.yaml (enums as their strings, paths as text)."""
    plain = {}
    for key, value in options.items():
        if isinstance(value, StrEnum):
            value = value.value
        elif isinstance(value, Path):
            value = str(value)
        plain[key] = value
    return plain


@contextmanager
def _run(runs_dir: Path, name: str, hparams: dict[str, Any]) -> Iterator[Any]:
    """``dllab.core.runs.run_folder`` with the CLI's error policy.

    A runs folder that cannot be created is a bad ``--runs-dir`` (exit 2). Bad input found
    inside the run (a ``ValueError``, e.g. a kernel matrix that is never positive definite)
    ends with a one-line error, exit 2; an ``OSError`` (disk full, no permission) with a
    one-line error, exit 1. Either way ``run_folder`` has removed a folder that held only
    hparams, or marked it failed: no summary.json is left behind.
    """
    from dllab.core.runs import run_folder

    try:
        with ExitStack() as stack:
            try:
                run = stack.enter_context(run_folder(runs_dir, name, _hparams(hparams)))
            except OSError as err:
                raise typer.BadParameter(str(err), param_hint="--runs-dir") from None
            yield run
    except ValueError as err:
        _fail(str(err), 2)
    except OSError as err:
        _fail(str(err), 1)
    typer.echo(f"run folder: {run.dir}")
    typer.echo(json.dumps(json.loads(run.path("summary.json").read_text()), sort_keys=True))


@app.command("prior")
def prior_command(
    kernel: KernelOpt = "rbf",
    lengthscale: Annotated[
        list[float] | None,
        typer.Option("--lengthscale", help="Lengthscale (> 0); repeat for one panel each."),
    ] = None,
    period: Annotated[float, typer.Option("--period", help="Period (periodic kernel).")] = 2.0,
    samples: Annotated[int, typer.Option("--samples", min=1, max=50)] = 5,
    points: Annotated[int, typer.Option("--points", min=2, max=2000, help="Grid size.")] = 200,
    xmax: Annotated[
        float, typer.Option("--xmax", min=0.0, max=MAX_XMAX, help="Plot x in [0, xmax].")
    ] = 10.0,
    seed: Seed = 0,
    runs_dir: RunsDir = Path("runs"),
) -> None:
    """Plot functions drawn from a GP prior, one panel per lengthscale."""
    options = dict(locals())
    from dllab.core.checks import check_float, check_positive

    spec = _kernel(kernel)
    lengthscales = [
        _checked("--lengthscale", check_positive, v, "lengthscale")
        for v in lengthscale or [0.5, 1.0, 2.0]
    ]
    _checked("--period", check_positive, period, "period")
    _checked("--xmax", check_float, xmax, "xmax", min=0.0, max=MAX_XMAX, min_open=True)
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
        try:
            draws = sample_prior(k, x, samples, 0, g)
        except ValueError as err:  # e.g. a covariance that no jitter makes positive definite
            _fail(f"cannot sample this prior: {err}")
        panels.append((f"{spec}, lengthscale={ls:g}", x[:, 0], draws))

    options.update(kernel=spec, lengthscale=lengthscales)
    with _run(runs_dir, "gp-prior", options) as run:
        plot_prior_samples(panels, run.path("prior.png"))
        run.write_summary({"kernel": spec, "lengthscales": lengthscales, "plot": "prior.png"})


def _load_training_data(
    data: Path | None,
    x: str | None,
    y: str | None,
    dataset: Dataset,
    n: int,
    noise: float,
    seed: int,
) -> Any:
    from dllab.gp.data import load_csv, synthetic

    if data is None:
        if x is not None or y is not None:
            raise typer.BadParameter("--x/--y need a DATA.csv argument", param_hint="--x/--y")
        return synthetic(dataset.value, n, noise, seed)
    if x is None or y is None:
        raise typer.BadParameter("a CSV needs --x col[,col] and --y col", param_hint="--x/--y")
    return _checked("DATA", load_csv, data, x, y)


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
        Dataset, typer.Option("--dataset", help="Embedded data when no CSV.")
    ] = Dataset.sin_1d,
    n: Annotated[int, typer.Option("--n", min=3, help="Points of embedded data.")] = 200,
    noise: Annotated[float, typer.Option("--noise", min=0.0, help="Noise std (embedded).")] = 0.2,
    kernel: KernelOpt = "rbf",
    backend: Annotated[Backend, typer.Option("--backend")] = Backend.scratch,
    optimizer: Annotated[
        Optimizer | None, typer.Option("--optimizer", help="Default: lbfgs (scratch), adam.")
    ] = None,
    restarts: Annotated[int, typer.Option("--restarts", min=1, max=100)] = 3,
    iters: Annotated[int | None, typer.Option("--iters", min=1, help="Steps per start.")] = None,
    lr: Annotated[float | None, typer.Option("--lr", min=0.0, help="Adam learning rate.")] = None,
    ard: Annotated[bool, typer.Option("--ard", help="One lengthscale per input.")] = False,
    max_points: Annotated[
        int | None,
        typer.Option(
            "--max-points", min=2, help="Fit on a random subsample of at most this many rows."
        ),
    ] = None,
    seed: Seed = 0,
    runs_dir: RunsDir = Path("runs"),
    quick: Quick = False,
) -> None:
    """Fit GP hyperparameters, plot the posterior with its 95% region, save the model."""
    options = dict(locals())
    from dllab.core.checks import check_float, check_positive

    options["kernel"] = spec = _kernel(kernel)
    if lr is not None:
        _checked("--lr", check_positive, lr, "lr")
    _checked("--noise", check_float, noise, "noise", min=0.0)
    options["quick"] = quick = quick_mode(quick)
    if quick:
        n, iters, restarts = min(n, 60), min(iters or 20, 20), 1
        options.update(n=n, iters=iters, restarts=restarts)
    from dllab.gp.backends import BACKENDS

    way_out = "pass --max-points M to fit on a seeded random subsample of M rows"
    engine = BACKENDS[backend.value]
    if data is None:  # embedded data: refuse a size the machine cannot hold before making it
        _guard_memory(engine, n if max_points is None else min(n, max_points), way_out)
    train = _load_training_data(data, x, y, dataset, n, noise, seed)
    if max_points is not None:
        from dataclasses import replace

        from dllab.gp.data import subsample

        sub_x, sub_y = subsample(train.x, train.y, max_points, seed)
        train = replace(train, x=sub_x, y=sub_y)
    from dllab.gp.api import GPRegressor, check_training_data

    _checked("DATA", check_training_data, train.x, train.y)
    _guard_memory(engine, len(train.y), way_out)
    gp = GPRegressor(spec, backend.value, ard=ard, seed=seed)
    options["data"] = str(data) if data else None
    with _run(runs_dir, "gp-fit", options) as run:
        gp.fit(train.x, train.y, optimizer, restarts, iters, lr, progress=True)
        lml = gp.log_marginal_likelihood()
        hyper = gp.hyperparameters()
        _print_hyperparameters(hyper, lml)
        gp.save(
            run.path(MODEL_FILE),
            metadata={"x_columns": train.x_columns, "y_column": train.y_column},
        )
        metrics = _plot_fit(gp, train, run.path("posterior.png"))
        run.write_summary(
            {
                "kernel": spec,
                "backend": backend.value,
                "n": len(train.y),
                "log_marginal_likelihood": lml,
                "hyperparameters": hyper,
                **metrics,
            }
        )


def _guard_memory(engine: Any, n: int, way_out: str) -> None:
    """Refuse (exit 2, one line) an exact GP on ``n`` rows that the machine cannot hold."""
    from dllab.gp.memory import ProblemTooLargeError

    try:
        engine.check_memory(n, way_out)
    except ProblemTooLargeError as err:
        _fail(str(err))


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
    level: Annotated[
        float, typer.Option("--level", min=0.0, max=1.0, help="Interval coverage, in (0, 1).")
    ] = 0.95,
    runs_dir: RunsDir = Path("runs"),
) -> None:
    """Write the predictive mean, std and interval at the inputs of a CSV."""
    options = dict(locals())
    from dllab.core.checks import check_float

    _checked("--level", check_float, level, "level", min=0.0, max=1.0, min_open=True, max_open=True)
    model_path = run / MODEL_FILE if run.is_dir() else run
    if not model_path.is_file():
        raise typer.BadParameter(f"no fitted model at {model_path}", param_hint="--run")
    from dllab.gp.api import GPRegressor
    from dllab.gp.data import load_inputs, write_csv

    gp = _checked("--run", GPRegressor.load, model_path)
    columns = x.split(",") if x else gp.metadata.get("x_columns") or ["x1"]
    values = _checked("INPUTS/--x", load_inputs, inputs, columns)
    pred = _checked("INPUTS/--x", gp.predict, values, include_noise=noise, level=level)
    table = {name.strip(): values[:, j] for j, name in enumerate(columns)}
    table.update(mean=pred.mean.numpy(), std=pred.std.numpy())
    table.update(lower=pred.lower.numpy(), upper=pred.upper.numpy())
    with _run(runs_dir, "gp-predict", options) as out:
        write_csv(out.path("predictions.csv"), table)
        out.write_summary(
            {"model": str(model_path), "rows": len(values), "predictions": "predictions.csv"}
        )
