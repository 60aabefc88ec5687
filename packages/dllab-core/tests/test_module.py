"""Module and Classifier: input checks at the public boundary, predict, optimizers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dllab.core import Classifier, Module


class Net(Classifier):
    def __init__(self, **kwargs):
        super().__init__(num_classes=3, **kwargs)
        self.net = nn.Linear(4, 3)


@pytest.mark.parametrize("lr", [0, -0.1, float("nan"), float("inf")])
def test_lr_must_be_positive(lr):
    with pytest.raises(ValueError, match="lr must be > 0"):
        Net(lr=lr)


def test_lr_must_be_a_number():
    with pytest.raises(TypeError, match="lr must be a number"):
        Net(lr="0.1")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"optimizer": "rmsprop"}, "optimizer"), ({"weight_decay": -1.0}, "weight_decay")],
)
def test_bad_optimizer_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Net(**kwargs)


def test_num_classes_check():
    with pytest.raises(ValueError, match="num_classes"):
        Classifier(num_classes=1)


@pytest.mark.parametrize(
    ("y", "error", "message"),
    [
        (torch.tensor([0, 1, 3]), ValueError, r"labels must lie in \[0, 2\]"),
        (torch.tensor([0, -1, 2]), ValueError, "labels must lie"),
        (torch.tensor([0.0, 1.0, 2.0]), TypeError, "integer tensor"),
        (torch.tensor([0, 1]), ValueError, "do not match labels"),
    ],
)
def test_bad_labels_get_clear_errors(y, error, message):
    model = Net()
    with pytest.raises(error, match=message):
        model.loss(model(torch.randn(3, 4)), y)


def test_predict_returns_classes_and_keeps_mode():
    model = Net()
    model.train()
    X = torch.randn(5, 4)
    pred = model.predict(X)
    assert pred.shape == (5,) and pred.dtype == torch.int64
    assert torch.equal(pred, model(X).argmax(1))
    assert model.training


@pytest.mark.parametrize(
    ("name", "expected"),
    [("sgd", torch.optim.SGD), ("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)],
)
def test_configure_optimizers(name, expected):
    opt = Net(lr=0.01, optimizer=name, weight_decay=0.1).configure_optimizers()
    assert type(opt) is expected  # exact: AdamW subclasses Adam in recent torch
    assert opt.param_groups[0]["lr"] == 0.01 and opt.param_groups[0]["weight_decay"] == 0.1


def test_module_without_net_says_so():
    with pytest.raises(NotImplementedError, match=r"self\.net"):
        Module()(torch.zeros(1))


def test_wrong_input_width_is_a_clear_error():
    from dllab.core.fundamentals.models import MLP

    with pytest.raises(ValueError, match="784"):
        MLP()(torch.randn(2, 100))
