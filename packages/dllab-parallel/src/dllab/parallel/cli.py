"""``dllab parallel ...``: data-parallel training and the machine's devices.

- ``train --strategy manual|ddp --devices N --accelerator cpu|gpu``: core's MLP on the
  embedded glyphs, on ``N`` processes. ``manual`` starts them itself and averages gradients
  with dllab's ring all-reduce; ``ddp`` is Lightning's DDP strategy, which starts them too.
  Under ``torchrun`` (several nodes) the ``ddp`` strategy joins the group torchrun made.
- ``devices``: the devices, their memory and the ``torch.distributed`` backends.

The command bodies live in ``dllab.parallel.commands``, imported when a command runs, so
``dllab --help`` stays free of torch.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from dllab.core.cli.options import (
    Accelerator,
    AcceleratorName,
    BatchSize,
    Devices,
    Epochs,
    Lr,
    Quick,
    RunsDir,
    Seed,
)

app = typer.Typer(
    help="Parallel: data-parallel training (by hand or DDP) and the machine's devices.",
    no_args_is_help=True,
)


class Strategy(StrEnum):
    manual = "manual"
    ddp = "ddp"


StrategyOpt = Annotated[
    Strategy,
    typer.Option("--strategy", help="manual (dllab's ring all-reduce) or ddp (Lightning)."),
]
Samples = Annotated[
    int, typer.Option("--samples", min=100, help="Glyph images to generate (embedded data).")
]
Hidden = Annotated[int, typer.Option("--hidden", min=1, max=65536, help="Hidden width.")]
NumNodes = Annotated[
    int, typer.Option("--num-nodes", min=1, help="Machines (ddp; under torchrun).")
]


@app.command()
def train(
    strategy: StrategyOpt = Strategy.ddp,
    epochs: Epochs = 5,
    batch_size: BatchSize = 128,
    lr: Lr = 0.1,
    hidden: Hidden = 256,
    seed: Seed = 0,
    samples: Samples = 20_000,
    runs_dir: RunsDir = Path("runs"),
    accelerator: Accelerator = AcceleratorName.auto,
    devices: Devices = 2,
    num_nodes: NumNodes = 1,
    quick: Quick = False,
) -> None:
    """Train core's MLP on the glyphs on several processes; one run folder, from rank 0.

    --batch-size is the global batch: each of the devices × nodes processes takes its share.
    """
    options = dict(locals())
    from dllab.parallel.commands import train_command

    train_command(options)


@app.command()
def devices() -> None:
    """Print the devices, their memory and the torch.distributed backends available."""
    from dllab.parallel.commands import devices_command

    devices_command()
