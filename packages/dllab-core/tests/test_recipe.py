"""The training recipe: parameter groups, schedules against torch's, exact resume mid-schedule."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn
from torch.optim.lr_scheduler import OneCycleLR

from dllab.core.data.datamodule import TensorDataModule
from dllab.core.module import Classifier
from dllab.core.recipe import WarmupCosine, make_scheduler, param_groups, warmup_steps_of
from dllab.core.testing import quick_trainer


def _lrs(scheduler, steps: int) -> list[float]:
    """The learning rate each of ``steps`` optimizer steps uses."""
    seen = []
    for _ in range(steps):
        seen.append(scheduler.optimizer.param_groups[0]["lr"])
        scheduler.optimizer.step()
        scheduler.step()
    return seen


def _sgd(lr: float = 0.1) -> torch.optim.SGD:
    return torch.optim.SGD([nn.Parameter(torch.zeros(2))], lr=lr)


def test_onecycle_is_torchs_one_cycle_peaking_at_lr():
    ours = _lrs(make_scheduler("onecycle", _sgd(), total_steps=20), 20)
    opt = _sgd()
    theirs = _lrs(OneCycleLR(opt, max_lr=0.1, total_steps=20, cycle_momentum=False), 20)
    assert ours == theirs
    assert max(ours) == pytest.approx(0.1, abs=1e-12) and ours.index(max(ours)) == 5  # 30%
    assert ours[0] == pytest.approx(0.1 / 25) and ours[-1] < 1e-4


def test_cosine_warms_up_linearly_then_decays_to_zero():
    lrs = _lrs(make_scheduler("cosine", _sgd(), total_steps=10, warmup_steps=3), 10)
    expected = [0.1 * (s + 1) / 4 for s in range(3)]
    expected += [0.1 * 0.5 * (1 + math.cos(math.pi * (s - 3) / 7)) for s in range(3, 10)]
    assert lrs == pytest.approx(expected, abs=1e-12)
    assert lrs[3] == pytest.approx(0.1) and all(a > b for a, b in itertools.pairwise(lrs[3:]))
    assert WarmupCosine(3, 10)(10) == pytest.approx(0.0, abs=1e-12)


def test_cosine_without_warmup_starts_at_lr():
    lrs = _lrs(make_scheduler("cosine", _sgd(), total_steps=4), 4)
    assert lrs[0] == 0.1 and lrs == sorted(lrs, reverse=True)


def test_none_is_no_scheduler_and_bad_schedules_are_refused():
    assert make_scheduler("none", _sgd(), total_steps=10) is None
    with pytest.raises(ValueError, match="schedule must be one of"):
        make_scheduler("step", _sgd(), total_steps=10)
    with pytest.raises(ValueError, match="total_steps must be >= 1"):
        make_scheduler("cosine", _sgd(), total_steps=0)
    with pytest.raises(ValueError, match="warmup_steps needs a schedule"):
        make_scheduler("none", _sgd(), total_steps=10, warmup_steps=2)


@pytest.mark.parametrize(("warmup", "peak"), [(0, 2), (1, 1), (2, 1), (4, 3)])
def test_onecycle_peaks_at_the_end_of_its_warmup(warmup, peak):
    """30% of 10 steps by default, else ``warmup_steps``; OneCycleLR divides by zero on a
    one-step warm-up, so that one is lengthened to 2."""
    lrs = _lrs(make_scheduler("onecycle", _sgd(), total_steps=10, warmup_steps=warmup), 10)
    assert max(lrs) == pytest.approx(0.1) and lrs.index(max(lrs)) == peak


def test_warmup_length_from_steps_or_fraction():
    assert warmup_steps_of(100, steps=7) == 7
    assert warmup_steps_of(100, fraction=0.05) == 5
    assert warmup_steps_of(100) == 0
    with pytest.raises(ValueError, match=r"warm-up \(10 steps\) must be shorter than the run"):
        warmup_steps_of(10, steps=10)


def test_groups_hold_each_shared_parameter_once():
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.GroupNorm(2, 4), shared)
    decayed, exempt = param_groups(model, 0.05, decay_norm_and_bias=False)
    assert [id(p) for p in decayed["params"]] == [id(shared.weight)]
    assert [id(p) for p in exempt["params"]] == [id(shared.bias), *map(id, model[1].parameters())]
    assert param_groups(model, 0.0, decay_norm_and_bias=False) == [
        {"params": list(model.parameters()), "weight_decay": 0.0}
    ]  # nothing to exempt from: one group
    only_biases = param_groups(nn.LayerNorm(4), 0.05, decay_norm_and_bias=False)
    assert len(only_biases) == 1 and only_biases[0]["weight_decay"] == 0.0  # no empty group


class Net(Classifier):
    def __init__(self, **recipe) -> None:
        super().__init__(num_classes=3, **recipe)
        self.net = nn.Sequential(nn.Linear(8, 16), nn.LayerNorm(16), nn.ReLU(), nn.Linear(16, 3))


class StopAfterFirstEpoch(Callback):
    def on_train_epoch_end(self, trainer, pl_module):
        trainer.should_stop = True


def _data() -> TensorDataModule:
    g = torch.Generator().manual_seed(1)
    X = torch.randn(96, 8, generator=g)
    return TensorDataModule((X, (X[:, 0] > 0).long() + (X[:, 1] > 0).long()), batch_size=16)


@pytest.mark.parametrize(
    "recipe",
    [
        {"schedule": "onecycle", "momentum": 0.9, "nesterov": True},
        {"schedule": "cosine", "warmup_fraction": 0.3, "weight_decay": 0.01,
         "decay_norm_and_bias": False, "label_smoothing": 0.1},
    ],
    ids=["onecycle", "cosine"],
)  # fmt: skip
def test_a_run_resumed_mid_schedule_ends_with_the_uninterrupted_weights(tmp_path, recipe):
    torch.manual_seed(0)
    full = Net(**recipe)
    quick_trainer(tmp_path / "full", max_epochs=2, curves=False).fit(full, _data())
    cut = quick_trainer(tmp_path / "cut", max_epochs=2, curves=False,
                        callbacks=[StopAfterFirstEpoch()])  # fmt: skip
    torch.manual_seed(0)
    cut.fit(Net(**recipe), _data())
    assert cut.current_epoch == 1
    resumed = Net(**recipe)
    trainer = quick_trainer(tmp_path / "cut", max_epochs=2, curves=False)
    trainer.fit(resumed, _data(), ckpt_path="last")  # loads with weights_only=True
    assert trainer.global_step == 10 and trainer.fit_loop.epoch_loop.lean_batches == 5
    scheduler = trainer.lr_scheduler_configs[0].scheduler
    assert scheduler.last_epoch == 10  # stepped after every one of the 10 optimizer steps
    for a, b in zip(resumed.parameters(), full.parameters(), strict=True):
        assert torch.equal(a, b)


class RecordLr(Callback):
    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


@pytest.mark.parametrize("schedule", ["onecycle", "cosine"])
def test_a_run_resumed_with_more_epochs_stretches_its_schedule_over_the_new_length(
    tmp_path, schedule
):
    torch.manual_seed(0)
    quick_trainer(tmp_path, max_epochs=1, curves=False).fit(Net(schedule=schedule), _data())
    resumed, record = Net(schedule=schedule), RecordLr()
    trainer = quick_trainer(tmp_path, max_epochs=3, curves=False, callbacks=[record])
    trainer.fit(resumed, _data(), ckpt_path="last")  # past the first run's 5 steps
    assert trainer.global_step == 15
    assert trainer.lr_scheduler_configs[0].scheduler.last_epoch == 15
    fresh = _lrs(make_scheduler(schedule, _sgd(resumed.lr), total_steps=15), 15)
    # the first resumed step keeps the learning rate the optimizer was saved with; from then
    # on, steps 6..14 are those of a 15-step run
    assert record.lrs[1:] == pytest.approx(fresh[6:], rel=1e-12)
