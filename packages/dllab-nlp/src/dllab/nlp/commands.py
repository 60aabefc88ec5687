"""The bodies of ``dllab nlp sentiment train|predict`` and ``dllab nlp bert pretrain`` (``cli``).

A training run's folder carries its encoder, ``vocab.json`` (word level, TextCNN and BiRNN)
or ``tokenizer.json`` (WordPiece, BERT), written through ``TrainingCommand``'s artifacts, so
``--resume`` and ``predict`` need nothing but the folder.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import typer

from dllab.core.cli.options import apply_quick

SENTIMENT_RUN, PRETRAIN_RUN = "nlp-sentiment-train", "nlp-bert-pretrain"
LABELS = ("negative", "positive")
ENCODER_FILES = {"word": "vocab.json", "wordpiece": "tokenizer.json"}
MAX_LEN = {"synthetic": 48, "imdb": 256}
"""Default ``--max-len`` per dataset: the synthetic reviews are short, IMDb's are not."""
SYNTHETIC_SAMPLES = 4000
"""Default ``--samples`` of the synthetic reviews (IMDb: all 25,000)."""
QUICK_LIMITS = {"limit_train_batches": 10, "limit_val_batches": 3, "limit_test_batches": 3}
"""``--quick`` on the real datasets (IMDb, WikiText-2): a few batches of each split."""


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def read_texts(texts: Sequence[str], stdin: IO[str]) -> list[str]:
    """The texts of ``predict``: each argument, or the lines of stdin in place of ``-``."""
    out: list[str] = []
    for text in texts:
        if text == "-":
            out.extend(line.rstrip("\n") for line in stdin)
        else:
            out.append(text)
    return out


# ---- sentiment train --------------------------------------------------------------------------
def _training_command(run_name: str, options: Mapping[str, Any], limit: bool) -> Any:
    """The ``TrainingCommand`` of ``options``; ``limit``: a few batches per split only."""
    from dllab.core.cli.training import TrainingCommand

    return TrainingCommand(
        run_name,
        options,
        epochs=options["epochs"],
        seed=options["seed"],
        runs_dir=options["runs_dir"],
        resume=options["resume"],
        accelerator=options["accelerator"],
        devices=options["devices"],
        trainer_kwargs=QUICK_LIMITS if limit else {},
    )


def _real_data_error(err: BaseException) -> typer.BadParameter:
    return typer.BadParameter(_one_line(err), param_hint="--dataset/--download")


def _sentiment_encoder(run: Any, options: Mapping[str, Any], texts: Iterable[str]) -> Any:
    """The run's encoder: the resumed run's, the pretraining run's, or one fitted on ``texts``."""
    from dllab.nlp.data.sentiment import build_encoder
    from dllab.nlp.encoding import load_encoder

    kind = "wordpiece" if options["model"] == "bert" else "word"
    if run.resumed_from is not None:
        return load_encoder(run.resumed_file(ENCODER_FILES[kind]))
    if options["from_pretrained"] is not None:
        return load_encoder(Path(options["from_pretrained"]) / ENCODER_FILES["wordpiece"])
    return build_encoder(kind, list(texts), vocab_size=options["vocab_size"])


def _pretrained(run_dir: Path | None) -> Any:
    """The ``BERTPretrainer`` of ``--from-pretrained`` (a bad folder is a bad parameter)."""
    if run_dir is None:
        return None
    from dllab.core.checkpoint import CheckpointError
    from dllab.core.load import load_run
    from dllab.nlp.pretraining import BERTPretrainer

    try:
        model = load_run(run_dir)
    except (FileNotFoundError, CheckpointError) as err:
        raise typer.BadParameter(_one_line(err), param_hint="--from-pretrained") from None
    if not isinstance(model, BERTPretrainer):
        raise typer.BadParameter(
            f"{run_dir} is not a run of dllab nlp bert pretrain", param_hint="--from-pretrained"
        )
    if not (run_dir / ENCODER_FILES["wordpiece"]).is_file():
        raise typer.BadParameter(f"{run_dir} has no tokenizer.json", param_hint="--from-pretrained")
    return model


def _check_glove(options: Mapping[str, Any]) -> None:
    """``--glove`` and ``--freeze-embeddings`` fit TextCNN and the BiRNN only."""
    if options["glove"] is not None and options["model"] == "bert":
        raise typer.BadParameter("GloVe vectors apply to --model textcnn|birnn; BERT learns "
                                 "its own", param_hint="--glove")  # fmt: skip
    if options["freeze_embeddings"] and options["glove"] is None:
        raise typer.BadParameter("--freeze-embeddings freezes GloVe vectors: give --glove PATH",
                                 param_hint="--freeze-embeddings")  # fmt: skip
    if options["glove"] is not None and not Path(options["glove"]).is_file():
        raise typer.BadParameter(f"no GloVe file at {options['glove']}", param_hint="--glove")


