"""Which checkpoint ``ckpt_path="last"`` resumes: the newest run's newest valid one, or an error."""

from __future__ import annotations

import os

import pytest
import torch

from dllab.core import CheckpointError
from dllab.core.testing import BoringDataModule, BoringModel, quick_trainer


def _train(tmp_path, lr=0.05, epochs=2):
    trainer = quick_trainer(tmp_path, max_epochs=epochs, curves=False)
    trainer.fit(BoringModel(lr=lr), BoringDataModule(n=96))
    return trainer.run_dir


def _interrupt_link_update(run_dir):
    """The state a kill leaves between Lightning's removal of the old file and the relink."""
    folder = run_dir / "checkpoints"
    newest = folder / os.readlink(folder / "last.ckpt")
    (folder / "last.ckpt").unlink()
    (folder / "last.ckpt").symlink_to("epoch=0-step=2.ckpt")  # removed already: dangling
    return newest


def test_a_dangling_last_resumes_the_newest_valid_checkpoint_of_the_newest_run(tmp_path, capfd):
    _train(tmp_path, lr=0.05)  # version_0: an older, complete run with other hyperparameters
    newest = _interrupt_link_update(_train(tmp_path, lr=0.02))  # version_1
    trainer = quick_trainer(tmp_path, max_epochs=3, curves=False)
    assert trainer.find_last_checkpoint() == newest
    model = BoringModel(lr=0.02)
    trainer.fit(model, BoringDataModule(n=96), ckpt_path="last")
    assert trainer.resumed_from == newest and newest.parent.parent.name == "version_1"
    assert trainer.global_step == 3 * 3  # continued from epoch 2, not from scratch
    assert f"resuming from {newest}" in capfd.readouterr().err


def test_a_dangling_last_without_an_older_run_still_resumes(tmp_path):
    newest = _interrupt_link_update(_train(tmp_path))
    trainer = quick_trainer(tmp_path, max_epochs=3, curves=False)
    trainer.fit(BoringModel(), BoringDataModule(n=96), ckpt_path="last")
    assert trainer.resumed_from == newest


def test_the_newest_run_without_a_usable_checkpoint_is_refused_not_skipped(tmp_path):
    _train(tmp_path)  # version_0 could be resumed, but it is not the newest run
    newest = _train(tmp_path)
    folder = newest / "checkpoints"
    for path in folder.iterdir():
        if not path.is_symlink():
            path.unlink()  # only the dangling link is left
    trainer = quick_trainer(tmp_path, max_epochs=3, curves=False)
    with pytest.raises(CheckpointError, match=r"version_1 .*no usable checkpoint") as info:
        trainer.fit(BoringModel(), BoringDataModule(n=96), ckpt_path="last")
    assert "no longer exists" in str(info.value)
    (folder / "last.ckpt").unlink()
    with pytest.raises(CheckpointError, match=r"version_1 .*no checkpoint"):
        trainer.find_last_checkpoint()
    assert sorted(p.name for p in (tmp_path / "runs" / "test").iterdir()) == [
        "version_0",
        "version_1",
    ]  # and the failed resume left no folder of its own


def test_odd_folder_names_are_ignored(tmp_path):
    run = _train(tmp_path)
    (tmp_path / "runs" / "test" / "version_x").mkdir()
    (tmp_path / "runs" / "test" / "version_x" / "checkpoints").mkdir()
    (tmp_path / "runs" / "test" / "version_x" / "checkpoints" / "last.ckpt").write_bytes(b"x")
    (tmp_path / "runs" / "test" / "notes").mkdir()
    trainer = quick_trainer(tmp_path, max_epochs=3)
    assert trainer.find_last_checkpoint().parent.parent == run


def test_an_explicit_checkpoint_path_is_verified_too(tmp_path):
    run = _train(tmp_path)
    target = (run / "checkpoints" / "last.ckpt").resolve()
    torch.save({"state_dict": {}}, target)  # replaced: no longer matches its digest
    with pytest.raises(CheckpointError, match="does not match its digest"):
        quick_trainer(tmp_path, max_epochs=3).fit(
            BoringModel(), BoringDataModule(n=96), ckpt_path=target
        )
