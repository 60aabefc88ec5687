"""``dllab gp`` under bad input and failing runs: one error line, exit 2 (or 1), and never a
run folder that looks finished (``dllab.core.runs.run_status``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dllab.core import memory
from dllab.core.cli.app import app
from dllab.core.runs import run_status

runner = CliRunner()


def _invoke(*args: str):
    return runner.invoke(app, ["gp", *args])


def _error_line(result) -> str:
    """The one line of the output that says what went wrong (no traceback)."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.output
    return errors[0]


def _versions(runs: Path, name: str) -> list[Path]:
    return sorted((runs / name).glob("version_*"))


def _csv(folder: Path, rows: list[tuple[float, float]]) -> str:
    path = folder / "data.csv"
    path.write_text("x,y\n" + "".join(f"{a!r},{b!r}\n" for a, b in rows))
    return str(path)


def test_inputs_whose_squares_overflow_are_refused(tmp_path):
    data = _csv(tmp_path, [((i + 1) * 1e200, (-1) ** i * 0.5) for i in range(20)])
    result = _invoke("fit", data, "--x", "x", "--y", "y", "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 2
    assert "x holds values up to 2e+201" in _error_line(result)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "0"])
def test_prior_xmax_must_be_positive_and_finite(tmp_path, value):
    result = _invoke("prior", "--xmax", value, "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 2
    assert "--xmax" in _error_line(result)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["fit", "--lr", "nan"], "--lr"),
        (["fit", "--noise", "inf"], "--noise"),
        (["fit", "--max-points", "1"], "--max-points"),
        (["prior", "--period", "inf"], "--period"),
        (["prior", "--lengthscale", "nan"], "--lengthscale"),
    ],
)
def test_non_finite_and_out_of_range_options_name_the_option(tmp_path, args, option):
    result = _invoke(*args, "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 2
    assert option in _error_line(result)
    assert not (tmp_path / "runs").exists()


def test_a_fit_too_large_for_the_machine_is_refused_before_anything(tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 2**30)  # 1 GiB
    result = _invoke("fit", "--n", "50000", "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 2
    line = _error_line(result)
    for part in ("n=50,000", "55.9 GiB", "1.0 GiB", "--max-points"):
        assert part in line, line
    assert not (tmp_path / "runs").exists()


def test_max_points_fits_a_seeded_subsample(tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 2**30)
    runs = tmp_path / "runs"
    args = ["fit", "--n", "50000", "--max-points", "80", "--restarts", "1", "--iters", "10"]
    result = _invoke(*args, "--runs-dir", str(runs))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["n"] == 80 and summary["rmse_true_function"] < 0.3
    (run,) = _versions(runs, "gp-fit")
    assert run_status(run) == "complete"
    assert "max_points: 80" in (run / "hparams.yaml").read_text()


def test_a_fit_that_fails_inside_the_run_leaves_no_folder(tmp_path, monkeypatch):
    from dllab.gp.api import GPRegressor
    from dllab.gp.posterior import NotPositiveDefiniteError

    def never_positive_definite(self, *args, **kwargs):
        raise NotPositiveDefiniteError("all 3 starts failed: never positive definite")

    monkeypatch.setattr(GPRegressor, "fit", never_positive_definite)
    runs = tmp_path / "runs"
    result = _invoke("fit", "--quick", "--runs-dir", str(runs))
    assert result.exit_code == 2
    assert "never positive definite" in _error_line(result)
    assert _versions(runs, "gp-fit") == []  # it held only hparams.yaml: removed


def test_a_run_that_fails_after_writing_is_marked_failed(tmp_path, monkeypatch):
    from dllab.gp import cli

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli, "_plot_fit", disk_full)  # after model.pt was saved
    runs = tmp_path / "runs"
    result = _invoke("fit", "--quick", "--runs-dir", str(runs))
    assert result.exit_code == 1
    assert "No space left on device" in _error_line(result)
    (run,) = _versions(runs, "gp-fit")
    assert run_status(run) == "failed"
    assert (run / "model.pt").is_file() and not (run / "summary.json").exists()
    assert json.loads((run / "failed.json").read_text())["error"] == "OSError"


def test_a_runs_dir_that_is_a_file_is_a_bad_option(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    result = _invoke("prior", "--points", "20", "--runs-dir", str(blocker))
    assert result.exit_code == 2
    assert "--runs-dir" in _error_line(result)
    assert blocker.read_text() == "not a folder\n"


def test_embedded_dataset_names_match_the_data_module():
    from dllab.gp.cli import Dataset
    from dllab.gp.data import SYNTHETIC

    assert [d.value for d in Dataset] == list(SYNTHETIC)
