"""LeanEpochLoop: the lean per-batch path has exactly the effects of Lightning's own loop."""

from __future__ import annotations

import csv

import pytest
import torch
from lightning.pytorch.callbacks import Callback

from dllab.core.loop import LeanEpochLoop
from dllab.core.testing import BoringDataModule, BoringModel, quick_trainer

# every hook a Lightning callback can implement, per batch or not
CALLBACK_HOOKS = [name for name in vars(Callback) if name.startswith("on_")]


def _snapshot(trainer, module, hook, args):
    """What a hook can observe: its arguments' kind, the counters and the logging context."""
    epoch_loop = trainer.fit_loop.epoch_loop
    progress = epoch_loop.batch_progress.current
    optim = epoch_loop.manual_optimization.optim_step_progress.total
    described = []
    for arg in args:
        if isinstance(arg, torch.Tensor):
            value = arg.detach().sum().item()  # the loss itself must be bit-identical
            described.append(("tensor", tuple(arg.shape), arg.requires_grad, value))
        elif isinstance(arg, torch.optim.Optimizer):
            described.append(("optimizer", type(arg).__name__))
        elif isinstance(arg, dict):
            loss = arg.get("loss")
            grad = getattr(loss, "requires_grad", None)
            described.append(("dict", sorted(arg), grad, None if loss is None else loss.item()))
        else:
            described.append(type(arg).__name__)
    return (
        hook,
        tuple(described),
        module._current_fx_name,
        trainer.global_step,
        (progress.ready, progress.started, progress.processed, progress.completed),
        (optim.ready, optim.completed),
        torch.is_grad_enabled(),
    )


class Recorder(Callback):
    """Records every hook it sees, and logs from one of them."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []


def _make_recording(hook):
    def record(self, trainer, pl_module, *args):
        self.calls.append(_snapshot(trainer, pl_module, hook, args))
        if hook == "on_train_batch_end":
            pl_module.log("callback_metric", float(args[0]["loss"]), on_step=True, on_epoch=True)

    return record


for _hook in CALLBACK_HOOKS:
    setattr(Recorder, _hook, _make_recording(_hook))


class HookedModel(BoringModel):
    """A d2l-style model that also overrides two step hooks (still on the direct step)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple] = []

    def on_before_backward(self, loss):
        self.calls.append(_snapshot(self.trainer, self, "module.on_before_backward", (loss,)))

    def on_train_batch_end(self, outputs, batch, batch_idx):
        self.calls.append(_snapshot(self.trainer, self, "module.on_train_batch_end", (outputs,)))
        self.log("module_metric", outputs["loss"], on_step=False, on_epoch=True)


def _fit(tmp_path, lean: bool, max_epochs: int = 2, **kwargs):
    torch.manual_seed(0)
    model, recorder = HookedModel(), Recorder()
    trainer = quick_trainer(
        tmp_path, max_epochs=max_epochs, lean_loop=lean, callbacks=[recorder],
        log_every_n_steps=3, **kwargs,
    )  # fmt: skip
    trainer.fit(model, BoringDataModule(n=200, batch_size=32))
    return trainer, model, recorder


def _metrics(trainer):
    return list(csv.DictReader((trainer.run_dir / "metrics.csv").open()))


def test_lean_loop_is_installed_and_used_only_when_enabled(tmp_path):
    lean, _, _ = _fit(tmp_path / "lean", lean=True)
    stock, _, _ = _fit(tmp_path / "stock", lean=False)
    assert isinstance(lean.fit_loop.epoch_loop, LeanEpochLoop)
    assert lean.fit_loop.epoch_loop.lean_batches == lean.global_step == 2 * 5  # 160 training rows
    assert stock.fit_loop.epoch_loop.lean_batches == 0
    assert stock.global_step == lean.global_step


