"""Smoke test of the benchmark: tiny sizes, one repeat, ratios printed last as JSON."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).parents[1] / "benchmarks" / "bench_resnet.py"


def test_benchmark_runs_with_tiny_sizes(capsys):
    spec = importlib.util.spec_from_file_location("bench_resnet", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    args = ["--repeats", "1", "--batch-size", "2", "--size", "8", "--steps", "1"]
    ratios = bench.main([*args, "--aug-batch", "8", "--samples", "64"])
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last == ratios
    assert set(last) == {"resnet18_over_torchvision", "batched_aug_speedup", "trainer_over_raw"}
    assert all(v > 0 for v in ratios.values())