def _glove_vectors(path: Path, encoder: Any, seed: int) -> Any:
    """``(vocab_size, d)`` vectors of the encoder's words from a GloVe file (others random)."""
    from dllab.nlp.data.glove import load_glove

    try:
        vectors, found = load_glove(path, encoder.vocab.idx_to_token, seed=seed)
    except (FileNotFoundError, ValueError, UnicodeDecodeError) as err:
        raise typer.BadParameter(_one_line(err), param_hint="--glove") from None
    typer.echo(f"GloVe: {found} of {len(vectors)} words found in {path}", err=True)
    return vectors


def _quick_sentiment(model_name: str) -> dict[str, Any]:
    """``--quick``: the quick CPU run of ``dllab.nlp.sentiment.QUICK`` (>= 90% on synthetic)."""
    from dllab.nlp.sentiment import QUICK, QUICK_DATA

    quick = QUICK[model_name]
    return {
        "epochs": quick["epochs"],
        "batch_size": quick["batch_size"],
        "lr": quick["recipe"].get("lr"),
        "samples": quick.get("n_train", QUICK_DATA["n_train"]),
        "max_len": QUICK_DATA["max_len"],
    }


def sentiment_train_command(options: dict[str, Any]) -> dict[str, Any]:
    """``dllab nlp sentiment train``: fit, test, score the negation split; returns the summary."""
    import lightning as L

    from dllab.core.data.download import DownloadError
    from dllab.nlp.data.sentiment import SentimentData
    from dllab.nlp.sentiment import SentimentClassifier

    model_name, dataset = str(options["model"]), str(options["dataset"])
    quick = apply_quick(options, _quick_sentiment(model_name))
    if options["from_pretrained"] is not None and model_name != "bert":
        raise typer.BadParameter("only --model bert starts from a pretraining run",
                                 param_hint="--from-pretrained")  # fmt: skip
    _check_glove(options)
    pretrained = _pretrained(options["from_pretrained"])
    if options["max_len"] is None:
        options["max_len"] = MAX_LEN[dataset]
    if options["samples"] is None and dataset == "synthetic":
        options["samples"] = SYNTHETIC_SAMPLES
    positions = None if pretrained is None else pretrained.bert.config.max_len
    if positions is not None and options["max_len"] > positions:
        typer.echo(f"warning: --max-len {positions} (not {options['max_len']}): the positions "
                   "the pretrained BERT learned", err=True)  # fmt: skip
        options["max_len"] = positions
    with _training_command(SENTIMENT_RUN, options, limit=quick and dataset == "imdb") as run:
        L.seed_everything(options["seed"], verbose=False)
        data_options = {
            "dataset": dataset,
            "max_len": options["max_len"],
            "batch_size": options["batch_size"],
            "seed": options["seed"],
            "root": options["data_dir"],
            "download": options["download"],
            "n_train": options["samples"],
            "add_cls_sep": model_name == "bert",
        }
        try:
            texts = SentimentData(None, **data_options).texts("train")
        except (FileNotFoundError, DownloadError) as err:
            raise _real_data_error(err) from None
        encoder = _sentiment_encoder(run, options, texts)
        data = SentimentData(encoder, **data_options)
        recipe = {} if options["lr"] is None else {"lr": options["lr"]}
        if pretrained is not None:
            model = SentimentClassifier.from_pretrained(options["from_pretrained"], **recipe)
        else:
            network = {"max_len": options["max_len"]} if model_name == "bert" else {}
            glove: dict[str, Any] = {}
            if options["glove"] is not None:  # on --resume the checkpoint's weights win
                vectors = _glove_vectors(options["glove"], encoder, options["seed"])
                glove = {"embeddings": vectors, "freeze_embeddings": options["freeze_embeddings"]}
            model = SentimentClassifier(model_name, encoder.vocab_size, network=network,
                                        **glove, **recipe)  # fmt: skip
        model.check_encoder(encoder)
        filename = ENCODER_FILES[encoder.kind]
        return run.fit(
            model,
            data,
            test=True,
            artifacts={filename: encoder.save},
            after_fit=_negation_accuracy if dataset == "synthetic" else None,
        )


def accuracy(model: Any, loader: Iterable[Sequence[Any]]) -> float:
    """The share of ``(ids, valid_lens, y)`` batches the model classifies right."""
    import torch

    device = next(model.parameters()).device
    right = total = 0
    for ids, valid_lens, y in loader:
        predicted = model.predict(ids.to(device), valid_lens.to(device)).cpu()
        right += int((predicted == y).sum())
        total += len(y)
    return right / max(total, 1) if total else float(torch.nan)


def _negation_accuracy(trainer: Any, model: Any, data: Any, run_dir: Path) -> dict[str, float]:
    """After training: accuracy on the negation split (where bag-of-words is near chance)."""
    return {"negation_acc": accuracy(model, data.negation_dataloader())}