@pytest.mark.parametrize(
    ("kwargs", "validations"),
    [
        ({}, 2),
        ({"max_epochs": 3, "check_val_every_n_epoch": 2}, 1),
        ({"val_check_interval": 0.4}, 4),
        ({"max_steps": 7}, 1),
        ({"limit_train_batches": 3}, 2),
    ],
    ids=["every-epoch", "every-2nd-epoch", "twice-per-epoch", "max-steps", "limit-batches"],
)
def test_lean_loop_matches_lightning_hook_for_hook_with_any_validation_schedule(
    tmp_path, kwargs, validations
):
    lean, lean_model, lean_rec = _fit(tmp_path / "lean", lean=True, **kwargs)
    stock, stock_model, stock_rec = _fit(tmp_path / "stock", lean=False, **kwargs)
    assert lean.fit_loop.epoch_loop.lean_batches == lean.global_step
    assert lean_rec.calls == stock_rec.calls
    assert lean_model.calls == stock_model.calls
    train_batch = {"on_train_batch_start", "on_train_batch_end", "on_before_optimizer_step"}
    per_batch = [c[0] for c in lean_rec.calls if c[0] in train_batch or "backward" in c[0]]
    assert len(per_batch) == lean.global_step * 5  # five per-batch hooks, on every batch
    assert [c[0] for c in lean_rec.calls].count("on_validation_start") == validations
    for a, b in zip(lean_model.parameters(), stock_model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert _metrics(lean) == _metrics(stock)  # step and epoch logging, from module and callback
    for key in ("callback_metric_epoch", "module_metric", "train_loss", "val_loss"):
        assert torch.equal(lean.callback_metrics[key], stock.callback_metrics[key]), key


def test_lean_checkpoints_hold_the_same_state_and_resume_on_either_loop(tmp_path):
    lean, _, _ = _fit(tmp_path / "lean", lean=True)
    stock, _, _ = _fit(tmp_path / "stock", lean=False)
    lean_ckpt = torch.load(lean.checkpoint_callback.last_model_path, weights_only=True)
    stock_ckpt = torch.load(stock.checkpoint_callback.last_model_path, weights_only=True)
    assert lean_ckpt["loops"] == stock_ckpt["loops"]
    assert lean_ckpt["global_step"] == stock_ckpt["global_step"] == 10
    for key, value in lean_ckpt["state_dict"].items():
        assert torch.equal(value, stock_ckpt["state_dict"][key]), key
    # a lean checkpoint resumed by Lightning's loop ends where a lean resume ends
    resumed = {}
    for lean_flag in (True, False):
        torch.manual_seed(0)
        model = HookedModel()
        trainer = quick_trainer(tmp_path / f"resume_{lean_flag}", max_epochs=3, lean_loop=lean_flag)
        trainer.fit(
            model, BoringDataModule(n=200, batch_size=32),
            ckpt_path=lean.checkpoint_callback.last_model_path,
        )  # fmt: skip
        assert trainer.global_step == 15
        resumed[lean_flag] = model
    for a, b in zip(resumed[True].parameters(), resumed[False].parameters(), strict=True):
        assert torch.equal(a, b)


class StopsAtBatch(BoringModel):
    def on_train_batch_start(self, batch, batch_idx):
        return -1 if batch_idx == 3 else None


def test_a_batch_start_hook_returning_minus_one_ends_the_epoch_as_in_lightning(tmp_path):
    steps = {}
    for lean in (True, False):
        trainer = quick_trainer(tmp_path / str(lean), max_epochs=2, lean_loop=lean)
        trainer.fit(StopsAtBatch(), BoringDataModule(n=200, batch_size=32))
        steps[lean] = (
            trainer.global_step,
            trainer.fit_loop.epoch_loop.batch_progress.total.completed,
        )
    assert steps[True] == steps[False] == (6, 6)


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"profiler": "simple"}, "a profiler times Lightning's hooks"),
        ({"gradient_clip_val": 1.0}, "clipping needs Lightning's automatic step"),
    ],
)
def test_lightning_path_is_kept_where_the_lean_path_would_differ(tmp_path, kwargs, why):
    trainer = quick_trainer(tmp_path, max_epochs=1, **kwargs)
    trainer.fit(BoringModel(), BoringDataModule(n=64, batch_size=32))
    assert trainer.global_step == 2
    assert trainer.fit_loop.epoch_loop.lean_batches == 0, why


def test_an_unverified_lightning_release_keeps_lightnings_loop(tmp_path, monkeypatch):
    from dllab.core import loop

    assert loop.lightning_release() in loop.VERIFIED_LIGHTNING  # the locked release is verified
    monkeypatch.setattr(loop, "lightning_release", lambda: (9, 0))
    trainer = quick_trainer(tmp_path, max_epochs=1)
    trainer.fit(BoringModel(), BoringDataModule(n=64, batch_size=32))
    assert trainer.global_step == 2 and trainer.fit_loop.epoch_loop.lean_batches == 0


def test_bf16_autocast_runs_lean_and_matches_lightning(tmp_path):
    models = {}
    for lean in (True, False):
        torch.manual_seed(0)
        model = BoringModel()
        trainer = quick_trainer(tmp_path / str(lean), max_epochs=1, lean_loop=lean,
                                precision="bf16-mixed")  # fmt: skip
        trainer.fit(model, BoringDataModule(n=64, batch_size=32))
        assert (trainer.fit_loop.epoch_loop.lean_batches > 0) is lean
        models[lean] = model
    for a, b in zip(models[True].parameters(), models[False].parameters(), strict=True):
        assert torch.equal(a, b)


class StopAtStep(Callback):
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == 7:
            trainer.should_stop = True


def test_a_callback_stopping_mid_epoch_stops_both_loops_at_the_same_step(tmp_path):
    recorded = {}
    for lean in (True, False):
        torch.manual_seed(0)
        recorder = Recorder()
        trainer = quick_trainer(
            tmp_path / str(lean), max_epochs=5, lean_loop=lean, callbacks=[StopAtStep(), recorder]
        )
        trainer.fit(HookedModel(), BoringDataModule(n=200, batch_size=32))
        assert trainer.global_step == 7
        recorded[lean] = recorder.calls
    assert recorded[True] == recorded[False]


class Batches:
    """A loader that is just a fixed list of batches (a list itself means several loaders)."""

    def __init__(self, batches: list) -> None:
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def test_a_none_batch_is_skipped_and_counted_as_in_lightning(tmp_path):
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randn(8, 8, generator=g), torch.randn(8, 1, generator=g)) for _ in range(4)]
    batches.insert(2, None)
    results = {}
    for lean in (True, False):
        torch.manual_seed(0)
        model = BoringModel()
        trainer = quick_trainer(tmp_path / str(lean), max_epochs=1, lean_loop=lean)
        trainer.fit(model, Batches(batches))
        progress = trainer.fit_loop.epoch_loop.batch_progress.total
        assert trainer.fit_loop.epoch_loop.lean_batches == (4 if lean else 0)
        results[lean] = (trainer.global_step, progress.completed, model.net.weight.detach())
    assert results[True][:2] == results[False][:2] == (4, 5)
    assert torch.equal(results[True][2], results[False][2])
