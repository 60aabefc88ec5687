"""dllab.vision: image augmentation, ResNet, CIFAR-10 and rendered-shapes data."""

from __future__ import annotations

from dllab.core.lazy import lazy_exports

__version__ = "0.1.0"

_LAZY: dict[str, str] = {}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY, eager=("__version__",))