# ---- sentiment predict ------------------------------------------------------------------------
def load_sentiment_run(run: Path) -> tuple[Any, Any, int]:
    """The trained model of a ``sentiment train`` run, its encoder and its ``max_len``."""
    import yaml

    from dllab.core.checkpoint import CheckpointError
    from dllab.core.load import load_run
    from dllab.nlp.encoding import load_encoder
    from dllab.nlp.sentiment import SentimentClassifier

    try:
        model = load_run(run)
    except (FileNotFoundError, CheckpointError) as err:
        raise typer.BadParameter(_one_line(err), param_hint="--run") from None
    files = [run / name for name in ENCODER_FILES.values() if (run / name).is_file()]
    if not isinstance(model, SentimentClassifier) or not files:
        raise typer.BadParameter(
            f"{run} is not a run of dllab nlp sentiment train", param_hint="--run"
        )
    try:
        encoder = load_encoder(files[0])
        model.check_encoder(encoder)
    except ValueError as err:
        raise typer.BadParameter(_one_line(err), param_hint="--run") from None
    hparams = yaml.safe_load((run / "hparams.yaml").read_text()) or {}
    return model, encoder, int(hparams.get("options", {}).get("max_len") or 64)


def sentiment_predict_command(run: Path, texts: Sequence[str]) -> list[tuple[str, float]]:
    """``dllab nlp sentiment predict``: print each text's label and probability; returns them."""
    model, encoder, max_len = load_sentiment_run(run)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            bert = model.model_name == "bert"
            encoded = encoder.encode_batch(texts, max_len, add_cls_sep=bert)
        except ValueError as err:
            raise typer.BadParameter(_one_line(err), param_hint="TEXTS") from None
    for warning in caught:
        typer.echo(f"warning: {warning.message}", err=True)
    probabilities = model.predict_proba(encoded.ids, encoded.valid_lens)  # (N, 2)
    results = []
    for text, probs in zip(texts, probabilities.tolist(), strict=True):
        label = int(probs[1] >= probs[0])
        results.append((LABELS[label], round(probs[label], 6)))
        typer.echo(f"{LABELS[label]:<8} {probs[label]:.4f}  {text}")
    typer.echo(json.dumps({"predictions": [list(r) for r in results]}))
    return results


# ---- bert pretrain ----------------------------------------------------------------------------
def _paragraphs(options: Mapping[str, Any]) -> list[list[str]]:
    """The pretraining corpus of ``--corpus``: paragraphs of two or more sentences."""
    if options["corpus"] == "synthetic":
        from dllab.nlp.pretraining import synthetic_corpus

        return synthetic_corpus(options["samples"], seed=options["seed"])
    from dllab.core.data.download import DownloadError
    from dllab.nlp.data.wikitext import read_wikitext2

    try:
        return read_wikitext2(options["data_dir"], "train", download=options["download"])
    except (FileNotFoundError, DownloadError) as err:
        raise typer.BadParameter(_one_line(err), param_hint="--corpus/--download") from None


def _quick_pretrain() -> dict[str, Any]:
    """``--quick``: the quick CPU pretraining run of ``dllab.nlp.pretraining.QUICK``."""
    from dllab.nlp.pretraining import QUICK

    keys = ("epochs", "batch_size", "vocab_size", "max_len")
    return {"samples": QUICK["paragraphs"], **{k: QUICK[k] for k in keys}}


def bert_pretrain_command(options: dict[str, Any]) -> dict[str, Any]:
    """``dllab nlp bert pretrain``: MLM + NSP; prints MLM and NSP accuracy and perplexity."""
    import lightning as L

    from dllab.nlp.encoding import load_encoder
    from dllab.nlp.pretraining import BERTPretrainData, BERTPretrainer
    from dllab.nlp.subword import train_tokenizer

    quick = apply_quick(options, _quick_pretrain())
    real = options["corpus"] == "wikitext2"
    with _training_command(PRETRAIN_RUN, options, limit=quick and real) as run:
        L.seed_everything(options["seed"], verbose=False)
        paragraphs = _paragraphs(options)
        if run.resumed_from is not None:
            tokenizer = load_encoder(run.resumed_file("tokenizer.json"))
        else:
            sentences = (s for paragraph in paragraphs for s in paragraph)
            tokenizer = train_tokenizer(sentences, "wordpiece", options["vocab_size"])
        data = BERTPretrainData(paragraphs, tokenizer, max_len=options["max_len"],
                                batch_size=options["batch_size"], seed=options["seed"])  # fmt: skip
        hparams = {} if options["lr"] is None else {"lr": options["lr"]}
        model = BERTPretrainer(tokenizer.vocab_size, max_len=options["max_len"], **hparams)
        return run.fit(model, data, artifacts={"tokenizer.json": tokenizer.save})
