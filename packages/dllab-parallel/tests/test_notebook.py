"""The lab notebook runs end to end in quick mode and saves its figure and metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dllab.core.testing import assert_pngs, run_script

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "parallelism.py"


@pytest.mark.slow
@pytest.mark.distributed
def test_notebook_runs_in_quick_mode(tmp_path):
    namespace = run_script(NOTEBOOK, tmp_path)
    assert namespace["QUICK"] is True and namespace["complete"] is True
    assert_pngs(tmp_path / "figures", ["ring_allreduce.png"])
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["ring_max_abs_error_float32"] < 1e-5  # order of the additions only
    for key in ["manual_2_max_abs_error", "manual_3_max_abs_error", "ddp_2_max_abs_error"]:
        assert metrics[key] < 1e-6, key  # float64: parallel equals one process
    timings = metrics["timings_ms"]
    assert {"matmul cpu fp32", "matmul cpu bf16", "train step cpu fp32"} <= set(timings)
    assert all(v > 0 for v in timings.values())
    assert metrics["gpu"] is False or "async_finish_ms" in metrics
