"""``dllab gp prior | fit | predict`` in-process through the root app."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from dllab.core.cli.app import app

runner = CliRunner()


def _invoke(*args: str):
    return runner.invoke(app, ["gp", *args])


def _summary(result) -> dict:
    return json.loads(result.output.strip().splitlines()[-1])


def _run_folder(result):
    from pathlib import Path

    line = next(s for s in result.output.splitlines() if s.startswith("run folder: "))
    return Path(line.removeprefix("run folder: "))


def test_prior_writes_a_png_and_the_run_files(tmp_path):
    result = _invoke(
        "prior", "--kernel", "periodic", "--lengthscale", "0.5", "--lengthscale", "2",
        "--samples", "3", "--points", "50", "--runs-dir", str(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    run = _run_folder(result)
    assert run == tmp_path / "gp-prior" / "version_0"
    assert (run / "prior.png").stat().st_size > 1000
    assert _summary(result)["lengthscales"] == [0.5, 2.0]
    assert "lengthscale" in (run / "hparams.yaml").read_text()


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["prior", "--kernel", "gauss"], "unknown kernel 'gauss'"),
        (["prior", "--lengthscale", "-1"], "lengthscale must be > 0"),
        (["fit", "--backend", "sklearn"], "'sklearn' is not one of"),
        (["fit", "--optimizer", "sgd"], "'sgd' is not one of"),
        (["fit", "--x", "a"], "need a DATA.csv"),
        (["fit", "--dataset", "cos"], "'cos' is not one of"),
    ],
)
def test_bad_options_fail_clearly_and_write_nothing(tmp_path, args, match):
    result = _invoke(*args, "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code != 0
    assert match in " ".join(result.output.split())
    assert not (tmp_path / "runs").exists()


def test_fit_on_embedded_data_then_predict(tmp_path):
    result = _invoke("fit", "--quick", "--runs-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "rbf.lengthscale" in result.output and "log marginal likelihood" in result.output
    summary = _summary(result)
    assert summary["rmse_true_function"] < 0.25
    assert summary["train_coverage_95"] > 0.85
    run = _run_folder(result)
    assert {p.name for p in run.iterdir()} >= {"model.pt", "posterior.png", "summary.json"}

    inputs = tmp_path / "x.csv"
    inputs.write_text("x1\n0.5\n2.0\n7.5\n")
    result = _invoke("predict", str(inputs), "--run", str(run), "--runs-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    table = np.genfromtxt(_run_folder(result) / "predictions.csv", delimiter=",", names=True)
    assert table.dtype.names == ("x1", "mean", "std", "lower", "upper")
    assert np.allclose(table["mean"], np.sin(table["x1"]), atol=0.4)
    assert (table["std"] > 0).all()
    assert np.allclose(table["upper"] - table["mean"], 1.959964 * table["std"], rtol=1e-5)


def test_fit_a_csv_with_gpytorch_in_2d(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 4, (40, 2))
    y = np.sin(x[:, 0]) + np.cos(x[:, 1])
    data = tmp_path / "data.csv"
    rows = "\n".join(f"{a},{b},{c}" for a, b, c in zip(x[:, 0], x[:, 1], y, strict=True))
    data.write_text("u,v,target\n" + rows + "\n")
    result = _invoke(
        "fit", str(data), "--x", "u,v", "--y", "target", "--kernel", "matern52",
        "--backend", "gpytorch", "--iters", "40", "--restarts", "1", "--runs-dir", str(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = _summary(result)
    assert summary["backend"] == "gpytorch" and summary["n"] == 40
    assert summary["train_rmse"] < 0.2
    assert (_run_folder(result) / "posterior.png").stat().st_size > 1000


def test_fit_rejects_bad_csv_without_leaving_a_run(tmp_path):
    data = tmp_path / "bad.csv"
    data.write_text("a,t\n1,2\n2,oops\n3,1\n")
    result = _invoke("fit", str(data), "--x", "a", "--y", "t", "--runs-dir", str(tmp_path / "r"))
    assert result.exit_code != 0
    assert "column 't' is not numeric" in " ".join(result.output.split())
    assert not (tmp_path / "r").exists()


def test_predict_rejects_a_missing_run_and_missing_columns(tmp_path):
    inputs = tmp_path / "x.csv"
    inputs.write_text("z\n1\n")
    result = _invoke("predict", str(inputs), "--run", str(tmp_path / "nope"))
    assert result.exit_code != 0 and "no fitted model" in " ".join(result.output.split())
    fit = _invoke("fit", "--quick", "--n", "20", "--runs-dir", str(tmp_path))
    result = _invoke(
        "predict", str(inputs), "--run", str(_run_folder(fit)), "--runs-dir", str(tmp_path / "p")
    )
    assert result.exit_code != 0 and "no column 'x1'" in " ".join(result.output.split())
    assert not (tmp_path / "p").exists()
