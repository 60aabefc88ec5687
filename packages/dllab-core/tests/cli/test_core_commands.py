"""``dllab core mlp`` / ``dllab core softmax`` end to end, in-process."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dllab.core.cli.app import app

runner = CliRunner()
SMALL = ["--epochs", "2", "--samples", "400", "--batch-size", "50"]


def _invoke(args: list[str]):
    result = runner.invoke(app, args)
    lines = result.output.strip().splitlines()
    return result, [line for line in lines if line.startswith("{")] or lines


def test_mlp_trains_and_writes_its_run_folder(tmp_path):
    args = ["core", "mlp", "--epochs", "2", "--samples", "400", "--batch-size", "10"]
    result, lines = _invoke([*args, "--runs-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads(lines[-1])
    run = tmp_path / "core-mlp" / "version_0"
    assert summary["run_dir"] == str(run)
    assert f"run folder: {run}" in result.output
    for name in ["metrics.csv", "hparams.yaml", "curves.png", "summary.json"]:
        assert (run / name).is_file(), name
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert json.loads((run / "summary.json").read_text()) == summary
    assert summary["epochs"] == 2
    # 64 steps on 320 images: seeds 0-3 reach 0.46-0.57; chance is 0.1
    assert summary["val_acc"] >= 0.35, summary
    hparams = (run / "hparams.yaml").read_text()
    assert "samples: 400" in hparams and "num_hiddens" in hparams


def test_resume_continues_the_latest_run(tmp_path):
    first, _ = _invoke(["core", "softmax", *SMALL, "--runs-dir", str(tmp_path)])
    assert first.exit_code == 0, first.output
    args = ["core", "softmax", "--epochs", "3", "--samples", "400", "--batch-size", "50"]
    resumed, lines = _invoke([*args, "--runs-dir", str(tmp_path), "--resume"])
    assert resumed.exit_code == 0, resumed.output
    summary = json.loads(lines[-1])
    assert summary["epochs"] == 3
    assert summary["global_step"] == 3 * 7  # 320 training images in batches of 50


def test_softmax_from_scratch(tmp_path):
    result, lines = _invoke(["core", "softmax", "--scratch", *SMALL, "--runs-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    hparams = (tmp_path / "core-softmax/version_0/hparams.yaml").read_text()
    assert "scratch: true" in hparams and "sigma" in hparams  # the scratch model's own hparam
    assert json.loads(lines[-1])["epochs"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lr", "0"], "--lr"),
        (["--lr", "-0.5"], "--lr"),
        (["--epochs", "0"], "--epochs"),
        (["--no-such-option"], "No such option"),
        (["--dataset", "mnist"], "--dataset"),
        (["--resume"], "nothing to resume"),
    ],
)
def test_bad_input_is_reported_and_leaves_no_run_folder(tmp_path, args, message):
    result = runner.invoke(app, ["core", "mlp", *SMALL, "--runs-dir", str(tmp_path), *args])
    assert result.exit_code != 0
    assert message in result.output
    assert not list(tmp_path.glob("core-mlp/version_*"))


def test_missing_fashion_mnist_names_the_path_and_the_flag(tmp_path):
    args = ["core", "mlp", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path / "data")]
    result = runner.invoke(app, [*args, "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code != 0
    assert "fashion_mnist" in result.output and "--download" in result.output
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_quick_mlp_run_passes_85_percent(tmp_path):
    result, lines = _invoke(["core", "mlp", "--quick", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert json.loads(lines[-1])["val_acc"] >= 0.85


def test_root_help_and_list():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "core" in result.output
    listed = runner.invoke(app, ["list"])
    assert listed.exit_code == 0 and "dllab-core" in listed.output
