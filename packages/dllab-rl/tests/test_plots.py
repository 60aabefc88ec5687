"""Tests of dllab.rl.plots: both figures are written as PNG, bad input writes nothing."""

from __future__ import annotations

import numpy as np
import pytest

from dllab.rl.planning import value_iteration
from dllab.rl.plots import moving_average, plot_learning_curves, plot_value_heatmap

PNG = b"\x89PNG\r\n\x1a\n"


def test_value_heatmap_is_a_png(lake4, tmp_path):
    _, mdp = lake4
    result = value_iteration(mdp, 0.99)
    path = plot_value_heatmap(result.V, mdp.grid, tmp_path / "v.png", result.policy)
    assert path.read_bytes()[:8] == PNG
    assert path.stat().st_size > 5_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.png"]  # no temporary left over


def test_learning_curves_are_a_png(tmp_path):
    rng = np.random.default_rng(0)
    success = rng.random(500) < np.linspace(0, 0.8, 500)
    path = plot_learning_curves(
        success, success * 1.0, tmp_path / "c.png", optimum=0.8, greedy_episodes=[250, 500],
        greedy_success=[0.5, 0.7],
    )  # fmt: skip
    assert path.read_bytes()[:8] == PNG


def test_moving_average_matches_a_loop():
    x = np.arange(10, dtype=float) ** 2
    expected = [np.mean(x[max(0, i - 2) : i + 1]) for i in range(10)]
    np.testing.assert_allclose(moving_average(x, 3), expected, rtol=1e-12)


def test_bad_plot_inputs_write_nothing(lake4, tmp_path):
    _, mdp = lake4
    with pytest.raises(ValueError, match="needs the map rows"):
        plot_value_heatmap(np.zeros(16), None, tmp_path / "a.png")
    with pytest.raises(ValueError, match="the map has 16 cells but V has 9"):
        plot_value_heatmap(np.zeros(9), mdp.grid, tmp_path / "a.png")
    with pytest.raises(ValueError, match="one value per state"):
        plot_value_heatmap(np.zeros((4, 4)), mdp.grid, tmp_path / "a.png")
    with pytest.raises(ValueError, match="same length"):
        plot_learning_curves([1, 0], [1.0], tmp_path / "b.png")
    with pytest.raises(ValueError, match="window"):
        moving_average([1.0], 0)
    assert list(tmp_path.iterdir()) == []
