"""Smoke test: the Trainer benchmark runs end to end with tiny sizes."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_trainer.py"


def test_benchmark_runs_and_ends_with_a_json_line(capsys):
    main = runpy.run_path(str(BENCH))["main"]
    ratios = main(["--samples", "1024", "--epochs", "1", "--repeats", "1"])
    out = capsys.readouterr().out.strip().splitlines()
    assert json.loads(out[-1]) == ratios
    assert {"lightning_over_raw", "dllab_over_raw", "dllab_stock_loop_over_raw"} <= set(ratios)
    assert all(value > 0 for value in ratios.values())
    assert any(line.strip().startswith("dllab: best epoch") for line in out)
