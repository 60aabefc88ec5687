"""``dllab nlp tokenizer train`` in-process: a tokenizer.json that loads back, and bad input."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from dllab.core.cli.app import app
from dllab.nlp.encoding import load_encoder
from dllab.nlp.special import SPECIAL_TOKENS

runner = CliRunner()


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    lines = ["the plot was dull but the acting was superb", "never boring , not bad at all"]
    path.write_text("\n".join(lines * 20) + "\n", encoding="utf-8")
    return path


def _train(*args):
    return runner.invoke(app, ["nlp", "tokenizer", "train", *map(str, args)])


@pytest.mark.parametrize("model", ["wordpiece", "bpe"])
def test_train_writes_a_tokenizer_json_with_the_special_ids(corpus, tmp_path, model):
    out = tmp_path / "tok.json"
    result = _train(corpus, "--model", model, "--vocab-size", 120, "--out", out)
    assert result.exit_code == 0, result.output
    assert str(out) in result.output and "40 lines" in result.output
    tokenizer = load_encoder(out)
    assert tokenizer.kind == model and tokenizer.vocab_size <= 120
    assert [tokenizer.hf.token_to_id(t) for t in SPECIAL_TOKENS] == list(range(7))


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("\n  \n", ("--vocab-size", "100"), "corpus is empty"),
        (None, ("--vocab-size", "10"), "too small"),
        (b"caf\xe9 au lait\n", ("--vocab-size", "100"), "not UTF-8"),
        ("ok\n", ("--vocab-size", "4"), "greater than or equal to 8"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(corpus, tmp_path, content, args, message):
    if isinstance(content, bytes):
        corpus.write_bytes(content)
    elif content is not None:
        corpus.write_text(content)
    out = tmp_path / "tok.json"
    result = _train(corpus, *args, "--out", out)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt"]


def test_missing_corpus_and_folder_output_are_refused(corpus, tmp_path):
    result = _train(tmp_path / "missing.txt", "--out", tmp_path / "t.json")
    assert result.exit_code == 2 and "no corpus file" in result.output
    result = _train(corpus, "--out", tmp_path)
    assert result.exit_code == 2 and "is a folder" in result.output
