"""dllab.vision: image augmentation, ResNet, CIFAR-10 and rendered-shapes data.

The public names load lazily on first access, so ``import dllab.vision`` and ``dllab --help``
import neither torch nor torchvision.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dllab.core.lazy import lazy_exports

__version__ = "0.1.0"

if TYPE_CHECKING:
    from dllab.vision.model import ResNet, ResNet18, ResNet34, ResNetSmall
    from dllab.vision.resnet import (
        ResidualBlock,
        ResNetConfig,
        ResNetNetwork,
        load_torchvision_weights,
        torchvision_key,
    )

_LAZY = {
    "ResNet": "dllab.vision.model",
    "ResNet18": "dllab.vision.model",
    "ResNet34": "dllab.vision.model",
    "ResNetSmall": "dllab.vision.model",
    "ResidualBlock": "dllab.vision.resnet",
    "ResNetConfig": "dllab.vision.resnet",
    "ResNetNetwork": "dllab.vision.resnet",
    "load_torchvision_weights": "dllab.vision.resnet",
    "torchvision_key": "dllab.vision.resnet",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY, eager=("__version__",))
