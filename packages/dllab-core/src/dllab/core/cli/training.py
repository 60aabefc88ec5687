"""The shared body of every ``dllab <domain> <command>`` that trains a model.

A domain command parses its options, builds its model and DataModule, and hands them to
``fit_and_report``, which runs dllab's Trainer in ``runs/<domain>-<command>/version_N``,
records every option in hparams.yaml, prints a final summary table and the run folder, and
ends with the summary as one JSON line (also written to summary.json).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer


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
) -> dict[str, Any]:
    """Fit ``model`` on ``data`` with dllab's Trainer and print the summary; returns it."""
    from rich.console import Console
    from rich.table import Table

    from dllab.core.checkpoint import CheckpointError
    from dllab.core.trainer import Trainer

    trainer = Trainer(
        max_epochs=epochs,
        name=run_name,
        runs_dir=runs_dir,
        seed=seed,
        progress_bar=progress_bar,
        accelerator=accelerator,
        devices=devices,
    )
    trainer.logger.log_hyperparams({"options": _plain_options(options)})
    try:
        trainer.fit(model, data, ckpt_path="last" if resume else None)
    except (FileNotFoundError, CheckpointError) as err:
        _remove_empty_run(trainer.run_dir)
        raise typer.BadParameter(str(err), param_hint="--resume") from err
    summary = dict(trainer.summary)
    if test and hasattr(data, "test_dataloader"):
        results = trainer.test(model, datamodule=data, verbose=False)
        summary.update({k: float(v) for k, v in (results[0] if results else {}).items()})
    from dllab.core.runs import write_summary

    write_summary(trainer.run_dir, summary)
    console = Console()
    table = Table("metric", "value", title=f"{run_name}: final metrics")
    for key, value in summary.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
    typer.echo(f"run folder: {trainer.run_dir}")
    typer.echo(json.dumps(summary, sort_keys=True))
    return summary


def _plain_options(options: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (os.fspath(v) if isinstance(v, Path) else v) for k, v in options.items()}


def _remove_empty_run(run_dir: Path | None) -> None:
    """Drop a run folder that a failed start left with nothing but hparams."""
    if run_dir is None or not run_dir.is_dir():
        return
    if all(p.name == "hparams.yaml" for p in run_dir.iterdir()):
        for p in run_dir.iterdir():
            p.unlink()
        run_dir.rmdir()
