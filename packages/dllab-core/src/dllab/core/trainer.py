"""``Trainer``: ``lightning.Trainer`` with the lab's defaults.

Defaults over Lightning's: a run folder ``<runs_dir>/<name>/version_N/`` with metrics.csv,
hparams.yaml, curves.png, summary.json and ``checkpoints/last.ckpt``; a progress bar; seeding
(including per-epoch reseeding for exact resume); a non-finite-loss guard; and
``weights_only=True`` checkpoint loading. Every ``lightning.Trainer`` argument still works.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, RichProgressBar
from lightning.pytorch.loggers import CSVLogger

from dllab.core.callbacks import Curves, EpochSeed, NonFiniteLossGuard, RunSummary
from dllab.core.checkpoint import check_checkpoint_file
from dllab.core.loop import LeanEpochLoop
from dllab.core.module import Module
from dllab.core.runs import latest_run_dir

# Expected in dllab's design, so not worth a warning on every run: short epochs log less often
# than log_every_n_steps (the epoch value is always logged), and a resumed run writes to a
# new version folder rather than the one it resumes from.
warnings.filterwarnings("ignore", message=r".*smaller than the logging interval.*")
warnings.filterwarnings("ignore", message=r"The dirpath has changed from .*")


class Trainer(L.Trainer):
    """``lightning.Trainer`` with lab defaults (see the module docstring).

    Args:
        max_epochs: number of epochs.
        name: run name; the run folder is ``runs_dir/name/version_N``.
        runs_dir: where run folders go.
        seed: seeds every RNG at fit start and ``seed + epoch`` at each epoch start.
        progress_bar: show a rich progress bar.
        curves: draw ``curves.png``.
        checkpoint: save ``checkpoints/last.ckpt`` at each epoch end.
        lean_loop: run direct-step batches on ``LeanEpochLoop``'s lean path (same hooks, same
            results, a fraction of Lightning's per-batch overhead); ``False`` keeps Lightning's.
        **kwargs: any other ``lightning.Trainer`` argument; explicit values win.
    """

    def __init__(
        self,
        max_epochs: int = 10,
        *,
        name: str = "dllab",
        runs_dir: str | os.PathLike[str] = "runs",
        seed: int | None = 0,
        progress_bar: bool = True,
        curves: bool = True,
        checkpoint: bool = True,
        lean_loop: bool = True,
        **kwargs: Any,
    ) -> None:
        if not isinstance(max_epochs, int) or max_epochs < 1:
            raise ValueError(f"max_epochs must be a positive int, got {max_epochs!r}")
        self.run_name, self.runs_dir, self.seed = name, Path(runs_dir), seed
        callbacks: list[Callback] = [NonFiniteLossGuard(), RunSummary()]
        if seed is not None:
            callbacks.append(EpochSeed(seed))
        if curves:
            callbacks.append(Curves())
        if checkpoint:
            callbacks.append(ModelCheckpoint(save_top_k=1, save_last="link"))
        if progress_bar:
            callbacks.append(RichProgressBar(refresh_rate=10, leave=True))
        callbacks.extend(kwargs.pop("callbacks", None) or [])
        defaults: dict[str, Any] = {
            "logger": CSVLogger(save_dir=self.runs_dir, name=name),
            "enable_progress_bar": progress_bar,
            "enable_checkpointing": checkpoint,
            "enable_model_summary": progress_bar,
            "num_sanity_val_steps": 0,
            "log_every_n_steps": 50,
            "accelerator": "auto",
            "devices": 1,
        }
        defaults.update(kwargs)
        super().__init__(max_epochs=max_epochs, callbacks=callbacks, **defaults)
        stock = self.fit_loop.epoch_loop
        lean = LeanEpochLoop(self, min_steps=stock.min_steps, max_steps=stock.max_steps)
        lean.enabled = lean_loop
        self.fit_loop.epoch_loop = lean

    @property
    def summary(self) -> dict[str, Any]:
        """The final metrics written to summary.json (empty before ``fit`` ends)."""
        for callback in self.callbacks:
            if isinstance(callback, RunSummary):
                return callback.summary
        return {}

    @property
    def run_dir(self) -> Path | None:
        """This run's folder (``runs_dir/name/version_N``)."""
        return Path(self.log_dir) if self.log_dir else None

    def fit(  # type: ignore[override]
        self,
        model: L.LightningModule,
        train_dataloaders: Any = None,
        val_dataloaders: Any = None,
        datamodule: L.LightningDataModule | None = None,
        ckpt_path: str | os.PathLike[str] | None = None,
        weights_only: bool | None = True,
    ) -> None:
        """Lightning's ``fit``; ``ckpt_path="last"`` resumes the latest earlier run of this name.

        A ``LightningDataModule`` given as the second argument is used as ``datamodule``
        (d2l's ``trainer.fit(model, data)``).
        """
        if isinstance(train_dataloaders, L.LightningDataModule) and datamodule is None:
            datamodule, train_dataloaders = train_dataloaders, None
        if ckpt_path == "last":
            ckpt_path = self.find_last_checkpoint()
        if ckpt_path is not None:
            check_checkpoint_file(ckpt_path)
        if isinstance(model, Module) and model.supports_direct_step(self):
            model.automatic_optimization = False
        if self.seed is not None:
            L.seed_everything(self.seed, workers=True, verbose=False)
        super().fit(model, train_dataloaders, val_dataloaders, datamodule, ckpt_path, weights_only)

    def find_last_checkpoint(self) -> Path:
        """The newest ``last.ckpt`` among earlier runs of this name, excluding this run."""
        root = self.runs_dir / self.run_name
        own = self.run_dir
        candidates = sorted(
            root.glob("version_*/checkpoints/last.ckpt"),
            key=lambda p: int(p.parent.parent.name.split("_")[1]),
        )
        candidates = [p for p in candidates if own is None or p.parent.parent != own]
        if not candidates:
            latest = latest_run_dir(self.runs_dir, self.run_name)
            raise FileNotFoundError(
                f"nothing to resume: no last.ckpt under {root}/version_*/checkpoints "
                f"(latest run folder: {latest}); start without --resume"
            )
        return candidates[-1]
