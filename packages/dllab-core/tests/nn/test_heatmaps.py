"""Attention heatmaps: PNG grids of the right layout, and clean refusals."""

from __future__ import annotations

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch

from dllab.core.nn.heatmaps import plot_attention_heatmaps


@pytest.mark.parametrize("shape", [(5, 7), (4, 5, 7), (2, 3, 5, 7)])
def test_writes_a_png_grid(tmp_path, shape):
    weights = torch.softmax(torch.randn(shape), dim=-1)
    panels = int(np.prod(shape[:-2]))
    titles = [f"head {i}" for i in range(panels)]
    path = plot_attention_heatmaps(weights, tmp_path / "w.png", titles=titles, suptitle="demo")
    image = mpimg.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert image[..., :3].std() > 0.05  # not a blank canvas


def test_wider_grids_give_wider_images(tmp_path):
    one = mpimg.imread(plot_attention_heatmaps(np.eye(4), tmp_path / "one.png"))
    four = mpimg.imread(plot_attention_heatmaps(np.stack([np.eye(4)] * 4), tmp_path / "four.png"))
    assert four.shape[1] > 2 * one.shape[1]


@pytest.mark.parametrize(
    ("weights", "kwargs", "message"),
    [
        (np.ones(5), {}, "weights must be"),
        (np.ones((1, 1, 1, 2, 2)), {}, "weights must be"),
        (np.full((2, 2), np.nan), {}, "NaN"),
        (np.ones((0, 3)), {}, "empty"),
        (np.ones((3, 2, 2)), {"titles": ["a", "b"]}, "titles has 2 entries for 3 panels"),
    ],
)
def test_bad_input_leaves_no_file(tmp_path, weights, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot_attention_heatmaps(weights, tmp_path / "bad.png", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_refuses_other_formats(tmp_path):
    with pytest.raises(ValueError, match=r"\.png"):
        plot_attention_heatmaps(np.eye(3), tmp_path / "w.pdf")
    assert list(tmp_path.iterdir()) == []
