"""Smoke test of the translation benchmark: tiny sizes, one repeat, its figures last as JSON."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).parents[1] / "benchmarks" / "bench_translate.py"
TINY = ["--repeats", "1", "--sentences", "8", "--batch", "4", "--cache-batch", "2",
        "--cache-tokens", "8", "--d-model", "16", "--num-pairs", "100"]  # fmt: skip


def test_benchmark_runs_with_tiny_sizes(capsys):
    spec = importlib.util.spec_from_file_location("bench_translate", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = bench.main(TINY)
    out = capsys.readouterr().out.strip().splitlines()
    assert json.loads(out[-1]) == results
    assert set(results) == {"greedy_sent_per_s", "beam4_sent_per_s", "kv_cache_speedup"}
    assert all(v > 0 for v in results.values())
    assert any("sentences/s" in line for line in out)
    assert any("64 tokens" in line or "8 tokens" in line for line in out)
