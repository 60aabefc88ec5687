"""Lightning callbacks behind dllab's Trainer defaults.

- ``NonFiniteLossGuard`` stops training on a NaN/inf loss, before the bad update is applied,
  and, given a ``DivergenceGuard``, on a diverging loss or non-finite parameters.
- ``EpochSeed`` reseeds every RNG at each epoch start, so a resumed run replays exactly.
- ``Curves`` draws training and validation curves to ``curves.png`` (d2l's ProgressBoard).
- ``RunSummary`` writes the final metrics to ``summary.json``.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from torch import Tensor

from dllab.core.divergence import DivergenceError, DivergenceGuard
from dllab.core.run_checkpoint import parameters_finite
from dllab.core.runs import write_summary


class NonFiniteLossError(RuntimeError):
    """Raised when the training loss becomes NaN or infinite."""


class NonFiniteLossGuard(Callback):
    """Stop training on a NaN/inf loss and, with ``divergence``, on a diverging run.

    The loss is read once per step (one float) in ``on_before_backward``, so the optimizer
    never applies a bad step and ``last.ckpt`` still holds the last good epoch. The same float
    feeds the ``DivergenceGuard``; its parameter check runs at each epoch end (before that
    epoch's checkpoint) and every ``every_n_steps`` steps if set. Errors name the epoch, the
    global step and the last good checkpoint.

    Args:
        divergence: the divergence check (its settings and state); ``None`` disables it.
    """

    def __init__(self, divergence: DivergenceGuard | None = None) -> None:
        self.divergence = divergence

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.divergence is not None:
            self.divergence.reset()

    def on_before_backward(
        self, trainer: L.Trainer, pl_module: L.LightningModule, loss: Tensor
    ) -> None:
        value = float(loss.detach())
        if not math.isfinite(value):
            raise NonFiniteLossError(
                f"training loss is {value} at epoch {trainer.current_epoch}, "
                f"global step {trainer.global_step}: lower the learning rate or check the inputs"
                f"; last good checkpoint: {last_good_checkpoint(trainer)}"
            )
        if self.divergence is not None and (reason := self.divergence.update(value)):
            raise DivergenceError(
                f"training diverged at epoch {trainer.current_epoch}, global step "
                f"{trainer.global_step}: {reason}; lower the learning rate. Last good "
                f"checkpoint: {last_good_checkpoint(trainer)}"
            )

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any
    ) -> None:
        every = self.divergence.every_n_steps if self.divergence is not None else None
        if every and trainer.global_step % every == 0:
            self._check_parameters(trainer, pl_module)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking and trainer.state.fn == "fit":
            self._check_parameters(trainer, pl_module)  # before this epoch's checkpoint

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check_parameters(trainer, pl_module)

    def _check_parameters(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.divergence is None or not self.divergence.check_parameters:
            return
        if not parameters_finite(pl_module):
            bad = [n for n, p in pl_module.named_parameters() if not p.isfinite().all()]
            raise DivergenceError(
                f"parameters {bad[:5]} are no longer finite at epoch {trainer.current_epoch}, "
                f"global step {trainer.global_step}: training diverged; lower the learning "
                f"rate. Last good checkpoint: {last_good_checkpoint(trainer)}"
            )


def last_good_checkpoint(trainer: L.Trainer) -> str:
    """The checkpoint a failed run should be resumed from, as a sentence fragment."""
    callback = trainer.checkpoint_callback
    saved = getattr(callback, "last_model_path", "") or getattr(callback, "best_model_path", "")
    if saved:
        return str(saved)
    if trainer.ckpt_path:
        return f"{trainer.ckpt_path} (the one this run resumed from)"
    return "none (no checkpoint was saved yet)"


class EpochSeed(Callback):
    """Seed python, numpy and torch with ``seed + epoch`` at each training epoch start.

    Randomness inside an epoch (dropout, augmentation) then depends only on the seed and the
    epoch number, so resuming from an epoch-end checkpoint reproduces the uninterrupted run.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        L.seed_everything(self.seed + trainer.current_epoch, workers=True, verbose=False)


def _scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in metrics.items():
        if (isinstance(value, Tensor) and value.numel() == 1) or isinstance(value, int | float):
            out[key] = float(value)
    return out


class Curves(Callback):
    """Draw per-epoch metric curves to ``<run>/curves.png``, like d2l's ProgressBoard.

    Losses go on the left axes and everything else (accuracy, perplexity...) on the right.
    Drawing costs a fraction of a second, so an epoch-end redraw is skipped when it would
    push plotting over ``max_overhead`` of the elapsed training time; the final curves are
    always drawn when fitting ends (also after an interruption).
    """

    def __init__(self, filename: str = "curves.png", max_overhead: float = 0.03) -> None:
        self.filename = filename
        self.max_overhead = max_overhead
        self.history: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self._start = 0.0
        self._plot_seconds = 0.0
        self._next_cost = 0.3  # seconds one drawing is expected to take, until measured
        self.path: Path | None = None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.perf_counter()
        # without a logger there is no run folder: keep the history, write nothing
        self.path = Path(trainer.log_dir) / self.filename if trainer.logger else None

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        epoch = trainer.current_epoch + 1
        for key, value in _scalar_metrics(trainer.callback_metrics).items():
            if key.endswith("_step"):
                continue
            series = self.history[key.removesuffix("_epoch")]
            if series and series[-1][0] == epoch:
                series[-1] = (epoch, value)
            else:
                series.append((epoch, value))
        last_epoch = epoch >= (trainer.max_epochs or epoch) or trainer.should_stop
        if last_epoch:
            return  # drawn once in on_fit_end
        elapsed = time.perf_counter() - self._start
        if self._plot_seconds + self._next_cost <= self.max_overhead * elapsed:
            self.draw()

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero and self.history:
            self.draw()

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        self.on_fit_end(trainer, pl_module)

    def draw(self) -> Path | None:
        """Render the collected history now; returns the PNG path."""
        if self.path is None or not self.history:
            return None
        tic = time.perf_counter()
        plot_history(self.history, self.path)
        self._next_cost = time.perf_counter() - tic
        self._plot_seconds += self._next_cost
        return self.path


def plot_history(history: dict[str, list[tuple[int, float]]], path: Path) -> Path:
    """Plot ``{metric: [(epoch, value), ...]}``: losses left, other metrics right."""
    from dllab.core.plotting import new_figure, save_figure

    fig, ax = new_figure(figsize=(5.5, 3.5))
    right = None
    styles = {"train": "-", "val": "--", "test": ":"}
    for key, points in sorted(history.items()):
        xs, ys = zip(*points, strict=True)
        style = styles.get(key.split("_", 1)[0], "-.")
        if "loss" in key:
            ax.plot(xs, ys, style, marker="o", markersize=3, label=key)
        else:
            right = right or ax.twinx()
            right.plot(xs, ys, style, marker="s", markersize=3, color="tab:green", label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    handles, labels = ax.get_legend_handles_labels()
    if right is not None:
        right.set_ylabel("metric")
        more = right.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    ax.legend(handles, labels, loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


class RunSummary(Callback):
    """Collect the final scalar metrics at fit end and write them to ``summary.json``.

    The summary is computed on every rank (``trainer.log_dir`` is a collective), and written by
    rank 0 only. Of the metrics, those logged with ``sync_dist=True`` or by torchmetrics
    (validation and test loss and accuracy) are reduced across ranks; the training loss is
    each rank's own.

    Args:
        write_file: write ``summary.json``; ``False`` leaves that to the caller (the CLI
            writes it once testing and its own metrics are done).
    """

    def __init__(self, write_file: bool = True) -> None:
        self.summary: dict[str, Any] = {}
        self.write_file = write_file

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        metrics = {k: v for k, v in _scalar_metrics(trainer.callback_metrics).items()}
        run_dir = trainer.log_dir if trainer.logger is not None else None  # on every rank
        self.summary = {
            **{k.removesuffix("_epoch"): v for k, v in metrics.items() if not k.endswith("_step")},
            "epochs": trainer.current_epoch,
            "global_step": trainer.global_step,
            "run_dir": str(run_dir) if run_dir else None,
        }
        if self.write_file and run_dir is not None and trainer.is_global_zero:
            write_summary(run_dir, self.summary)  # only into a run folder
