"""``--resume`` with changed options: refused with both values, or recorded truthfully."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from dllab.core.cli.app import app
from dllab.core.runs import run_status

runner = CliRunner()
SMALL = ["--samples", "400", "--batch-size", "50", "--hidden", "16"]


def _mlp(tmp_path, *args: str):
    return runner.invoke(app, ["core", "mlp", *SMALL, "--runs-dir", str(tmp_path), *args])


def _versions(tmp_path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "core-mlp").glob("version_*"))


def _first_run(tmp_path) -> None:
    first = _mlp(tmp_path, "--epochs", "2", "--lr", "0.1")
    assert first.exit_code == 0, first.output
    assert run_status(tmp_path / "core-mlp/version_0") == "complete"


def _error_line(output: str) -> str:
    errors = [line for line in output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, output
    return errors[0]


def test_a_changed_lr_is_refused_naming_both_values(tmp_path):
    _first_run(tmp_path)
    resumed = _mlp(tmp_path, "--epochs", "3", "--lr", "0.5", "--resume")
    assert resumed.exit_code == 2, resumed.output
    line = _error_line(resumed.output)
    assert "--lr" in line and "0.1" in line and "0.5" in line
    assert "Traceback" not in resumed.output
    assert resumed.exception is None or isinstance(resumed.exception, SystemExit)
    assert _versions(tmp_path) == ["version_0"]  # nothing half-written
    assert run_status(tmp_path / "core-mlp/version_0") == "complete"


def test_a_changed_model_shape_is_refused_without_a_traceback(tmp_path):
    _first_run(tmp_path)
    resumed = runner.invoke(
        app,
        [
            *["core", "mlp", "--samples", "400", "--batch-size", "50", "--hidden", "32"],
            *["--epochs", "3", "--lr", "0.1", "--runs-dir", str(tmp_path), "--resume"],
        ],
    )
    assert resumed.exit_code == 2, resumed.output
    line = _error_line(resumed.output)
    assert "--hidden" in line and "[16]" in line and "[32]" in line
    assert _versions(tmp_path) == ["version_0"]


def test_epochs_may_change_and_the_new_run_records_what_it_resumed(tmp_path):
    _first_run(tmp_path)
    resumed = _mlp(tmp_path, "--epochs", "3", "--lr", "0.1", "--resume")
    assert resumed.exit_code == 0, resumed.output
    run = tmp_path / "core-mlp/version_1"
    hparams = yaml.safe_load((run / "hparams.yaml").read_text())
    checkpoint = Path(hparams["resumed_from"])  # last.ckpt, or the file it links to
    assert checkpoint.parent == tmp_path / "core-mlp/version_0/checkpoints"
    assert checkpoint.is_file()
    assert hparams["options"]["lr"] == 0.1 and hparams["options"]["epochs"] == 3
    assert hparams["lr"] == 0.1  # the model that ran
    summary = json.loads((run / "summary.json").read_text())
    assert summary["resumed_from"] == str(checkpoint) and summary["epochs"] == 3
