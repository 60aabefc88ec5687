"""Divergence: a run that blows up stops with the step named; a noisy one is left alone."""

from __future__ import annotations

import math
import os

import pytest
import torch

from dllab.core import DivergenceError, DivergenceGuard, NonFiniteLossError, load_checkpoint
from dllab.core.data.glyphs import GlyphsData
from dllab.core.fundamentals.models import MLP
from dllab.core.testing import BoringDataModule, BoringModel, quick_trainer


def _run(guard: DivergenceGuard, losses) -> int | None:
    """Feed losses to the guard; the 1-based step at which it stops, or ``None``."""
    for step, loss in enumerate(losses, start=1):
        if guard.update(float(loss)):
            return step
    return None


def test_a_noisy_converging_loss_with_spikes_is_not_stopped():
    g = torch.Generator().manual_seed(0)
    steps = torch.arange(2000, dtype=torch.float64)
    noise = torch.exp(0.6 * torch.randn(2000, generator=g, dtype=torch.float64))  # x0.3 .. x3
    losses = 2.3 * torch.exp(-steps / 150) * noise + 1e-4
    losses[::250] *= 1000  # an isolated wild batch now and then
    guard = DivergenceGuard()
    assert _run(guard, losses) is None
    assert guard.best < 0.05  # it did converge, tenfold wobbles near zero included


def test_a_loss_that_runs_away_is_stopped_after_warmup_plus_patience():
    losses = [2.3, 3e15, 1e30, 1e26, 1e9] + [4e7] * 40  # what lr=1e8 does to the glyph MLP
    guard = DivergenceGuard(warmup=10, patience=10)
    assert _run(guard, losses) == 20
    slow = [1.0 / (1 + t) for t in range(100)] + [0.01 * 1.2**t for t in range(100)]
    assert _run(DivergenceGuard(), slow) is not None  # a slow climb past 10x and the start


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"factor": 1.0}, ValueError),
        ({"patience": 0}, ValueError),
        ({"smoothing": 1.0}, ValueError),
        ({"every_n_steps": 0}, ValueError),
        ({"check_parameters": 1}, TypeError),
        ({"factor": float("nan")}, ValueError),
    ],
)
def test_bad_settings_are_refused(kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        DivergenceGuard(**kwargs)


def test_a_huge_learning_rate_is_stopped_with_the_step_and_last_good_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = MLP(num_hiddens=(32,), lr=1e8)
    trainer = quick_trainer(tmp_path, max_epochs=10, curves=False)
    with pytest.raises(DivergenceError, match=r"global step 1\d: .*over 10x its best") as info:
        trainer.fit(model, GlyphsData(n=400, batch_size=50))
    last = trainer.run_dir / "checkpoints" / "last.ckpt"
    assert f"checkpoint: {last}" in str(info.value)
    assert (trainer.run_dir / "failed.json").is_file() and trainer.current_epoch < 3


class BlowsUpAtEpochEnd(BoringModel):
    """The last step of epoch 1 leaves non-finite weights (validation then sees NaN)."""

    def on_train_batch_end(self, outputs, batch, batch_idx):
        if self.current_epoch == 1 and batch_idx + 1 == self.trainer.num_training_batches:
            with torch.no_grad():
                self.net.weight.mul_(float("inf"))


@pytest.mark.parametrize("divergence", [True, False])
def test_a_blow_up_on_an_epochs_last_step_does_not_replace_the_last_good_checkpoint(
    tmp_path, divergence
):
    trainer = quick_trainer(tmp_path, max_epochs=3, curves=False, divergence=divergence)
    error = DivergenceError if divergence else NonFiniteLossError
    with pytest.raises(error, match=r"epoch [12], global step (6|7)\b"):
        trainer.fit(BlowsUpAtEpochEnd(), BoringDataModule(n=96))
    last = trainer.run_dir / "checkpoints" / "last.ckpt"
    assert os.readlink(last) == "epoch=0-step=3.ckpt"
    state = load_checkpoint(last)
    assert state["epoch"] == 0
    assert all(torch.isfinite(v).all() for v in state["state_dict"].values())
    assert sorted(p.name for p in last.parent.iterdir()) == [
        "epoch=0-step=3.ckpt",
        "epoch=0-step=3.ckpt.sha256",
        "last.ckpt",
    ]


@pytest.mark.slow
def test_the_glyph_mlp_quick_run_is_not_stopped(tmp_path):
    torch.manual_seed(0)
    trainer = quick_trainer(tmp_path, max_epochs=5, curves=False)
    trainer.fit(MLP(), GlyphsData(n=6000, batch_size=64))  # `dllab core mlp --quick`'s run
    guard = next(c for c in trainer.callbacks if getattr(c, "divergence", None) is not None)
    assert guard.divergence.steps == trainer.global_step and guard.divergence.over == 0
    assert math.isfinite(trainer.summary["val_loss"]) and trainer.summary["val_acc"] > 0.85
