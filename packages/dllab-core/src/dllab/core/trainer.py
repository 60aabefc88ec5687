"""``Trainer``: ``lightning.Trainer`` with the lab's defaults.

Defaults over Lightning's: a run folder ``<runs_dir>/<name>/version_N/`` with metrics.csv,
hparams.yaml, curves.png, summary.json and ``checkpoints/last.ckpt``; a progress bar; seeding
(including per-epoch reseeding for exact resume); guards against a non-finite loss and a
diverging run; and ``weights_only=True`` checkpoint loading. Every ``lightning.Trainer``
argument still works.

Reliability: the run folder is claimed with an atomic ``mkdir`` (two runs started at the same
instant get two folders); checkpoints are written atomically with a sha256 digest beside them
(``RunCheckpoint``); ``ckpt_path="last"`` resumes the newest run's newest valid checkpoint and
says which, or raises ``CheckpointError`` naming that run (never an older run in silence); a
resume checkpoint is checked (digest, keys, shapes) before the run starts; and a fit that fails
leaves no empty folder (``dllab.core.runs.mark_failed``).
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, RichProgressBar
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities import rank_zero_only

from dllab.core.callbacks import Curves, EpochSeed, NonFiniteLossGuard, RunSummary
from dllab.core.checkpoint import (
    RESUME_KEYS,
    check_state_dict,
    load_checkpoint,
    newest_valid_checkpoint,
)
from dllab.core.divergence import DivergenceGuard
from dllab.core.module import Module
from dllab.core.run_checkpoint import RunCheckpoint
from dllab.core.runs import mark_failed, new_run_dir, run_versions

# Expected in dllab's design, so not worth a warning on every run: short epochs log less often
# than log_every_n_steps (the epoch value is always logged), and a resumed run writes to a
# new version folder rather than the one it resumes from.
warnings.filterwarnings("ignore", message=r".*smaller than the logging interval.*")
warnings.filterwarnings("ignore", message=r"The dirpath has changed from .*")
_LIGHTNING_CKPT_NAMES = ("best", "hpc")  # ckpt_path values Lightning resolves itself


class RunLogger(CSVLogger):
    """``CSVLogger`` whose ``version_N`` folder is claimed by an atomic ``mkdir`` on first use.

    Lightning's logger lists the folders and creates the next one later, so two runs started
    at the same instant could both write into ``version_0``.
    """

    claimed: Path | None = None
    """The folder this logger created (``None`` until then, and on ranks other than 0)."""
    created_parents: tuple[Path, ...] = ()
    """Folders above it that the claim created, deepest first."""

    def _get_next_version(self) -> int:
        if rank_zero_only.rank != 0:  # other ranks only name it; rank 0 creates it
            return super()._get_next_version()
        root = Path(self.save_dir) / self.name
        self.created_parents = tuple(p for p in (root, *root.parents) if not p.exists())
        self.claimed = new_run_dir(self.save_dir, self.name)
        return int(self.claimed.name.removeprefix("version_"))


class Trainer(L.Trainer):
    """``lightning.Trainer`` with lab defaults (see the module docstring).

    Args:
        max_epochs: number of epochs.
        name: run name; the run folder is ``runs_dir/name/version_N``.
        runs_dir: where run folders go.
        seed: seeds every RNG at fit start and ``seed + epoch`` at each epoch start.
        progress_bar: show a rich progress bar.
        curves: draw ``curves.png``.
        checkpoint: save ``checkpoints/last.ckpt`` at each epoch end (``RunCheckpoint``).
        divergence: stop a run whose loss diverges or whose parameters stop being finite
            (``DivergenceGuard``; ``True``: its defaults, ``False``: off). A NaN/inf loss
            always stops the run.
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
        divergence: DivergenceGuard | bool = True,
        **kwargs: Any,
    ) -> None:
        if not isinstance(max_epochs, int) or max_epochs < 1:
            raise ValueError(f"max_epochs must be a positive int, got {max_epochs!r}")
        if not isinstance(divergence, DivergenceGuard | bool):
            raise TypeError(f"divergence must be a DivergenceGuard or a bool, got {divergence!r}")
        if divergence is True:
            divergence = DivergenceGuard()
        self.run_name, self.runs_dir, self.seed = name, Path(runs_dir), seed
        self.resumed_from: Path | None = None
        guard = NonFiniteLossGuard(divergence or None)
        callbacks: list[Callback] = [guard, RunSummary()]
        if seed is not None:
            callbacks.append(EpochSeed(seed))
        if curves:
            callbacks.append(Curves())
        if checkpoint:
            callbacks.append(RunCheckpoint(save_top_k=1, save_last="link"))
        if progress_bar:
            callbacks.append(RichProgressBar(refresh_rate=10, leave=True))
        callbacks.extend(kwargs.pop("callbacks", None) or [])
        defaults: dict[str, Any] = {
            "logger": RunLogger(save_dir=self.runs_dir, name=name),
            "enable_progress_bar": progress_bar,
            "enable_checkpointing": checkpoint,
            "enable_model_summary": progress_bar,
            "num_sanity_val_steps": 0,
            "log_every_n_steps": 50,
            "default_root_dir": self.runs_dir,  # with logger=False, checkpoints go here too
            "accelerator": "auto",
            "devices": 1,
        }
        defaults.update(kwargs)
        super().__init__(max_epochs=max_epochs, callbacks=callbacks, **defaults)
        try:  # the lean loop mirrors Lightning's private loop classes, which may move
            from dllab.core.loop import LeanEpochLoop
        except ImportError as err:
            if lean_loop:
                warnings.warn(
                    f"dllab's lean epoch loop does not load on lightning {L.__version__} "
                    f"({err}); training on Lightning's own loop",
                    RuntimeWarning,
                    stacklevel=2,
                )
        else:
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
        """This run's folder (``runs_dir/name/version_N``); reading it claims (creates) it."""
        return Path(self.log_dir) if self.log_dir else None

    @property
    def claimed_run_dir(self) -> Path | None:
        """This run's folder if it was created already, else ``None`` (creates nothing)."""
        return getattr(self.logger, "claimed", None)

    def fit(  # type: ignore[override]
        self,
        model: L.LightningModule,
        train_dataloaders: Any = None,
        val_dataloaders: Any = None,
        datamodule: L.LightningDataModule | None = None,
        ckpt_path: str | os.PathLike[str] | None = None,
        weights_only: bool | None = True,
    ) -> None:
        """Lightning's ``fit``; ``ckpt_path="last"`` resumes ``find_last_checkpoint()``.

        A ``LightningDataModule`` given as the second argument is used as ``datamodule``
        (d2l's ``trainer.fit(model, data)``). A checkpoint to resume is checked before the run
        starts (``CheckpointError``), and the file chosen is printed to stderr.
        """
        if isinstance(train_dataloaders, L.LightningDataModule) and datamodule is None:
            datamodule, train_dataloaders = train_dataloaders, None
        try:
            ckpt_path = self._checked_resume(model, ckpt_path)
        except BaseException as err:
            self.mark_failed(err)
            raise
        direct = (
            isinstance(model, Module)
            and model.automatic_optimization
            and model.supports_direct_step(self)
        )
        if direct:  # for this fit only, so that the model leaves as it came
            model.automatic_optimization = False
        if self.seed is not None:
            L.seed_everything(self.seed, workers=True, verbose=False)
        try:
            super().fit(
                model, train_dataloaders, val_dataloaders, datamodule, ckpt_path, weights_only
            )
        except BaseException as err:
            self.mark_failed(err)
            raise
        finally:
            if direct:
                model.automatic_optimization = True

    def find_last_checkpoint(self) -> Path:
        """The checkpoint ``ckpt_path="last"`` resumes: the newest run's newest valid one.

        The newest ``version_N`` of this run name (other than this run's own folder) is the
        run to continue; a dangling ``last.ckpt`` (an interrupted update) gives way to the
        newest checkpoint file of that run. A folder that never got past its start (nothing
        but hparams.yaml) is skipped with a warning. The run folder is ``path.parent.parent``.

        Raises:
            FileNotFoundError: no earlier run of this name exists.
            CheckpointError: the newest run has no usable checkpoint, or a damaged one; the
                message names the run and why (an older run is never picked instead).
        """
        root = self.runs_dir / self.run_name
        own = getattr(self.logger, "claimed", None)
        runs = [path for _, path in run_versions(root) if path != own]
        skipped = []
        while runs and _never_started(runs[-1]):
            skipped.append(runs.pop())
        if skipped:
            warnings.warn(
                f"skipping run folders that never started training: "
                f"{', '.join(str(p) for p in skipped)}",
                UserWarning,
                stacklevel=2,
            )
        if not runs:
            raise FileNotFoundError(
                f"nothing to resume: no earlier run folder under {root} holds a checkpoint; "
                "start without --resume"
            )
        return newest_valid_checkpoint(runs[-1])

    def _checked_resume(
        self, model: L.LightningModule, ckpt_path: str | os.PathLike[str] | None
    ) -> str | os.PathLike[str] | None:
        """Resolve ``"last"`` and check the checkpoint fits ``model``, before any folder exists."""
        if ckpt_path is None or ckpt_path in _LIGHTNING_CKPT_NAMES:
            return ckpt_path
        if isinstance(ckpt_path, str) and ckpt_path.startswith("registry"):
            return ckpt_path
        path = self.find_last_checkpoint() if ckpt_path == "last" else Path(ckpt_path)
        checkpoint = load_checkpoint(path, required=RESUME_KEYS, warn_if_unverified=True)
        if getattr(model, "strict_loading", True) and model.state_dict():
            check_state_dict(model, checkpoint["state_dict"], path)
        epoch, step = checkpoint["epoch"], checkpoint["global_step"]
        del checkpoint
        if rank_zero_only.rank == 0:
            print(
                f"resuming from {path} (after epoch {epoch}, global step {step})",
                file=sys.stderr,
                flush=True,
            )
        self.resumed_from = path
        return str(path)

    def mark_failed(self, error: BaseException) -> Path | None:
        """Apply the run-folder failure policy (``dllab.core.runs.mark_failed``) to this run.

        A folder that holds nothing but hparams.yaml is removed, with the empty parent folders
        its claim created; any other gets ``failed.json``. ``fit`` calls this when it fails;
        call it when a run fails outside ``fit``. Returns the folder if it was kept.
        """
        claimed = self.claimed_run_dir
        if claimed is None or rank_zero_only.rank != 0:
            return None
        if isinstance(error, SystemExit) and self.interrupted:
            error = KeyboardInterrupt("training was interrupted")
        kept = mark_failed(claimed, error)
        if kept is None:
            for parent in getattr(self.logger, "created_parents", ()):
                try:
                    parent.rmdir()  # only while empty
                except OSError:
                    break
        return kept


def _never_started(run_dir: Path) -> bool:
    """A run folder holding no file but hparams.yaml."""
    return all(p.name == "hparams.yaml" for p in run_dir.rglob("*") if p.is_file())
