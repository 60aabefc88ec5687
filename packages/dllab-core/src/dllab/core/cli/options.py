"""Options shared by every training command, spelled once for all domains.

Use them as parameter annotations in a typer command::

    def train(epochs: Epochs = 10, batch_size: BatchSize = 128, quick: Quick = False): ...
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

Epochs = Annotated[int, typer.Option("--epochs", min=1, help="Number of epochs.")]
BatchSize = Annotated[int, typer.Option("--batch-size", min=1, help="Batch size.")]
Lr = Annotated[float, typer.Option("--lr", help="Learning rate (> 0).")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed.")]
Dataset = Annotated[str, typer.Option("--dataset", help="Which dataset.")]
DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Where the data lives (default $DLLAB_DATA_DIR or ~/.cache/dllab)."
    ),
]
Download = Annotated[bool, typer.Option("--download", help="Fetch the real dataset if missing.")]
RunsDir = Annotated[Path, typer.Option("--runs-dir", help="Where run folders go.")]
Resume = Annotated[
    bool, typer.Option("--resume", help="Continue from the latest run's last checkpoint.")
]
Accelerator = Annotated[str, typer.Option("--accelerator", help="cpu, gpu or auto.")]
Devices = Annotated[int, typer.Option("--devices", min=1, help="How many devices.")]
Quick = Annotated[
    bool,
    typer.Option("--quick", help="A tiny run to check that everything works (or DLLAB_QUICK=1)."),
]


def quick_mode(flag: bool = False) -> bool:
    """True when ``--quick`` was given or ``DLLAB_QUICK`` is set to a true value."""
    env = os.environ.get("DLLAB_QUICK", "").strip().lower()
    return flag or env in {"1", "true", "yes", "on"}


def check_positive(name: str, value: float) -> float:
    """Raise ``typer.BadParameter`` unless ``value > 0``."""
    if not value > 0:
        raise typer.BadParameter(f"must be > 0, got {value}", param_hint=name)
    return value
