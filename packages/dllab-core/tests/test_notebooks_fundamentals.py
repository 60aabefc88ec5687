"""The fundamentals notebooks run end to end in quick mode and save what they promise."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from dllab.core.testing import assert_pngs, run_script

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_multilayer_perceptrons_notebook(tmp_path):
    ns = run_script(NOTEBOOKS / "multilayer_perceptrons.py", tmp_path)
    assert ns["QUICK"] is True
    figures = ["activations.png", "dropout.png", "softmax_stability.png", "xavier.png"]
    assert_pngs(tmp_path / "figures", figures)
    assert max(ns["activation_errors"].values()) < 1e-12
    assert ns["mlp_output_error"] < 1e-10 and ns["mlp_grad_error"] < 1e-10
    assert ns["backprop_error"] < 1e-12  # gradients by hand vs autograd, float64
    assert 88 < ns["first_nan"] < 100  # float32 exp overflows past log(3.4e38) = 88.7
    assert torch.isfinite(ns["stable_errors"]).all() and ns["stable_errors"].max() < 1e-6
    variance = ns["xavier_variance"]
    assert math.isclose(variance["uniform"], variance["target"], rel_tol=0.05)
    run_dir = tmp_path / ns["trainer"].run_dir
    assert run_dir.is_relative_to(tmp_path / "runs" / "notebook-mlp")
    assert_pngs(run_dir, ["curves.png"])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["val_acc"] == pytest.approx(ns["val_acc"])
    assert summary["val_acc"] > 0.5, summary


def test_classification_notebook(tmp_path):
    ns = run_script(NOTEBOOKS / "classification.py", tmp_path)
    figures = ["glyph_samples.png", "cross_entropy.png", "confusion_matrix.png"]
    assert_pngs(tmp_path / "figures", [*figures, "predictions.png", "weights.png"])
    assert ns["cross_entropy_error"] < 1e-12
    assert ns["softmax_output_error"] < 1e-10 and ns["softmax_grad_error"] < 1e-10
    for name in ("scratch", "concise"):
        run_dir = tmp_path / "runs" / f"notebook-softmax-{name}" / "version_0"
        assert_pngs(run_dir, ["curves.png"])
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["val_acc"] > 0.5, (name, summary)
    accs = [ns["summaries"][name]["val_acc"] for name in ("scratch", "concise")]
    assert abs(accs[0] - accs[1]) < 0.02, accs  # same start, same data order
    matrix = ns["matrix"]
    assert int(matrix.sum()) == len(ns["y_val"])
    assert matrix.diag().sum() / matrix.sum() == pytest.approx(ns["val_acc"], abs=1e-6)
