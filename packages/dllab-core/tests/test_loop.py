"""LeanEpochLoop: the lean per-batch path has exactly the effects of Lightning's own loop."""

from __future__ import annotations

import csv

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn

from dllab.core.data.datamodule import TensorDataModule
from dllab.core.loop import LeanEpochLoop
from dllab.core.module import Classifier
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


class LogsOnOneBatch(BoringModel):
    """Logs a step metric on the third batch of each epoch only."""

    def on_train_batch_end(self, outputs, batch, batch_idx):
        if batch_idx == 2:
            self.log("sparse", outputs["loss"], on_step=True, on_epoch=True)


@pytest.mark.parametrize("model_class", [BoringModel, LogsOnOneBatch])
def test_a_fit_that_logs_nothing_per_step_logs_the_same_on_both_loops(tmp_path, model_class):
    # the lean path skips the logger connector's per-batch collection while nothing has been
    # logged since the epoch's reset (every epoch, not only the first)
    runs = {}
    for lean in (True, False):
        torch.manual_seed(0)
        trainer = quick_trainer(tmp_path / str(lean), max_epochs=3, lean_loop=lean,
                                log_every_n_steps=2)  # fmt: skip
        trainer.fit(model_class(), BoringDataModule(n=200, batch_size=32))
        assert trainer.fit_loop.epoch_loop.lean_batches == (15 if lean else 0)
        runs[lean] = trainer
    assert _metrics(runs[True]) == _metrics(runs[False])
    assert any(row["train_loss_step"] for row in _metrics(runs[True]))  # the module's own log
    if model_class is LogsOnOneBatch:  # logged late in each epoch, then repeated per step
        steps = [int(row["step"]) for row in _metrics(runs[True]) if row.get("sparse_step")]
        assert len(steps) > 3 and {step // 5 for step in steps} == {0, 1, 2}, steps
    assert runs[True].logged_metrics.keys() == runs[False].logged_metrics.keys()
    for key, value in runs[False].callback_metrics.items():
        assert torch.equal(runs[True].callback_metrics[key], value), key


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


# ---- the training recipe keeps the direct step, with Lightning's automatic-loop results ----


class RecipeNet(Classifier):
    """A classifier with biases and a norm layer; records each scheduler step it is asked for."""

    def __init__(self, **recipe) -> None:
        super().__init__(num_classes=3, **recipe)
        self.net = nn.Sequential(nn.Linear(8, 16), nn.LayerNorm(16), nn.ReLU(), nn.Linear(16, 3))
        self.calls: list[tuple] = []

    def lr_scheduler_step(self, scheduler, metric):
        self.calls.append(_snapshot(self.trainer, self, "module.lr_scheduler_step", ()))
        super().lr_scheduler_step(scheduler, metric)


class LearningRates(Callback):
    """Every group's learning rate and the optimization mode, after each training batch."""

    def __init__(self) -> None:
        self.seen: list[tuple] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        lrs = tuple(group["lr"] for group in trainer.optimizers[0].param_groups)
        self.seen.append((trainer.global_step, lrs, pl_module.automatic_optimization))


def _recipe_data() -> TensorDataModule:
    g = torch.Generator().manual_seed(0)
    X = torch.randn(96, 8, generator=g)
    y = (X[:, 0] > 0).long() + (X[:, 1] > 0).long()  # 3 classes
    return TensorDataModule((X, y), batch_size=16, val_fraction=0.25)  # 72 rows: 5 batches


def _fit_recipe(tmp_path, kind: str, recipe: dict):
    torch.manual_seed(0)
    model, rates = RecipeNet(**recipe), LearningRates()
    if kind == "plain":  # Lightning alone: automatic optimization, its own loop
        trainer = L.Trainer(
            max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False,
            enable_progress_bar=False, enable_model_summary=False, callbacks=[rates],
            default_root_dir=tmp_path / kind,
        )  # fmt: skip
    else:
        trainer = quick_trainer(
            tmp_path / kind, max_epochs=2, lean_loop=kind == "lean", seed=None, curves=False,
            checkpoint=False, callbacks=[rates],
        )  # fmt: skip
    trainer.fit(model, datamodule=_recipe_data())
    return trainer, model, rates


RECIPES = {
    "onecycle": {"schedule": "onecycle"},
    "cosine-warmup": {"schedule": "cosine", "warmup_steps": 3},
    "no-decay-groups": {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.1,
                        "decay_norm_and_bias": False},
    "label-smoothing": {"label_smoothing": 0.2},
    "nesterov": {"momentum": 0.9, "nesterov": True},
    "all": {"schedule": "cosine", "warmup_fraction": 0.2, "momentum": 0.9, "nesterov": True,
            "weight_decay": 0.01, "decay_norm_and_bias": False, "label_smoothing": 0.1},
}  # fmt: skip


def _but_manual(calls: list[tuple]) -> list[tuple]:
    return [call[:5] + call[6:] for call in calls]  # _snapshot's field 5: manual optimization


@pytest.mark.parametrize("recipe", RECIPES.values(), ids=RECIPES.keys())
def test_each_recipe_gives_lightnings_automatic_results_on_the_direct_step(tmp_path, recipe):
    runs = {kind: _fit_recipe(tmp_path, kind, recipe) for kind in ("lean", "stock", "plain")}
    lean, stock, plain = (runs[kind][0] for kind in ("lean", "stock", "plain"))
    assert lean.fit_loop.epoch_loop.lean_batches == lean.global_step == 10
    assert stock.fit_loop.epoch_loop.lean_batches == 0 and stock.global_step == 10
    assert plain.global_step == 10
    modes = {kind: {mode for *_, mode in rates.seen} for kind, (_, _, rates) in runs.items()}
    assert modes == {"lean": {False}, "stock": {False}, "plain": {True}}  # direct vs automatic
    for model in (runs["lean"][1], runs["stock"][1]):
        assert model.automatic_optimization  # restored after the fit
    assert runs["lean"][1].calls == runs["stock"][1].calls
    reference = runs["plain"]
    for kind in ("lean", "stock"):
        trainer, model, rates = runs[kind]
        assert [s[:2] for s in rates.seen] == [s[:2] for s in reference[2].seen], kind
        # the same lr_scheduler_step calls at the same point (all but the counters of manual
        # optimization, which Lightning's automatic loop does not advance)
        assert _but_manual(model.calls) == _but_manual(reference[1].calls), kind
        for a, b in zip(model.parameters(), reference[1].parameters(), strict=True):
            assert torch.equal(a, b), kind
        if "schedule" in recipe:
            ours, theirs = (t.lr_scheduler_configs[0].scheduler for t in (trainer, plain))
            assert ours.state_dict() == theirs.state_dict(), kind
            progress = (t.fit_loop.epoch_loop.scheduler_progress.total for t in (trainer, plain))
            assert next(progress) == next(progress) and len(model.calls) == 10, kind
    if "schedule" in recipe:  # the schedule really moved the learning rate
        assert len({lrs for _, lrs, _ in reference[2].seen}) == 10
    if not recipe.get("decay_norm_and_bias", True):
        decays = [g["weight_decay"] for g in lean.optimizers[0].param_groups]
        assert decays == [recipe["weight_decay"], 0.0]


class PlateauPerStep(BoringModel):
    """Lightning's own optimization, with a plateau schedule checked after every batch."""

    def training_step(self, batch, batch_idx):
        X, y = batch
        loss = nn.functional.mse_loss(self(X), y)
        self.log("flat", 1.0, on_step=True, on_epoch=False)  # never improves: lr halves
        return loss

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": plateau, "interval": "step", "monitor": "flat"},
        }


def test_a_plateau_schedule_stepped_per_batch_steps_as_under_lightnings_trainer(tmp_path):
    # the epoch loop skips Lightning's per-batch plateau update only when no plateau is there
    fits = {}
    for name in ("dllab", "lightning"):
        torch.manual_seed(0)
        model = PlateauPerStep()
        if name == "dllab":
            trainer = quick_trainer(tmp_path / name, max_epochs=2)
        else:
            trainer = L.Trainer(max_epochs=2, accelerator="cpu", logger=False,
                                enable_checkpointing=False, enable_progress_bar=False,
                                default_root_dir=tmp_path / name)  # fmt: skip
        trainer.fit(model, BoringDataModule(n=200, batch_size=32))
        fits[name] = (trainer.optimizers[0].param_groups[0]["lr"], model)
    (lr, model), (reference_lr, reference) = fits["dllab"], fits["lightning"]
    assert lr == reference_lr < 0.1 * 0.5**5  # halved on most of the 10 steps
    for a, b in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.equal(a, b)
