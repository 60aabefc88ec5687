"""Image augmentation: torchvision's v2 pipeline, and the same steps on whole batches.

``standard_pipeline`` is the per-image reference from ``torchvision.transforms.v2``: random
crop with zero padding, horizontal flip, ColorJitter (brightness, contrast, saturation, hue)
and normalisation. ``BatchAugment`` does the crop, flip and jitter on a whole batch at once, on
the batch's device, with every image drawing its own parameters as ``v2.ColorJitter`` does (its
factors and its random order of the four adjustments). The adjustments are written here from
their definitions (``adjust_hue`` through HSV); with the same parameters they equal
torchvision's functional ops to 1e-6 (tests/test_augment.py).

Parameters are drawn from torch's default generator of the batch's device unless a
``generator`` is given, so under dllab's Trainer (which reseeds every epoch) a resumed run
augments exactly as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from dllab.core.checks import check_int, check_probability

GRAY_WEIGHTS = (0.2989, 0.587, 0.114)
"""ITU-R 601-2 luma weights, as torchvision's ``rgb_to_grayscale``."""
BRIGHTNESS, CONTRAST, SATURATION, HUE = range(4)
"""Indices of the four colour adjustments, in ``v2.ColorJitter``'s numbering."""


def standard_pipeline(
    size: int = 32,
    padding: int = 4,
    flip: float = 0.5,
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.1),
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> Any:
    """The per-image training pipeline from ``torchvision.transforms.v2``.

    It takes a uint8 image (tensor ``(3, H, W)`` or PIL) and returns a float32 tensor: random
    crop of ``size`` after ``padding`` zeros, horizontal flip with probability ``flip``,
    scaling to [0, 1], ColorJitter ``(brightness, contrast, saturation, hue)`` and, when
    ``mean``/``std`` are given, normalisation.
    """
    from torchvision.transforms import v2

    steps = [
        v2.ToImage(),
        v2.RandomCrop(size, padding=padding),
        v2.RandomHorizontalFlip(flip),
        v2.ToDtype(torch.float32, scale=True),
        v2.ColorJitter(*jitter),
    ]
    if mean is not None and std is not None:
        steps.append(v2.Normalize(list(mean), list(std)))
    return v2.Compose(steps)


# ---- colour adjustments of a batch: images (B, 3, H, W) in [0, 1], factors (B,) ------------
def _per_image(factor: Tensor | float, images: Tensor) -> Tensor:
    """A factor per image, shaped to broadcast over ``(B, C, H, W)``."""
    return torch.as_tensor(factor, dtype=images.dtype, device=images.device).reshape(-1, 1, 1, 1)


def grayscale(images: Tensor) -> Tensor:
    """Luma ``(B, 1, H, W)`` of RGB images ``(B, 3, H, W)``."""
    r, g, b = images.unbind(dim=-3)
    return (GRAY_WEIGHTS[0] * r + GRAY_WEIGHTS[1] * g + GRAY_WEIGHTS[2] * b).unsqueeze(-3)


def blend(images: Tensor, other: Tensor, factor: Tensor | float) -> Tensor:
    """``factor * images + (1 - factor) * other``, clamped to [0, 1]."""
    ratio = _per_image(factor, images)
    return (ratio * images + (1 - ratio) * other).clamp(0, 1)


def adjust_brightness(images: Tensor, factor: Tensor | float) -> Tensor:
    """Scale every pixel by ``factor`` (0 gives black), clamped to [0, 1]."""
    return (images * _per_image(factor, images)).clamp(0, 1)


def adjust_contrast(images: Tensor, factor: Tensor | float) -> Tensor:
    """Blend each image with its mean luma (0 gives flat gray)."""
    mean = grayscale(images).mean(dim=(-3, -2, -1), keepdim=True)  # (B, 1, 1, 1)
    return blend(images, mean, factor)


def adjust_saturation(images: Tensor, factor: Tensor | float) -> Tensor:
    """Blend each image with its own grayscale version (0 gives grayscale)."""
    return blend(images, grayscale(images), factor)


