"""Module and Classifier: input checks, predictions, optimizers and the recipe's options."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from dllab.core import Classifier, Module


class Net(Classifier):
    def __init__(self, **kwargs):
        super().__init__(num_classes=3, **kwargs)
        self.net = nn.Linear(4, 3)


@pytest.mark.parametrize("lr", [0, -0.1, float("nan"), float("inf")])
def test_lr_must_be_positive(lr):
    with pytest.raises(ValueError, match=r"lr must be (> 0|a finite number)"):
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


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"schedule": "linear"}, ValueError, "schedule must be one of"),
        ({"nesterov": True}, ValueError, "momentum > 0"),
        ({"nesterov": True, "momentum": 0.9, "optimizer": "adam"}, ValueError, "optimizer='sgd'"),
        ({"nesterov": 1}, TypeError, "bools"),
        ({"decay_norm_and_bias": "no"}, TypeError, "bools"),
        ({"momentum": 1.0}, ValueError, "momentum must be"),
        ({"warmup_steps": 5}, ValueError, "a warm-up needs a schedule"),
        ({"warmup_fraction": 0.1}, ValueError, "a warm-up needs a schedule"),
        ({"schedule": "cosine", "warmup_steps": 5, "warmup_fraction": 0.1}, ValueError, "not both"),
        ({"schedule": "cosine", "warmup_fraction": 1.0}, ValueError, "warmup_fraction must be"),
        ({"schedule": "cosine", "warmup_steps": -1}, ValueError, "warmup_steps must be >= 0"),
        ({"label_smoothing": 1.0}, ValueError, "label_smoothing must be"),
        ({"label_smoothing": -0.1}, ValueError, "label_smoothing must be"),
        ({"label_smoothing": float("nan")}, ValueError, "label_smoothing must be a finite"),
    ],
)
def test_bad_recipe_options_get_clear_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        Net(**kwargs)


def test_nesterov_and_default_groups_reach_the_optimizer():
    opt = Net(momentum=0.9, nesterov=True, weight_decay=0.1).configure_optimizers()
    assert len(opt.param_groups) == 1
    group = opt.param_groups[0]
    assert group["nesterov"] and group["momentum"] == 0.9 and group["weight_decay"] == 0.1


def test_no_decay_on_norms_and_biases_makes_two_groups():
    model = Net(weight_decay=0.1, decay_norm_and_bias=False)
    model.net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.LayerNorm(8), nn.Linear(8, 3))
    opt = model.configure_optimizers()
    decayed, exempt = opt.param_groups
    assert decayed["weight_decay"] == 0.1 and exempt["weight_decay"] == 0.0
    net = model.net
    assert [id(p) for p in decayed["params"]] == [id(net[0].weight), id(net[3].weight)]
    norms_and_biases = [net[0].bias, *net[1].parameters(), *net[2].parameters(), net[3].bias]
    assert {id(p) for p in exempt["params"]} == {id(p) for p in norms_and_biases}
    assert len(decayed["params"]) + len(exempt["params"]) == len(list(model.parameters()))


def test_a_schedule_outside_a_trainer_says_what_it_needs():
    with pytest.raises(RuntimeError, match="inside a Trainer's fit"):
        Net(schedule="onecycle").configure_optimizers()


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5])
def test_label_smoothing_matches_torch_and_its_definition(smoothing):
    torch.manual_seed(0)
    model = Net(label_smoothing=smoothing)
    logits, y = torch.randn(6, 3, dtype=torch.float64), torch.tensor([0, 1, 2, 2, 1, 0])
    loss = model.loss(logits, y)
    assert torch.equal(loss, F.cross_entropy(logits, y, label_smoothing=smoothing))
    # the definition: cross-entropy against (1 - eps) * one_hot + eps / C
    target = (1 - smoothing) * F.one_hot(y, 3).double() + smoothing / 3
    by_hand = -(target * logits.log_softmax(-1)).sum(-1).mean()
    torch.testing.assert_close(loss, by_hand, atol=1e-12, rtol=0)


def test_predict_proba_is_the_softmax_in_eval_mode():
    model = Net()
    model.net = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5))  # eval mode must switch it off
    model.train()
    X = torch.randn(5, 4)
    probs = model.predict_proba(X)
    model.eval()
    assert torch.equal(probs, F.softmax(model(X), dim=-1))
    assert model.training is False  # left as the caller set it
    torch.testing.assert_close(probs.sum(-1), torch.ones(5), atol=1e-6, rtol=0)
    assert not probs.requires_grad


@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_k_matches_torch_topk(k):
    model = Net()
    X = torch.randn(7, 4)
    values, indices = model.top_k(X, k=k)
    expected = torch.topk(F.softmax(model(X), dim=-1), k, dim=-1)
    assert torch.equal(values, expected.values) and torch.equal(indices, expected.indices)
    assert torch.equal(indices[:, 0], model.predict(X))


@pytest.mark.parametrize(
    ("k", "error", "message"),
    [(0, ValueError, "k must be >= 1"), (4, ValueError, "k must be <= 3"),
     (1.5, TypeError, "k must be an int"), (True, TypeError, "k must be an int")],
)  # fmt: skip
def test_top_k_checks_k(k, error, message):
    with pytest.raises(error, match=message):
        Net().top_k(torch.randn(2, 4), k=k)


def test_top_k_without_num_classes_checks_k_against_the_logits():
    model = Classifier()
    model.net = nn.Linear(4, 3)
    assert model.top_k(torch.randn(2, 4), k=3)[1].shape == (2, 3)
    with pytest.raises(ValueError, match=r"k must be <= 3 \(the number of classes\)"):
        model.top_k(torch.randn(2, 4), k=4)
