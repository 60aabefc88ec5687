"""The shared body of every ``dllab <domain> <command>`` that trains a model.

A command builds its model and data inside a ``TrainingCommand`` and calls ``fit``::

    with TrainingCommand("core-mlp", options, epochs=10, seed=0, runs_dir=runs_dir) as run:
        data = GlyphsData(...)          # a failure while building is handled like one in fit
        model = MLP(...)
        run.fit(model, data, test=True, after_fit=confusion_matrix)

``fit_and_report(model, data, ...)`` is the same in one call, for commands that build their
model before knowing whether they resume.

What the run folder ``runs/<name>/version_N`` records: ``hparams.yaml`` holds every option,
the model's hyperparameters, the checkpoint it resumed from (``resumed_from``) and the
trainer that ran (accelerator, devices, precision, strategy...); ``artifacts`` (a vocabulary,
a tokenizer) are written before training; ``summary.json`` (final, test and ``after_fit``
metrics) is written last, only once everything succeeded.

Resume rule (``dllab.core.cli.resume``): ``--resume`` continues the run
``Trainer.find_last_checkpoint`` names. Every option but those in ``RESUMABLE`` (``--epochs``
extends training; the rest say where and how to run) must equal that run's, and the model's
hyperparameters the checkpoint's, or the command stops with one line naming each option and
both values (exit 2). Artifacts come from the resumed run's folder (``resumed_file``) and are
copied into the new one.

Failure policy (``dllab.core.runs.mark_failed``): a run that fails leaves no folder that looks
complete. Exit codes: 2 for bad input (a ``typer.BadParameter``, or a ``ValueError`` raised
while the model and data are built), 1 for a run stopped in training (non-finite loss,
divergence, a damaged checkpoint), 130 for an interrupted one; each prints at most two short
lines. Any other error keeps its traceback: it is a bug.

Several processes (DDP): every rank runs the whole command (fit, test, ``after_fit``), so no
rank skips a collective another one waits in; only rank 0 writes files and prints. Of the
logged metrics, validation and test loss (``sync_dist``) and accuracy (torchmetrics) are
reduced across ranks; the training loss is each rank's own, and the summary shows rank 0's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import typer

from dllab.core.cli.resume import RESUMABLE, check_same_options, plain, same_hyperparameters

EXIT_FAILED, EXIT_INTERRUPTED = 1, 130

ArtifactWriter = Callable[[Path], object]
"""Writes one file, given its path inside the run folder."""

AfterFit = Callable[[Any, Any, Any, Path], Mapping[str, Any]]
"""``after_fit(trainer, model, data, run_dir) -> metrics``: runs on every rank after training
(and testing); write files only where ``trainer.is_global_zero``."""

_RESERVED = {"hparams.yaml", "summary.json", "failed.json", "metrics.csv", "curves.png"}


class TrainingCommand:
    """One training command's run: its Trainer, run folder, resume source and report.

    Args:
        run_name: ``<domain>-<command>``; the run folder is ``runs_dir/run_name/version_N``.
        options: every option of the command, as it will run (after ``--quick``).
        epochs: number of epochs.
        seed: seed of every RNG (see ``Trainer``).
        runs_dir: where run folders go.
        resume: continue the latest run of ``run_name`` (see the module's resume rule).
        accelerator: ``cpu``, ``gpu``, ``auto``...
        devices: how many devices.
        progress_bar: show a progress bar.
        resumable: the options a resumed run may change.
        trainer_kwargs: any other ``lightning.Trainer`` argument (``strategy``,
            ``precision="bf16-mixed"``, ``num_nodes``, ``gradient_clip_val``, ``callbacks``...).

    Raises:
        typer.BadParameter: the trainer settings are invalid, there is nothing to resume, or
            an option differs from the resumed run's.
    """

    def __init__(
        self,
        run_name: str,
        options: Mapping[str, Any],
        *,
        epochs: int,
        seed: int,
        runs_dir: str | os.PathLike[str],
        resume: bool = False,
        accelerator: str = "auto",
        devices: int = 1,
        progress_bar: bool = True,
        resumable: Iterable[str] = RESUMABLE,
        trainer_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        from lightning.fabric.utilities.exceptions import MisconfigurationException

        from dllab.core.callbacks import RunSummary
        from dllab.core.trainer import Trainer

        self.run_name, self.options = run_name, plain(dict(options))
        self.resumable = frozenset(resumable)
        self.checkpoint: Path | None = None
        self._handled = False
        extra = dict(trainer_kwargs or {})
        callbacks = [*extra.pop("callbacks", []), same_hyperparameters()]
        settings = {"accelerator": str(accelerator), "devices": devices, **extra}
        try:
            self.trainer = Trainer(
                max_epochs=epochs,
                name=run_name,
                runs_dir=runs_dir,
                seed=seed,
                progress_bar=progress_bar,
                callbacks=callbacks,
                **settings,
            )
        except (MisconfigurationException, ValueError) as err:
            raise typer.BadParameter(_one_line(err)) from None
        if self.trainer.logger is None:
            raise TypeError("a training command writes a run folder: do not pass logger=False")
        self._settings = {k: v for k, v in settings.items() if _is_plain(v)}
        for callback in self.trainer.callbacks:
            if isinstance(callback, RunSummary):
                callback.write_file = False  # summary.json comes last, from fit()
        if resume:
            try:
                self.checkpoint = self._resume_checkpoint()
            except BaseException as err:
                self._fail(err)
                raise

    @property
    def is_rank_zero(self) -> bool:
        """True in the process that writes files and prints (always, on one device)."""
        return bool(self.trainer.is_global_zero)

    @property
    def run_dir(self) -> Path:
        """This run's folder; reading it claims (creates) the folder on rank 0.

        Read from the logger, not ``trainer.log_dir``, which is a collective under DDP and
        would hang where only rank 0 asks.
        """
        return Path(self.trainer.logger.log_dir)

    @property
    def resumed_from(self) -> Path | None:
        """The folder of the run this one resumes (``None`` for a new run)."""
        return None if self.checkpoint is None else self.checkpoint.parent.parent

    def resumed_file(self, filename: str) -> Path:
        """A file of the resumed run's folder, for instance its vocabulary."""
        if self.resumed_from is None:
            raise ValueError(f"{self.run_name} does not resume a run, so it has no {filename}")
        path = self.resumed_from / filename
        if not path.is_file():
            raise typer.BadParameter(
                f"the resumed run {self.resumed_from} has no {filename}; start a new run",
                param_hint="--resume",
            )
        return path

    def __enter__(self) -> TrainingCommand:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        err: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if err is not None:
            self._fail(err, building=True)

    def fit(
        self,
        model: Any,
        data: Any,
        *,
        test: bool = False,
        artifacts: Mapping[str, ArtifactWriter] | None = None,
        after_fit: AfterFit | None = None,
    ) -> dict[str, Any]:
        """Train, test, run ``after_fit``, write summary.json and print it; returns it.

        Args:
            model: the LightningModule.
            data: a LightningDataModule (or train dataloaders).
            test: also run ``trainer.test`` on ``data`` and record its metrics.
            artifacts: ``{filename: writer}``, files written into the run folder before
                training; on resume they are copied from the resumed run's folder instead.
            after_fit: extra metrics and figures once trained (see ``AfterFit``); its result
                goes into summary.json.
        """
        try:
            if self.is_rank_zero:
                self.trainer.logger.log_hyperparams(self._hparams())
                self._write_artifacts(artifacts or {})
            self.trainer.fit(model, data, ckpt_path=self.checkpoint)
            run_dir = Path(self.trainer.summary["run_dir"])  # rank 0's folder, on every rank
            summary = self._summary(model, data, run_dir, test, after_fit)
            if self.is_rank_zero:
                from dllab.core.runs import write_summary

                write_summary(run_dir, summary)
        except BaseException as err:
            self._fail(err)
            raise
        if self.is_rank_zero:
            _report(self.run_name, summary, run_dir)
        return summary

    def _resume_checkpoint(self) -> Path:
        try:
            checkpoint = Path(self.trainer.find_last_checkpoint())
        except FileNotFoundError as err:
            raise typer.BadParameter(_one_line(err), param_hint="--resume") from None
        check_same_options(checkpoint.parent.parent, self.options, self.resumable)
        return checkpoint

    def _hparams(self) -> dict[str, Any]:
        trainer = self.trainer
        ran = {
            "accelerator": type(trainer.accelerator).__name__.removesuffix("Accelerator").lower(),
            "devices": trainer.num_devices,
            "num_nodes": trainer.num_nodes,
            "precision": trainer.precision,
            "strategy": type(trainer.strategy).__name__,
        }
        return {
            "options": self.options,
            "resumed_from": str(self.checkpoint) if self.checkpoint else None,
            "trainer": {**self._settings, **ran},
        }

    def _write_artifacts(self, artifacts: Mapping[str, ArtifactWriter]) -> None:
        from dllab.core.runs import atomic_write_bytes

        for filename, write in artifacts.items():
            if Path(filename).name != filename or filename in _RESERVED or filename[0] == ".":
                raise ValueError(f"artifact {filename!r} must be a new plain file name")
            target = self.run_dir / filename
            if self.resumed_from is not None:
                atomic_write_bytes(target, self.resumed_file(filename).read_bytes())
                continue
            write(target)
            if not target.is_file():
                raise ValueError(f"the writer of artifact {filename!r} wrote no {target}")

    def _summary(
        self, model: Any, data: Any, run_dir: Path, test: bool, after_fit: AfterFit | None
    ) -> dict[str, Any]:
        summary: dict[str, Any] = dict(self.trainer.summary)
        if self.checkpoint is not None:
            summary["resumed_from"] = str(self.checkpoint)
        if test:
            results = self.trainer.test(model, datamodule=data, verbose=False)
            summary.update({k: float(v) for k, v in (results[0] if results else {}).items()})
        if after_fit is not None:
            extra = after_fit(self.trainer, model, data, run_dir)
            if not isinstance(extra, Mapping):
                raise TypeError(f"after_fit must return a mapping, got {type(extra).__name__}")
            summary.update(plain(dict(extra)))
        return summary

    def _fail(self, err: BaseException, building: bool = False) -> None:
        """Apply the failure policy once; turn expected stops into short messages."""
        if self._handled:
            return
        self._handled = True
        interrupted = isinstance(err, KeyboardInterrupt) or (
            isinstance(err, SystemExit) and self.trainer.interrupted  # Lightning's Ctrl-C exit
        )
        # removes a folder that holds nothing yet (with the parents its claim made), else
        # writes failed.json; on rank 0 only, and only if the folder was claimed
        kept = self.trainer.mark_failed(KeyboardInterrupt() if interrupted else err)
        if isinstance(err, typer.BadParameter | typer.Exit | typer.Abort):
            return
        if interrupted:
            self._say_stopped("training was interrupted", kept)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        if isinstance(err, _stop_errors()):
            self._say_stopped(_one_line(err), kept)
            raise typer.Exit(EXIT_FAILED) from None
        if building and isinstance(err, ValueError):
            raise typer.BadParameter(_one_line(err)) from None

    def _say_stopped(self, message: str, kept: Path | None) -> None:
        if not self.is_rank_zero:
            return
        typer.echo(f"Error: {message}", err=True)
        where = f"run folder marked failed: {kept}" if kept else "no run folder was kept"
        typer.echo(where, err=True)


def fit_and_report(
    model: Any,
    data: Any,
    *,
    run_name: str,
    options: Mapping[str, Any],
    epochs: int,
    seed: int,
    runs_dir: str | os.PathLike[str],
    resume: bool = False,
    accelerator: str = "auto",
    devices: int = 1,
    progress_bar: bool = True,
    test: bool = False,
    artifacts: Mapping[str, ArtifactWriter] | None = None,
    after_fit: AfterFit | None = None,
    resumable: Iterable[str] = RESUMABLE,
    trainer_kwargs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``TrainingCommand(...).fit(model, data, ...)`` in one call; returns the summary."""
    command = TrainingCommand(
        run_name,
        options,
        epochs=epochs,
        seed=seed,
        runs_dir=runs_dir,
        resume=resume,
        accelerator=accelerator,
        devices=devices,
        progress_bar=progress_bar,
        resumable=resumable,
        trainer_kwargs=trainer_kwargs,
    )
    with command:
        return command.fit(model, data, test=test, artifacts=artifacts, after_fit=after_fit)


def _stop_errors() -> tuple[type[BaseException], ...]:
    """Errors that stop a run for a reason the user can act on (no traceback needed)."""
    from dllab.core import callbacks
    from dllab.core.checkpoint import CheckpointError

    names = ("NonFiniteLossError", "DivergenceError")
    return (CheckpointError, *(getattr(callbacks, n) for n in names if hasattr(callbacks, n)))


def _report(run_name: str, summary: Mapping[str, Any], run_dir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("metric", "value", title=f"{run_name}: final metrics")
    for key, value in summary.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    Console().print(table)
    typer.echo(f"run folder: {run_dir}")
    typer.echo(json.dumps(summary, sort_keys=True))


def _is_plain(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__
