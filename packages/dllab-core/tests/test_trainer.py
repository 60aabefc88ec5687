"""dllab's Trainer: run folder, guards, checkpoints and exact resume."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from torch import nn

from dllab.core import CheckpointError, Classifier, NonFiniteLossError, load_checkpoint
from dllab.core.data.glyphs import GlyphsData
from dllab.core.testing import BoringDataModule, BoringModel, quick_trainer


class TinyNet(Classifier):
    """A small MLP with dropout, so exact resume must also replay the dropout RNG."""

    def __init__(self, lr: float = 0.2) -> None:
        super().__init__(num_classes=10, lr=lr)
        self.save_hyperparameters()
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 10)
        )


def test_fit_writes_the_run_folder(tmp_path):
    trainer = quick_trainer(tmp_path, max_epochs=3)
    trainer.fit(BoringModel(), BoringDataModule())
    run = trainer.run_dir
    assert run == tmp_path / "runs" / "test" / "version_0"
    for name in ["metrics.csv", "hparams.yaml", "curves.png", "summary.json"]:
        assert (run / name).is_file(), name
    assert (run / "checkpoints" / "last.ckpt").is_file()
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    train_losses = [float(r["train_loss"]) for r in rows if r.get("train_loss")]
    assert len(train_losses) == 3 and train_losses[-1] < train_losses[0]
    assert yaml.safe_load((run / "hparams.yaml").read_text())["lr"] == pytest.approx(0.05)
    assert trainer.summary["epochs"] == 3 and trainer.summary["val_loss"] < 1.0
    # a second run gets the next version folder
    second = quick_trainer(tmp_path, max_epochs=1)
    second.fit(BoringModel(), BoringDataModule())
    assert second.run_dir.name == "version_1"


def test_module_runs_on_a_plain_lightning_trainer(tmp_path):
    model = BoringModel()
    before = model.net.weight.detach().clone()
    trainer = L.Trainer(
        max_epochs=1, default_root_dir=tmp_path, enable_progress_bar=False, logger=False
    )
    trainer.fit(model, datamodule=BoringDataModule())
    assert not torch.equal(before, model.net.weight)
    assert "val_loss" in trainer.callback_metrics


class ExplodingModel(BoringModel):
    def training_step(self, batch, batch_idx):
        loss = super().training_step(batch, batch_idx)
        return loss * float("inf") if self.current_epoch == 1 and batch_idx == 2 else loss


def test_non_finite_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    trainer = quick_trainer(tmp_path, max_epochs=3)
    model = ExplodingModel()
    with pytest.raises(NonFiniteLossError, match=r"epoch 1, global step 9"):
        trainer.fit(model, BoringDataModule())
    state = load_checkpoint(trainer.run_dir / "checkpoints" / "last.ckpt")
    assert state["epoch"] == 0  # saved after the first epoch, not after the bad step
    assert all(torch.isfinite(p).all() for p in model.parameters())


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_resume_matches_an_uninterrupted_run_exactly(tmp_path):
    data = GlyphsData(n=400, batch_size=32)
    torch.manual_seed(0)
    full = TinyNet()
    quick_trainer(tmp_path / "a", max_epochs=4, curves=False).fit(full, data)

    torch.manual_seed(0)
    first = TinyNet()
    quick_trainer(tmp_path / "b", max_epochs=2, curves=False).fit(first, data)
    resumed = TinyNet()  # different init: everything must come from the checkpoint
    quick_trainer(tmp_path / "b", max_epochs=4, curves=False).fit(resumed, data, ckpt_path="last")

    expected, got = _weights(full), _weights(resumed)
    assert all(torch.equal(expected[k], got[k]) for k in expected)


def test_checkpoints_load_with_weights_only(tmp_path):
    trainer = quick_trainer(tmp_path, max_epochs=1)
    trainer.fit(BoringModel(), BoringDataModule())
    path = trainer.run_dir / "checkpoints" / "last.ckpt"
    state = torch.load(path, weights_only=True)
    assert "state_dict" in state and "net.weight" in state["state_dict"]
    restored = BoringModel.load_from_checkpoint(path, weights_only=True)
    assert torch.equal(restored.net.weight, state["state_dict"]["net.weight"])


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_a_damaged_checkpoint_gives_a_clear_error(tmp_path, damage):
    trainer = quick_trainer(tmp_path, max_epochs=1)
    trainer.fit(BoringModel(), BoringDataModule())
    path = trainer.run_dir / "checkpoints" / "last.ckpt"
    raw = path.read_bytes()
    path.write_bytes(
        {"truncate": raw[: len(raw) // 2], "garbage": b"not a checkpoint" * 10, "empty": b""}[
            damage
        ]
    )
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match=str(path)):
        quick_trainer(tmp_path, max_epochs=2).fit(
            BoringModel(), BoringDataModule(), ckpt_path="last"
        )


def test_resume_without_an_earlier_run_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        quick_trainer(tmp_path).fit(BoringModel(), BoringDataModule(), ckpt_path="last")


@pytest.mark.parametrize("bad", [0, -1, 1.5, "3"])
def test_max_epochs_must_be_a_positive_int(tmp_path, bad):
    with pytest.raises(ValueError, match="max_epochs"):
        quick_trainer(tmp_path, max_epochs=bad)


def test_curves_plot_every_logged_metric(tmp_path):
    trainer = quick_trainer(tmp_path, max_epochs=2)
    trainer.fit(TinyNet(), GlyphsData(n=200, batch_size=50))
    curves = next(c for c in trainer.callbacks if type(c).__name__ == "Curves")
    assert {"train_loss", "val_loss", "val_acc"} <= set(curves.history)
    assert [e for e, _ in curves.history["val_acc"]] == [1, 2]
    assert [e for e, _ in curves.history["train_loss"]] == [1, 2]  # no lag of one epoch
    assert (trainer.run_dir / "curves.png").stat().st_size > 1000
    assert all(math.isfinite(v) for _, v in curves.history["train_loss"])


def test_direct_step_is_chosen_only_where_it_is_equivalent(tmp_path):
    trainer = quick_trainer(tmp_path)
    assert BoringModel().supports_direct_step(trainer)
    assert not ExplodingModel().supports_direct_step(trainer)  # its own training_step
    clipped = quick_trainer(tmp_path, gradient_clip_val=1.0)
    assert not BoringModel().supports_direct_step(clipped)


def test_direct_step_equals_lightning_automatic_optimization(tmp_path):
    torch.manual_seed(0)
    direct = BoringModel()
    torch.manual_seed(0)
    automatic = BoringModel()
    trainer = quick_trainer(tmp_path / "direct", max_epochs=2, seed=None)
    trainer.fit(direct, BoringDataModule())
    assert trainer.fit_loop.epoch_loop.lean_batches == trainer.global_step == 14
    assert direct.automatic_optimization is True  # the direct step is for that fit only
    plain = L.Trainer(
        max_epochs=2, default_root_dir=tmp_path / "auto", enable_progress_bar=False, logger=False
    )
    plain.fit(automatic, datamodule=BoringDataModule())
    assert automatic.automatic_optimization is True
    for a, b in zip(direct.parameters(), automatic.parameters(), strict=True):
        assert torch.equal(a, b)


def test_without_a_logger_nothing_is_written_outside_a_run_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    trainer = quick_trainer(tmp_path / "runs", max_epochs=1, logger=False, checkpoint=False)
    trainer.fit(BoringModel(), BoringDataModule())
    assert trainer.summary["epochs"] == 1 and trainer.summary["run_dir"] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_without_a_logger_checkpoints_go_under_runs_dir_not_the_working_folder(
    tmp_path, monkeypatch
):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    trainer = quick_trainer(tmp_path, max_epochs=1, logger=False)
    trainer.fit(BoringModel(), BoringDataModule())
    assert list(work.iterdir()) == []
    saved = Path(trainer.checkpoint_callback.last_model_path)
    assert saved.is_relative_to(tmp_path / "runs") and saved.exists()


class NoisyRows(torch.utils.data.Dataset):
    """Per-item random augmentation: the noise depends on the RNG of whoever loads the item."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor) -> None:
        self.X, self.y = X, y

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, i: int):
        return self.X[i] + 0.1 * torch.randn(self.X.shape[1:]), self.y[i]


def _plain_loaders(num_workers: int):
    data = GlyphsData(n=300, batch_size=32)
    data.setup()
    X, y = data.train_tensors
    train = torch.utils.data.DataLoader(
        NoisyRows(X, y), batch_size=32, shuffle=True, num_workers=num_workers
    )
    return train


@pytest.mark.parametrize("num_workers", [0, pytest.param(2, marks=pytest.mark.slow)])
def test_resume_is_exact_with_a_plain_shuffled_dataloader(tmp_path, num_workers):
    """Shuffle order and per-item noise come from RNGs seeded at each epoch start."""
    torch.manual_seed(0)
    full = TinyNet()
    quick_trainer(tmp_path / "a", max_epochs=3, curves=False).fit(full, _plain_loaders(num_workers))
    torch.manual_seed(0)
    first = TinyNet()
    quick_trainer(tmp_path / "b", max_epochs=2, curves=False).fit(
        first, _plain_loaders(num_workers)
    )
    resumed = TinyNet()
    quick_trainer(tmp_path / "b", max_epochs=3, curves=False).fit(
        resumed, _plain_loaders(num_workers), ckpt_path="last"
    )
    expected, got = _weights(full), _weights(resumed)
    assert all(torch.equal(expected[k], got[k]) for k in expected)
