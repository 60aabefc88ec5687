"""``dllab vision ...``: train a ResNet, predict image classes, preview augmentation.

- ``train``: a ResNet on the embedded rendered shapes (default) or CIFAR-10, with batched
  on-device augmentation; writes curves, metrics, checkpoints and a confusion matrix.
- ``predict --run RUN IMAGE...``: the top-5 classes of image files, from a trained run.
- ``augment-preview [IMAGE]``: a grid of augmented versions of an image (or a data sample).

The command bodies live in ``dllab.vision.commands``, imported when a command runs, so
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
    DataDir,
    Devices,
    Download,
    Epochs,
    Lr,
    Quick,
    Resume,
    RunsDir,
    Seed,
)

app = typer.Typer(
    help="Vision: ResNet on rendered shapes or CIFAR-10, predictions, augmentation previews.",
    no_args_is_help=True,
)


class ModelName(StrEnum):
    resnet_small = "resnet-small"
    resnet18 = "resnet18"
    resnet34 = "resnet34"


class DatasetName(StrEnum):
    shapes = "shapes"
    cifar10 = "cifar10"


ModelOpt = Annotated[ModelName, typer.Option("--model", help="Which ResNet.")]
DatasetOpt = Annotated[
    DatasetName, typer.Option("--dataset", help="shapes (embedded, rendered) or cifar10.")
]
Augment = Annotated[
    bool, typer.Option("--augment/--no-augment", help="Batched crop, flip and colour jitter.")
]
Samples = Annotated[
    int,
    typer.Option("--samples", min=20, max=1_000_000, help="Shapes in the training pool."),
]
Compile = Annotated[
    bool, typer.Option("--compile", help="Compile the network with torch.compile (GPU).")
]


@app.command()
def train(
    model: ModelOpt = ModelName.resnet_small,
    dataset: DatasetOpt = DatasetName.shapes,
    epochs: Epochs = 30,
    batch_size: BatchSize = 32,
    lr: Lr = 0.1,
    augment: Augment = True,
    samples: Samples = 3000,
    seed: Seed = 0,
    data_dir: DataDir = None,
    download: Download = False,
    runs_dir: RunsDir = Path("runs"),
    resume: Resume = False,
    accelerator: Accelerator = AcceleratorName.auto,
    devices: Devices = 1,
    compile: Compile = False,
    quick: Quick = False,
) -> None:
    """Train a ResNet (SGD + Nesterov, one-cycle, label smoothing; bf16 on a GPU)."""
    options = dict(locals())
    from dllab.vision.commands import train_command

    train_command(options)


@app.command()
def predict(
    images: Annotated[list[Path], typer.Argument(help="Image files to classify.")],
    run: Annotated[Path, typer.Option("--run", help="The run folder of a training run.")],
    top: Annotated[int, typer.Option("--top", min=1, help="How many classes to show.")] = 5,
) -> None:
    """Print the most probable classes of each image, from a trained run."""
    from dllab.vision.commands import predict_command

    predict_command(run, images, top)


@app.command("augment-preview")
def augment_preview(
    image: Annotated[
        Path | None, typer.Argument(help="An image file (default: a dataset sample).")
    ] = None,
    copies: Annotated[
        int, typer.Option("--copies", min=1, max=64, help="Augmented versions to draw.")
    ] = 15,
    dataset: DatasetOpt = DatasetName.shapes,
    seed: Seed = 0,
    data_dir: DataDir = None,
    download: Download = False,
    runs_dir: RunsDir = Path("runs"),
) -> None:
    """Write a PNG grid of augmented versions of an image into a run folder."""
    options = dict(locals())
    from dllab.vision.commands import augment_preview_command

    augment_preview_command(options)
