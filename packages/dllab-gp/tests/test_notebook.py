"""The lab notebook runs end to end in quick mode and saves its plots and metrics."""

from __future__ import annotations

import json
from pathlib import Path

from dllab.core.testing import run_script

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "gaussian_processes.py"
PLOTS = [
    "gp_priors.png",
    "gp_posterior_steps.png",
    "gp_evidence.png",
    "gp_learning.png",
    "gp_confidence.png",
    "gp_scratch_vs_gpytorch.png",
]


def test_notebook_runs_in_quick_mode(tmp_path):
    run_script(NOTEBOOK, tmp_path)
    for name in PLOTS:
        assert (tmp_path / name).stat().st_size > 5000, name
    results = json.loads((tmp_path / "gp_results.json").read_text())
    assert results["by_hand_vs_library_max_diff"] < 1e-10
    assert results["scratch_vs_gpytorch_max_diff"] < 1e-6
    assert results["lbfgs_evidence"] >= results["adam_evidence"] - 0.1
    assert 0.88 <= results["coverage_95"] <= 0.99
    assert results["rmse_true_function"] < 0.2
