"""``LeanEpochLoop``: Lightning's training epoch loop with a lean path for the direct step.

Lightning runs each training batch through generic machinery: every hook of every callback is
called (most are empty) inside a profiler context, the optimizer step goes through a closure
and the precision plugin, and the step signature is re-inspected. That costs about 0.7 ms a
batch, as much as the whole forward and backward pass of a small MLP.

When dllab's Trainer has put a ``Module`` on the direct step (see
``Module.supports_direct_step``) on one device with plain or autocast precision and no
profiler, this loop runs each batch itself, with the same effects in the same order:

- the batch goes through the same fetcher, precision and device-transfer path;
- ``on_train_batch_start``, ``on_before_backward``, ``on_after_backward``,
  ``on_before_optimizer_step`` and ``on_train_batch_end`` fire for every callback and for the
  module, in Lightning's order and with Lightning's arguments, but only where one is
  overridden (the base versions do nothing);
- the batch and optimizer progress counters advance exactly as Lightning's, so logging,
  ``global_step``, checkpoints and resuming are unchanged;
- learning-rate schedulers step after the optimizer step and before ``on_train_batch_end``,
  through the module's ``lr_scheduler_step`` hook and the scheduler progress counters, where
  Lightning's automatic loop steps them.

Lightning leaves a manual-optimization module's schedulers to the module. A direct-step module
takes automatic optimization's step by itself, so on either path this loop steps its
schedulers as the automatic loop would (``runs_direct_step``, which
``Module.supports_direct_step`` asks for).

Anything else (restarting mid-epoch, ``dataloader_iter`` steps, several devices, a gradient
scaler, a profiler) takes Lightning's own path. ``Trainer(lean_loop=False)`` always does, and
so does any Lightning release other than the ones the parity tests have verified
(``VERIFIED_LIGHTNING``): the lean path mirrors Lightning internals that may change.

On either path the loop also remakes the first epoch's loader iterator after ``EpochSeed`` has
reseeded, as Lightning does for every later epoch, so an epoch's shuffle order and worker
seeds depend only on ``(seed, epoch)`` and a resumed run replays them.

This module imports Lightning's private loop classes; dllab's Trainer imports it only to
install the loop, and keeps Lightning's loop (and automatic optimization) if that fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import lightning as L
import torch
from lightning.fabric.utilities.apply_func import move_data_to_device
from lightning.fabric.utilities.types import _Stateful
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loops.fetchers import _PrefetchDataFetcher
from lightning.pytorch.loops.optimization.manual import ManualResult
from lightning.pytorch.loops.training_epoch_loop import _TrainingEpochLoop
from lightning.pytorch.plugins.precision import MixedPrecision, Precision
from lightning.pytorch.profilers import PassThroughProfiler
from lightning.pytorch.strategies import SingleDeviceStrategy
from lightning.pytorch.utilities.model_helpers import is_overridden
from torch import Tensor

from dllab.core.callbacks import EpochSeed
from dllab.core.module import Module

if TYPE_CHECKING:
    from torch.optim import Optimizer

VERIFIED_LIGHTNING = {(2, 6)}  # (major, minor) releases whose per-batch semantics are mirrored


def lightning_release() -> tuple[int, int]:
    """The installed Lightning's ``(major, minor)``."""
    major, minor = L.__version__.split(".")[:2]
    return int(major), int(minor)


STEP_HOOKS = (
    "on_train_batch_start",
    "on_before_backward",
    "on_after_backward",
    "on_before_optimizer_step",
    "on_train_batch_end",
)


TRANSFER_HOOKS = ("on_before_batch_transfer", "transfer_batch_to_device", "on_after_batch_transfer")


def to_device(batch: Any, device: torch.device) -> Any:
    """Lightning's ``move_data_to_device``, with a fast path for a tuple or list of tensors."""
    if type(batch) in (tuple, list) and all(type(t) is Tensor for t in batch):
        non_blocking = device.type not in ("cpu", "mps")  # as Lightning: blocking to CPU/MPS
        return type(batch)(t.to(device, non_blocking=non_blocking) for t in batch)
    return move_data_to_device(batch, device)


