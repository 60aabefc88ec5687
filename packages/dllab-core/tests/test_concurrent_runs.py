"""Two runs of one name started at the same instant get two run folders."""

from __future__ import annotations

import csv
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from lightning.fabric.loggers.csv_logs import CSVLogger as FabricCSVLogger

import dllab.core.runs as runs
from dllab.core.testing import BoringDataModule, BoringModel, quick_trainer


def _slow_listings(monkeypatch, seconds: float) -> None:
    """Sleep between listing the version folders and creating the next one (both listers)."""
    listing, next_version = runs.run_versions, FabricCSVLogger._get_next_version

    def slow_run_versions(root):
        found = listing(root)
        time.sleep(seconds)
        return found

    def slow_next_version(self):
        version = next_version(self)
        time.sleep(seconds)
        return version

    monkeypatch.setattr(runs, "run_versions", slow_run_versions)
    monkeypatch.setattr(FabricCSVLogger, "_get_next_version", slow_next_version)


def _epochs_logged(run_dir) -> list[str]:
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    return [r["epoch"] for r in rows if r.get("train_loss")]


def test_runs_claiming_a_folder_at_once_get_distinct_folders(tmp_path, monkeypatch):
    _slow_listings(monkeypatch, 0.3)
    trainers = [quick_trainer(tmp_path, max_epochs=1 + i, curves=False) for i in range(3)]
    start = threading.Barrier(len(trainers))
    claimed = {}

    def claim(i: int) -> None:
        start.wait()
        claimed[i] = trainers[i].run_dir

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(trainers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(p.name for p in claimed.values()) == ["version_0", "version_1", "version_2"]
    for i, trainer in enumerate(trainers[:2]):
        trainer.fit(BoringModel(), BoringDataModule(n=96))
        assert trainer.run_dir == claimed[i]
        assert _epochs_logged(claimed[i]) == [str(e) for e in range(i + 1)]  # its own rows only


SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import dllab.core.runs as runs
    from dllab.core.testing import BoringDataModule, BoringModel, quick_trainer

    tmp, me, other = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    listing = runs.run_versions
    def slow(root):
        found = listing(root)
        time.sleep(1.0)  # both processes list before either creates
        return found
    runs.run_versions = slow
    (tmp / f"ready-{me}").touch()
    while not (tmp / f"ready-{other}").exists():
        time.sleep(0.01)
    trainer = quick_trainer(tmp, max_epochs=2, curves=False, name="mlp")
    trainer.fit(BoringModel(), BoringDataModule(n=96))
    print(trainer.run_dir)
    """
)


@pytest.mark.slow
def test_two_processes_started_together_write_two_intact_runs(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(tmp_path), me, other],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for me, other in (("a", "b"), ("b", "a"))
    ]
    outputs = [proc.communicate(timeout=600) for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-2000:]
    folders = sorted(out.strip().splitlines()[-1] for out, _ in outputs)
    assert [f.rsplit("/", 1)[-1] for f in folders] == ["version_0", "version_1"]
    for folder in folders:
        run_dir = tmp_path / "runs" / "mlp" / folder.rsplit("/", 1)[-1]
        assert _epochs_logged(run_dir) == ["0", "1"]
        assert (run_dir / "checkpoints" / "last.ckpt").resolve().is_file()
