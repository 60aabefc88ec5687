"""Two real processes (DDP on CPU, gloo): every rank runs the command, rank 0 alone reports."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import sys

    import torch

    from dllab.core.cli.training import fit_and_report
    from dllab.core.testing import BoringDataModule, BoringModel


    class WithTest(BoringDataModule):
        def test_dataloader(self):
            return self.val_dataloader()


    def after_fit(trainer, model, data, run_dir):
        # a collective on every rank: it hangs if any rank skips it
        ranks = trainer.strategy.reduce(torch.tensor(float(trainer.global_rank)), reduce_op="sum")
        return {"rank_sum": float(ranks)}


    # 256 training and 64 validation samples: an even number of batches, so both ranks take
    # as many steps (each rank takes every other batch)
    fit_and_report(
        BoringModel(), WithTest(n=320), run_name="ddp-test", options={"lr": 0.05}, epochs=2, seed=0,
        runs_dir=sys.argv[1], accelerator="cpu", devices=2, progress_bar=False, test=True,
        after_fit=after_fit, trainer_kwargs={"strategy": "ddp"},
    )
    """
)


@pytest.mark.slow
@pytest.mark.distributed
def test_two_processes_report_once_and_skip_no_collective(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    runs = tmp_path / "runs"
    done = subprocess.run(
        [sys.executable, str(script), str(runs)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summaries = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(summaries) == 1, done.stdout
    assert done.stdout.count("run folder: ") == 1
    summary = json.loads(summaries[0])
    assert summary["rank_sum"] == 1.0  # ranks 0 and 1 both ran after_fit
    assert "test_loss" in summary and "val_loss" in summary
    folders = sorted(runs.glob("ddp-test/version_*"))
    assert [f.name for f in folders] == ["version_0"], folders
    assert json.loads((folders[0] / "summary.json").read_text()) == summary
    assert (folders[0] / "hparams.yaml").is_file()
