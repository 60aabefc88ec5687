"""The bodies of ``dllab vision train``, ``predict`` and ``augment-preview`` (see ``cli``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import typer
from torch import Tensor

from dllab.vision.augment import BatchAugment
from dllab.vision.data.images import ImageData

QUICK: dict[str, Any] = {"epochs": 12, "samples": 3000, "batch_size": 32}
"""``--quick``: the narrow ResNet reaches 90% on held-out shapes in a few CPU minutes."""
QUICK_LIMITS = {"limit_train_batches": 20, "limit_val_batches": 5, "limit_test_batches": 5}
"""``--quick`` on CIFAR-10: a few batches of each split, to check that everything works."""
TEST_SAMPLES = 2000
"""Images in the held-out test split of the shapes (at most ``--samples``)."""
PREVIEW_MAX_SIDE = 256


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _on_gpu(accelerator: str) -> bool:
    if accelerator in ("gpu", "cuda"):
        return True
    return accelerator == "auto" and torch.cuda.is_available()


def _data(options: Mapping[str, Any]) -> ImageData:
    """The DataModule of ``--dataset``; a missing or broken CIFAR-10 is a bad parameter."""
    if options["dataset"] == "shapes":
        from dllab.vision.data.shapes import ShapesData

        return ShapesData(
            samples=options["samples"],
            test_samples=min(TEST_SAMPLES, options["samples"]),
            batch_size=options["batch_size"],
            seed=options["seed"],
            augment=options["augment"],
        )
    from dllab.core.data.download import DownloadError
    from dllab.vision.data.cifar10 import CIFAR10Data

    data = CIFAR10Data(
        root=options["data_dir"],
        download=options["download"],
        batch_size=options["batch_size"],
        seed=options["seed"],
        augment=options["augment"],
    )
    try:
        data.prepare_data()
        data.setup("fit")
    except (FileNotFoundError, DownloadError) as err:
        raise typer.BadParameter(_one_line(err), param_hint="--dataset/--download") from None
    return data


def train_command(options: dict[str, Any]) -> dict[str, Any]:
    """``dllab vision train``: fit, test, draw the confusion matrix; returns the summary."""
    import lightning as L

    from dllab.core.cli.options import apply_quick
    from dllab.core.cli.training import RESUMABLE, TrainingCommand
    from dllab.vision.model import ResNet

    quick = apply_quick(options, QUICK)
    gpu = _on_gpu(str(options["accelerator"]))
    trainer_kwargs: dict[str, Any] = {"precision": "bf16-mixed"} if gpu else {}
    if quick and options["dataset"] == "cifar10":
        trainer_kwargs.update(QUICK_LIMITS)
    with TrainingCommand(
        "vision-train",
        options,
        epochs=options["epochs"],
        seed=options["seed"],
        runs_dir=options["runs_dir"],
        resume=options["resume"],
        accelerator=options["accelerator"],
        devices=options["devices"],
        resumable=RESUMABLE | {"compile"},
        trainer_kwargs=trainer_kwargs,
    ) as run:
        L.seed_everything(options["seed"], verbose=False)
        data = _data(options)
        model = ResNet(
            str(options["model"]),
            stem="cifar",
            num_classes=len(data.classes),
            mean=data.mean,
            std=data.std,
            classes=data.classes,
            image_size=32,
            lr=options["lr"],
        )
        if gpu:
            model.to_channels_last()
        if options["compile"]:
            model.net.compile()
        return run.fit(model, data, test=True, after_fit=_confusion_matrix)


def _predictions(model: Any, loader: Any) -> tuple[Tensor, Tensor, Tensor]:
    """Images (uint8), labels and predicted classes of a loader, on the model's device."""
    device = next(model.parameters()).device
    images, labels, predicted = [], [], []
    for x, y in loader:
        predicted.append(model.predict(x.to(device)).cpu())
        images.append(x)
        labels.append(y)
    return torch.cat(images), torch.cat(labels), torch.cat(predicted)


