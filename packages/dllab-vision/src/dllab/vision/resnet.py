"""ResNet (He et al., 2015, "Deep Residual Learning for Image Recognition"), written out.

``ResidualBlock`` is the basic block: two 3×3 convolutions with BatchNorm and a shortcut that
is the identity, or a strided 1×1 convolution with BatchNorm when the shape changes.
``ResNetNetwork`` stacks them in stages after a stem:

- the ImageNet stem: a 7×7 stride-2 convolution and a 3×3 stride-2 max-pool (torchvision's);
- the CIFAR stem: one 3×3 stride-1 convolution and no pool, for 32×32 images.

Built as ``ResNetConfig(blocks=(2, 2, 2, 2), stem="imagenet", num_classes=1000)`` it is
torchvision's ``resnet18()`` layer for layer (11,689,512 parameters); ``load_torchvision_weights``
copies a torchvision state_dict in through ``torchvision_key``. ``ResNet`` is the trainable
classifier around it, with the lab's recipe (see ``dllab.vision.model``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from dllab.core.checks import check_positive_int

Stem = Literal["imagenet", "cifar"]
STEMS = ("imagenet", "cifar")


@dataclass(frozen=True)
class ResNetConfig:
    """The shape of a ResNet."""

    blocks: tuple[int, ...] = (2, 2, 2, 2)
    """Residual blocks per stage; each stage after the first halves the resolution."""
    widths: tuple[int, ...] = (64, 128, 256, 512)
    """Channels of each stage (the stem outputs ``widths[0]``)."""
    stem: Stem = "cifar"
    """``"imagenet"`` (7×7/2 conv + max-pool) or ``"cifar"`` (3×3/1 conv, no pool)."""
    num_classes: int = 10
    """Outputs of the final linear layer."""
    in_channels: int = 3
    """Channels of the input images."""
    zero_init_residual: bool = False
    """Start each block's last BatchNorm at zero, so every block starts as the identity."""

    def __post_init__(self) -> None:
        if not self.blocks or len(self.blocks) != len(self.widths):
            raise ValueError(
                f"blocks and widths must be non-empty and of equal length, got "
                f"blocks={self.blocks}, widths={self.widths}"
            )
        if any(not isinstance(n, int) or n < 1 for n in (*self.blocks, *self.widths)):
            raise ValueError(f"blocks and widths must be positive ints, got {self}")
        if self.stem not in STEMS:
            raise ValueError(f"stem must be one of {STEMS}, got {self.stem!r}")
        check_positive_int(self.num_classes, "num_classes")
        check_positive_int(self.in_channels, "in_channels")


ARCHITECTURES: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "resnet18": ((2, 2, 2, 2), (64, 128, 256, 512)),
    "resnet34": ((3, 4, 6, 3), (64, 128, 256, 512)),
    "resnet-small": ((1, 1, 1), (16, 32, 64)),
}
"""``name: (blocks, widths)``. ``resnet-small`` is a narrow three-stage net for quick CPU runs."""


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """A 3×3 convolution with padding 1 and no bias (BatchNorm follows)."""
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


