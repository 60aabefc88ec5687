"""``dllab parallel ...``: devices, bad input, and training on two processes both ways.

Both strategies are checked against one process training on the full batch (Lightning, one
device, the same options): same final weights within 1e-6 (float32; measured ~3e-8, the
order of the additions in the gradient sums), and the same validation metrics on every rank.
DDP runs in a subprocess, because Lightning's launcher starts the other ranks by re-running
the command line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import lightning.pytorch  # noqa: F401  (binds Lightning's log handler before CliRunner runs)
import pytest
import torch
import yaml
from typer.testing import CliRunner

from dllab.core.cli.app import app
from dllab.core.testing import assert_close_to_reference, assert_pngs, last_json

runner = CliRunner()
TINY = ["--samples", "400", "--epochs", "2", "--batch-size", "32", "--accelerator", "cpu"]
TOL = 1e-6


def _invoke(*args):
    return runner.invoke(app, ["parallel", *args])


def _weights(path: Path) -> dict:
    saved = torch.load(path, weights_only=True)
    return saved["state_dict"]


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """One process, the full batch: the reference run (its last checkpoint and summary)."""
    runs = tmp_path_factory.mktemp("single")
    result = _invoke("train", "--strategy", "ddp", "--devices", "1", *TINY, "--runs-dir", str(runs))
    assert result.exit_code == 0, result.output
    run = runs / "parallel-train" / "version_0"
    return _weights(run / "checkpoints" / "last.ckpt"), last_json(result.output)


def _assert_same_training(weights, reference):
    assert weights.keys() == reference.keys()
    for key, value in reference.items():
        assert_close_to_reference(weights[key], value, atol=TOL, name=key)


def test_devices_lists_the_cpu_and_the_backends():
    result = _invoke("devices")
    assert result.exit_code == 0, result.output
    found = last_json(result.output)
    assert found["devices"][0]["name"] == "cpu" and found["devices"][0]["memory_bytes"] > 0
    assert found["backends"]["gloo"] is True
    assert "torch.distributed backends: gloo yes" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-size", "33", "--devices", "2"], "split evenly across 2"),
        (["--strategy", "manual", "--num-nodes", "2"], "one machine"),
        (["--devices", "0"], "--devices"),
        (["--strategy", "ring"], "--strategy"),
        (["--lr", "-1"], "learning rate"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, args, message):
    runs = tmp_path / "runs"
    result = _invoke("train", "--accelerator", "cpu", "--runs-dir", str(runs), *args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert not runs.exists() or not any(runs.rglob("summary.json"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only refusal")
def test_gpu_without_cuda_is_refused():
    result = _invoke("train", "--accelerator", "gpu")
    assert result.exit_code == 2 and "not available" in result.output


def _rank_1_fails(rank, world_size, settings, run_dir):
    from dllab.parallel.allreduce import ring_all_reduce

    if rank == 1:
        raise ValueError("rank 1 failed on purpose")
    ring_all_reduce(torch.ones(3))  # rank 0 waits for rank 1 here


@pytest.mark.distributed
def test_a_failing_rank_ends_the_manual_command_with_exit_1(tmp_path, monkeypatch):
    import dllab.parallel.glyphs

    monkeypatch.setattr(dllab.parallel.glyphs, "train_glyphs", _rank_1_fails)  # forked ranks
    runs = tmp_path / "runs"
    result = _invoke("train", "--strategy", "manual", *TINY, "--runs-dir", str(runs))
    assert result.exit_code == 1, result.output
    message = " ".join(result.output.split())
    assert "rank 1: ValueError: rank 1 failed on purpose" in message
    assert "rank 0: RuntimeError" in message  # rank 0 stopped too, it did not hang
    assert not list(runs.rglob("summary.json"))  # no run that looks complete


@pytest.mark.slow
@pytest.mark.distributed
def test_manual_strategy_equals_one_process(tmp_path, single):
    weights, reference_summary = single
    runs = tmp_path / "runs"
    result = _invoke(
        "train", "--strategy", "manual", "--devices", "2", *TINY, "--runs-dir", str(runs)
    )
    assert result.exit_code == 0, result.output
    run = runs / "parallel-train" / "version_0"
    summary = json.loads((run / "summary.json").read_text())
    assert last_json(result.output) == summary
    assert summary["ranks_agree"] is True and summary["processes"] == 2
    assert summary["val_acc"] == pytest.approx(reference_summary["val_acc"], abs=1e-6)
    _assert_same_training(_weights(run / "model.pt"), weights)
    assert_pngs(run, ["curves.png"])
    rows = (run / "metrics.csv").read_text().splitlines()
    assert rows[0] == "epoch,train_loss,val_loss,val_acc" and len(rows) == 3
    assert yaml.safe_load((run / "hparams.yaml").read_text())["trainer"]["strategy"] == "manual"


@pytest.mark.slow
@pytest.mark.distributed
def test_ddp_command_on_two_processes_equals_one_process(tmp_path, single):
    weights, _ = single
    runs = tmp_path / "runs"
    dllab = Path(sys.executable).parent / "dllab"
    args = ["parallel", "train", "--strategy", "ddp", "--devices", "2", *TINY]
    done = subprocess.run(
        [str(dllab), *args, "--runs-dir", str(runs)],
        capture_output=True,
        text=True,
        timeout=480,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summaries = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(summaries) == 1, done.stdout  # rank 0 alone reports
    summary = json.loads(summaries[0])
    assert summary["ranks_agree"] is True and summary["processes"] == 2
    folders = sorted((runs / "parallel-train").iterdir())
    assert [f.name for f in folders] == ["version_0"]  # one run folder, from rank 0
    run = folders[0]
    assert json.loads((run / "summary.json").read_text()) == summary
    assert (
        yaml.safe_load((run / "hparams.yaml").read_text())["trainer"]["strategy"] == "DDPStrategy"
    )
    _assert_same_training(_weights(run / "checkpoints" / "last.ckpt"), weights)
