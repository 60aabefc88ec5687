"""``ImageData``: uint8 images in memory, converted and augmented on the device.

Images stay uint8 in memory (4× less than float32) and travel to the device as they are.
``on_after_batch_transfer`` then scales them to floats in [0, 1] there, and while training
runs ``BatchAugment`` on the whole batch; validation, test and prediction batches are only
scaled. The model normalises (``dllab.vision.model.ResNet`` takes the dataset's ``mean`` and
``std``).
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import Tensor

from dllab.core.data.datamodule import TensorDataModule, TensorLoader, batched_loader
from dllab.vision.augment import BatchAugment


class ImageData(TensorDataModule):
    """In-memory uint8 images ``(N, 3, H, W)`` with train/validation/test splits.

    Subclasses implement ``build()`` (the training pool, split into train and validation by
    ``val_fraction``) and ``build_test()``, each returning ``(uint8 images, int64 labels)``.

    Args:
        batch_size: batch size of every loader.
        val_fraction: share of the training pool held out for validation.
        seed: seed of the split and the shuffling.
        augment: ``True`` for the dataset's ``default_augment()``, ``False`` for none, or a
            ``BatchAugment``.
        root: data folder (see ``dllab.core.data.data_root``).
    """

    classes: tuple[str, ...] = ()
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.25, 0.25, 0.25)

    def __init__(
        self,
        batch_size: int = 128,
        val_fraction: float = 0.1,
        seed: int = 0,
        augment: bool | BatchAugment = True,
        root: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(batch_size=batch_size, val_fraction=val_fraction, seed=seed, root=root)
        if augment is True:
            augment = self.default_augment()
        if augment is not False and not isinstance(augment, BatchAugment):
            raise TypeError(f"augment must be a bool or a BatchAugment, got {augment!r}")
        self.augment: BatchAugment | None = augment or None
        self.test_tensors: tuple[Tensor, Tensor] | None = None

    @classmethod
    def default_augment(cls) -> BatchAugment:
        """The augmentation ``augment=True`` stands for: ``BatchAugment()``'s defaults."""
        return BatchAugment()

    def build_test(self) -> tuple[Tensor, Tensor]:
        raise NotImplementedError(f"{type(self).__name__} must implement build_test()")

    def test_dataloader(self) -> TensorLoader:
        if self.test_tensors is None:
            self.test_tensors = self.build_test()
        return batched_loader(*self.test_tensors, batch_size=self.batch_size, shuffle=False)

    @property
    def augmenting(self) -> bool:
        """Whether the batches now being moved to the device get augmented (training only)."""
        trainer = getattr(self, "trainer", None)
        return self.augment is not None and trainer is not None and trainer.training

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Scale uint8 images to [0, 1] on the device; augment them while training."""
        if isinstance(batch, Tensor):
            return self._images(batch)
        images, *rest = batch
        return (self._images(images), *rest)

    def _images(self, images: Tensor) -> Tensor:
        if self.augmenting:
            assert self.augment is not None
            return self.augment(images)
        return images.float().div_(255) if images.dtype == torch.uint8 else images


def to_uint8(images: Tensor) -> Tensor:
    """Float images in [0, 1] as uint8 (rounded to the nearest level)."""
    return images.clamp(0, 1).mul(255).round_().to(torch.uint8)
