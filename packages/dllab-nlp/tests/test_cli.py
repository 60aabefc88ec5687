"""``dllab nlp sentiment ...`` and ``dllab nlp bert ...`` in-process: tiny runs and bad input."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from typer.testing import CliRunner

from dllab.core.cli.app import app
from dllab.core.testing import assert_pngs, last_json

runner = CliRunner()
CPU = ["--accelerator", "cpu"]
TINY = ["--samples", "60", "--epochs", "1", "--batch-size", "16", *CPU]
TINY_PRETRAIN = ["--samples", "40", "--epochs", "1", "--batch-size", "16", "--max-len", "32", *CPU]


def _invoke(*args, stdin=None):
    return runner.invoke(app, ["nlp", *args], input=stdin)


def _flat(output):
    return " ".join(output.split())


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny TextCNN run on the synthetic reviews, shared by the tests."""
    runs = tmp_path_factory.mktemp("runs")
    result = _invoke("sentiment", "train", *TINY, "--runs-dir", str(runs))
    assert result.exit_code == 0, result.output
    return runs / "nlp-sentiment-train" / "version_0", result


# ---- sentiment train --------------------------------------------------------------------------
def test_train_writes_the_run_folder_with_its_vocabulary(trained):
    run, result = trained
    summary = json.loads((run / "summary.json").read_text())
    assert last_json(result.output) == summary
    assert {"val_acc", "test_acc", "negation_acc"} <= set(summary)
    assert all(0.0 <= summary[k] <= 1.0 for k in ("val_acc", "test_acc", "negation_acc"))
    assert_pngs(run, ["curves.png"])
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert json.loads((run / "vocab.json").read_text())["kind"] == "word"
    options = yaml.safe_load((run / "hparams.yaml").read_text())["options"]
    assert options["model"] == "textcnn" and options["max_len"] == 48  # the synthetic default


def test_resume_continues_the_run_with_its_vocabulary(trained):
    run, _ = trained
    result = _invoke("sentiment", "train", *TINY[:2], "--epochs", "2", *TINY[4:],
                     "--runs-dir", str(run.parents[1]), "--resume")  # fmt: skip
    assert result.exit_code == 0, result.output
    resumed = run.parent / "version_1"
    summary = json.loads((resumed / "summary.json").read_text())
    assert summary["resumed_from"].startswith(str(run)) and summary["epochs"] == 2
    assert (resumed / "vocab.json").read_bytes() == (run / "vocab.json").read_bytes()


def test_resume_refuses_another_model(trained, tmp_path):
    run, _ = trained
    runs = tmp_path / "runs"
    shutil.copytree(run.parent, runs / "nlp-sentiment-train")
    result = _invoke("sentiment", "train", *TINY, "--model", "birnn", "--runs-dir", str(runs),
                     "--resume")  # fmt: skip
    assert result.exit_code == 2
    assert "--model was" in _flat(result.output)


# ---- sentiment predict ------------------------------------------------------------------------
def test_predict_prints_a_label_and_probability_per_text_and_reads_stdin(trained):
    run, _ = trained
    lines = "the plot was not good\nthe acting was superb\n"
    result = _invoke("sentiment", "predict", "--run", str(run), "a truly wonderful film", "-",
                     stdin=lines)  # fmt: skip
    assert result.exit_code == 0, result.output
    predictions = last_json(result.output)["predictions"]
    assert len(predictions) == 3
    for label, probability in predictions:
        assert label in ("negative", "positive") and 0.5 <= probability <= 1.0
    printed = result.output.splitlines()
    assert printed[0].endswith("a truly wonderful film")
    assert printed[2].endswith("the acting was superb")
    assert printed[0].split()[0] == predictions[0][0]


def test_predict_refuses_empty_text(trained):
    run, _ = trained
    result = _invoke("sentiment", "predict", "--run", str(run), "fine film", "   ")
    assert result.exit_code == 2
    assert "texts[1] is empty text" in _flat(result.output)
    assert "Traceback" not in result.output


def test_predict_warns_about_text_made_only_of_unknown_tokens(trained):
    run, _ = trained
    result = _invoke("sentiment", "predict", "--run", str(run), "zorblax quuxified")
    assert result.exit_code == 0, result.output
    assert "only of unknown tokens" in _flat(result.output)
    assert len(last_json(result.output)["predictions"]) == 1


def test_predict_truncates_a_text_longer_than_max_len_with_a_warning(trained):
    run, _ = trained
    long = " ".join(["the acting was superb"] * 40)  # 160 words > max_len 48
    result = _invoke("sentiment", "predict", "--run", str(run), long)
    assert result.exit_code == 0, result.output
    assert "1 of 1 texts were longer than max_len=48" in _flat(result.output)


def test_predict_refuses_a_vocabulary_of_another_size(trained, tmp_path):
    run, _ = trained
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    vocab = json.loads((copy / "vocab.json").read_text())
    vocab["tokens"] = vocab["tokens"][:20]
    (copy / "vocab.json").write_text(json.dumps(vocab))
    result = _invoke("sentiment", "predict", "--run", str(copy), "a fine film")
    assert result.exit_code == 2
    assert "vocabulary of 20 tokens" in _flat(result.output)


