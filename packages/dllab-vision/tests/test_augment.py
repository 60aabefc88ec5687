"""Batched augmentation against torchvision's functional ops, with the same parameters."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from dllab.core.testing import assert_close_to_reference
from dllab.vision.augment import (
    BatchAugment,
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    hsv_to_rgb,
    rgb_to_hsv,
    standard_pipeline,
)

TOL = 1e-6  # float32 throughout; the same formulas up to rounding
REFERENCE = {
    0: lambda img, f: TF.adjust_brightness(img, brightness_factor=f),
    1: lambda img, f: TF.adjust_contrast(img, contrast_factor=f),
    2: lambda img, f: TF.adjust_saturation(img, saturation_factor=f),
    3: lambda img, f: TF.adjust_hue(img, hue_factor=f),
}


def _images(batch: int = 6, size: int = 12, seed: int = 0) -> torch.Tensor:
    """Random colours plus the hard cases of HSV: grays, black, white, pure and tied channels."""
    images = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))
    special = torch.tensor(
        [
            *([0, 0, 0], [1, 1, 1], [0.5, 0.5, 0.5], [1, 0, 0], [0, 1, 0], [0, 0, 1]),
            *([1, 1, 0], [0, 1, 1], [1, 0, 1], [0.3, 0.3, 0.9], [0.9, 0.3, 0.3], [0.3, 0.9, 0.9]),
        ]
    )
    images[0, :, 0, : len(special)] = special.T  # the first row of the first image
    return images


@pytest.mark.parametrize(
    "ours, index, factors",
    [
        (adjust_brightness, 0, [0.0, 0.6, 1.0, 1.4, 2.0, 0.75]),
        (adjust_contrast, 1, [0.0, 0.6, 1.0, 1.4, 2.0, 0.75]),
        (adjust_saturation, 2, [0.0, 0.6, 1.0, 1.4, 2.0, 0.75]),
        (adjust_hue, 3, [-0.5, -0.1, 0.0, 0.05, 0.333, 0.5]),
    ],
)
def test_each_adjustment_equals_torchvision(ours, index, factors):
    images = _images()
    batched = ours(images, torch.tensor(factors))
    expected = torch.stack(
        [REFERENCE[index](img, f) for img, f in zip(images, factors, strict=True)]
    )
    assert_close_to_reference(batched, expected, atol=TOL, name=ours.__name__)


def test_hsv_round_trip_and_hue_of_pure_colours():
    images = _images(batch=4, seed=1)
    assert_close_to_reference(hsv_to_rgb(rgb_to_hsv(images)), images, atol=TOL)
    primaries = torch.eye(3).view(3, 3, 1, 1)  # red, green, blue
    hsv = rgb_to_hsv(primaries)
    assert_close_to_reference(hsv[:, 0].flatten(), [0.0, 1 / 3, 2 / 3], atol=TOL)
    assert torch.equal(hsv[:, 1:].flatten(), torch.ones(6))


def test_batched_augmentation_equals_torchvision_with_the_same_parameters():
    augment = BatchAugment(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)
    images = _images(batch=16, size=12, seed=2)
    params = augment.sample(16, generator=torch.Generator().manual_seed(3))
    assert params.flip.any() and not params.flip.all()
    assert len({tuple(o.tolist()) for o in params.order}) > 3  # per-image orders differ
    batched = augment.apply(images, params)
    expected = []
    for i, image in enumerate(images):
        out = TF.pad(image, [4, 4, 4, 4])
        out = TF.crop(out, int(params.top[i]), int(params.left[i]), 12, 12)
        if params.flip[i]:
            out = TF.horizontal_flip(out)
        for fn_id in params.order[i].tolist():  # v2.ColorJitter.transform's loop
            out = REFERENCE[fn_id](out, float(params.factors[i, fn_id]))
        expected.append(out)
    assert_close_to_reference(batched, torch.stack(expected), atol=TOL, name="augmented batch")


def test_parameters_follow_torchvisions_ranges_and_the_generator():
    augment = BatchAugment(padding=2, brightness=0.4, contrast=0.2, saturation=0.0, hue=0.1)
    assert augment.ranges == [(0.6, 1.4), (0.8, 1.2), (1.0, 1.0), (-0.1, 0.1)]
    params = augment.sample(4000, generator=torch.Generator().manual_seed(0))
    lo, hi = params.factors.amin(0), params.factors.amax(0)
    assert (lo >= torch.tensor([0.6, 0.8, 1.0, -0.1])).all()
    assert (hi <= torch.tensor([1.4, 1.2, 1.0, 0.1])).all()
    assert set(params.top.tolist()) == set(range(5)) == set(params.left.tolist())
    assert 0.45 < params.flip.float().mean() < 0.55
    torch.manual_seed(5)
    first = augment(_images())
    torch.manual_seed(5)
    assert torch.equal(augment(_images()), first)  # randomness from the reseeded generator


def test_call_scales_uint8_and_checks_its_input():
    augment = BatchAugment(padding=0, flip=0.0, brightness=0, contrast=0, saturation=0, hue=0)
    images = torch.randint(0, 256, (2, 3, 5, 5), dtype=torch.uint8)
    assert torch.equal(augment(images), images.float() / 255)  # every step an identity
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        augment(torch.zeros(2, 1, 5, 5))
    with pytest.raises(TypeError, match="uint8 or floating"):
        augment(torch.zeros(2, 3, 5, 5, dtype=torch.int64))
    with pytest.raises(ValueError):
        BatchAugment(hue=0.7)
    with pytest.raises(ValueError, match="padding"):
        BatchAugment(padding=-1)


def test_standard_pipeline_crops_flips_jitters_and_normalises():
    pipeline = standard_pipeline(size=8, padding=2, mean=(0.5,) * 3, std=(0.25,) * 3)
    image = torch.randint(0, 256, (3, 8, 8), dtype=torch.uint8)
    torch.manual_seed(0)
    out = pipeline(image)
    assert out.shape == (3, 8, 8) and out.dtype == torch.float32
    assert out.min() >= -2.0 and out.max() <= 2.0  # (x - 0.5) / 0.25 with x in [0, 1]
    names = [type(t).__name__ for t in pipeline.transforms]
    steps = ["ToImage", "RandomCrop", "RandomHorizontalFlip", "ToDtype", "ColorJitter"]
    assert names == [*steps, "Normalize"]
