"""Smoke test of the benchmark: tiny sizes, one repeat, ratios printed last as JSON."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).parents[1] / "benchmarks" / "bench_rl.py"


def test_benchmark_runs_with_tiny_sizes(capsys):
    spec = importlib.util.spec_from_file_location("bench_rl", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    args = ["--map", "4x4", "--repeats", "1", "--tol", "1e-6", "--gym-episodes", "3"]
    args += ["--medium", "12", "--large", "20", "--large-sweeps", "2"]
    results = bench.main([*args, "--vec-episodes", "64", "--num-envs", "16"])
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last == results
    assert set(last) == {
        "vi_speedup",
        "qlearning_steps_speedup",
        *(f"{k}_12x12_{u}" for k, u in [("build", "s"), ("vi", "s"), ("vi", "sweeps")]),
        "peak_12x12_mib",
        *(f"{k}_20x20_{u}" for k, u in [("build", "s"), ("vi", "s"), ("vi", "sweeps")]),
        "peak_20x20_mib",
    }
    assert last["vi_20x20_sweeps"] == 2 and last["vi_12x12_sweeps"] > 2
    assert all(v >= 0 for v in results.values())
