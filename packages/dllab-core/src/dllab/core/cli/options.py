"""Options shared by every training command, spelled once for all domains.

Use them as parameter annotations in a typer command::

    def train(epochs: Epochs = 10, lr: Lr = 0.1, accelerator: Accelerator = AcceleratorName.auto):
        ...

Each option checks its value while the command line is parsed, so bad input ends with a
one-line error and exit code 2 before anything is built or written: ``--lr`` must be finite
and > 0, ``--seed`` in ``[0, 2**32 - 1]``, ``--accelerator`` one of ``AcceleratorName`` and
present on this machine, ``--runs-dir`` a writable folder (or one that can be created).
Nothing here imports torch unless ``--accelerator`` asks for a GPU.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from dllab.core import checks

MAX_SEED = 2**32 - 1
"""The largest seed numpy (and so ``lightning.seed_everything``) accepts."""

RESUME_HELP = (
    "Continue the latest run of this command from its last checkpoint. Only --epochs "
    "(to extend training), --runs-dir, --data-dir, --download, --accelerator, --devices and "
    "--quick may differ from that run; any other changed option is refused."
)


class AcceleratorName(StrEnum):
    """Values of ``--accelerator`` (Lightning's names; ``gpu`` means CUDA)."""

    auto = "auto"
    cpu = "cpu"
    gpu = "gpu"
    cuda = "cuda"
    mps = "mps"


def available_accelerators() -> list[str]:
    """The accelerators this machine has, by ``--accelerator`` name (always ``cpu``)."""
    import torch

    found = ["cpu"]
    if torch.cuda.is_available():
        found += ["gpu", "cuda"]
    if torch.backends.mps.is_available():
        found.append("mps")
    return found


def _accelerator_present(value: AcceleratorName) -> AcceleratorName:
    if value in (AcceleratorName.auto, AcceleratorName.cpu):
        return value  # no torch import for the common case
    found = available_accelerators()
    if value not in found:
        raise typer.BadParameter(
            f"{value} is not available on this machine; available: {', '.join(found)}"
        )
    return value


def _finite_positive_lr(value: float) -> float:
    try:
        return checks.check_positive(value, "the learning rate")
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None


def runs_dir_problem(path: Path) -> str | None:
    """Why run folders cannot be made under ``path`` (``None``: they can)."""
    if path.exists() and not path.is_dir():
        return f"{path} is a file, not a folder"
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return f"{path} lies under {existing}, which is a file"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable"
    return None


def _usable_runs_dir(value: Path) -> Path:
    if (problem := runs_dir_problem(Path(value))) is not None:
        raise typer.BadParameter(problem)
    return value


Epochs = Annotated[int, typer.Option("--epochs", min=1, help="Number of epochs.")]
BatchSize = Annotated[int, typer.Option("--batch-size", min=1, help="Batch size.")]
Lr = Annotated[
    float,
    typer.Option("--lr", callback=_finite_positive_lr, help="Learning rate (finite, > 0)."),
]
Seed = Annotated[int, typer.Option("--seed", min=0, max=MAX_SEED, help="Random seed (>= 0).")]
Dataset = Annotated[str, typer.Option("--dataset", help="Which dataset.")]
DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Where the data lives (default $DLLAB_DATA_DIR or ~/.cache/dllab)."
    ),
]
Download = Annotated[bool, typer.Option("--download", help="Fetch the real dataset if missing.")]
RunsDir = Annotated[
    Path, typer.Option("--runs-dir", callback=_usable_runs_dir, help="Where run folders go.")
]
Resume = Annotated[bool, typer.Option("--resume", help=RESUME_HELP)]
Accelerator = Annotated[
    AcceleratorName,
    typer.Option("--accelerator", callback=_accelerator_present, help="Where to train."),
]
Devices = Annotated[int, typer.Option("--devices", min=1, help="How many devices.")]
Quick = Annotated[
    bool,
    typer.Option("--quick", help="A tiny run to check that everything works (or DLLAB_QUICK=1)."),
]


def quick_mode(flag: bool = False) -> bool:
    """True when ``--quick`` was given or ``DLLAB_QUICK`` is set to a true value."""
    env = os.environ.get("DLLAB_QUICK", "").strip().lower()
    return flag or env in {"1", "true", "yes", "on"}


def given_options() -> set[str]:
    """The parameters of the running command that the user set (command line or environment).

    Empty outside a command (a call from Python): every option then counts as a default.
    """
    try:  # typer >= 0.2x carries its own copy of click; earlier releases depend on click
        from typer._click.globals import get_current_context
    except ImportError:
        from click import get_current_context  # type: ignore[no-redef]

    ctx = get_current_context(silent=True)
    if ctx is None:
        return set()
    given = {"COMMANDLINE", "ENVIRONMENT"}  # click's ParameterSource names

    def source(name: str) -> str | None:
        found = ctx.get_parameter_source(name)
        return None if found is None else found.name

    return {name for name in ctx.params if source(name) in given}


def apply_quick(options: dict[str, Any], settings: Mapping[str, Any]) -> bool:
    """Switch ``options`` to a command's ``--quick`` ``settings`` when quick mode is on.

    An option the user gave (``--quick --epochs 12``) wins over the quick setting; the others
    take it. Sets ``options["quick"]`` to whether quick mode is on (``--quick`` or
    ``DLLAB_QUICK``), so the run's hparams.yaml records it; returns it.
    """
    quick = quick_mode(bool(options.get("quick", False)))
    if quick:
        given = given_options()
        options.update({key: value for key, value in settings.items() if key not in given})
    options["quick"] = quick
    return quick


def check_positive_option(name: str, value: float) -> float:
    """Raise ``typer.BadParameter`` unless ``value`` is finite and > 0."""
    try:
        return checks.check_positive(value, "value")
    except ValueError as err:
        raise typer.BadParameter(str(err).removeprefix("value "), param_hint=name) from None
