"""Glyphs: the embedded default image dataset (28×28 grayscale, 10 classes).

Each image is one of ten shapes rendered from a signed-distance function with random
position, size, rotation, stroke width and brightness, plus Gaussian pixel noise. It is
procedurally generated from a seed, so it needs no download, and it has Fashion-MNIST's
shapes and dtypes, so every model trains on either one unchanged.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from dllab.core.data.datamodule import TensorDataModule

CLASSES = (
    "disk",
    "ring",
    "square",
    "frame",
    "triangle",
    "plus",
    "cross",
    "bars",
    "columns",
    "diamond",
)
SIZE = 28


def _box(u: Tensor, v: Tensor, half_u: Tensor | float, half_v: Tensor | float) -> Tensor:
    """Signed distance to an axis-aligned box (negative inside)."""
    du, dv = u.abs() - half_u, v.abs() - half_v
    outside = torch.sqrt(du.clamp(min=0) ** 2 + dv.clamp(min=0) ** 2)
    return outside + torch.maximum(du, dv).clamp(max=0)


_SHAPES = {
    "disk": lambda u, v, r, s, w: r - s,
    "ring": lambda u, v, r, s, w: (r - 0.8 * s).abs() - w,
    "square": lambda u, v, r, s, w: _box(u, v, 0.8 * s, 0.8 * s),
    "frame": lambda u, v, r, s, w: _box(u, v, 0.8 * s, 0.8 * s).abs() - w,
    "triangle": lambda u, v, r, s, w: torch.maximum(
        v - 0.75 * s, (1.732 * u.abs() - v - 1.3 * s) / 2
    ),
    "plus": lambda u, v, r, s, w: torch.minimum(_box(u, v, s, w), _box(u, v, w, s)),
    "cross": lambda u, v, r, s, w: _signed_plus_rotated(u, v, s, w),
    "bars": lambda u, v, r, s, w: torch.minimum(
        _box(u, v - 0.45 * s, s, w), _box(u, v + 0.45 * s, s, w)
    ),
    "columns": lambda u, v, r, s, w: torch.minimum(
        _box(u - 0.45 * s, v, w, s), _box(u + 0.45 * s, v, w, s)
    ),
    "diamond": lambda u, v, r, s, w: (u.abs() + v.abs()) / math.sqrt(2) - 0.75 * s,
}


def _signed_plus_rotated(u: Tensor, v: Tensor, s: Tensor, w: Tensor) -> Tensor:
    a, b = (u + v) / math.sqrt(2), (u - v) / math.sqrt(2)  # rotate by 45°
    return torch.minimum(_box(a, b, s, w), _box(a, b, w, s))


def render_glyphs(
    labels: Tensor, generator: torch.Generator | None = None, noise: float = 0.15
) -> Tensor:
    """Render one jittered glyph per label: returns float32 images (N, 1, 28, 28) in [0, 1]."""
    labels = torch.as_tensor(labels)
    if labels.dtype not in (torch.int64, torch.int32) or labels.ndim != 1:
        raise TypeError("labels must be a 1-D integer tensor")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(CLASSES)):
        raise ValueError(f"labels must lie in [0, {len(CLASSES) - 1}]")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    n = len(labels)

    def uniform(lo: float, hi: float) -> Tensor:
        return lo + (hi - lo) * torch.rand(n, 1, 1, generator=generator)

    cx, cy = uniform(-2.0, 2.0), uniform(-2.0, 2.0)  # centre offset, pixels
    s, w = uniform(5.5, 9.5), uniform(1.0, 2.2)  # size and stroke half-width, pixels
    angle = uniform(-0.25, 0.25)  # radians, about ±15°
    brightness = uniform(0.55, 1.0)
    grid = torch.arange(SIZE, dtype=torch.float32) - (SIZE - 1) / 2
    x, y = grid.view(1, 1, SIZE) - cx, grid.view(1, SIZE, 1) - cy  # (N, H, W) after broadcast
    u = x * torch.cos(angle) + y * torch.sin(angle)
    v = -x * torch.sin(angle) + y * torch.cos(angle)
    v = -v  # so that "up" is up in the image
    chosen = torch.empty_like(u.expand(n, SIZE, SIZE))  # (N, H, W) signed distance
    for label, name in enumerate(CLASSES):
        i = (labels == label).nonzero().squeeze(1)
        if len(i):
            shape = _SHAPES[name]
            chosen[i] = shape(u[i], v[i], torch.sqrt(u[i] ** 2 + v[i] ** 2), s[i], w[i])
    ink = torch.sigmoid(-chosen / 0.6) * brightness  # soft edges
    ink = ink + noise * torch.randn(ink.shape, generator=generator, dtype=torch.float32)
    return ink.clamp(0, 1).unsqueeze(1)  # (N, 1, H, W)


def make_glyphs(n: int, seed: int = 0, noise: float = 0.15) -> tuple[Tensor, Tensor]:
    """``n`` seeded glyph images with balanced labels: ``(X (n,1,28,28) float32, y (n,) int64)``."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % len(CLASSES)
    labels = labels[torch.randperm(n, generator=generator)]
    return render_glyphs(labels, generator, noise), labels


class GlyphsData(TensorDataModule):
    """The embedded glyph dataset as a DataModule (no download; seeded).

    Args:
        n: number of images (train plus validation).
        batch_size: batch size.
        val_fraction: share held out for validation.
        seed: seed for rendering and the split.
        noise: standard deviation of the pixel noise.
    """

    classes = CLASSES

    def __init__(
        self,
        n: int = 6000,
        batch_size: int = 256,
        val_fraction: float = 0.2,
        seed: int = 0,
        noise: float = 0.15,
    ) -> None:
        super().__init__(batch_size=batch_size, val_fraction=val_fraction, seed=seed)
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        self.n, self.noise = n, noise

    def build(self) -> tuple[Tensor, Tensor]:
        return make_glyphs(self.n, self.seed, self.noise)
