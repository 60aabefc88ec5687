"""The machine translation notebook runs end to end in quick mode and saves its plots and
metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from dllab.core.testing import assert_pngs, run_script

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "machine_translation.py"
MODELS = ["seq2seq", "bahdanau", "transformer"]


@pytest.mark.slow
def test_translation_notebook_runs_in_quick_mode(tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small models: one thread is as fast, and never oversubscribed
    try:
        namespace = run_script(NOTEBOOK, tmp_path)
    finally:
        torch.set_num_threads(threads)
    assert namespace["QUICK_MODE"] is True
    figures = ["bahdanau_attention.png", "transformer_attention.png", "bleu_curves.png"]
    assert_pngs(tmp_path / "figures", figures)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["numbers_in_both_splits"] == 0  # split by the number
    # heatmaps: one Bahdanau head, every Transformer head; rows are distributions over the source
    assert namespace["bahdanau_weights"].shape[0] == 1
    heads = namespace["models"]["transformer"].hparams["network"]["num_heads"]
    assert metrics["transformer_heads"] == heads
    assert metrics["attention_row_sum_error"] < 1e-5
    for model in MODELS:
        assert metrics[f"{model}_beam1_equals_greedy"] is True
        # the notebook's corpus BLEU of the greedy decodes is the val_bleu the run logged
        assert metrics[f"{model}_corpus_greedy"] == pytest.approx(
            metrics[f"{model}_val_bleu"], abs=1e-3
        )
        for method in ("greedy", "beam4"):
            assert 0.0 <= metrics[f"{model}_sentence_{method}"] <= 100.0
            assert 0.0 <= metrics[f"{model}_corpus_{method}"] <= 100.0
    # five quick epochs on 1,800 pairs: the Transformer translates held-out numbers
    assert metrics["transformer_corpus_greedy"] >= 80.0
    assert metrics["transformer_corpus_greedy"] > metrics["seq2seq_corpus_greedy"]