class ResidualBlock(nn.Module):
    """``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``.

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output.
        stride: stride of the first convolution (2 halves the resolution).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = conv3x3(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = conv3x3(out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:  # the shape changes: project x
            self.shortcut = nn.Sequential()
            self.shortcut.add_module(
                "conv", nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)
            )
            self.shortcut.add_module("bn", nn.BatchNorm2d(out_channels))

    def forward(self, x: Tensor) -> Tensor:  # x: (B, C_in, H, W)
        out = self.relu(self.bn1(self.conv1(x)))  # (B, C_out, H/stride, W/stride)
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)  # in place, as torchvision: BatchNorm's backward keeps its input
        return self.relu(out)


def make_stem(stem: Stem, in_channels: int, width: int) -> nn.Sequential:
    """The layers before the first stage."""
    layers = nn.Sequential()
    if stem == "imagenet":
        layers.add_module("conv", nn.Conv2d(in_channels, width, 7, 2, 3, bias=False))
    else:
        layers.add_module("conv", conv3x3(in_channels, width))
    layers.add_module("bn", nn.BatchNorm2d(width))
    layers.add_module("relu", nn.ReLU(inplace=True))
    if stem == "imagenet":
        layers.add_module("pool", nn.MaxPool2d(3, stride=2, padding=1))
    return layers


class ResNetNetwork(nn.Module):
    """Stem, residual stages, global average pool and a linear classifier."""

    def __init__(self, config: ResNetConfig) -> None:
        super().__init__()
        self.config = config
        self.stem = make_stem(config.stem, config.in_channels, config.widths[0])
        self.stages = nn.ModuleList()
        channels = config.widths[0]
        for i, (count, width) in enumerate(zip(config.blocks, config.widths, strict=True)):
            stride = 1 if i == 0 else 2
            blocks = [ResidualBlock(channels, width, stride)]
            blocks += [ResidualBlock(width, width) for _ in range(count - 1)]
            self.stages.append(nn.Sequential(*blocks))
            channels = width
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, config.num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torchvision's initialisation: Kaiming-normal (fan-out) convolutions, unit BN."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        if self.config.zero_init_residual:
            for module in self.modules():
                if isinstance(module, ResidualBlock):
                    nn.init.zeros_(module.bn2.weight)

    def features(self, x: Tensor) -> Tensor:
        """The pooled features ``(B, widths[-1])`` of images ``(B, C, H, W)``."""
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return torch.flatten(self.pool(x), 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.features(x))  # (B, num_classes)


_TORCHVISION_RULES = [
    (re.compile(r"^conv1\."), "stem.conv."),
    (re.compile(r"^bn1\."), "stem.bn."),
    (re.compile(r"^layer(\d+)\.(\d+)\.downsample\.0\."), "stages.{0}.{1}.shortcut.conv."),
    (re.compile(r"^layer(\d+)\.(\d+)\.downsample\.1\."), "stages.{0}.{1}.shortcut.bn."),
    (re.compile(r"^layer(\d+)\.(\d+)\."), "stages.{0}.{1}."),
    (re.compile(r"^fc\."), "fc."),
]


def torchvision_key(key: str) -> str:
    """The name in ``ResNetNetwork`` of a torchvision ResNet state_dict key.

    ``layer2.0.downsample.1.weight`` becomes ``stages.1.0.shortcut.bn.weight``; ``conv1`` and
    ``bn1`` at the top become ``stem.conv`` and ``stem.bn``.
    """
    for pattern, template in _TORCHVISION_RULES:
        match = pattern.match(key)
        if match:
            groups = list(match.groups())
            if groups:
                groups[0] = str(int(groups[0]) - 1)  # layer1 is stage 0
            return template.format(*groups) + key[match.end() :]
    raise KeyError(f"not a torchvision ResNet state_dict key: {key!r}")


def load_torchvision_weights(network: ResNetNetwork, state_dict: Mapping[str, Tensor]) -> None:
    """Copy a torchvision ResNet ``state_dict`` into ``network`` (every key must match).

    Raises:
        KeyError: a key is not a torchvision ResNet key.
        ValueError: keys are missing or left over, or a shape differs (named in the message).
    """
    mapped = {torchvision_key(k): v for k, v in state_dict.items()}
    own = network.state_dict()
    missing, extra = sorted(set(own) - set(mapped)), sorted(set(mapped) - set(own))
    if missing or extra:
        raise ValueError(
            f"the state_dict does not fit this network: missing {missing[:5]}, "
            f"unexpected {extra[:5]} (check blocks, stem and num_classes)"
        )
    for key, value in mapped.items():
        if own[key].shape != value.shape:
            raise ValueError(
                f"{key}: shape {tuple(value.shape)} in the state_dict, "
                f"{tuple(own[key].shape)} in the network"
            )
    network.load_state_dict(mapped)
