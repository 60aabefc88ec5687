"""The attention and Transformer notebooks run end to end in quick mode and save what they
promise."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from dllab.core.testing import assert_pngs, run_script

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_attention_mechanism_notebook(tmp_path):
    ns = run_script(NOTEBOOKS / "attention_mechanism.py", tmp_path)
    assert ns["QUICK"] is True
    figures = [
        "kernel_regression.png",
        "kernel_weights.png",
        "parametric_regression.png",
        "parametric_weights.png",
        "masked_softmax.png",
        "additive_weights.png",
        "causal_padding_weights.png",
        "multihead_weights.png",
    ]
    assert_pngs(tmp_path / "figures", figures)
    errors = ns["kernel_errors"]
    assert errors["gaussian"] < 0.5 * errors["constant"], errors  # attention beats the mean
    assert ns["nw_losses"][-1] < ns["nw_losses"][0] and ns["param_error"] < errors["constant"]
    assert ns["mask_zero_ok"]
    assert max(ns["path_errors"].values()) < 1e-5, ns["path_errors"]
    assert ns["mha_error"] < 1e-5


def test_transformers_notebook(tmp_path):
    ns = run_script(NOTEBOOKS / "transformers.py", tmp_path)
    assert_pngs(tmp_path / "figures", ["sinusoidal_encoding.png", "rope_scores.png"])
    assert ns["rope_deviation"] < 1e-10
    assert ns["encoder_error"] < 1e-5 and ns["decoder_error"] < 1e-5
    assert ns["cache_error"] < 1e-5
    run_dir = ns["trainer"].run_dir
    run_dir = tmp_path / run_dir
    assert run_dir.is_relative_to(tmp_path / "runs" / "notebook-transformer")
    assert_pngs(run_dir, ["curves.png"])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["val_exact_match"] >= 0.95, summary
    # the README's "about 340 steps": 6 epochs of 57 batches (3,600 training pairs, batch 64)
    assert abs(summary["global_step"] - 340) <= 10, summary
    assert ns["test_exact_match"] >= 0.95
    assert_pngs(tmp_path / "figures", ["cross_attention.png"])
    weights = ns["cross_weights"]
    length = int(ns["lengths"][0])
    mirrored = weights[0, :, torch.arange(length), length - 1 - torch.arange(length)]  # (H, n)
    assert mirrored.max(dim=0).values.mean() > 0.5  # some head looks at the mirrored position
