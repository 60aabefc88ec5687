"""Tests of ``dllab rl ...`` in-process, through the root ``dllab`` app."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from dllab.core.cli.app import app
from dllab.core.testing import last_json

runner = CliRunner()


def _invoke(*args):
    result = runner.invoke(app, ["rl", *args])
    return result


def _plain(output):
    """The output without rich's box drawing, on one line."""
    return " ".join(output.translate({ord(c): " " for c in "│╭╮╰╯─"}).split())


def test_value_iteration_command(tmp_path):
    result = _invoke(
        "value-iteration", "--map", "8x8", "--gamma", "0.99", "--runs-dir", str(tmp_path)
    )
    assert result.exit_code == 0, result.output
    run = tmp_path / "rl-value-iteration" / "version_0"
    summary = json.loads((run / "summary.json").read_text())
    assert last_json(result.output) == summary
    assert round(summary["optimal_success_probability"], 2) == 0.91
    assert summary["converged"] and summary["iterations"] > 100
    assert 0.8 < summary["success_probability"] <= summary["optimal_success_probability"]
    assert str(run) in result.output and "V(start)" in result.output
    assert (run / "value.png").stat().st_size > 0
    assert np.load(run / "values.npy")[0] == pytest.approx(summary["v_start"])
    hparams = yaml.safe_load((run / "hparams.yaml").read_text())
    assert hparams["map"] == "8x8" and hparams["gamma"] == 0.99 and hparams["slippery"] is True


def test_value_iteration_on_a_custom_map_file(tmp_path):
    lake = tmp_path / "lake.txt"
    lake.write_text("SFF\nFHF\nFFG\n")
    args = ["value-iteration", "--map", str(lake), "--no-slippery", "--max-steps", "4"]
    result = _invoke(*args, "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 0, result.output
    summary = last_json(result.output)
    assert summary["max_episode_steps"] == 4
    assert summary["success_probability"] == pytest.approx(1.0)


def test_q_learning_command_vectorized(tmp_path):
    args = ["q-learning", "--map", "4x4", "--quick", "--eval-episodes", "300"]
    result = _invoke(*args, "--runs-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    run = tmp_path / "rl-q-learning" / "version_0"
    summary = json.loads((run / "summary.json").read_text())
    assert last_json(result.output) == summary
    assert summary["train_episodes"] == 10_000
    assert summary["eval_ci_low"] <= summary["eval_success_rate"] <= summary["eval_ci_high"]
    assert summary["exact_success_probability"] >= 0.70
    assert round(summary["optimal_success_probability"], 2) == 0.74
    assert np.load(run / "q_table.npy").shape == (16, 4)
    assert (run / "curves.png").stat().st_size > 0 and (run / "value.png").exists()
    hparams = yaml.safe_load((run / "hparams.yaml").read_text())
    assert hparams["quick"] is True and hparams["vectorized"] is True


def test_q_learning_command_gym(tmp_path):
    args = ["q-learning", "--no-slippery", "--gym", "--episodes", "200", "--gamma", "0.9"]
    result = _invoke(*args, "--eval-episodes", "20", "--runs-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    summary = last_json(result.output)
    assert summary["eval_success_rate"] == 1.0 and summary["train_episodes"] == 200
    assert "gymnasium" in result.output


@pytest.mark.slow
def test_quick_default_run_meets_the_4x4_target_over_10000_gym_episodes(tmp_path):
    result = _invoke("q-learning", "--map", "4x4", "--quick", "--runs-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    summary = last_json(result.output)
    assert summary["eval_episodes"] == 10_000
    assert summary["eval_success_rate"] >= 0.70


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["value-iteration", "--map", "5x5"], "neither a built-in map"),
        (["value-iteration", "--gamma", "1.5"], "Invalid value for '--gamma'"),
        (["value-iteration", "--tol", "0"], "Invalid value for --tol: --tol must be > 0"),
        (["value-iteration", "--max-iters", "0"], "Invalid value for '--max-iters'"),
        (["q-learning", "--map", "missing.txt"], "neither a built-in map"),
        (["q-learning", "--lr", "0"], "Invalid value for --lr: --lr must be in (0, 1]"),
        (["q-learning", "--lr", "1.5"], "--lr must be in (0, 1], got 1.5"),
        (["q-learning", "--episodes", "0"], "Invalid value for '--episodes'"),
        (["q-learning", "--gamma", "-0.1"], "Invalid value for '--gamma'"),
    ],
)
def test_bad_cli_input_fails_cleanly(tmp_path, args, message):
    result = _invoke(*args, "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 2
    assert message in _plain(result.output)
    assert not (tmp_path / "runs").exists()  # nothing written


def test_a_bad_map_file_is_named(tmp_path):
    lake = tmp_path / "lake.txt"
    lake.write_text("SFZ\nFFG\n")
    result = _invoke("value-iteration", "--map", str(lake), "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code != 0
    assert "unknown tile 'Z'" in _plain(result.output)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("tol", ["1e-3", "1e-8", "1e-13"])
def test_undiscounted_value_iteration_prints_the_optimum_whatever_the_tolerance(tmp_path, tol):
    # gamma = 1 once printed 0.886 at the default tol and 0.0 at 1e-13: tied actions looped
    args = ["value-iteration", "--map", "8x8", "--gamma", "1", "--tol", tol]
    result = _invoke(*args, "--runs-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    summary = last_json(result.output)
    assert summary["plan_horizon"] == summary["max_episode_steps"] == 200
    assert round(summary["success_probability"], 4) == round(
        summary["optimal_success_probability"], 4
    )
    assert round(summary["optimal_success_probability"], 4) == 0.9132
    assert "200-step plan 0.9132" in _plain(result.output)
    plan = np.load(tmp_path / "rl-value-iteration" / "version_0" / "policy.npy")
    assert plan.shape == (200, 64)


def test_a_command_that_fails_after_writing_files_is_marked_failed(tmp_path, monkeypatch):
    import dllab.rl.plots
    from dllab.core.runs import run_status

    def broken_plot(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(dllab.rl.plots, "plot_value_heatmap", broken_plot)
    result = _invoke("value-iteration", "--runs-dir", str(tmp_path))
    assert result.exit_code != 0 and isinstance(result.exception, RuntimeError)
    run = tmp_path / "rl-value-iteration" / "version_0"
    assert (run / "values.npy").exists()  # written before the failure, kept for inspection
    assert run_status(run) == "failed" and not (run / "summary.json").exists()
    assert json.loads((run / "failed.json").read_text())["message"] == "disk full"


def test_a_command_that_fails_before_writing_results_leaves_no_folder(tmp_path, monkeypatch):
    import dllab.rl.qlearning

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(dllab.rl.qlearning, "q_learning_vectorized", interrupted)
    result = _invoke("q-learning", "--quick", "--runs-dir", str(tmp_path))
    assert result.exit_code != 0
    assert list((tmp_path / "rl-q-learning").iterdir()) == []  # hparams only: removed


def test_a_map_too_large_for_memory_is_refused_before_allocating(tmp_path, monkeypatch):
    import dllab.core.memory

    monkeypatch.setattr(dllab.core.memory, "available_memory", lambda: 2**20)  # 1 MiB free
    lake = tmp_path / "big.txt"
    lake.write_text("S" + "F" * 63 + "\n" + ("F" * 64 + "\n") * 62 + "F" * 63 + "G\n")
    result = _invoke("value-iteration", "--map", str(lake), "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 2
    error = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(error) == 1 and "the MDP of a 64x64 lake needs about" in error[0]
    assert "1.0 MiB is available" in error[0]
    assert not (tmp_path / "runs").exists()
