"""``Module`` and ``Classifier``: d2l's model bases, as LightningModules.

``Module`` keeps Lightning's hook names and signatures, so anything written for Lightning runs
on it and a plain ``lightning.Trainer`` can fit it. What it adds is d2l's shape: a ``loss``
method, an ``lr`` hyperparameter with SGD by default, a built-in training recipe (per-step
one-cycle or warm-up + cosine schedules, no weight decay on norms and biases, Nesterov
momentum; see ``dllab.core.recipe``), and cheap logging (the training loss is summed on-device
and logged once per ``log_every_n_steps`` and once per epoch). ``Classifier`` adds
cross-entropy with label smoothing, accuracy and ``predict``/``predict_proba``/``top_k``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from dllab.core.checks import (
    check_choice,
    check_float,
    check_int,
    check_positive,
    check_probability,
)
from dllab.core.recipe import (
    SCHEDULES,
    forget_run_length,
    make_scheduler,
    param_groups,
    warmup_steps_of,
)

OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


class EpochLoss:
    """The training loss of one epoch, summed on the device (a plain object: cheap to update)."""

    __slots__ = ("count", "logged", "total")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total: Tensor | float = 0.0
        self.count = 0
        self.logged = False

    def add(self, loss: Tensor) -> None:
        self.total = loss + self.total if self.count else loss
        self.count += 1


class Module(L.LightningModule):
    """A LightningModule with d2l's conveniences.

    Subclasses set ``self.net`` (or override ``forward``) and may override ``loss``.
    Batches are ``(*inputs, target)`` tuples. The optimizer and schedule options below are
    built by this class's ``configure_optimizers``, so dllab's Trainer keeps its direct step.

    Args:
        lr: learning rate (the peak of a schedule), must be > 0.
        optimizer: ``"sgd"``, ``"adam"`` or ``"adamw"``.
        weight_decay: weight decay passed to the optimizer, >= 0.
        momentum: SGD momentum in [0, 1) (ignored by Adam-type optimizers).
        nesterov: SGD with Nesterov momentum (needs ``optimizer="sgd"`` and ``momentum > 0``).
        schedule: learning-rate schedule stepped after every optimizer step: ``"none"``,
            ``"onecycle"`` (``OneCycleLR``) or ``"cosine"`` (linear warm-up, cosine decay to 0),
            over the run's ``trainer.estimated_stepping_batches``.
        warmup_steps: steps up to the schedule's peak (``"cosine"``: linear warm-up, 0 by
            default; ``"onecycle"``: 30% of the run by default, also when a ``warmup_fraction``
            rounds to 0 steps in a very short run).
        warmup_fraction: the warm-up as a fraction of the run's steps, in [0, 1); give this or
            ``warmup_steps``, not both.
        decay_norm_and_bias: ``False`` exempts biases and norm-layer parameters (every
            parameter with ``ndim <= 1``) from weight decay, in a second parameter group.
    """

    def __init__(
        self,
        lr: float = 0.1,
        optimizer: str = "sgd",
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        *,
        nesterov: bool = False,
        schedule: str = "none",
        warmup_steps: int = 0,
        warmup_fraction: float = 0.0,
        decay_norm_and_bias: bool = True,
    ) -> None:
        super().__init__()
        check_positive(lr, "lr")
        check_choice(optimizer, "optimizer", OPTIMIZERS)
        check_choice(schedule, "schedule", SCHEDULES)
        self.lr = lr
        self.optimizer_name = optimizer
        self.weight_decay = check_float(weight_decay, "weight_decay", min=0.0)
        self.momentum = check_float(momentum, "momentum", min=0.0, max=1.0, max_open=True)
        if not isinstance(nesterov, bool) or not isinstance(decay_norm_and_bias, bool):
            raise TypeError("nesterov and decay_norm_and_bias must be bools")
        if nesterov and (optimizer != "sgd" or self.momentum == 0.0):
            raise ValueError(
                f"nesterov=True needs optimizer='sgd' and momentum > 0, got "
                f"optimizer={optimizer!r}, momentum={momentum}"
            )
        self.nesterov = nesterov
        self.schedule = schedule
        self.warmup_steps = check_int(warmup_steps, "warmup_steps", min=0)
        self.warmup_fraction = check_float(
            warmup_fraction, "warmup_fraction", min=0.0, max=1.0, max_open=True
        )
        if self.warmup_steps and self.warmup_fraction:
            raise ValueError("give warmup_steps or warmup_fraction, not both")
        if (self.warmup_steps or self.warmup_fraction) and schedule == "none":
            raise ValueError(
                "a warm-up needs a schedule: schedule='onecycle' or 'cosine', got 'none'"
            )
        self.decay_norm_and_bias = decay_norm_and_bias
        self._epoch_loss = EpochLoss()
        self._lean_step: Callable[[Tensor], None] | None = None  # set by LeanEpochLoop

    # ---- the model -----------------------------------------------------------------------
    def forward(self, *inputs: Tensor) -> Tensor:
        net = getattr(self, "net", None)
        if net is None:
            raise NotImplementedError(
                f"{type(self).__name__} must set self.net or override forward"
            )
        return net(*inputs)

    def loss(self, y_hat: Tensor, y: Tensor) -> Tensor:
        """Mean squared error by default; classifiers override it."""
        return F.mse_loss(y_hat, y)

    # ---- Lightning hooks -----------------------------------------------------------------
    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        *inputs, y = batch
        loss = self.loss(self(*inputs), y)
        self._track_train_loss(loss, batch_idx)
        if not self.automatic_optimization and self._lean_step is not None:
            self._lean_step(loss)  # dllab's lean loop: the same step, fewer layers
        elif not self.automatic_optimization:  # dllab's Trainer chose the direct step
            optimizer = self.optimizers()
            optimizer.zero_grad()
            self.manual_backward(loss)
            optimizer.step()
        return loss

    def supports_direct_step(self, trainer: L.Trainer) -> bool:
        """Whether ``training_step`` may step the optimizer itself (manual optimization).

        True for d2l-style subclasses that keep this class's ``training_step``,
        ``configure_optimizers`` (its whole recipe included) and Lightning's ``optimizer_step``
        and ``optimizer_zero_grad``, when the trainer asks for no gradient clipping or
        accumulation and its epoch loop steps a direct-step module's schedulers where
        Lightning's automatic loop would (dllab's ``LeanEpochLoop``). The step is the same as
        Lightning's automatic one (zero_grad, backward, step, scheduler step, with every
        hook), minus the closure machinery around it.
        """
        cls = type(self)
        return (
            cls.training_step is Module.training_step
            and cls.configure_optimizers is Module.configure_optimizers
            and cls.optimizer_step is L.LightningModule.optimizer_step
            and cls.optimizer_zero_grad is L.LightningModule.optimizer_zero_grad
            and trainer.gradient_clip_val is None
            and trainer.accumulate_grad_batches == 1
            and getattr(trainer.fit_loop.epoch_loop, "runs_direct_step", False)
        )

    def validation_step(self, batch: Any, batch_idx: int) -> Tensor:
        *inputs, y = batch
        loss = self.loss(self(*inputs), y)
        self.log("val_loss", loss, prog_bar=True, batch_size=len(y), sync_dist=True)
        return loss

    def test_step(self, batch: Any, batch_idx: int) -> Tensor:
        *inputs, y = batch
        loss = self.loss(self(*inputs), y)
        self.log("test_loss", loss, batch_size=len(y), sync_dist=True)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer | dict[str, Any]:
        """The optimizer, with its per-step schedule in Lightning's dict form if there is one.

        Returns:
            The optimizer for ``schedule="none"``; else ``{"optimizer": ..., "lr_scheduler":
            {"scheduler": ..., "interval": "step"}}``.
        """
        groups = param_groups(self, self.weight_decay, self.decay_norm_and_bias)
        kwargs: dict[str, Any] = {"lr": self.lr, "weight_decay": self.weight_decay}
        if self.optimizer_name == "sgd":
            kwargs.update(momentum=self.momentum, nesterov=self.nesterov)
        optimizer = OPTIMIZERS[self.optimizer_name](groups, **kwargs)
        if self.schedule == "none":
            return optimizer
        total = self._total_steps()
        warmup = warmup_steps_of(total, self.warmup_steps, self.warmup_fraction)
        scheduler = make_scheduler(self.schedule, optimizer, total, warmup)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """A run resumed with more epochs keeps the schedule built for its new length (see
        ``dllab.core.recipe.forget_run_length``); Lightning restores the step count."""
        for state in checkpoint.get("lr_schedulers") or []:
            forget_run_length(state)

    def _total_steps(self) -> int:
        trainer = self._trainer
        if trainer is None:
            raise RuntimeError(
                f"schedule={self.schedule!r} needs the run's length: configure_optimizers "
                "must run inside a Trainer's fit"
            )
        total = trainer.estimated_stepping_batches
        if not math.isfinite(total) or total < 1:
            raise ValueError(
                f"schedule={self.schedule!r} needs a finite run, got {total} steps: "
                "set max_epochs or max_steps"
            )
        return int(total)

    # ---- cheap logging -------------------------------------------------------------------
    def _track_train_loss(self, loss: Tensor, batch_idx: int) -> None:
        """Sum the loss on-device; log it every ``log_every_n_steps`` and at epoch end."""
        detached = loss.detach()
        self._epoch_loss.add(detached)
        trainer = self._trainer
        if trainer is None:
            return
        if trainer.logger is not None and (batch_idx + 1) % trainer.log_every_n_steps == 0:
            trainer.logger.log_metrics(
                {"train_loss_step": float(detached)}, step=trainer.global_step
            )
        if batch_idx + 1 == trainer.num_training_batches:
            self._log_epoch_loss()  # at the last batch, so epoch-end callbacks already see it

    def _log_epoch_loss(self) -> None:
        tracked = self._epoch_loss
        if tracked.count and not tracked.logged:
            mean = tracked.total / tracked.count
            self.log("train_loss", mean, prog_bar=True, on_step=False, on_epoch=True)
            tracked.logged = True

    def on_train_epoch_start(self) -> None:
        self._epoch_loss.reset()

    def on_train_epoch_end(self) -> None:
        self._log_epoch_loss()  # loaders without a length


class Classifier(Module):
    """A ``Module`` for classification: cross-entropy, accuracy and predictions.

    Accuracy comes from torchmetrics; validation logs ``val_loss`` and ``val_acc`` per epoch.

    Args:
        num_classes: number of classes, used to check labels and ``top_k``'s ``k``; ``None``
            skips those checks.
        label_smoothing: in [0, 1), passed to ``F.cross_entropy``: the target puts
            ``1 - label_smoothing`` on the label and spreads the rest evenly. It is part of
            ``loss``, so ``train_loss`` and ``val_loss`` both include it; accuracy does not.
        **module_kwargs: ``Module``'s options (``lr``, ``optimizer``, ``schedule``, ...).
    """

    def __init__(
        self, num_classes: int | None = None, label_smoothing: float = 0.0, **module_kwargs: Any
    ) -> None:
        super().__init__(**module_kwargs)
        import torchmetrics

        if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 2):
            raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
        self.num_classes = num_classes
        self.label_smoothing = check_probability(label_smoothing, "label_smoothing")
        task = "multiclass"
        n = num_classes or 2
        self.val_acc = torchmetrics.Accuracy(task=task, num_classes=n)
        self.test_acc = torchmetrics.Accuracy(task=task, num_classes=n)

    def loss(self, y_hat: Tensor, y: Tensor) -> Tensor:
        """Cross-entropy of logits ``(*labels.shape, C)``, with ``label_smoothing``."""
        self._check_targets(y_hat, y)
        return F.cross_entropy(
            y_hat.reshape(-1, y_hat.shape[-1]),
            y.reshape(-1),
            label_smoothing=self.label_smoothing,
        )

    def _check_targets(self, y_hat: Tensor, y: Tensor) -> None:
        if y.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
            raise TypeError(f"class labels must be an integer tensor, got {y.dtype}")
        if y_hat.shape[:-1] != y.shape:
            raise ValueError(
                f"logits {tuple(y_hat.shape)} do not match labels {tuple(y.shape)}: "
                "expected logits of shape (*labels.shape, num_classes)"
            )
        classes = y_hat.shape[-1]
        if not self.training or self.global_step == 0:  # a full check costs a sync; do it rarely
            lo, hi = int(y.min()), int(y.max())
            if lo < 0 or hi >= classes:
                raise ValueError(f"labels must lie in [0, {classes - 1}], found [{lo}, {hi}]")

    def validation_step(self, batch: Any, batch_idx: int) -> Tensor:
        *inputs, y = batch
        y_hat = self(*inputs)
        loss = self.loss(y_hat, y)
        self.val_acc(y_hat.reshape(-1, y_hat.shape[-1]), y.reshape(-1))
        self.log("val_loss", loss, prog_bar=True, batch_size=len(y), sync_dist=True)
        self.log("val_acc", self.val_acc, prog_bar=True)
        return loss

    def test_step(self, batch: Any, batch_idx: int) -> Tensor:
        *inputs, y = batch
        y_hat = self(*inputs)
        loss = self.loss(y_hat, y)
        self.test_acc(y_hat.reshape(-1, y_hat.shape[-1]), y.reshape(-1))
        self.log("test_loss", loss, batch_size=len(y), sync_dist=True)
        self.log("test_acc", self.test_acc)
        return loss

    @torch.no_grad()
    def _eval_logits(self, *inputs: Tensor) -> Tensor:
        """The logits of ``inputs`` in eval mode, without gradients; the mode is restored."""
        was_training = self.training
        self.eval()
        try:
            return self(*inputs)
        finally:
            self.train(was_training)

    def predict(self, *inputs: Tensor) -> Tensor:
        """The predicted class of each input (argmax of the logits; eval mode, no gradients)."""
        return self._eval_logits(*inputs).argmax(dim=-1)

    def predict_proba(self, *inputs: Tensor) -> Tensor:
        """Class probabilities ``(*batch, C)``: the softmax of the logits (eval mode)."""
        return self._eval_logits(*inputs).softmax(dim=-1)

    def top_k(self, *inputs: Tensor, k: int = 5) -> tuple[Tensor, Tensor]:
        """The ``k`` most probable classes of each input, most probable first.

        Args:
            *inputs: the model's inputs.
            k: how many classes, in ``1..num_classes``.

        Returns:
            ``(probabilities, indices)``, each of shape ``(*batch, k)``.
        """
        check_int(k, "k", min=1, max=self.num_classes)
        probs = self.predict_proba(*inputs)
        classes = probs.shape[-1]
        if k > classes:
            raise ValueError(f"k must be <= {classes} (the number of classes), got {k}")
        values, indices = probs.topk(k, dim=-1)
        return values, indices

    def predict_step(self, batch: Any, batch_idx: int) -> Tensor:
        inputs = batch[:-1] if isinstance(batch, list | tuple) and len(batch) > 1 else batch
        if isinstance(inputs, Tensor):
            inputs = (inputs,)
        return self(*inputs).argmax(dim=-1)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
