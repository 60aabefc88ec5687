"""Glyphs: the embedded default image dataset (28×28 grayscale, 10 classes).

Each image is one of ten shapes rendered from a signed-distance function with random
position, size, rotation, stroke width and brightness, plus Gaussian pixel noise. It is
procedurally generated from a seed, so it needs no download, and it has Fashion-MNIST's
shapes and dtypes, so every model trains on either one unchanged.

``render_glyphs`` also draws at other sizes (the geometry scales with the image) and in
colour, one RGB colour for all images or one per image over an RGB background, so a colour
dataset of shapes (for example 32×32 RGB) is built from the same renderer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from dllab.core.checks import check_int
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
"""The default image side, in pixels (Fashion-MNIST's)."""
MIN_SIZE, MAX_SIZE = 8, 1024

Color = Sequence[float] | Tensor


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
    labels: Tensor,
    generator: torch.Generator | None = None,
    noise: float = 0.15,
    *,
    size: int = SIZE,
    color: Color | None = None,
    background: Color | None = None,
) -> Tensor:
    """Render one jittered glyph per label, as float32 images in ``[0, 1]``.

    Args:
        labels: class indices ``(N,)`` into ``CLASSES``.
        generator: the random source for position, size, rotation, stroke, brightness and
            noise (the default generator if ``None``).
        noise: standard deviation of the Gaussian pixel noise, >= 0.
        size: image side in pixels, in ``[8, 1024]``; positions, sizes, strokes and edge
            softness scale with it (28 is Fashion-MNIST's).
        color: ``None`` for grayscale ``(N, 1, size, size)``; else RGB ``(N, 3, size, size)``
            with the ink in this colour: three values in ``[0, 1]``, or a tensor ``(3,)`` or
            ``(N, 3)`` (one colour per image).
        background: RGB background (same forms as ``color``; black by default). Each pixel is
            ``background * (1 - ink) + color * ink``, with ``ink`` the grayscale image.
    """
    labels = torch.as_tensor(labels)
    if labels.dtype not in (torch.int64, torch.int32) or labels.ndim != 1:
        raise TypeError("labels must be a 1-D integer tensor")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(CLASSES)):
        raise ValueError(f"labels must lie in [0, {len(CLASSES) - 1}]")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    size = check_int(size, "size", min=MIN_SIZE, max=MAX_SIZE)
    n = len(labels)
    if color is None and background is not None:
        raise ValueError("background needs color: pass color= for an RGB image")
    rgb = None if color is None else _rgb(color, "color", n)  # (N or 1, 3, 1, 1)
    bg = None if background is None else _rgb(background, "background", n)
    ink = _render_ink(labels, generator, noise, size)  # (N, 1, H, W)
    if rgb is None:
        return ink
    return ink * rgb if bg is None else bg * (1 - ink) + rgb * ink  # (N, 3, H, W)


def _rgb(value: Color, name: str, n: int) -> Tensor:
    """A colour as a float32 tensor ``(1 or N, 3, 1, 1)``, checked to lie in ``[0, 1]``."""
    if isinstance(value, str) or not isinstance(value, Tensor | Sequence):
        raise TypeError(f"{name} must be three numbers or a tensor (3,) or (N, 3), got {value!r}")
    try:
        rgb = torch.as_tensor(value, dtype=torch.float32)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must hold numbers, got {value!r}") from error
    if rgb.shape == (3,):
        rgb = rgb[None]
    if rgb.ndim != 2 or rgb.shape[1] != 3 or len(rgb) not in (1, n):
        raise ValueError(
            f"{name} must have shape (3,) or (N, 3) with N = {n} images, got {tuple(rgb.shape)}"
        )
    if not torch.isfinite(rgb).all() or rgb.min() < 0 or rgb.max() > 1:
        raise ValueError(f"{name} values must lie in [0, 1], got {value!r}")
    return rgb[:, :, None, None]


def _render_ink(
    labels: Tensor, generator: torch.Generator | None, noise: float, size: int
) -> Tensor:
    """Grayscale glyphs ``(N, 1, size, size)``: lengths are drawn for 28 pixels, then scaled."""
    n = len(labels)
    scale = size / SIZE  # exactly 1.0 by default: the 28-pixel output is unchanged

    def uniform(lo: float, hi: float) -> Tensor:
        return lo + (hi - lo) * torch.rand(n, 1, 1, generator=generator)

    cx, cy = uniform(-2.0, 2.0) * scale, uniform(-2.0, 2.0) * scale  # centre offset, pixels
    s, w = uniform(5.5, 9.5) * scale, uniform(1.0, 2.2) * scale  # size, stroke half-width
    angle = uniform(-0.25, 0.25)  # radians, about ±15°
    brightness = uniform(0.55, 1.0)
    grid = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    x, y = grid.view(1, 1, size) - cx, grid.view(1, size, 1) - cy  # (N, H, W) after broadcast
    u = x * torch.cos(angle) + y * torch.sin(angle)
    v = -x * torch.sin(angle) + y * torch.cos(angle)
    v = -v  # so that "up" is up in the image
    chosen = torch.empty_like(u.expand(n, size, size))  # (N, H, W) signed distance
    for label, name in enumerate(CLASSES):
        i = (labels == label).nonzero().squeeze(1)
        if len(i):
            shape = _SHAPES[name]
            chosen[i] = shape(u[i], v[i], torch.sqrt(u[i] ** 2 + v[i] ** 2), s[i], w[i])
    ink = torch.sigmoid(-chosen / (0.6 * scale)) * brightness  # soft edges
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
