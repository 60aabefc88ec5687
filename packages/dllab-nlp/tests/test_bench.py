"""Smoke test of the benchmark: tiny sizes, one repeat, its figures printed last as JSON."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).parents[1] / "benchmarks" / "bench_text.py"
TINY = [
    "--repeats", "1", "--megabytes", "0.05", "--doc-words", "40", "--vocab-size", "300",
    "--bert-batch", "2", "--bert-len", "16", "--bert-layers", "1", "--bert-d", "16",
    "--bert-steps", "1", "--bert-rounds", "3", "--cnn-batch", "4", "--cnn-len", "16", "--cnn-steps", "1",
]  # fmt: skip


def test_benchmark_runs_with_tiny_sizes(capsys):
    spec = importlib.util.spec_from_file_location("bench_text", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = bench.main(TINY)
    out = capsys.readouterr().out.strip().splitlines()
    assert json.loads(out[-1]) == results
    assert set(results) == {"hf_tokenizer_speedup", "bert_over_torch_encoder",
                            "textcnn_samples_per_s"}  # fmt: skip
    assert all(v > 0 for v in results.values())
    assert any("MB/s" in line for line in out) and any("tokens/s" in line for line in out)
    assert any("the same ids on both sides" in line for line in out)


def test_the_hf_counterpart_returns_the_python_tokenizers_ids():
    spec = importlib.util.spec_from_file_location("bench_text", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    from dllab.nlp.vocab import Vocab, tokenize

    texts = ["The plot was NOT dull<br />and the acting... superb!", "i didn't like it , 42x"]
    vocab = Vocab.build([tokenize("the plot was not dull and acting superb i didn't it")])
    hf = bench.hf_word_tokenizer(vocab)
    got = [e.ids for e in hf.encode_batch_fast(texts, add_special_tokens=False)]
    assert got == [vocab[tokenize(t)] for t in texts]
    assert vocab.to_tokens(got[1])[:3] == ["i", "didn't", "<unk>"]  # "like" is unknown
