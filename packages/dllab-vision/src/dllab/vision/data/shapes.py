"""ShapesData: the embedded default, 32×32 RGB images of ten shapes (no download, seeded).

Each image is one of core's ten glyphs (``dllab.core.data.glyphs.render_glyphs``: disk, ring,
square, ... with their own jitter of position, size, rotation and stroke), drawn at a random
scale and pasted at a random position, in a random colour over a textured background
(smooth colour blotches: the clutter), plus pixel noise. Bright ink on a dark ground and dark
ink on a bright ground are equally likely.

Augmentation matters here the way it does with real photographs: the training pool (the
train and validation splits) is smaller and narrower than the world it is tested on. In the
pool, most shapes (``colour_bias``, 80% by default) are drawn in their class's own hue, a
shortcut a network picks up as readily as the shape itself; the held-out test split, rendered
from another seed, draws every hue uniformly. Colour jitter over the whole hue circle (this
dataset's default augmentation) takes the shortcut away, so a network trained with it learns
the shapes and keeps its accuracy on the test split; one trained without it scores well on
validation and clearly worse on test.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor
from torch.nn import functional as F

from dllab.core.checks import check_float, check_int, check_probability
from dllab.core.data.glyphs import CLASSES, render_glyphs
from dllab.vision.augment import BatchAugment, hsv_to_rgb
from dllab.vision.data.images import ImageData, to_uint8

SIZE = 32
TEST_SEED_OFFSET = 1_000_003
"""The test split is rendered from ``seed + TEST_SEED_OFFSET``: independent of the pool."""


def _uniform(n: int, lo: float, hi: float, generator: torch.Generator) -> Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=generator)


def _colours(labels: Tensor, bias: float, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Ink and background colours ``(N, 3)``: far apart in brightness.

    Hues are uniform, except that with probability ``bias`` the ink takes its class's own
    hue (``label / 10`` of the circle, give or take 0.03).
    """
    n = len(labels)
    hue_ink, hue_bg = _uniform(n, 0, 1, generator), _uniform(n, 0, 1, generator)
    own = labels / len(CLASSES) + _uniform(n, -0.03, 0.03, generator)
    biased = torch.rand(n, generator=generator) < bias
    hue_ink = torch.where(biased, own.remainder(1.0), hue_ink)
    ink = torch.stack((hue_ink, _uniform(n, 0.4, 1, generator), _uniform(n, 0.7, 1, generator)))
    ground = torch.stack((hue_bg, _uniform(n, 0, 0.8, generator), _uniform(n, 0, 0.3, generator)))
    ink, ground = hsv_to_rgb(ink.T[:, :, None, None]), hsv_to_rgb(ground.T[:, :, None, None])
    ink, ground = ink[:, :, 0, 0], ground[:, :, 0, 0]  # (N, 3)
    swap = (torch.rand(n, generator=generator) < 0.5).view(-1, 1)  # dark ink on bright ground
    return torch.where(swap, ground, ink), torch.where(swap, ink, ground)


def _background(ground: Tensor, clutter: float, generator: torch.Generator) -> Tensor:
    """Backgrounds ``(N, 3, SIZE, SIZE)``: the colour plus smooth random blotches."""
    n = len(ground)
    blotches = torch.rand(n, 3, 4, 4, generator=generator) - 0.5  # (N, 3, 4, 4)
    texture = F.interpolate(blotches, size=(SIZE, SIZE), mode="bicubic", align_corners=False)
    return (ground[:, :, None, None] + clutter * texture).clamp(0, 1)


def _ink_masks(
    labels: Tensor, generator: torch.Generator, min_side: int
) -> Tensor:  # (N, 1, SIZE, SIZE)
    """Core's glyphs rendered at a random side in ``[min_side, SIZE]``, pasted at random."""
    n = len(labels)
    sides = torch.randint(min_side, SIZE + 1, (n,), generator=generator)
    masks = torch.zeros(n, SIZE, SIZE)
    for side in sides.unique().tolist():
        chosen = (sides == side).nonzero().squeeze(1)
        glyphs = render_glyphs(labels[chosen], generator, noise=0.0, size=side)[:, 0]
        top, left = torch.randint(0, SIZE - side + 1, (2, len(chosen)), generator=generator)
        rows = top[:, None] + torch.arange(side)  # (n_side, side)
        cols = left[:, None] + torch.arange(side)
        masks[chosen[:, None, None], rows[:, :, None], cols[:, None, :]] = glyphs
    return masks.unsqueeze(1)


