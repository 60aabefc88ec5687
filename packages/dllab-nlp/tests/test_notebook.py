"""The lab notebook runs end to end in quick mode and saves its plots and metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dllab.core.testing import assert_pngs, run_script

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "natural_language_processing.py"
MODELS = ["textcnn", "birnn", "bert_pretrained", "bert_scratch"]


@pytest.mark.slow
def test_notebook_runs_in_quick_mode(tmp_path):
    namespace = run_script(NOTEBOOK, tmp_path)
    assert namespace["QUICK_MODE"] is True
    assert_pngs(tmp_path / "figures", ["curves.png"])
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    # WordPiece splits the unseen words the word vocabulary turns into <unk>
    assert metrics["word_unk_tokens"] > metrics["wordpiece_unk_tokens"]
    # a bag of words reads ordinary reviews and is near chance on the negation split
    assert metrics["bow_test_acc"] > 0.65 and abs(metrics["bow_negation_acc"] - 0.5) < 0.1
    for model in MODELS:
        for split in ("val", "test", "negation"):
            assert 0.0 <= metrics[f"{model}_{split}_acc"] <= 1.0
    assert metrics["textcnn_val_acc"] > 0.65  # 800 reviews, three epochs
    for bert in ("bert_pretrained", "bert_scratch"):  # BERT learns in quick mode too
        assert metrics[f"{bert}_val_acc"] > 0.8, metrics
    assert 0.0 <= metrics["pretrain_mlm_acc"] <= 1.0 and metrics["pretrain_perplexity"] > 1.0
