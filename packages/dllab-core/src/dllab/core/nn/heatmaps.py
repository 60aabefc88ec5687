"""Attention heatmaps: a grid of (queries x keys) weight matrices saved as one PNG (d2l's
``show_heatmaps``)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _as_grid(weights: Any) -> np.ndarray:
    """``(Q, K)``, ``(H, Q, K)`` or ``(R, C, Q, K)`` -> ``(R, C, Q, K)`` float array."""
    if hasattr(weights, "detach"):
        weights = weights.detach().float().cpu().numpy()
    array = np.asarray(weights, dtype=np.float64)
    if array.ndim == 2:
        array = array[None, None]
    elif array.ndim == 3:
        array = array[None]
    elif array.ndim != 4:
        raise ValueError(
            "weights must be (queries, keys), (heads, queries, keys) or "
            f"(rows, cols, queries, keys), got shape {array.shape}"
        )
    if array.size == 0:
        raise ValueError(f"weights are empty: shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("weights contain NaN or infinite values")
    return array


def _integer_ticks(axis: Any, size: int, locator: Any) -> None:
    """Ticks on whole positions: all of them for short axes, a few for long ones."""
    if size <= 10:
        axis.set_ticks(range(size))
    else:
        axis.set_major_locator(locator(integer=True, nbins=5))


def plot_attention_heatmaps(
    weights: Any,
    path: str | os.PathLike[str],
    *,
    xlabel: str = "keys",
    ylabel: str = "queries",
    titles: Sequence[str] | None = None,
    cmap: str = "Reds",
    panel_size: float = 2.5,
    suptitle: str | None = None,
) -> Path:
    """Draw attention weights as a grid of heatmaps with one shared colorbar.

    Args:
        weights: tensor or array ``(Q, K)``, ``(H, Q, K)`` (one row of heads) or
            ``(R, C, Q, K)`` (for example layers x heads).
        path: PNG file to write (atomically).
        xlabel: label under the bottom row.
        ylabel: label left of the first column.
        titles: one title per panel (``R * C`` of them, row by row).
        cmap: matplotlib colormap.
        panel_size: inches per panel.
        suptitle: a title over the whole grid.

    Returns:
        The written path.
    """
    from matplotlib.ticker import MaxNLocator

    from dllab.core.plotting import new_figure, save_figure

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"path must end in .png, got {str(path)!r}")
    grid = _as_grid(weights)
    rows, cols, num_queries, num_keys = grid.shape
    if titles is not None and len(titles) != rows * cols:
        raise ValueError(f"titles has {len(titles)} entries for {rows * cols} panels")
    aspect = max(0.3, min(3.0, num_queries / num_keys))
    fig, axes = new_figure(
        rows,
        cols,
        figsize=(panel_size * cols + 1.0, panel_size * rows * math.sqrt(aspect) + 0.3),
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    vmin, vmax = float(grid.min()), float(grid.max())
    image = None
    for r in range(rows):
        for c in range(cols):
            ax = axes[r, c]
            image = ax.imshow(grid[r, c], cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
            _integer_ticks(ax.xaxis, num_keys, MaxNLocator)
            _integer_ticks(ax.yaxis, num_queries, MaxNLocator)
            if r == rows - 1:
                ax.set_xlabel(xlabel)
            if c == 0:
                ax.set_ylabel(ylabel)
            if titles is not None:
                ax.set_title(titles[r * cols + c], fontsize=9)
    fig.colorbar(image, ax=axes, shrink=0.6)
    if suptitle:
        fig.suptitle(suptitle)
    return save_figure(fig, path)
