"""Training with on-device augmentation: what the model sees, exact resume, and learning."""

from __future__ import annotations

import json

import pytest
import torch

from dllab.core.testing import quick_trainer
from dllab.vision.data.shapes import ShapesData
from dllab.vision.model import ResNet


class Recording(ResNet):
    """A ResNet that keeps the first batch of each kind it is given."""

    seen: dict

    def training_step(self, batch, batch_idx):
        self.seen.setdefault("train", batch[0].detach().clone())
        return super().training_step(batch, batch_idx)

    def validation_step(self, batch, batch_idx):
        self.seen.setdefault("val", batch[0].detach().clone())
        return super().validation_step(batch, batch_idx)


def _data(augment: bool = True) -> ShapesData:
    return ShapesData(samples=60, test_samples=10, batch_size=16, val_fraction=0.2,
                      augment=augment)  # fmt: skip


def _model(cls=ResNet) -> ResNet:
    torch.manual_seed(0)  # the same initial weights in every run
    data = _data()
    return cls("resnet-small", mean=data.mean, std=data.std, schedule="none")


def test_training_batches_are_augmented_on_the_device_and_validation_batches_are_not(tmp_path):
    model = _model(Recording)
    model.seen = {}
    data = _data()
    quick_trainer(tmp_path, max_epochs=1, limit_train_batches=1).fit(model, data)
    train_idx = data.train_dataloader().sampler._order()[:16]  # epoch 0's first batch
    plain_train = data.train_tensors[0][train_idx].float() / 255
    plain_val = data.val_tensors[0][:16].float() / 255
    assert model.seen["train"].dtype == torch.float32
    assert not torch.allclose(model.seen["train"], plain_train)  # cropped, flipped, jittered
    assert torch.equal(model.seen["val"], plain_val)  # only scaled


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_a_resumed_run_augments_and_ends_exactly_like_an_uninterrupted_one(tmp_path):
    straight = _model()
    quick_trainer(tmp_path, max_epochs=2, name="straight").fit(straight, _data())
    first = _model()
    quick_trainer(tmp_path, max_epochs=1, name="resumed").fit(first, _data())
    resumed = _model()
    quick_trainer(tmp_path, max_epochs=2, name="resumed").fit(resumed, _data(), ckpt_path="last")
    expected, got = _weights(straight), _weights(resumed)
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.equal(expected[key], got[key]), key
    other = _model()  # the check can fail: another seed's augmentation ends elsewhere
    quick_trainer(tmp_path, max_epochs=2, name="other", seed=1).fit(other, _data())
    assert not all(torch.equal(expected[k], v) for k, v in _weights(other).items())


@pytest.mark.slow
def test_quick_run_reaches_90_percent_on_held_out_shapes(tmp_path):
    from typer.testing import CliRunner

    from dllab.core.cli.app import app

    args = ["vision", "train", "--quick", "--accelerator", "cpu", "--runs-dir", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["test_acc"] >= 0.90, summary
