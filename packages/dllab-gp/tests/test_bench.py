"""Smoke test of the benchmark: tiny sizes, one repeat, ratios printed last as JSON."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).parents[1] / "benchmarks" / "bench_gp.py"


def test_benchmark_runs_with_tiny_sizes(capsys):
    spec = importlib.util.spec_from_file_location("bench_gp", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.main(sizes=(40, 60), repeats=1, warmup_n=20, threads=1)
    lines = capsys.readouterr().out.strip().splitlines()
    last = json.loads(lines[-1])
    assert {"gpytorch_over_scratch", "sklearn_over_scratch", "rmse_scratch"} <= set(last)
    assert last["n"] == 60 and set(last["by_n"]) == {"40", "60"}
    assert all(result[k] > 0 for k in ("gpytorch_over_scratch", "sklearn_over_scratch"))
    assert result["rmse_scratch"] < 0.3
    samples = [line for line in lines if "samples [" in line]
    assert len(samples) == 3 * 3  # warm-up and both sizes: one line per contender
    assert lines[-2].startswith("n=60 rmse:")
