"""Smoke test of the benchmark: tiny sizes, one repeat, forked ranks, ratios last as JSON."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).parents[1] / "benchmarks" / "bench_allreduce.py"


@pytest.mark.slow
@pytest.mark.distributed
def test_benchmark_runs_with_tiny_sizes(capsys):
    layer = torch.nn.Linear(2, 1)  # the optimizer's first step imports a lot: once, here,
    layer(torch.ones(1, 2)).sum().backward()  # not in every forked rank
    torch.optim.SGD(layer.parameters(), lr=0.1).step()
    spec = importlib.util.spec_from_file_location("bench_allreduce", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    args = ["--max-bytes", "4096", "--repeats", "1", "--ratio-repeats", "1", "--steps", "1"]
    args += ["--batch", "8"]
    ratios = bench.main([*args, "--start-method", "fork"])
    out = capsys.readouterr().out
    last = json.loads(out.strip().splitlines()[-1])
    assert last == ratios
    assert set(last) == {"ring_over_gloo_16mb", "naive_over_gloo_16mb", "ddp_scaling_2proc"}
    assert all(v > 0 for v in ratios.values())
    for label in ["1 KB", "4 KB", "16 MB"]:  # the sizes asked for, and the ratios' size
        assert f"\n{label:>8} " in out