def rgb_to_hsv(images: Tensor) -> Tensor:
    """Hue, saturation and value ``(B, 3, H, W)``, each in [0, 1], of RGB images in [0, 1].

    Pillow's formulation (torchvision's too): each channel's distance below the maximum, in
    units of the spread between the largest and smallest channel, places the hue inside the
    sixth of the circle that the largest channel opens.
    """
    r, g, _ = images.unbind(dim=-3)
    value = images.amax(dim=-3)
    spread = value - images.amin(dim=-3)
    gray = spread == 0  # no hue and no saturation; the divisions below then divide by 1
    saturation = spread / torch.where(gray, torch.ones_like(value), value)
    unit = torch.where(gray, torch.ones_like(spread), spread).unsqueeze(-3)
    rc, gc, bc = ((value.unsqueeze(-3) - images) / unit).unbind(dim=-3)
    red_max = value == r
    green_max = (value == g) & ~red_max
    zero = torch.zeros_like(value)
    hue = (  # in sixths of the circle: red at 0, green at 2, blue at 4
        torch.where(red_max, bc - gc, zero)
        + torch.where(green_max, (rc + 2.0) - bc, zero)
        + torch.where(red_max | green_max, zero, (gc + 4.0) - rc)
    )
    hue = (hue * (1.0 / 6.0) + 1.0).remainder(1.0)
    return torch.stack((hue, saturation, value), dim=-3)


# which of (value, p, q, t) each of R, G, B takes, in each sixth of the hue circle
_SECTOR_CHANNELS = ((0, 3, 1), (2, 0, 1), (1, 0, 3), (1, 2, 0), (3, 1, 0), (0, 1, 2))


def hsv_to_rgb(hsv: Tensor) -> Tensor:
    """RGB images ``(B, 3, H, W)`` of hue, saturation and value in [0, 1]."""
    hue, saturation, value = hsv.unbind(dim=-3)
    sixths = hue * 6
    sector = torch.floor(sixths)
    frac = sixths - sector  # position inside the sector, [0, 1)
    rising = saturation * frac
    unsaturated = 1.0 - saturation
    p = (unsaturated * value).clamp(0, 1)  # the smallest channel
    q = ((1.0 - rising) * value).clamp(0, 1)  # the falling channel
    t = ((rising + unsaturated) * value).clamp(0, 1)  # the rising channel
    candidates = torch.stack((value, p, q, t), dim=-3)  # (B, 4, H, W)
    table = torch.tensor(_SECTOR_CHANNELS, device=hsv.device)  # (6, 3)
    pick = table[sector.long().remainder(6)].movedim(-1, -3)  # (B, 3, H, W) indices into 4
    return candidates.gather(-3, pick)


def adjust_hue(images: Tensor, factor: Tensor | float) -> Tensor:
    """Turn the hue of each image by ``factor`` of the circle, in [-0.5, 0.5]."""
    hsv = rgb_to_hsv(images)
    hue = (hsv[:, 0] + _per_image(factor, images)[:, 0]).remainder(1.0)
    return hsv_to_rgb(torch.stack((hue, hsv[:, 1], hsv[:, 2]), dim=-3))


ADJUSTMENTS = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)


# ---- geometry of a batch ------------------------------------------------------------------
def crop_padded(images: Tensor, top: Tensor, left: Tensor, padding: int) -> Tensor:
    """Crop each image ``(B, C, H, W)`` at ``(top, left)`` of its zero-padded version."""
    batch, _, height, width = images.shape
    padded = F.pad(images, (padding,) * 4)  # (B, C, H + 2p, W + 2p)
    rows = top.view(-1, 1) + torch.arange(height, device=images.device)  # (B, H)
    cols = left.view(-1, 1) + torch.arange(width, device=images.device)  # (B, W)
    index = torch.arange(batch, device=images.device).view(-1, 1, 1)
    cropped = padded.permute(0, 2, 3, 1)[index, rows[:, :, None], cols[:, None, :]]
    return cropped.permute(0, 3, 1, 2)  # (B, C, H, W)


def flip_where(images: Tensor, flip: Tensor) -> Tensor:
    """Mirror left-right the images whose ``flip`` entry is True."""
    return torch.where(flip.view(-1, 1, 1, 1), images.flip(-1), images)


