"""Figures: image grids (augmentation previews, misclassified examples) and confusion matrices.

Every figure is drawn on matplotlib's Agg backend and saved through ``dllab.core.plotting``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from dllab.core.plotting import new_figure, save_figure


def confusion_matrix(predicted: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """Counts ``(num_classes, num_classes)``: row = true class, column = predicted class."""
    if predicted.shape != labels.shape:
        raise ValueError(f"predicted {tuple(predicted.shape)} and labels {tuple(labels.shape)}")
    flat = labels.long().reshape(-1) * num_classes + predicted.long().reshape(-1)
    return torch.bincount(flat, minlength=num_classes**2).view(num_classes, num_classes)


def plot_confusion_matrix(
    matrix: Tensor, classes: Sequence[str], path: str | os.PathLike[str], title: str = ""
) -> Path:
    """Draw a confusion matrix, each row normalised to the share of its true class."""
    counts = matrix.double()
    shares = counts / counts.sum(dim=1, keepdim=True).clamp(min=1)
    size = max(4.0, 0.55 * len(classes) + 1.5)
    fig, ax = new_figure(figsize=(size + 1, size))
    image = ax.imshow(shares.numpy(), cmap="Blues", vmin=0, vmax=1)
    ticks = range(len(classes))
    ax.set_xticks(ticks, classes, rotation=45, ha="right")
    ax.set_yticks(ticks, classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    for i in ticks:
        for j in ticks:
            if counts[i, j]:
                dark = shares[i, j] > 0.5
                ax.text(j, i, int(counts[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if dark else "black")  # fmt: skip
    accuracy = float(counts.diagonal().sum() / counts.sum().clamp(min=1))
    ax.set_title(title or f"confusion matrix (accuracy {accuracy:.3f})")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    return save_figure(fig, path)


def plot_image_grid(
    images: Tensor,
    path: str | os.PathLike[str],
    titles: Sequence[str] | None = None,
    columns: int = 8,
    title: str = "",
) -> Path:
    """Draw images ``(N, 3, H, W)`` (uint8, or floats in [0, 1]) in a grid, with titles."""
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must have shape (N, 1 or 3, H, W), got {tuple(images.shape)}")
    if images.dtype == torch.uint8:
        images = images.float() / 255
    images = images.detach().cpu().clamp(0, 1)
    count = len(images)
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    fig, axes = new_figure(rows, columns, figsize=(1.6 * columns, 1.75 * rows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < count:
            picture = images[k].permute(1, 2, 0).squeeze(-1).numpy()
            ax.imshow(picture, cmap="gray" if images.shape[1] == 1 else None, vmin=0, vmax=1)
            if titles is not None:
                ax.set_title(titles[k], fontsize=7)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)
