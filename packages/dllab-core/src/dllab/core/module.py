"""``Module`` and ``Classifier``: d2l's model bases, as LightningModules.

``Module`` keeps Lightning's hook names and signatures, so anything written for Lightning runs
on it and a plain ``lightning.Trainer`` can fit it. What it adds is d2l's shape: a ``loss``
method, an ``lr`` hyperparameter with SGD by default, and cheap logging (the training loss is
summed on-device and logged once per ``log_every_n_steps`` and once per epoch).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn
from torch.nn import functional as F

OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


def check_lr(lr: float) -> float:
    """Return ``lr`` or raise ``ValueError`` if it is not a finite positive number."""
    if isinstance(lr, bool) or not isinstance(lr, int | float):
        raise TypeError(f"lr must be a number, got {type(lr).__name__}")
    if not (lr > 0 and lr < float("inf")):
        raise ValueError(f"lr must be > 0, got {lr}")
    return float(lr)


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
    Batches are ``(*inputs, target)`` tuples.

    Args:
        lr: learning rate, must be > 0.
        optimizer: ``"sgd"``, ``"adam"`` or ``"adamw"``.
        weight_decay: L2 penalty passed to the optimizer.
        momentum: SGD momentum (ignored by Adam-type optimizers).
    """

    def __init__(
        self,
        lr: float = 0.1,
        optimizer: str = "sgd",
        weight_decay: float = 0.0,
        momentum: float = 0.0,
    ) -> None:
        super().__init__()
        check_lr(lr)
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        self.lr = lr
        self.optimizer_name = optimizer
        self.weight_decay = weight_decay
        self.momentum = momentum
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

        True for d2l-style subclasses that keep this class's ``training_step`` and
        ``configure_optimizers`` when the trainer asks for no gradient clipping or
        accumulation. The step is the same as Lightning's automatic one (zero_grad,
        backward, step, with every hook), minus the closure machinery around it.
        """
        cls = type(self)
        return (
            cls.training_step is Module.training_step
            and cls.configure_optimizers is Module.configure_optimizers
            and trainer.gradient_clip_val is None
            and trainer.accumulate_grad_batches == 1
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

    def configure_optimizers(self) -> torch.optim.Optimizer:
        kwargs: dict[str, Any] = {"lr": self.lr, "weight_decay": self.weight_decay}
        if self.optimizer_name == "sgd":
            kwargs["momentum"] = self.momentum
        return OPTIMIZERS[self.optimizer_name](self.parameters(), **kwargs)

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
    """A ``Module`` for classification: cross-entropy, accuracy and ``predict``.

    Accuracy comes from torchmetrics; validation logs ``val_loss`` and ``val_acc`` per epoch.
    ``num_classes`` is used to check labels; ``None`` skips that check.
    """

    def __init__(self, num_classes: int | None = None, **module_kwargs: Any) -> None:
        super().__init__(**module_kwargs)
        import torchmetrics

        if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 2):
            raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
        self.num_classes = num_classes
        task = "multiclass"
        n = num_classes or 2
        self.val_acc = torchmetrics.Accuracy(task=task, num_classes=n)
        self.test_acc = torchmetrics.Accuracy(task=task, num_classes=n)

    def loss(self, y_hat: Tensor, y: Tensor) -> Tensor:
        self._check_targets(y_hat, y)
        return F.cross_entropy(y_hat.reshape(-1, y_hat.shape[-1]), y.reshape(-1))

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
    def predict(self, *inputs: Tensor) -> Tensor:
        """Return the predicted class of each input (eval mode, no gradients)."""
        was_training = self.training
        self.eval()
        try:
            return self(*inputs).argmax(dim=-1)
        finally:
            self.train(was_training)

    def predict_step(self, batch: Any, batch_idx: int) -> Tensor:
        inputs = batch[:-1] if isinstance(batch, list | tuple) and len(batch) > 1 else batch
        if isinstance(inputs, Tensor):
            inputs = (inputs,)
        return self(*inputs).argmax(dim=-1)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
