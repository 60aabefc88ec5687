"""The embedded glyph images: format, determinism and bad input (learning is tested with the MLP)."""

from __future__ import annotations

import pytest
import torch

from dllab.core.data.glyphs import CLASSES, GlyphsData, make_glyphs, render_glyphs


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
