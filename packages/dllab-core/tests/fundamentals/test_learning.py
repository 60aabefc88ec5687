"""Seeded learning checks: the fundamentals models learn through dllab's Trainer.

Softmax regression and the MLP train for a few epochs on the embedded glyph images (10
classes, chance = 0.1); linear regression recovers the weights of a synthetic line.

Thresholds sit just under what these seeded runs reach: validation accuracy 0.75 (softmax
regression, both forms) and 0.72-0.75 (MLP, both forms), validation loss down by 1.42-1.44
(softmax regression) and 1.64-1.65 (MLP); other initialisation seeds gave 0.72-0.77 and
1.42-1.65.
"""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from dllab.core.data.datamodule import TensorDataModule
from dllab.core.data.glyphs import GlyphsData
from dllab.core.fundamentals.models import (
    MLP,
    LinearRegression,
    LinearRegressionScratch,
    MLPScratch,
    SoftmaxRegression,
    SoftmaxRegressionScratch,
)
from dllab.core.testing import quick_trainer


@pytest.fixture(scope="module")
def glyphs() -> GlyphsData:
    data = GlyphsData(n=1200, batch_size=32, seed=0)
    data.setup()
    return data


def val_loss(model, data: GlyphsData) -> float:
    X, y = data.val_tensors
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return float(model.loss(model(X), y))
    finally:
        model.train(was_training)


def fit_glyphs(model, data, tmp_path, epochs: int = 3) -> dict:
    """Train; return summary.json plus the validation loss before training."""
    torch.manual_seed(0)
    before = val_loss(model, data)
    trainer = quick_trainer(tmp_path, max_epochs=epochs, name=type(model).__name__)
    trainer.fit(model, data)
    summary = json.loads((trainer.run_dir / "summary.json").read_text())
    return {**summary, "val_loss_before": before, "run_dir": trainer.run_dir}


def test_softmax_regression_learns_glyphs(glyphs, tmp_path):
    torch.manual_seed(0)
    result = fit_glyphs(SoftmaxRegression(lr=0.3), glyphs, tmp_path)
    assert result["val_loss"] < result["val_loss_before"] - 1.2, result
    assert result["val_acc"] > 0.7, result


def test_mlp_learns_glyphs_and_reloads(glyphs, tmp_path):
    torch.manual_seed(0)
    model = MLP(num_hiddens=(128,), dropout=0.1, lr=3e-3, optimizer="adam")
    result = fit_glyphs(model, glyphs, tmp_path)
    assert result["val_loss"] < result["val_loss_before"] - 1.4, result
    assert result["val_acc"] > 0.68, result
    hparams = yaml.safe_load((result["run_dir"] / "hparams.yaml").read_text())
    assert hparams["num_hiddens"] == [128] and hparams["optimizer"] == "adam"
    reloaded = MLP.load_from_checkpoint(
        result["run_dir"] / "checkpoints" / "last.ckpt", weights_only=True
    )
    X = glyphs.val_tensors[0][:64]
    assert torch.equal(reloaded.predict(X), model.predict(X))


def test_linear_regression_recovers_the_weights(tmp_path):
    g = torch.Generator().manual_seed(0)
    true_w, true_b = torch.tensor([[2.0], [-3.4]]), 4.2
    X = torch.randn(1000, 2, generator=g)
    y = X @ true_w + true_b + 0.01 * torch.randn(1000, 1, generator=g)
    for cls in (LinearRegressionScratch, LinearRegression):
        torch.manual_seed(0)
        model = cls(2, lr=0.03)
        data = TensorDataModule((X, y), batch_size=10, val_fraction=0.1)
        trainer = quick_trainer(
            tmp_path, max_epochs=2, name=cls.__name__, checkpoint=False, curves=False
        )
        trainer.fit(model, data)
        if isinstance(model, LinearRegressionScratch):
            w, b = model.w.detach(), model.b.detach()  # w: (2, 1)
        else:
            w, b = model.net[1].weight.detach().T, model.net[1].bias.detach()  # (1, 2) -> (2, 1)
        assert (w - true_w).abs().max() < 0.05, (cls.__name__, w)
        assert abs(float(b) - true_b) < 0.05, (cls.__name__, b)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("make_model", "min_drop", "min_acc"),
    [
        (lambda: SoftmaxRegressionScratch(lr=0.3), 1.2, 0.7),
        (
            lambda: MLPScratch(num_hiddens=(128,), dropout=0.1, lr=3e-3, optimizer="adam"),
            1.4,
            0.68,
        ),
    ],
)
def test_scratch_models_learn_glyphs(glyphs, tmp_path, make_model, min_drop, min_acc):
    torch.manual_seed(0)
    result = fit_glyphs(make_model(), glyphs, tmp_path)
    assert result["val_loss"] < result["val_loss_before"] - min_drop, result
    assert result["val_acc"] > min_acc, result