def _confusion_matrix(trainer: Any, model: Any, data: Any, run_dir: Path) -> dict[str, Any]:
    """After training: the test split's confusion matrix, as confusion_matrix.png."""
    from dllab.vision.plots import confusion_matrix, plot_confusion_matrix

    _, labels, predicted = _predictions(model, data.test_dataloader())
    matrix = confusion_matrix(predicted, labels, len(data.classes))
    if trainer.is_global_zero:
        plot_confusion_matrix(matrix, data.classes, run_dir / "confusion_matrix.png")
    per_class = matrix.diagonal().double() / matrix.sum(dim=1).clamp(min=1)
    return {"test_worst_class_acc": float(per_class.min())}


def predict_command(run: Path, images: Sequence[Path], top: int) -> dict[str, Any]:
    """``dllab vision predict``: print the top classes of each image; returns them."""
    from dllab.core.checkpoint import CheckpointError
    from dllab.core.load import load_run
    from dllab.vision.image_files import read_image

    try:
        model = load_run(run)
    except (FileNotFoundError, CheckpointError) as err:
        raise typer.BadParameter(_one_line(err), param_hint="--run") from None
    classes = getattr(model, "classes", None)
    size = getattr(model, "image_size", None)
    if not hasattr(model, "top_k") or classes is None:
        raise typer.BadParameter(f"{run} is not a run of dllab vision train", param_hint="--run")
    batch = []
    for path in images:  # read every file first: a bad one stops before any output
        try:
            image, notes = read_image(path, size=size)
        except (FileNotFoundError, ValueError) as err:
            raise typer.BadParameter(_one_line(err), param_hint="IMAGE") from None
        for note in notes:
            typer.echo(f"warning: {path}: {note}", err=True)
        batch.append(image)
    k = min(top, len(classes))
    probabilities, indices = model.top_k(torch.stack(batch), k=k)
    result = {}
    for path, probs, idx in zip(images, probabilities.tolist(), indices.tolist(), strict=True):
        ranked = [(classes[i], round(p, 6)) for p, i in zip(probs, idx, strict=True)]
        typer.echo(str(path))
        for name, p in ranked:
            typer.echo(f"  {name:<12} {p:.4f}")
        result[str(path)] = ranked
    typer.echo(json.dumps({"predictions": result}))
    return result


def _preview_source(options: Mapping[str, Any]) -> tuple[Tensor, str]:
    """The image to augment, uint8 ``(3, H, W)``, and where it came from."""
    image_path = options["image"]
    if image_path is not None:
        from dllab.vision.image_files import read_image

        try:
            image, notes = read_image(image_path, max_side=PREVIEW_MAX_SIDE)
        except (FileNotFoundError, ValueError) as err:
            raise typer.BadParameter(_one_line(err), param_hint="IMAGE") from None
        for note in notes:
            typer.echo(f"warning: {image_path}: {note}", err=True)
        return image, str(image_path)
    if options["dataset"] == "shapes":
        from dllab.vision.data.shapes import make_shapes

        images, _ = make_shapes(1, seed=options["seed"])
        return images[0], f"shapes sample (seed {options['seed']})"
    data = _data({**options, "batch_size": 1, "augment": False})
    index = options["seed"] % len(data.train_tensors[0])
    return data.train_tensors[0][index], f"cifar10 training image {index}"


def augment_preview_command(options: dict[str, Any]) -> dict[str, Any]:
    """``dllab vision augment-preview``: a grid of augmented copies, in a run folder."""
    from dllab.core.runs import run_folder
    from dllab.vision.plots import plot_image_grid

    image, source = _preview_source(options)  # before the run folder: bad input leaves none
    copies = options["copies"]
    padding = max(1, round(min(image.shape[1:]) / 8))  # 4 pixels on a 32×32 image
    augment = BatchAugment(padding=padding)
    hparams = json.loads(json.dumps(options, default=str))  # paths and enums as strings
    with run_folder(options["runs_dir"], "vision-augment-preview", hparams) as run:
        generator = torch.Generator().manual_seed(options["seed"])
        augmented = augment(image.expand(copies, -1, -1, -1), generator=generator)
        grid = torch.cat([image[None].float() / 255, augmented])
        titles = ["original", *(f"augmented {i + 1}" for i in range(copies))]
        plot_image_grid(grid, run.path("augment_preview.png"), titles, columns=8)
        summary = {"source": source, "copies": copies, "padding": padding}
        run.write_summary(summary)
    typer.echo(f"run folder: {run.dir}")
    typer.echo(json.dumps(summary, sort_keys=True))
    return summary