def test_predict_refuses_an_unknown_run_folder(tmp_path):
    result = _invoke("sentiment", "predict", "--run", str(tmp_path / "nothing"), "a fine film")
    assert result.exit_code == 2 and "no run folder" in _flat(result.output)


# ---- bad options --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "gpt"], "gpt"),
        (["--dataset", "sst2"], "sst2"),
        (["--lr", "-1"], "--lr"),
        (["--samples", "5"], "--samples"),
        (["--epochs", "0"], "--epochs"),
        (["--from-pretrained", "nowhere"], "only --model bert"),
        (["--model", "bert", "--from-pretrained", "nowhere"], "no run folder"),
        (["--glove", "nowhere.txt"], "no GloVe file at nowhere.txt"),
        (["--model", "bert", "--glove", "nowhere.txt"], "apply to --model textcnn|birnn"),
        (["--freeze-embeddings"], "give --glove PATH"),
    ],
)
def test_train_refuses_bad_options(tmp_path, args, message):
    result = _invoke("sentiment", "train", *args, "--runs-dir", str(tmp_path))
    assert result.exit_code == 2
    assert message in _flat(result.output)
    assert not any(tmp_path.iterdir())


GLOVE_WORDS = (
    "the",
    "was",
    "good",
    "not",
    "it",
    "and",
    "zyzzyva",
)  # the last one is no review word


def _write_glove(path, dim=6, bad_line=False):
    """A GloVe text file of a few review words; ``bad_line``: one vector one number short."""
    lines = [f"{w} " + " ".join(f"{0.1 * (i + 1) + 0.01 * j:.3f}" for j in range(dim))
             for i, w in enumerate(GLOVE_WORDS)]  # fmt: skip
    if bad_line:
        lines[3] = " ".join(lines[3].split()[:-2])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("model", ["textcnn", "birnn"])
def test_train_starts_from_glove_vectors_and_can_freeze_them(model, tmp_path):
    import torch

    from dllab.core.load import load_run

    glove = _write_glove(tmp_path / "glove.txt")
    result = _invoke("sentiment", "train", "--model", model, "--glove", str(glove),
                     "--freeze-embeddings", *TINY, "--runs-dir", str(tmp_path / "runs"))  # fmt: skip
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "nlp-sentiment-train" / "version_0"
    trained = load_run(run)
    tokens = json.loads((run / "vocab.json").read_text())["tokens"]
    found = sum(word in tokens for word in GLOVE_WORDS)
    assert found >= 3 and f"GloVe: {found} of {len(tokens)} words found" in result.output
    weights = trained.net.embedding.weight
    assert weights.shape[1] == 6 and not weights.requires_grad
    the = [float(x) for x in glove.read_text().splitlines()[0].split()[1:]]
    assert torch.allclose(weights[tokens.index("the")], torch.tensor(the))  # frozen as read


def test_train_refuses_a_glove_file_of_mixed_dimensions(tmp_path):
    glove = _write_glove(tmp_path / "glove.txt", bad_line=True)
    runs = tmp_path / "runs"
    result = _invoke("sentiment", "train", "--glove", str(glove), *TINY, "--runs-dir", str(runs))
    assert result.exit_code == 2
    flat = _flat(result.output)
    assert "line 4: expected a word and 6 numbers" in flat and "--glove" in flat
    assert not runs.exists() or not any(runs.rglob("*.json"))


def test_train_on_missing_imdb_names_the_path_and_download(tmp_path):
    runs = tmp_path / "runs"
    result = _invoke("sentiment", "train", "--dataset", "imdb", "--data-dir",
                     str(tmp_path / "data"), *TINY, "--runs-dir", str(runs))  # fmt: skip
    assert result.exit_code == 2
    flat = _flat(result.output)
    assert "aclImdb" in flat and "--download" in flat
    assert not list(runs.rglob("summary.json"))


def test_train_on_an_imdb_fixture_reads_the_tree_and_carries_the_vocabulary(imdb_root, tmp_path):
    result = _invoke("sentiment", "train", "--dataset", "imdb", "--data-dir", str(imdb_root),
                     "--max-len", "32", *TINY[2:], "--runs-dir", str(tmp_path))  # fmt: skip
    assert result.exit_code == 0, result.output
    run = tmp_path / "nlp-sentiment-train" / "version_0"
    summary = last_json(result.output)
    assert 0.0 <= summary["test_acc"] <= 1.0 and "negation_acc" not in summary
    tokens = json.loads((run / "vocab.json").read_text())["tokens"]
    assert "café" in tokens and "br" not in tokens  # Latin-1 decoded, <br /> removed


