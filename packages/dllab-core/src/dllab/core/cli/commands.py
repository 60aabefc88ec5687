"""``dllab core ...``: train the fundamentals (MLP, softmax regression) from the command line.

Both commands default to the embedded glyph images; ``--dataset fashion-mnist`` reads the
real Fashion-MNIST IDX files (``--download`` fetches them, checksum-verified).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

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
    apply_quick,
)

app = typer.Typer(
    help="Core: fundamentals (MLP, softmax regression) on the embedded glyph images.",
    no_args_is_help=True,
)


class ImageDataset(StrEnum):
    glyphs = "glyphs"
    fashion_mnist = "fashion-mnist"


QUICK = {"samples": 6000, "epochs": 5, "batch_size": 64}
"""The ``--quick`` run: small, but long enough for the MLP to pass 85% on the glyphs."""

DatasetOpt = Annotated[ImageDataset, typer.Option("--dataset", help="Which dataset.")]
Samples = Annotated[
    int, typer.Option("--samples", min=100, help="Glyph images to generate (embedded data).")
]
Scratch = Annotated[
    bool, typer.Option("--scratch/--concise", help="From-scratch model or the nn.Sequential twin.")
]


def _image_data(
    dataset: ImageDataset,
    samples: int,
    batch_size: int,
    seed: int,
    data_dir: Path | None,
    download: bool,
) -> Any:
    if dataset is ImageDataset.glyphs:
        from dllab.core.data.glyphs import GlyphsData

        return GlyphsData(n=samples, batch_size=batch_size, seed=seed)
    from dllab.core.data.fashion_mnist import FashionMNIST

    data = FashionMNIST(root=data_dir, download=download, batch_size=batch_size, seed=seed)
    try:
        data.prepare_data()
        data.setup("fit")
    except FileNotFoundError as err:
        raise typer.BadParameter(str(err), param_hint="--dataset/--download") from err
    return data


def _probability(value: float) -> float:
    from dllab.core.checks import check_probability

    try:
        return check_probability(value, "the dropout rate")
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None


Hidden = Annotated[
    list[int] | None,
    typer.Option("--hidden", min=1, max=65536, help="Hidden width; repeat for more layers."),
]
Dropout = Annotated[
    float, typer.Option("--dropout", callback=_probability, help="Dropout rate in [0, 1).")
]


def _train(command: str, make_model: Any, options: dict[str, Any]) -> dict[str, Any]:
    """Build the data and model inside a ``TrainingCommand`` and fit (see its resume rule)."""
    from dllab.core.cli.training import TrainingCommand

    apply_quick(options, QUICK)
    with TrainingCommand(
        f"core-{command}",
        options,
        epochs=options["epochs"],
        seed=options["seed"],
        runs_dir=options["runs_dir"],
        resume=options["resume"],
        accelerator=options["accelerator"],
        devices=options["devices"],
    ) as run:
        import lightning as L

        L.seed_everything(options["seed"], verbose=False)
        data = _image_data(
            options["dataset"],
            options["samples"],
            options["batch_size"],
            options["seed"],
            options["data_dir"],
            options["download"],
        )
        model = make_model(options)
        return run.fit(model, data, test=options["dataset"] is ImageDataset.fashion_mnist)


@app.command()
def mlp(
    epochs: Epochs = 10,
    batch_size: BatchSize = 128,
    lr: Lr = 0.1,
    hidden: Hidden = None,
    dropout: Dropout = 0.0,
    scratch: Scratch = False,
    seed: Seed = 0,
    dataset: DatasetOpt = ImageDataset.glyphs,
    samples: Samples = 20_000,
    data_dir: DataDir = None,
    download: Download = False,
    runs_dir: RunsDir = Path("runs"),
    resume: Resume = False,
    accelerator: Accelerator = AcceleratorName.auto,
    devices: Devices = 1,
    quick: Quick = False,
) -> None:
    """Train a multilayer perceptron (default: 784-256-10 with ReLU).

    With --resume, every option but --epochs, --runs-dir, --data-dir, --download,
    --accelerator, --devices and --quick must match the resumed run; a change is refused.
    """
    options = dict(locals())
    options["hidden"] = list(hidden or [256])

    def make(o: dict[str, Any]) -> Any:
        from dllab.core.fundamentals.models import MLP, MLPScratch

        cls = MLPScratch if o["scratch"] else MLP
        return cls(num_hiddens=tuple(o["hidden"]), dropout=o["dropout"], lr=o["lr"])

    _train("mlp", make, options)


@app.command()
def softmax(
    epochs: Epochs = 10,
    batch_size: BatchSize = 128,
    lr: Lr = 0.1,
    scratch: Scratch = False,
    seed: Seed = 0,
    dataset: DatasetOpt = ImageDataset.glyphs,
    samples: Samples = 20_000,
    data_dir: DataDir = None,
    download: Download = False,
    runs_dir: RunsDir = Path("runs"),
    resume: Resume = False,
    accelerator: Accelerator = AcceleratorName.auto,
    devices: Devices = 1,
    quick: Quick = False,
) -> None:
    """Train softmax regression (a single linear layer with cross-entropy).

    With --resume, every option but --epochs, --runs-dir, --data-dir, --download,
    --accelerator, --devices and --quick must match the resumed run; a change is refused.
    """
    options = dict(locals())

    def make(o: dict[str, Any]) -> Any:
        from dllab.core.fundamentals.models import SoftmaxRegression, SoftmaxRegressionScratch

        cls = SoftmaxRegressionScratch if o["scratch"] else SoftmaxRegression
        return cls(lr=o["lr"])

    _train("softmax", make, options)
