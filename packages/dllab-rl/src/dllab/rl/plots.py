"""Plots of tabular RL: a value heatmap with policy arrows over the map, and learning curves.

Both write PNG files through :func:`dllab.core.plotting.save_figure` (atomic, Agg backend).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ARROWS = {0: (-1.0, 0.0), 1: (0.0, 1.0), 2: (1.0, 0.0), 3: (0.0, -1.0)}
"""FrozenLake actions as (dx, dy) in image coordinates: LEFT, DOWN, RIGHT, UP."""

ANNOTATE_MAX = 32
"""Larger maps are drawn without tile letters, values and arrows (only colours and holes)."""


def _grid_of(grid: Sequence[str] | None, n_states: int) -> list[str]:
    if grid is None:
        raise ValueError("a heatmap needs the map rows (an MDP built from a grid world)")
    grid = list(grid)
    if sum(len(row) for row in grid) != n_states:
        raise ValueError(f"the map has {sum(len(r) for r in grid)} cells but V has {n_states}")
    return grid


def plot_value_heatmap(
    V: Any,
    grid: Sequence[str] | None,
    path: str | os.PathLike[str],
    policy: Any = None,
    title: str = "state values and greedy policy",
) -> Path:
    """Draw ``V`` over the map, with the tile letters and an arrow for each policy action.

    Args:
        V: state values (S,), row-major over the map.
        grid: the map rows (``mdp.grid``).
        path: where the PNG goes.
        policy: actions (S,) drawn as arrows on the non-terminal tiles, or ``None``; maps
            over ``ANNOTATE_MAX`` tiles a side get no arrows or text.
        title: the figure title.
    """
    from dllab.core.plotting import new_figure, save_figure

    V = np.asarray(V, dtype=np.float64)
    if V.ndim != 1:
        raise ValueError(f"V must be one value per state, got shape {V.shape}")
    rows = _grid_of(grid, V.size)
    n_rows, n_cols = len(rows), len(rows[0])
    values = V.reshape(n_rows, n_cols)
    size = min(max(3.0, 0.75 * n_cols + 1.5), 12.0)
    fig, ax = new_figure(figsize=(size, max(size * n_rows / n_cols, 2.0)))
    image = ax.imshow(values, cmap="viridis", vmin=min(0.0, values.min()))
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="V(s)")
    ax.set_title(title)
    if max(n_rows, n_cols) > ANNOTATE_MAX:  # a large lake: the colours only, holes in black
        holes = np.frombuffer("".join(rows).encode(), "S1").reshape(n_rows, n_cols) == b"H"
        ax.imshow(np.ma.masked_where(~holes, holes), cmap="gray_r", vmin=0, vmax=1)
        return save_figure(fig, path)
    actions = None if policy is None else np.asarray(policy).reshape(n_rows, n_cols)
    mid = (values.max() + min(0.0, values.min())) / 2
    for r in range(n_rows):
        for c in range(n_cols):
            tile = rows[r][c]
            color = "white" if values[r, c] < mid else "black"
            if tile == "H":
                ax.add_patch(_square(r, c, "black"))
                color = "white"
            if tile == "G":
                ax.add_patch(_square(r, c, "gold"))
                color = "black"
            ax.text(c - 0.42, r - 0.3, tile, color=color, fontsize=9, weight="bold")
            ax.text(c, r + 0.38, f"{values[r, c]:.2f}", color=color, fontsize=7, ha="center")
            if actions is not None and tile in "SF":
                dx, dy = ARROWS.get(int(actions[r, c]), (0.0, 0.0))
                ax.arrow(c - 0.2 * dx, r - 0.2 * dy, 0.3 * dx, 0.3 * dy, head_width=0.15,
                         head_length=0.12, color=color, length_includes_head=True)  # fmt: skip
    ax.set_xticks(range(n_cols))
    ax.set_yticks(range(n_rows))
    return save_figure(fig, path)


def _square(row: int, col: int, color: str) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((col - 0.5, row - 0.5), 1, 1, facecolor=color, alpha=0.85)


def moving_average(x: Any, window: int) -> np.ndarray:
    """Trailing mean of ``x`` over ``window`` items (shorter at the start)."""
    x = np.asarray(x, dtype=np.float64)
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    sums = np.cumsum(np.insert(x, 0, 0.0))
    counts = np.minimum(np.arange(1, x.size + 1), window)
    return (sums[1:] - sums[np.maximum(np.arange(1, x.size + 1) - window, 0)]) / counts


def plot_learning_curves(
    successes: Any,
    returns: Any,
    path: str | os.PathLike[str],
    window: int | None = None,
    optimum: float | None = None,
    greedy_episodes: Any = None,
    greedy_success: Any = None,
    title: str = "Q-learning",
) -> Path:
    """Success rate and return against training episodes, as moving averages.

    Args:
        successes: per-episode success flags of the behaviour (ε-greedy) policy.
        returns: per-episode returns.
        path: where the PNG goes.
        window: averaging window; default about 1% of the episodes (at least 10).
        optimum: a reference success probability drawn as a dashed line.
        greedy_episodes: episodes at which the greedy policy was measured, or ``None``.
        greedy_success: its success probability at those episodes.
        title: the figure title.
    """
    from dllab.core.plotting import new_figure, save_figure

    successes = np.asarray(successes, dtype=np.float64)
    returns = np.asarray(returns, dtype=np.float64)
    if successes.ndim != 1 or successes.shape != returns.shape or successes.size == 0:
        raise ValueError("successes and returns must be non-empty and of the same length")
    window = window or max(10, successes.size // 100)
    episodes = np.arange(1, successes.size + 1)
    fig, (top, bottom) = new_figure(2, 1, figsize=(7, 5.5), sharex=True)
    top.plot(episodes, moving_average(successes, window), label=f"ε-greedy (mean of {window})")
    if greedy_episodes is not None and len(greedy_episodes):
        top.plot(greedy_episodes, greedy_success, "o-", markersize=3, label="greedy (exact)")
    if optimum is not None:
        top.axhline(optimum, color="gray", linestyle="--", label=f"optimum {optimum:.3f}")
    top.set_ylabel("success rate")
    top.set_ylim(-0.02, 1.02)
    top.legend(loc="lower right", fontsize=8, framealpha=0.9)
    top.set_title(title)
    bottom.plot(episodes, moving_average(returns, window), color="tab:orange")
    bottom.set_ylabel(f"return (mean of {window})")
    bottom.set_xlabel("training episode")
    return save_figure(fig, path)
