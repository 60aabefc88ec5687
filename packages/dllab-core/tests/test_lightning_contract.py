"""The Lightning contract: dllab works without its lean loop, and leaves models Lightning's."""

from __future__ import annotations

import importlib
import sys
import warnings

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loops import training_epoch_loop

import dllab.core
from dllab.core.testing import BoringDataModule, BoringModel, quick_trainer


class Modes(Callback):
    """The module's optimization mode at every training batch."""

    def __init__(self) -> None:
        self.seen: set[bool] = set()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.seen.add(pl_module.automatic_optimization)


def _without_private_loop(monkeypatch):
    """A Lightning release whose private epoch loop class is gone: a fresh dllab.core.trainer."""
    original = importlib.import_module("dllab.core.trainer")
    importlib.import_module("dllab.core.loop")
    monkeypatch.delattr(training_epoch_loop, "_TrainingEpochLoop")
    monkeypatch.delitem(sys.modules, "dllab.core.loop")
    monkeypatch.delitem(sys.modules, "dllab.core.trainer")
    monkeypatch.setattr(dllab.core, "trainer", original)  # restored afterwards
    with pytest.raises(ImportError, match="_TrainingEpochLoop"):
        importlib.import_module("dllab.core.loop")
    return importlib.import_module("dllab.core.trainer")  # must still import


def _fit(trainer, seed: int = 0):
    torch.manual_seed(seed)
    model, modes = BoringModel(), Modes()
    trainer.callbacks.append(modes)
    trainer.fit(model, BoringDataModule(n=96))
    return model, modes.seen


def test_without_the_private_loop_the_trainer_runs_lightnings_loop(tmp_path, monkeypatch):
    lean_model, modes = _fit(quick_trainer(tmp_path / "lean", max_epochs=2))  # the direct step
    assert modes == {False}
    Trainer = _without_private_loop(monkeypatch).Trainer
    kwargs = {"runs_dir": tmp_path / "runs", "progress_bar": False, "accelerator": "cpu"}
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # lean_loop=False asked for nothing more
        stock = Trainer(max_epochs=2, lean_loop=False, **kwargs)
    with pytest.warns(RuntimeWarning, match="lean epoch loop does not load.*_TrainingEpochLoop"):
        fallback = Trainer(max_epochs=2, **kwargs)
    for trainer in (stock, fallback):
        assert type(trainer.fit_loop.epoch_loop).__name__ == "_TrainingEpochLoop"
        model, modes = _fit(trainer)
        assert modes == {True} and trainer.global_step == 2 * 3  # automatic optimization
        for a, b in zip(model.parameters(), lean_model.parameters(), strict=True):
            assert torch.equal(a, b)  # what the direct step is proven equal to


def test_a_fitted_model_fits_again_on_plain_lightning_with_clipping(tmp_path):
    trainer = quick_trainer(tmp_path, max_epochs=1)
    model, modes = _fit(trainer)
    assert modes == {False} and trainer.fit_loop.epoch_loop.lean_batches == 3  # direct step
    assert model.automatic_optimization and trainer.global_step == 3  # restored; steps counted
    plain = L.Trainer(
        max_epochs=1, gradient_clip_val=1.0, accelerator="cpu", logger=False,
        enable_checkpointing=False, enable_progress_bar=False, default_root_dir=tmp_path,
    )  # fmt: skip
    plain.fit(model, datamodule=BoringDataModule(n=96))  # refuses clipping on manual modules
    assert plain.global_step == 3


class Fails(Callback):
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        raise RuntimeError("boom")


def test_a_failing_fit_also_leaves_automatic_optimization_on(tmp_path):
    model = BoringModel()
    trainer = quick_trainer(tmp_path, max_epochs=1, callbacks=[Fails()])
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit(model, BoringDataModule(n=96))
    assert model.automatic_optimization


def test_a_module_that_chose_manual_optimization_keeps_it(tmp_path):
    model = BoringModel()
    model.automatic_optimization = False
    trainer = quick_trainer(tmp_path, max_epochs=1)
    trainer.fit(model, BoringDataModule(n=96))
    assert model.automatic_optimization is False and trainer.global_step == 3


class OwnOptimizerStep(BoringModel):
    def optimizer_step(self, *args, **kwargs):
        super().optimizer_step(*args, **kwargs)


def test_an_overridden_optimizer_step_keeps_lightnings_automatic_step(tmp_path):
    trainer = quick_trainer(tmp_path, max_epochs=1)
    assert BoringModel().supports_direct_step(trainer)
    assert not OwnOptimizerStep().supports_direct_step(trainer)  # the direct step would skip it
    plain = L.Trainer(max_epochs=1, logger=False, default_root_dir=tmp_path)
    assert not BoringModel().supports_direct_step(plain)  # its loop leaves manual schedulers