class StepHooks:
    """The per-batch hooks that some callback or the module overrides, called Lightning's way.

    Callbacks come first, then the module; while a hook runs, the module's
    ``_current_fx_name`` names it, so ``self.log`` inside it behaves as under Lightning.
    """

    def __init__(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.trainer, self.module = trainer, module
        self.table: dict[str, tuple[list[Callable[..., Any]], Callable[..., Any] | None]] = {}
        for name in STEP_HOOKS:
            base = getattr(Callback, name)
            callbacks = [
                getattr(cb, name) for cb in trainer.callbacks if getattr(type(cb), name) is not base
            ]
            own = getattr(module, name) if is_overridden(name, module) else None
            self.table[name] = (callbacks, own)

    def __call__(self, name: str, *args: Any) -> Any:
        callbacks, own = self.table[name]
        if not callbacks and own is None:
            return None
        module, trainer = self.module, self.trainer
        previous = module._current_fx_name
        set_fx = object.__setattr__  # a plain str attribute: skip nn.Module's slow __setattr__
        set_fx(module, "_current_fx_name", name)
        try:
            for fn in callbacks:
                fn(trainer, module, *args)
            return own(*args) if own is not None else None
        finally:
            set_fx(module, "_current_fx_name", previous)


class LeanEpochLoop(_TrainingEpochLoop):
    """Lightning's ``_TrainingEpochLoop`` with a lean per-batch path (see the module docstring)."""

    runs_direct_step: ClassVar[bool] = True  # steps a direct-step module's schedulers

    def __init__(self, trainer: L.Trainer, min_steps: int | None = None, max_steps: int = -1):
        super().__init__(trainer, min_steps=min_steps, max_steps=max_steps)
        self.enabled = True
        self.lean_batches = 0  # batches run on the lean path, for tests and diagnostics
        self._hooks: StepHooks | None = None
        self._lean = False
        self._val_epoch: tuple[int, bool] = (-1, False)
        self._direct = False  # the module takes the direct step in this epoch
        self._schedulers = False

    @property
    def global_step(self) -> int:
        """Optimizer steps taken: automatic optimization's plus the direct step's.

        Lightning counts only the mode the module is in now, and dllab's Trainer puts a module
        back on automatic optimization after a direct-step fit; in any one fit only one of the
        two counters advances, so the sum is Lightning's count during the fit and after it.
        """
        automatic = self.automatic_optimization.optim_progress.optimizer_steps
        return automatic + self.manual_optimization.optim_step_progress.total.completed

    def on_run_start(self, data_fetcher: Any) -> None:
        trainer = self.trainer
        lightning_iterates = trainer.current_epoch > 0 and not trainer.fit_loop.is_resuming
        super().on_run_start(data_fetcher)
        if not lightning_iterates and self._reseeded_epoch_start(data_fetcher):
            # Lightning made the first epoch's iterator before on_train_epoch_start; remake it
            # after EpochSeed, as for every later epoch, so that the shuffle order and worker
            # seeds of an epoch depend only on (seed, epoch), also in a resumed run
            iter(data_fetcher)
        module = trainer.lightning_module
        self._hooks = StepHooks(trainer, module)
        self._direct = (
            isinstance(module, Module)
            and not module.automatic_optimization
            and module.supports_direct_step(trainer)
        )
        self._schedulers = bool(trainer.lr_scheduler_configs)
        self._lean = self.enabled and self._lean_possible(data_fetcher)
        owners = [trainer.lightning_module, trainer.datamodule]
        self._plain_transfer = not any(
            owner is not None and is_overridden(name, owner)
            for owner in owners
            for name in TRANSFER_HOOKS
        )
        precision = trainer.precision_plugin
        self._step_context = None if type(precision) is Precision else precision.train_step_context
        self._val_epoch = (trainer.current_epoch, super()._should_check_val_epoch())

    def _reseeded_epoch_start(self, data_fetcher: Any) -> bool:
        """Whether this epoch starts afresh after EpochSeed, on loaders that hold no state."""
        return (
            any(isinstance(cb, EpochSeed) for cb in self.trainer.callbacks)
            and not self.restarting
            and self.batch_progress.current.ready == 0
            and not any(isinstance(dl, _Stateful) for dl in data_fetcher.combined_loader.flattened)
        )

    def _should_check_val_epoch(self) -> bool:
        # Lightning asks this after every batch; it depends only on the epoch and on settings
        # fixed during a fit, so the lean path answers it once per epoch
        epoch, answer = self._val_epoch
        if self._lean and epoch == self.trainer.current_epoch:
            return answer
        return super()._should_check_val_epoch()

    def _lean_possible(self, data_fetcher: Any) -> bool:
        trainer = self.trainer
        module = trainer.lightning_module
        precision = trainer.precision_plugin
        return (
            lightning_release() in VERIFIED_LIGHTNING
            and isinstance(module, Module)
            and not module.automatic_optimization
            and module.supports_direct_step(trainer)
            and len(trainer.optimizers) == 1
            and type(data_fetcher) is _PrefetchDataFetcher
            and type(trainer.strategy) is SingleDeviceStrategy
            and isinstance(trainer.profiler, PassThroughProfiler)
            and (
                type(precision) is Precision
                or (type(precision) is MixedPrecision and precision.scaler is None)
            )
        )

    def advance(self, data_fetcher: Any) -> None:
        if not self._lean or self.restarting:
            super().advance(data_fetcher)
            return
        if self.val_loop._restarting:  # the setter walks the loop's attributes: only if set
            self.val_loop.restarting = False
        trainer = self.trainer
        module = trainer.lightning_module
        hooks = self._hooks
        assert hooks is not None
        progress = self.batch_progress

        batch, _, __ = next(data_fetcher)
        batch_idx = self.batch_idx + 1
        progress.is_last_batch = data_fetcher.done
        batch = trainer.precision_plugin.convert_input(batch)
        if self._plain_transfer:  # no transfer hook is overridden
            batch = to_device(batch, trainer.strategy.root_device)
        else:
            batch = module._on_before_batch_transfer(batch, dataloader_idx=0)
            batch = trainer.strategy.batch_to_device(batch, dataloader_idx=0)
        progress.increment_ready()
        self._results_batch_start(batch)
        if batch is None:  # Lightning's rule: skip the step, still count the batch
            self._warning_cache.warn(
                "train_dataloader yielded None. If this was on purpose, ignore."
            )
            progress.increment_processed()
            self._step_schedulers()
            self._finish_batch(hooks, None, batch, batch_idx)
            return
        if hooks("on_train_batch_start", batch, batch_idx) == -1:
            progress.increment_by(0, is_last_batch=True)
            progress.increment_processed()
            self._step_schedulers()
            raise StopIteration
        progress.increment_started()

        previous = module._current_fx_name
        object.__setattr__(module, "_current_fx_name", "training_step")
        object.__setattr__(module, "_lean_step", self.backward_and_step)
        try:
            if self._step_context is None:  # plain precision: its context does nothing
                output = module.training_step(batch, batch_idx)
            else:
                with self._step_context():
                    output = module.training_step(batch, batch_idx)
        finally:
            object.__setattr__(module, "_lean_step", None)
            object.__setattr__(module, "_current_fx_name", previous)
        if isinstance(output, Tensor):  # what ManualResult makes of a loss tensor
            batch_output: Any = {"loss": output.detach()}
        else:
            batch_output = ManualResult.from_training_step_output(output).asdict()
        progress.increment_processed()
        self._step_schedulers()
        self.lean_batches += 1
        self._finish_batch(hooks, batch_output, batch, batch_idx)

    def _step_schedulers(self) -> None:
        """Lightning's per-batch scheduler update, at the same point of the batch."""
        if not self._schedulers:
            return
        if self._lean:
            self._step_lean_schedulers()
        else:
            self.update_lr_schedulers("step", update_plateau_schedulers=False)
        if self._num_ready_batches_reached():
            self.update_lr_schedulers("epoch", update_plateau_schedulers=False)

    def _step_lean_schedulers(self) -> None:
        """``update_lr_schedulers("step", update_plateau_schedulers=False)``, called directly.

        The same ``lr_scheduler_step`` hook and progress counters as Lightning's
        ``_update_learning_rates``, without the automatic-optimization switch and the profiler
        wrapper around the hook (the lean path runs only without a profiler and with no
        gradient accumulation).
        """
        module = self.trainer.lightning_module
        index = self.batch_idx + 1
        progress = self.scheduler_progress
        previous = module._current_fx_name
        object.__setattr__(module, "_current_fx_name", "lr_scheduler_step")
        try:
            for config in self.trainer.lr_scheduler_configs:
                if config.reduce_on_plateau or config.interval != "step":
                    continue
                if index % config.frequency == 0:
                    progress.increment_ready()
                    module.lr_scheduler_step(config.scheduler, None)
                    progress.increment_completed()
        finally:
            object.__setattr__(module, "_current_fx_name", previous)

    def update_lr_schedulers(self, interval: str, update_plateau_schedulers: bool) -> None:
        """Lightning's update, skipped outright when it would step no scheduler.

        Lightning asks after every batch for the plateau schedulers only (and for the others
        only where they are due); with none in the fit that call steps nothing, yet costs a
        pass through the accumulation checks and, for a direct-step module, a switch to
        automatic optimization and back.
        """
        configs = self.trainer.lr_scheduler_configs
        if not configs:
            return
        if update_plateau_schedulers and not any(c.reduce_on_plateau for c in configs):
            return  # Lightning's update skips every non-plateau scheduler on this call
        super().update_lr_schedulers(interval, update_plateau_schedulers)

    def _update_learning_rates(self, interval: str, update_plateau_schedulers: bool) -> None:
        module = self.trainer.lightning_module
        if not self._direct or module.automatic_optimization:
            super()._update_learning_rates(interval, update_plateau_schedulers)
            return
        # Lightning skips this under manual optimization; the direct step is automatic
        # optimization's step, so its schedulers step as under the automatic loop
        module.automatic_optimization = True
        try:
            super()._update_learning_rates(interval, update_plateau_schedulers)
        finally:
            module.automatic_optimization = False

    def _results_batch_start(self, batch: Any) -> None:
        """The logger connector's ``on_batch_start(batch)``, on this loop's own results.

        Lightning reaches the same collection through ``trainer._results``, which asks the
        trainer's state several times a batch.
        """
        connector = self.trainer._logger_connector
        connector._first_loop_iter = connector._first_loop_iter is None
        results = self._results
        results.batch, results.batch_size, results.dataloader_idx = batch, None, None

    def _finish_batch(self, hooks: StepHooks, output: Any, batch: Any, batch_idx: int) -> None:
        trainer = self.trainer
        hooks("on_train_batch_end", output, batch, batch_idx)
        connector, results = trainer._logger_connector, self._results
        if trainer.fast_dev_run or any(not item.has_reset for item in results.values()):
            connector.on_batch_end()  # something was logged this epoch: Lightning's updates
            self.batch_progress.increment_completed()
            connector.update_train_step_metrics()
            return
        # nothing logged since the results were last reset (every epoch start): the metrics
        # Lightning would collect and send to the loggers are empty (its ``valid_items`` skips
        # reset entries), so only the batch reference is dropped
        results.batch, results.batch_size = None, None
        self.batch_progress.increment_completed()

    def backward_and_step(self, loss: Tensor) -> None:
        """``zero_grad``, backward and one optimizer step, with Lightning's hooks and counters."""
        trainer, hooks = self.trainer, self._hooks
        assert hooks is not None
        module = trainer.lightning_module
        optimizer: Optimizer = trainer.optimizers[0]
        step_progress = self.manual_optimization.optim_step_progress
        optimizer.zero_grad()
        hooks("on_before_backward", loss)
        module.backward(loss)
        hooks("on_after_backward")
        step_progress.increment_ready()
        hooks("on_before_optimizer_step", optimizer)
        optimizer.step()
        step_progress.increment_completed()
