"""``ResNet``: a ``ResNetNetwork`` as a dllab ``Classifier``, with the lab's training recipe.

The recipe is core's (``dllab.core.module``): SGD with Nesterov momentum 0.9, weight decay
5e-4 on the weights only (none on BatchNorm and biases), a per-step one-cycle schedule and
label smoothing 0.1. On a GPU the training command adds bf16 autocast (the Trainer's
``precision``), ``channels_last`` and, on request, ``torch.compile``; none of these is needed
on a CPU.

The model takes images as they come from the data, ``uint8`` or floats in [0, 1], and
normalises them itself with the dataset's ``mean``/``std`` (saved with its hyperparameters),
so a reloaded run predicts on plain images.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from dllab.core.checks import check_choice, check_int
from dllab.core.module import Classifier
from dllab.vision.resnet import ARCHITECTURES, STEMS, ResNetConfig, ResNetNetwork

RECIPE: dict[str, Any] = {
    "lr": 0.05,
    "optimizer": "sgd",
    "momentum": 0.9,
    "nesterov": True,
    "weight_decay": 5e-4,
    "decay_norm_and_bias": False,
    "schedule": "onecycle",
    "label_smoothing": 0.1,
}
"""The training recipe's defaults (any ``Module``/``Classifier`` option may override them)."""


class ResNet(Classifier):
    """A ResNet classifier: ``arch`` picks the depth and widths (see ``ARCHITECTURES``).

    Args:
        arch: ``"resnet18"``, ``"resnet34"`` or ``"resnet-small"``.
        stem: ``"cifar"`` (3×3 conv, no pool; for 32×32 images) or ``"imagenet"``.
        num_classes: number of classes.
        in_channels: channels of the input images.
        mean: per-channel mean the input is normalised with (after scaling to [0, 1]);
            ``None`` leaves the input as it is.
        std: per-channel standard deviation, given with ``mean``.
        zero_init_residual: start every residual block as the identity.
        classes: the class names, kept with the model so that a reloaded run can name its
            predictions.
        image_size: the side of the images it is trained on (``predict`` resizes to it).
        **recipe: ``Classifier`` and ``Module`` options; unset ones take ``RECIPE``'s values.
    """

    def __init__(
        self,
        arch: str = "resnet18",
        stem: str = "cifar",
        num_classes: int = 10,
        in_channels: int = 3,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        zero_init_residual: bool = False,
        classes: Sequence[str] | None = None,
        image_size: int | None = None,
        **recipe: Any,
    ) -> None:
        check_choice(arch, "arch", ARCHITECTURES)
        check_choice(stem, "stem", STEMS)
        options = {**RECIPE, **recipe}
        super().__init__(num_classes=num_classes, **options)
        blocks, widths = ARCHITECTURES[arch]
        self.config = ResNetConfig(
            blocks=blocks,
            widths=widths,
            stem=stem,  # type: ignore[arg-type]
            num_classes=num_classes,
            in_channels=in_channels,
            zero_init_residual=zero_init_residual,
        )
        self.net = ResNetNetwork(self.config)
        self._set_normalization(mean, std, in_channels)
        if classes is not None and len(classes) != num_classes:
            raise ValueError(f"classes names {len(classes)} classes, num_classes is {num_classes}")
        if image_size is not None:
            check_int(image_size, "image_size", min=1)
        self.classes = None if classes is None else [str(c) for c in classes]
        self.image_size = image_size
        self.channels_last = False
        self.save_hyperparameters(
            {
                "arch": arch,
                "stem": stem,
                "num_classes": num_classes,
                "in_channels": in_channels,
                "mean": None if mean is None else [float(m) for m in mean],
                "std": None if std is None else [float(s) for s in std],
                "zero_init_residual": zero_init_residual,
                "classes": self.classes,
                "image_size": image_size,
                **options,
            }
        )

    def _set_normalization(
        self, mean: Sequence[float] | None, std: Sequence[float] | None, channels: int
    ) -> None:
        if (mean is None) != (std is None):
            raise ValueError("give mean and std together, or neither")
        self.normalized = mean is not None
        if mean is None or std is None:
            mean, std = [0.0] * channels, [1.0] * channels
        if len(mean) != channels or len(std) != channels:
            raise ValueError(
                f"mean and std need one value per input channel ({channels}), "
                f"got {len(mean)} and {len(std)}"
            )
        if any(not s > 0 for s in std):
            raise ValueError(f"std must be > 0 in every channel, got {list(std)}")
        shape = (1, channels, 1, 1)
        self.register_buffer("mean", torch.tensor(mean).view(shape), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(shape), persistent=False)

    def to_channels_last(self) -> ResNet:
        """Run the network in the channels-last memory format (faster on GPUs); returns self."""
        self.channels_last = True
        self.net.to(memory_format=torch.channels_last)
        return self

    def forward(self, images: Tensor) -> Tensor:
        """Logits ``(B, num_classes)`` of images ``(B, C, H, W)``: uint8, or floats in [0, 1]."""
        if images.ndim != 4:
            raise ValueError(f"images must have shape (B, C, H, W), got {tuple(images.shape)}")
        if images.dtype == torch.uint8:
            images = images.float().div_(255)
        if self.normalized:
            images = (images - self.mean) / self.std
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.net(images)


def ResNet18(**kwargs: Any) -> ResNet:
    """A ResNet-18 classifier (``ResNet(arch="resnet18", ...)``; CIFAR stem by default)."""
    return ResNet("resnet18", **kwargs)


def ResNet34(**kwargs: Any) -> ResNet:
    """A ResNet-34 classifier (``ResNet(arch="resnet34", ...)``; CIFAR stem by default)."""
    return ResNet("resnet34", **kwargs)


def ResNetSmall(**kwargs: Any) -> ResNet:
    """The narrow ResNet for quick CPU runs (``ResNet(arch="resnet-small", ...)``)."""
    return ResNet("resnet-small", **kwargs)
