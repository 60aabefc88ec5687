"""The embedded glyph images: format, determinism, size and colour, bad input.

Learning is tested with the MLP.
"""

from __future__ import annotations

import hashlib

import pytest
import torch

from dllab.core.data.glyphs import CLASSES, GlyphsData, make_glyphs, render_glyphs

# Recorded from dllab-core 0.1's renderer (torch 2.15, CPU capability AVX2): GlyphsData(n=300)
RECORDED = {
    "platform": ("2.15", "AVX2"),
    "train_x_sha256": "30281bb02ca867e0d1e1a2a8331b226b5308fa4600cdbfa8e42c4cec726a3222",
    "train_y_sha256": "d235deeedbc31b711581794174c967a492b00bcc68d4149d0026a39914de3992",
    "val_x_sha256": "2310f2d9e2fa3b7c4893e4761e58569f15987271aa940a757404e6ad3fb1b8f0",
    "train_x_sum": 31429.656013757376,
    "train_x_sum_sq": 16012.237743602387,
    "val_x_sum": 7771.945590409046,
}


def sha256(t: torch.Tensor) -> str:
    return hashlib.sha256(t.contiguous().numpy().tobytes()).hexdigest()


def test_format_matches_fashion_mnist():
    X, y = make_glyphs(200, seed=1)
    assert X.shape == (200, 1, 28, 28) and X.dtype == torch.float32
    assert y.dtype == torch.int64 and set(y.tolist()) == set(range(len(CLASSES)))
    assert float(X.min()) >= 0.0 and float(X.max()) <= 1.0
    assert torch.bincount(y).tolist() == [20] * 10  # balanced


def test_seeded_and_varied():
    X1, y1 = make_glyphs(50, seed=3)
    X2, y2 = make_glyphs(50, seed=3)
    X3, _ = make_glyphs(50, seed=4)
    assert torch.equal(X1, X2) and torch.equal(y1, y2)
    assert not torch.equal(X1, X3)


def test_classes_differ_more_between_than_within():
    """Noise-free class means are distinct: each image is nearest its own class mean."""
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(10).repeat(40)
    X = render_glyphs(labels, g, noise=0.0).flatten(1)
    means = torch.stack([X[labels == c].mean(0) for c in range(10)])
    nearest = torch.cdist(X, means).argmin(1)
    assert (nearest == labels).float().mean() > 0.6


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: make_glyphs(0), ValueError),
        (lambda: render_glyphs(torch.tensor([10])), ValueError),
        (lambda: render_glyphs(torch.tensor([0.5])), TypeError),
        (lambda: render_glyphs(torch.tensor([1]), noise=-1.0), ValueError),
        (lambda: GlyphsData(n=-5), ValueError),
    ],
)
def test_bad_input(call, error):
    with pytest.raises(error):
        call()


def test_default_output_is_unchanged_from_the_recorded_renderer():
    data = GlyphsData(n=300, batch_size=32)
    data.setup("fit")
    (x, y), (xv, _) = data.train_tensors, data.val_tensors
    assert sha256(y) == RECORDED["train_y_sha256"]  # integer draws: the same everywhere
    # float sums to 1e-9: any change of draws or geometry moves them by far more
    assert x.double().sum().item() == pytest.approx(RECORDED["train_x_sum"], rel=1e-9)
    assert (x.double() ** 2).sum().item() == pytest.approx(RECORDED["train_x_sum_sq"], rel=1e-9)
    assert xv.double().sum().item() == pytest.approx(RECORDED["val_x_sum"], rel=1e-9)
    platform = (torch.__version__.rsplit(".", 1)[0], torch.backends.cpu.get_cpu_capability())
    if platform == RECORDED["platform"]:  # other vector kernels may round sin/exp differently
        assert sha256(x) == RECORDED["train_x_sha256"] and sha256(xv) == RECORDED["val_x_sha256"]


def render(labels: torch.Tensor, seed: int = 0, **kwargs) -> torch.Tensor:
    return render_glyphs(labels, torch.Generator().manual_seed(seed), **kwargs)


def test_size_scales_the_glyph():
    labels = torch.arange(10).repeat(3)
    small, big = render(labels, noise=0.0), render(labels, noise=0.0, size=56)
    assert small.shape == (30, 1, 28, 28) and big.shape == (30, 1, 56, 56)
    assert torch.equal(render(labels, noise=0.0, size=28), small)
    # the same draws at twice the size: four times the ink, and the same picture downsampled
    ratio = big.sum() / small.sum()
    assert 3.8 < ratio < 4.2, ratio
    pooled = torch.nn.functional.avg_pool2d(big, 2)
    assert (pooled - small).abs().mean() < 0.03


def test_colour_scales_each_channel():
    labels = torch.arange(10)
    gray = render(labels)
    rgb = render(labels, color=(1.0, 0.5, 0.0), size=28)
    assert rgb.shape == (10, 3, 28, 28) and rgb.dtype == torch.float32
    assert torch.equal(rgb[:, 0], gray[:, 0]) and torch.equal(
        rgb[:, 2], torch.zeros_like(gray[:, 0])
    )
    assert torch.allclose(rgb[:, 1], 0.5 * gray[:, 0], atol=1e-7)


def test_colour_per_image_over_a_background():
    labels = torch.tensor([0, 3, 5])
    colors = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.2, 0.4, 0.6]])
    background = (0.0, 0.0, 1.0)
    out = render(labels, size=32, color=colors, background=background)
    ink = render(labels, size=32)[:, 0]  # (N, H, W)
    assert out.shape == (3, 3, 32, 32)
    for i in range(3):
        for c in range(3):
            want = background[c] * (1 - ink[i]) + colors[i, c] * ink[i]
            assert torch.allclose(out[i, c], want, atol=1e-6)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert float(out[:, 2, 0, 0].mean()) > 0.8  # the corners are mostly background blue


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"size": 4}, ValueError, "size must be >= 8"),
        ({"size": 28.0}, TypeError, "size must be an int"),
        ({"size": 4096}, ValueError, "size must be <= 1024"),
        ({"color": (1.0, 0.5)}, ValueError, r"color must have shape \(3,\)"),
        ({"color": (1.0, 0.5, 2.0)}, ValueError, r"color values must lie in \[0, 1\]"),
        ({"color": (1.0, float("nan"), 0.0)}, ValueError, "color values"),
        ({"color": "red"}, TypeError, "color must be three numbers"),
        ({"color": torch.ones(4, 3)}, ValueError, "N = 2 images"),
        ({"background": (0.0, 0.0, 0.0)}, ValueError, "background needs color"),
        ({"color": (1, 1, 1), "background": (0.5,)}, ValueError, "background must have shape"),
    ],
)
def test_bad_size_and_colour(kwargs, error, match):
    with pytest.raises(error, match=match):
        render_glyphs(torch.tensor([0, 1]), **kwargs)
