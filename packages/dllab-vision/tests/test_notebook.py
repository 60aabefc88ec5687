"""The lab notebook runs end to end in quick mode and saves its plots and metrics."""

from __future__ import annotations

import json
from pathlib import Path

from dllab.core.testing import assert_pngs, run_script

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "computer_vision.py"


def test_notebook_runs_in_quick_mode(tmp_path):
    namespace = run_script(NOTEBOOK, tmp_path)
    assert namespace["QUICK"] is True
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    figures = ["shapes.png", "augmentation.png", "curves_augmentation.png", "confusion_matrix.png"]
    if metrics["misclassified_shown"]:
        figures.append("misclassified.png")
    assert_pngs(tmp_path / "figures", figures)
    assert metrics["augment_max_abs_error"] < 1e-6  # float32 rounding only
    assert metrics["resnet18_parameters"] == 11_689_512
    assert metrics["resnet18_max_abs_error"] < 1e-5
    for key in ["test_acc_augmented", "test_acc_plain", "val_acc_augmented", "val_acc_plain"]:
        assert 0.0 <= metrics[key] <= 1.0, key
