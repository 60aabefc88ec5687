"""The lab notebook runs end to end in quick mode and saves its plots and metrics."""

from __future__ import annotations

import json
from pathlib import Path

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "reinforcement_learning.py"
PNG = b"\x89PNG\r\n\x1a\n"


def test_notebook_runs_in_quick_mode(tmp_path):
    from dllab.core.testing import run_script

    namespace = run_script(NOTEBOOK, tmp_path)
    assert namespace["QUICK"] is True
    for name in [
        "value_iteration_steps.png",
        "value_iteration_residuals.png",
        "value_heatmap.png",
        "q_learning_curves.png",
        "q_learning_heatmap.png",
    ]:
        assert (tmp_path / "figures" / name).read_bytes()[:8] == PNG, name
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["vi_vs_exact_max_error"] < 1e-7  # tol 1e-10 at gamma 0.99: error <= 1e-8
    assert metrics["pi_vs_vi_max_error"] < 1e-7
    assert round(metrics["optimal_success_probability"], 2) == 0.74
    assert abs(metrics["plan_success_probability"] - metrics["optimal_success_probability"]) < 1e-12
    assert metrics["q_learning_exact_success"] >= 0.70
    assert metrics["q_learning_success_rate"] >= 0.66  # 2000 episodes: 0.73 minus 3 std errors
