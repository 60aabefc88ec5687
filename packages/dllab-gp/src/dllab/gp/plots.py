"""Figures: prior samples, 1-D posterior with its confidence region, 2-D posterior maps.

Every function writes a PNG through ``dllab.core.plotting`` (Agg backend, atomic save) and
accepts numpy arrays or tensors.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dllab.core.plotting import new_figure, save_figure


def _np(a: Any) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().double().numpy()
    return np.asarray(a, dtype=np.float64)


def plot_prior_samples(
    panels: Sequence[tuple[str, Any, Any]], path: str | os.PathLike[str], columns: int = 3
) -> Path:
    """One panel per ``(title, x (n,), samples (s, n))``: sample paths of a GP prior."""
    if not panels:
        raise ValueError("need at least one panel to plot")
    columns = min(columns, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = new_figure(rows, columns, figsize=(4 * columns, 2.8 * rows), squeeze=False)
    for ax, (title, x, samples) in zip(axes.flat, panels, strict=False):
        x, samples = _np(x).reshape(-1), _np(samples)
        for s in np.atleast_2d(samples):
            ax.plot(x, s, lw=1.2)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.suptitle("Samples from GP priors")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_posterior_1d(
    x_train: Any,
    y_train: Any,
    x_test: Any,
    mean: Any,
    lower: Any,
    upper: Any,
    path: str | os.PathLike[str],
    truth: Any = None,
    title: str = "GP posterior",
    level: float = 0.95,
    latent: tuple[Any, Any] | None = None,
) -> Path:
    """Posterior mean, its ``level`` confidence band and the data (and the truth if known).

    ``lower``/``upper`` bound a new observation; ``latent=(lower, upper)`` optionally adds the
    narrower band of the noise-free function.
    """
    x_test = _np(x_test).reshape(-1)
    order = np.argsort(x_test)
    fig, ax = new_figure(figsize=(8, 4))
    ax.fill_between(
        x_test[order],
        _np(lower)[order],
        _np(upper)[order],
        alpha=0.2,
        color="C0",
        label=f"{level:.0%} region, new observation",
    )
    if latent is not None:
        ax.fill_between(
            x_test[order],
            _np(latent[0])[order],
            _np(latent[1])[order],
            alpha=0.35,
            color="C0",
            label=f"{level:.0%} region, function",
        )
    ax.plot(x_test[order], _np(mean)[order], color="C0", lw=2, label="posterior mean")
    if truth is not None:
        ax.plot(x_test[order], _np(truth)[order], "k--", lw=1, label="true function")
    x_train, y_train = _np(x_train).reshape(-1), _np(y_train)
    ax.scatter(x_train, y_train, s=8, color="C1", alpha=0.6, zorder=3, label="data")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_posterior_2d(
    x_train: Any, x_grid: Any, mean: Any, std: Any, path: str | os.PathLike[str], title: str = ""
) -> Path:
    """Maps of the posterior mean and standard deviation on a square grid, with the data."""
    x_grid, mean, std = _np(x_grid), _np(mean), _np(std)
    side = round(float(np.sqrt(len(x_grid))))
    if side * side != len(x_grid):
        raise ValueError(f"x_grid must be a square grid, got {len(x_grid)} points")
    extent = (x_grid[:, 0].min(), x_grid[:, 0].max(), x_grid[:, 1].min(), x_grid[:, 1].max())
    x_train = _np(x_train)
    fig, axes = new_figure(1, 2, figsize=(10, 4))
    for ax, values, name in ((axes[0], mean, "posterior mean"), (axes[1], std, "posterior std")):
        image = ax.imshow(values.reshape(side, side), origin="lower", extent=extent, aspect="auto")
        fig.colorbar(image, ax=ax)
        ax.scatter(x_train[:, 0], x_train[:, 1], s=6, c="w", edgecolors="k", linewidths=0.3)
        ax.set_title(f"{title} {name}".strip())
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
    return save_figure(fig, path)


def plot_predicted_vs_observed(
    y: Any, mean: Any, lower: Any, upper: Any, path: str | os.PathLike[str], title: str = ""
) -> Path:
    """Predicted mean with its interval against the observed targets (any input dimension)."""
    y, mean = _np(y), _np(mean)
    errors = np.stack([mean - _np(lower), _np(upper) - mean])
    fig, ax = new_figure(figsize=(5, 5))
    ax.errorbar(y, mean, yerr=errors, fmt="o", ms=3, alpha=0.5, elinewidth=0.8)
    low, high = min(y.min(), mean.min()), max(y.max(), mean.max())
    ax.plot([low, high], [low, high], "k--", lw=1)
    ax.set_xlabel("observed")
    ax.set_ylabel("predicted (95% region)")
    ax.set_title(title or "GP fit")
    ax.grid(alpha=0.3)
    return save_figure(fig, path)