@dataclass
class AugmentParams:
    """The parameters drawn for one batch (each a tensor with one entry per image)."""

    top: Tensor
    left: Tensor
    flip: Tensor
    factors: Tensor
    """``(B, 4)``: brightness, contrast, saturation and hue factors."""
    order: Tensor
    """``(B, 4)``: each image's order of the four adjustments (a permutation of 0..3)."""


class BatchAugment:
    """Random crop with padding, horizontal flip and colour jitter of a whole batch.

    Each image gets its own crop offset, flip, jitter factors and order of adjustments, drawn
    as ``v2.RandomCrop``, ``v2.RandomHorizontalFlip`` and ``v2.ColorJitter`` draw them.

    Args:
        padding: zeros added on each side before cropping back to the input size.
        flip: probability of a horizontal flip.
        brightness: as ``v2.ColorJitter``: factors from ``[max(0, 1 - b), 1 + b]``.
        contrast: likewise.
        saturation: likewise.
        hue: hue shifts from ``[-hue, hue]``, with ``hue <= 0.5``.
    """

    def __init__(
        self,
        padding: int = 4,
        flip: float = 0.5,
        brightness: float = 0.4,
        contrast: float = 0.4,
        saturation: float = 0.4,
        hue: float = 0.1,
    ) -> None:
        from torchvision.transforms import v2

        self.padding = check_int(padding, "padding", min=0)
        self.flip = check_probability(flip, "flip", allow_one=True)
        jitter = v2.ColorJitter(brightness, contrast, saturation, hue)  # checks and ranges
        self.ranges = [
            jitter.brightness or (1.0, 1.0),
            jitter.contrast or (1.0, 1.0),
            jitter.saturation or (1.0, 1.0),
            jitter.hue or (0.0, 0.0),
        ]

    def __repr__(self) -> str:
        return f"BatchAugment(padding={self.padding}, flip={self.flip}, ranges={self.ranges})"

    def sample(
        self,
        batch: int,
        device: torch.device | str = "cpu",
        generator: torch.Generator | None = None,
    ) -> AugmentParams:
        """Draw the parameters of ``batch`` images."""
        kw: dict[str, Any] = {"device": device, "generator": generator}
        offsets = torch.randint(0, 2 * self.padding + 1, (2, batch), **kw)
        flip = torch.rand(batch, **kw) < self.flip
        low = torch.tensor([lo for lo, _ in self.ranges], device=device)
        high = torch.tensor([hi for _, hi in self.ranges], device=device)
        factors = low + (high - low) * torch.rand(batch, 4, **kw)  # (B, 4)
        order = torch.rand(batch, 4, **kw).argsort(dim=1)  # a random permutation per image
        return AugmentParams(offsets[0], offsets[1], flip, factors, order)

    def apply(self, images: Tensor, params: AugmentParams) -> Tensor:
        """Augment float images ``(B, 3, H, W)`` in [0, 1] with the given parameters."""
        images = crop_padded(images, params.top, params.left, self.padding)
        images = flip_where(images, params.flip)
        return self.jitter(images, params.factors, params.order)

    def jitter(self, images: Tensor, factors: Tensor, order: Tensor) -> Tensor:
        """The four colour adjustments, in each image's own order."""
        images = images.clone()
        active = [i for i, (lo, hi) in enumerate(self.ranges) if lo != hi]
        for position in range(4):
            for adjustment in active:
                chosen = (order[:, position] == adjustment).nonzero().squeeze(1)
                if len(chosen):
                    adjust = ADJUSTMENTS[adjustment]
                    images[chosen] = adjust(images[chosen], factors[chosen, adjustment])
        return images

    def __call__(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Augment a batch: uint8 images are scaled to [0, 1] first; returns float32."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must have shape (B, 3, H, W), got {tuple(images.shape)}")
        if images.dtype == torch.uint8:
            images = images.float().div_(255)
        elif not images.is_floating_point():
            raise TypeError(f"images must be uint8 or floating point, got {images.dtype}")
        params = self.sample(len(images), images.device, generator)
        return self.apply(images, params)
