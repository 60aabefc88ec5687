"""Smoke test: the attention benchmark runs end to end with tiny sizes."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_attention.py"


def test_benchmark_runs_and_ends_with_a_json_line(capsys):
    main = runpy.run_path(str(BENCH))["main"]
    ratios = main(
        batch=2,
        seq=8,
        d=16,
        heads=2,
        repeats=3,
        inner=1,
        mem_batch=1,
        mem_seq=64,
        decode_tokens=6,
        decode_layers=1,
    )
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == ratios
    assert {"mha_over_torch", "scratch_over_sdpa", "kv_cache_speedup"} <= set(ratios)
    assert all(value > 0 for value in ratios.values())
    assert ratios["memory_scratch_over_sdpa"] > 1  # the scratch path stores the T x T weights
