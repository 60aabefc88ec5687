"""ResNet against torchvision: structure, parameter count, weight mapping and outputs."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from dllab.core.module import count_parameters
from dllab.core.testing import assert_close_to_reference
from dllab.vision.model import ResNet, ResNet18, ResNetSmall
from dllab.vision.resnet import (
    ResidualBlock,
    ResNetConfig,
    ResNetNetwork,
    load_torchvision_weights,
    torchvision_key,
)

IMAGENET18 = ResNetConfig(blocks=(2, 2, 2, 2), stem="imagenet", num_classes=1000)


def _cifar_torchvision(num_classes: int = 10) -> nn.Module:
    """torchvision's resnet18 with a 3×3 stride-1 stem and no max-pool."""
    reference = torchvision.models.resnet18(num_classes=num_classes)
    reference.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    reference.maxpool = nn.Identity()
    return reference


def test_resnet18_has_torchvision_parameter_count():
    assert count_parameters(ResNetNetwork(IMAGENET18)) == 11_689_512
    assert count_parameters(torchvision.models.resnet18()) == 11_689_512
    assert count_parameters(ResNet18(stem="imagenet", num_classes=1000)) == 11_689_512


def test_resnet34_matches_torchvision_parameter_count():
    ours = ResNetNetwork(ResNetConfig(blocks=(3, 4, 6, 3), stem="imagenet", num_classes=1000))
    assert count_parameters(ours) == count_parameters(torchvision.models.resnet34())


def test_every_torchvision_key_maps_to_a_tensor_of_the_same_shape():
    reference = torchvision.models.resnet18().state_dict()
    ours = ResNetNetwork(IMAGENET18).state_dict()
    mapped = {torchvision_key(k): v.shape for k, v in reference.items()}
    assert mapped == {k: v.shape for k, v in ours.items()}
    assert torchvision_key("layer2.0.downsample.1.running_mean") == (
        "stages.1.0.shortcut.bn.running_mean"
    )
    with pytest.raises(KeyError, match="not a torchvision"):
        torchvision_key("head.weight")


@pytest.mark.parametrize("stem", ["imagenet", "cifar"])
def test_loaded_weights_give_torchvision_outputs_in_eval_and_train_mode(stem):
    torch.manual_seed(0)
    if stem == "imagenet":
        reference, config, size = torchvision.models.resnet18(), IMAGENET18, 32
    else:
        reference, config, size = _cifar_torchvision(), ResNetConfig(stem="cifar"), 8
    for module in reference.modules():  # non-trivial BN statistics and affine parameters
        if isinstance(module, nn.BatchNorm2d):
            nn.init.uniform_(module.weight, 0.5, 1.5)
            nn.init.uniform_(module.bias, -0.2, 0.2)
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    ours = ResNetNetwork(config)
    load_torchvision_weights(ours, reference.state_dict())
    x = torch.randn(3, 3, size, size)
    ours.eval(), reference.eval()
    with torch.no_grad():  # tolerance 1e-5: float32, the same ops in the same order
        assert_close_to_reference(ours(x), reference(x), atol=1e-5, name="eval logits")
    ours.train(), reference.train()
    assert_close_to_reference(ours(x), reference(x), atol=1e-5, name="train logits")
    mapped = {torchvision_key(k): v for k, v in reference.state_dict().items()}
    for key, value in ours.state_dict().items():  # BN running statistics updated alike
        assert_close_to_reference(value, mapped[key], atol=1e-6, name=key)


def test_loading_a_state_dict_of_another_shape_is_refused():
    with pytest.raises(ValueError, match="missing"):
        load_torchvision_weights(
            ResNetNetwork(ResNetConfig()), torchvision.models.resnet34().state_dict()
        )
    ours = ResNetNetwork(IMAGENET18)
    with pytest.raises(ValueError, match=r"fc.weight: shape \(10, 512\)"):
        load_torchvision_weights(ours, torchvision.models.resnet18(num_classes=10).state_dict())


def test_residual_block_projects_the_shortcut_only_when_the_shape_changes():
    same, down = ResidualBlock(8, 8), ResidualBlock(8, 16, stride=2)
    assert isinstance(same.shortcut, nn.Identity)
    assert isinstance(down.shortcut.conv, nn.Conv2d) and down.shortcut.conv.kernel_size == (1, 1)
    x = torch.randn(2, 8, 10, 10)
    assert same(x).shape == (2, 8, 10, 10)
    assert down(x).shape == (2, 16, 5, 5)
    assert (down(x) >= 0).all()  # ends in a ReLU


def test_cifar_stem_keeps_the_resolution_and_imagenet_stem_divides_it_by_four():
    cifar, imagenet = ResNetNetwork(ResNetConfig()), ResNetNetwork(IMAGENET18)
    x = torch.randn(1, 3, 32, 32)
    assert cifar.stem(x).shape == (1, 64, 32, 32)
    assert imagenet.stem(x).shape == (1, 64, 8, 8)


def test_zero_init_residual_starts_blocks_as_identity_plus_relu():
    net = ResNetNetwork(ResNetConfig(blocks=(1,), widths=(4,), zero_init_residual=True))
    block = net.stages[0][0]
    x = torch.rand(2, 4, 6, 6)
    block.eval()
    assert torch.equal(block(x), x)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"blocks": (2, 2), "widths": (8,)}, "equal length"),
        ({"blocks": (0,), "widths": (8,)}, "positive ints"),
        ({"stem": "tiny"}, "stem"),
        ({"num_classes": 0}, "num_classes"),
        ({"in_channels": 0}, "in_channels"),
    ],
)
def test_bad_config_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ResNetConfig(**kwargs)


@pytest.mark.parametrize("kwargs", [{"num_classes": 2.5}, {"in_channels": True}])
def test_config_sizes_must_be_ints(kwargs):
    with pytest.raises(TypeError, match="must be an int"):
        ResNetConfig(**kwargs)


def test_classifier_normalises_uint8_and_float_input_alike():
    torch.manual_seed(0)
    model = ResNetSmall(num_classes=3, mean=(0.5, 0.4, 0.3), std=(0.2, 0.2, 0.2)).eval()
    images = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8)
    with torch.no_grad():
        from_uint8, from_float = model(images), model(images.float() / 255)
    assert_close_to_reference(from_uint8, from_float, atol=1e-6)
    expected = model.net((images.float() / 255 - model.mean) / model.std)
    assert_close_to_reference(from_uint8, expected, atol=1e-6)


def test_classifier_keeps_the_recipe_and_checks_its_options():
    model = ResNetSmall()
    assert model.hparams["nesterov"] and model.hparams["schedule"] == "onecycle"
    assert model.label_smoothing == 0.1 and not model.decay_norm_and_bias
    assert ResNet("resnet-small", lr=0.2, label_smoothing=0.0).hparams["lr"] == 0.2
    with pytest.raises(ValueError, match="arch"):
        ResNet("resnet99")
    with pytest.raises(ValueError, match="together"):
        ResNetSmall(mean=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="one value per input channel"):
        ResNetSmall(mean=(0.5,), std=(0.2,))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        model(torch.zeros(3, 8, 8))