def render_shapes(
    labels: Tensor,
    generator: torch.Generator | None = None,
    noise: float = 0.06,
    clutter: float = 0.3,
    min_side: int = 22,
    colour_bias: float = 0.0,
) -> Tensor:
    """Render one coloured shape per label: uint8 images ``(N, 3, 32, 32)``.

    Args:
        labels: class indices ``(N,)`` into ``CLASSES``.
        generator: the random source (a fresh unseeded one if ``None``).
        noise: standard deviation of the Gaussian pixel noise, >= 0.
        clutter: strength of the background blotches, in [0, 1].
        min_side: the glyph is drawn at a side in ``[min_side, 32]`` pixels (its scale).
        colour_bias: the probability, in [0, 1], that a shape's ink takes its class's own hue
            instead of a uniform one: a shortcut that colour jitter removes.
    """
    labels = torch.as_tensor(labels)
    noise = check_float(noise, "noise", min=0.0)
    clutter = check_float(clutter, "clutter", min=0.0, max=1.0)
    min_side = check_int(min_side, "min_side", min=8, max=SIZE)
    colour_bias = check_probability(colour_bias, "colour_bias", allow_one=True)
    generator = generator or torch.Generator().manual_seed(int(torch.seed() % 2**63))
    masks = _ink_masks(labels, generator, min_side)  # checks the labels
    ink, ground = _colours(labels, colour_bias, generator)
    images = _background(ground, clutter, generator) * (1 - masks) + ink[:, :, None, None] * masks
    images = images + noise * torch.randn(images.shape, generator=generator)
    return to_uint8(images)


def make_shapes(n: int, seed: int = 0, **render: float) -> tuple[Tensor, Tensor]:
    """``n`` seeded images with balanced labels: ``(uint8 (n, 3, 32, 32), int64 (n,))``."""
    n = check_int(n, "n", min=1)
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % len(CLASSES)
    labels = labels[torch.randperm(n, generator=generator)]
    return render_shapes(labels, generator, **render), labels  # type: ignore[arg-type]


class ShapesData(ImageData):
    """Rendered coloured shapes in 10 classes, as a DataModule (see the module docstring).

    Args:
        samples: images in the training pool (train plus validation).
        test_samples: images in the held-out test split (rendered from another seed).
        batch_size: batch size of every loader.
        val_fraction: share of the pool held out for validation.
        seed: seed of the rendering, the split and the shuffling.
        augment: ``True``/``False`` or a ``BatchAugment`` (see ``ImageData``).
        noise: pixel noise (see ``render_shapes``).
        clutter: background clutter (see ``render_shapes``).
        colour_bias: share of the pool's shapes drawn in their class's hue (see
            ``render_shapes``); the test split is always unbiased.
    """

    classes = CLASSES
    mean = (0.5, 0.5, 0.5)
    std = (0.3, 0.3, 0.3)

    def __init__(
        self,
        samples: int = 3000,
        test_samples: int = 2000,
        batch_size: int = 32,
        val_fraction: float = 0.2,
        seed: int = 0,
        augment: bool | BatchAugment = True,
        noise: float = 0.06,
        clutter: float = 0.3,
        colour_bias: float = 0.8,
        root: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(
            batch_size=batch_size, val_fraction=val_fraction, seed=seed, augment=augment, root=root
        )
        self.samples = check_int(samples, "samples", min=10)
        self.test_samples = check_int(test_samples, "test_samples", min=1)
        self.noise = check_float(noise, "noise", min=0.0)
        self.clutter = check_float(clutter, "clutter", min=0.0, max=1.0)
        self.colour_bias = check_probability(colour_bias, "colour_bias", allow_one=True)

    @classmethod
    def default_augment(cls) -> BatchAugment:
        """Crop, flip and colour jitter, with hue shifts over the whole circle."""
        return BatchAugment(hue=0.5)

    def build(self) -> tuple[Tensor, Tensor]:
        render = {"noise": self.noise, "clutter": self.clutter, "colour_bias": self.colour_bias}
        return make_shapes(self.samples, self.seed, **render)

    def build_test(self) -> tuple[Tensor, Tensor]:
        seed = self.seed + TEST_SEED_OFFSET
        return make_shapes(self.test_samples, seed, noise=self.noise, clutter=self.clutter)
