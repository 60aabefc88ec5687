"""ShapesData: seeded uint8 renders from core's glyphs; on-device conversion and augmentation."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from dllab.core.data.glyphs import CLASSES
from dllab.vision.augment import BatchAugment
from dllab.vision.data.shapes import ShapesData, make_shapes, render_shapes


def test_images_are_seeded_uint8_rgb_with_balanced_labels():
    images, labels = make_shapes(50, seed=3)
    again, _ = make_shapes(50, seed=3)
    other, _ = make_shapes(50, seed=4)
    assert images.dtype == torch.uint8 and images.shape == (50, 3, 32, 32)
    assert torch.equal(images, again) and not torch.equal(images, other)
    assert torch.bincount(labels, minlength=10).tolist() == [5] * 10
    assert images.float().std() > 30  # colour, texture and shapes, not a flat field


def test_shapes_vary_in_colour_and_stand_out_from_the_background():
    labels = torch.zeros(200, dtype=torch.int64)  # 200 disks
    images = render_shapes(labels, torch.Generator().manual_seed(0), noise=0.0, clutter=0.0)
    centre, corner = images[:, :, 14:18, 14:18].float(), images[:, :, :3, :3].float()
    means = centre.mean(dim=(2, 3))  # (200, 3) colour at the centre of the disk
    assert means.std(dim=0).min() > 40  # many colours
    contrast = (means - corner.mean(dim=(2, 3))).abs().amax(dim=1)  # in the clearest channel
    assert (contrast > 40).float().mean() > 0.9  # the shape is visible in almost every image


def test_bad_render_options_are_refused():
    labels = torch.tensor([0, 1])
    with pytest.raises(ValueError, match="clutter"):
        render_shapes(labels, clutter=1.5)
    with pytest.raises(ValueError, match="noise"):
        render_shapes(labels, noise=-0.1)
    with pytest.raises(ValueError, match="labels"):
        render_shapes(torch.tensor([0, 10]))
    with pytest.raises(ValueError, match="samples"):
        ShapesData(samples=0)


def test_splits_are_disjoint_renders_and_the_classes_are_cores():
    data = ShapesData(samples=40, test_samples=20, val_fraction=0.25, batch_size=8)
    data.setup("fit")
    assert data.classes == CLASSES and len(data.train_tensors[0]) == 30
    test_x, _ = data.build_test()
    pool = {bytes(x.numpy()) for x in torch.cat([data.train_tensors[0], data.val_tensors[0]])}
    assert not pool & {bytes(x.numpy()) for x in test_x}
    x, y = next(iter(data.test_dataloader()))
    assert x.dtype == torch.uint8 and x.shape == (8, 3, 32, 32) and y.shape == (8,)


def test_batches_are_scaled_on_the_device_and_augmented_only_while_training():
    data = ShapesData(samples=20, test_samples=4, batch_size=8, augment=BatchAugment(hue=0.2))
    images, labels = make_shapes(8, seed=1)
    plain = data.on_after_batch_transfer((images, labels), 0)[0]
    assert plain.dtype == torch.float32 and torch.equal(plain, images.float() / 255)
    data.trainer = SimpleNamespace(training=False)  # validation inside fit, test, predict
    assert torch.equal(data.on_after_batch_transfer((images, labels), 0)[0], plain)
    data.trainer = SimpleNamespace(training=True)
    torch.manual_seed(0)
    augmented, same_labels = data.on_after_batch_transfer((images, labels), 0)
    assert same_labels is labels and augmented.shape == plain.shape
    assert not torch.allclose(augmented, plain)
    torch.manual_seed(0)  # drawn from the (reseeded) default generator
    assert torch.equal(data.on_after_batch_transfer((images, labels), 0)[0], augmented)
    off = ShapesData(samples=20, augment=False)
    off.trainer = SimpleNamespace(training=True)
    assert torch.equal(off.on_after_batch_transfer((images, labels), 0)[0], plain)
    with pytest.raises(TypeError, match="augment"):
        ShapesData(augment="yes")
