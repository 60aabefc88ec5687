"""dllab.vision: image augmentation, ResNet, CIFAR-10 and rendered-shapes data.

The public names load lazily on first access, so ``import dllab.vision`` and ``dllab --help``
import neither torch nor torchvision.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dllab.core.lazy import lazy_exports

__version__ = "0.1.0"

if TYPE_CHECKING:
    from dllab.vision.augment import (
        AugmentParams,
        BatchAugment,
        adjust_brightness,
        adjust_contrast,
        adjust_hue,
        adjust_saturation,
        hsv_to_rgb,
        rgb_to_hsv,
        standard_pipeline,
    )
    from dllab.vision.data.cifar10 import CIFAR10Data, UnsafePickleError, load_batch
    from dllab.vision.data.images import ImageData
    from dllab.vision.data.shapes import ShapesData, make_shapes, render_shapes
    from dllab.vision.image_files import read_image
    from dllab.vision.model import ResNet, ResNet18, ResNet34, ResNetSmall
    from dllab.vision.plots import confusion_matrix, plot_confusion_matrix, plot_image_grid
    from dllab.vision.resnet import (
        ResidualBlock,
        ResNetConfig,
        ResNetNetwork,
        load_torchvision_weights,
        torchvision_key,
    )

_LAZY = {
    "AugmentParams": "dllab.vision.augment",
    "BatchAugment": "dllab.vision.augment",
    "adjust_brightness": "dllab.vision.augment",
    "adjust_contrast": "dllab.vision.augment",
    "adjust_hue": "dllab.vision.augment",
    "adjust_saturation": "dllab.vision.augment",
    "hsv_to_rgb": "dllab.vision.augment",
    "rgb_to_hsv": "dllab.vision.augment",
    "standard_pipeline": "dllab.vision.augment",
    "CIFAR10Data": "dllab.vision.data.cifar10",
    "UnsafePickleError": "dllab.vision.data.cifar10",
    "load_batch": "dllab.vision.data.cifar10",
    "ImageData": "dllab.vision.data.images",
    "ShapesData": "dllab.vision.data.shapes",
    "make_shapes": "dllab.vision.data.shapes",
    "render_shapes": "dllab.vision.data.shapes",
    "read_image": "dllab.vision.image_files",
    "ResNet": "dllab.vision.model",
    "ResNet18": "dllab.vision.model",
    "ResNet34": "dllab.vision.model",
    "ResNetSmall": "dllab.vision.model",
    "confusion_matrix": "dllab.vision.plots",
    "plot_confusion_matrix": "dllab.vision.plots",
    "plot_image_grid": "dllab.vision.plots",
    "ResidualBlock": "dllab.vision.resnet",
    "ResNetConfig": "dllab.vision.resnet",
    "ResNetNetwork": "dllab.vision.resnet",
    "load_torchvision_weights": "dllab.vision.resnet",
    "torchvision_key": "dllab.vision.resnet",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY, eager=("__version__",))
