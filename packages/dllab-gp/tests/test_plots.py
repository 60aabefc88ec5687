"""Every figure is written as a PNG (and bad input is refused)."""

from __future__ import annotations

import numpy as np
import pytest

from dllab.gp import plots

PNG = b"\x89PNG\r\n\x1a\n"


def _is_png(path) -> bool:
    return path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG


def test_all_plots_write_pngs(tmp_path):
    x = np.linspace(0, 5, 40)
    samples = np.sin(x)[None, :] * np.arange(1, 4)[:, None]
    assert _is_png(
        plots.plot_prior_samples([("a", x, samples), ("b", x, samples)], tmp_path / "p.png")
    )
    mean = np.sin(x)
    assert _is_png(
        plots.plot_posterior_1d(
            x, mean, x, mean, mean - 0.2, mean + 0.2, tmp_path / "q.png", truth=mean
        )
    )
    g = np.stack([a.ravel() for a in np.meshgrid(x[:10], x[:10])], axis=1)
    assert _is_png(plots.plot_posterior_2d(g[:5], g, g[:, 0], g[:, 1], tmp_path / "r.png"))
    assert _is_png(
        plots.plot_predicted_vs_observed(mean, mean, mean - 1, mean + 1, tmp_path / "s.png")
    )


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="at least one panel"):
        plots.plot_prior_samples([], tmp_path / "p.png")
    x = np.zeros((10, 2))
    with pytest.raises(ValueError, match="square grid"):
        plots.plot_posterior_2d(x, x, x[:, 0], x[:, 0], tmp_path / "r.png")
    assert not any(tmp_path.iterdir())