@pytest.mark.slow
def test_birnn_trains_on_the_synthetic_reviews(tmp_path):
    result = _invoke("sentiment", "train", "--model", "birnn", *TINY, "--runs-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    summary = last_json(result.output)
    assert {"test_acc", "negation_acc"} <= set(summary)
    assert (tmp_path / "nlp-sentiment-train" / "version_0" / "vocab.json").is_file()


@pytest.mark.slow
def test_bert_from_scratch_carries_its_wordpiece_tokenizer(tmp_path):
    result = _invoke("sentiment", "train", "--model", "bert", "--vocab-size", "300", *TINY,
                     "--runs-dir", str(tmp_path))  # fmt: skip
    assert result.exit_code == 0, result.output
    run = tmp_path / "nlp-sentiment-train" / "version_0"
    tokenizer = json.loads((run / "tokenizer.json").read_text())
    assert tokenizer["model"]["type"] == "WordPiece" and len(tokenizer["model"]["vocab"]) <= 300
    result = _invoke("sentiment", "predict", "--run", str(run), "the plot was never boring")
    assert result.exit_code == 0, result.output


# ---- bert pretrain and fine-tuning ------------------------------------------------------------
def test_bert_pretrain_reports_mlm_nsp_perplexity_and_fine_tunes_from_its_run(tmp_path):
    result = _invoke("bert", "pretrain", *TINY_PRETRAIN, "--runs-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    pretrained = tmp_path / "nlp-bert-pretrain" / "version_0"
    summary = last_json(result.output)
    assert {"mlm_acc", "nsp_acc", "perplexity"} <= set(summary)
    assert 0.0 <= summary["mlm_acc"] <= 1.0 and summary["perplexity"] > 1.0
    for name in ("mlm_acc", "nsp_acc", "perplexity"):
        assert name in result.output.split("run folder:")[0]  # in the printed table
    assert (pretrained / "tokenizer.json").is_file()

    result = _invoke("sentiment", "train", "--model", "bert", "--from-pretrained",
                     str(pretrained), *TINY, "--runs-dir", str(tmp_path))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "--max-len 32" in result.output  # cut to the pretrained positions, with a warning
    run = tmp_path / "nlp-sentiment-train" / "version_0"
    tokenizer = (run / "tokenizer.json").read_bytes()
    assert tokenizer == (pretrained / "tokenizer.json").read_bytes()
    hparams = yaml.safe_load((run / "hparams.yaml").read_text())
    assert hparams["pretrained_from"] == str(pretrained) and hparams["network"]["max_len"] == 32

    result = _invoke("sentiment", "predict", "--run", str(run), "never boring", "not good")
    assert result.exit_code == 0, result.output
    assert len(last_json(result.output)["predictions"]) == 2

    result = _invoke("sentiment", "predict", "--run", str(pretrained), "never boring")
    assert result.exit_code == 2
    assert "not a run of dllab nlp sentiment train" in _flat(result.output)


def test_fine_tuning_refuses_a_run_that_is_not_a_pretraining_run(trained, tmp_path):
    run, _ = trained
    result = _invoke("sentiment", "train", "--model", "bert", "--from-pretrained", str(run),
                     *TINY, "--runs-dir", str(tmp_path / "runs"))  # fmt: skip
    assert result.exit_code == 2
    assert "is not a run of dllab nlp bert pretrain" in _flat(result.output)
    assert not (tmp_path / "runs").exists()


def test_bert_pretrain_on_missing_wikitext_names_the_path_and_download(tmp_path):
    result = _invoke("bert", "pretrain", "--corpus", "wikitext2", "--data-dir",
                     str(tmp_path / "data"), *TINY_PRETRAIN, "--runs-dir", str(tmp_path / "runs"))  # fmt: skip
    assert result.exit_code == 2
    flat = _flat(result.output)
    assert "wikitext" in flat.lower() and "--download" in flat
    assert not list((tmp_path / "runs").rglob("summary.json"))


def _write_wikitext2(root):
    """``root/wikitext2/wikitext-2/wiki.*.tokens`` in the published format (headings, blanks)."""
    tree = root / "wikitext2" / "wikitext-2"
    tree.mkdir(parents=True)
    subjects = ["the river", "the old castle", "the king", "the ship", "the village"]
    lines = []
    for i in range(40):
        a, b = subjects[i % 5], subjects[(i + 2) % 5]
        lines += [f" = Article {i} = \n", " \n",
                  f" {a} was built in 18{i:02d} . {b} lies to the north @-@ east . "
                  f"it is known for <unk> stone . \n", " \n"]  # fmt: skip
    for split in ("train", "valid", "test"):
        (tree / f"wiki.{split}.tokens").write_text("".join(lines), encoding="utf-8")


@pytest.mark.slow
def test_bert_pretrain_on_a_wikitext2_fixture(tmp_path):
    _write_wikitext2(tmp_path / "data")
    result = _invoke("bert", "pretrain", "--corpus", "wikitext2", "--data-dir",
                     str(tmp_path / "data"), *TINY_PRETRAIN, "--runs-dir", str(tmp_path))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert {"mlm_acc", "nsp_acc", "perplexity"} <= set(last_json(result.output))
    tokenizer = json.loads(
        (tmp_path / "nlp-bert-pretrain" / "version_0" / "tokenizer.json").read_text()
    )
    assert "castle" in tokenizer["model"]["vocab"]  # trained on the fixture's paragraphs
