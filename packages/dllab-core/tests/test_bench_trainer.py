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
    expected = {"lightning_over_raw", "dllab_over_raw", "dllab_stock_loop_over_raw"}
    expected |= {"dllab_recipe_over_raw", "dllab_over_raw_paired", "dllab_recipe_over_raw_paired"}
    assert expected <= set(ratios)
    assert all(value > 0 for value in ratios.values())
    assert any(line.strip().startswith("dllab: best epoch") for line in out)
    assert any(line.strip().startswith("dllab-recipe: best epoch") for line in out)
    assert sum("raw-recipe: epoch times" in line for line in out) == 1  # one repeat each
    assert any(line.startswith("dllab / raw per round: ") for line in out)


def test_the_raw_recipe_is_the_module_recipe_written_out(tmp_path):
    """The raw contender's groups, optimizer and schedule are exactly what RECIPE builds."""
    import torch

    from dllab.core import TensorDataModule
    from dllab.core.testing import quick_trainer

    bench = runpy.run_path(str(BENCH))
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(512, 784, generator=g), torch.randint(0, 10, (512,), generator=g)
    trainer = quick_trainer(tmp_path, max_epochs=2, logger=False, checkpoint=False, curves=False)
    trainer.fit(bench["Net"](**bench["RECIPE"]), TensorDataModule((X, y), 128, val_fraction=0.0))
    opt, sched = bench["recipe_by_hand"](bench["make_net"](), steps=8)  # 2 epochs of 4 batches
    for _ in range(8):
        opt.step()
        sched.step()

    def settings(optimizer):
        return [
            {k: v for k, v in group.items() if k != "params"}
            | {"shapes": [p.shape for p in group["params"]]}
            for group in optimizer.param_groups
        ]

    assert settings(trainer.optimizers[0]) == settings(opt)
    assert trainer.lr_scheduler_configs[0].scheduler.state_dict() == sched.state_dict()
