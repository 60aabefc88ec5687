"""``dllab nlp ...``: tokenizers, sentiment analysis and BERT pretraining.

The command bodies live in modules imported when a command runs, so ``dllab --help`` stays
free of torch and tokenizers.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from dllab.core.cli.options import (
    Accelerator,
    AcceleratorName,
    BatchSize,
    DataDir,
    Devices,
    Download,
    Epochs,
    Quick,
    Resume,
    RunsDir,
    Seed,
    check_positive_option,
)

app = typer.Typer(
    help="NLP: subword tokenizers, sentiment with TextCNN, BiRNN or BERT, BERT pretraining.",
    no_args_is_help=True,
)
tokenizer_app = typer.Typer(help="Train subword tokenizers.", no_args_is_help=True)
sentiment_app = typer.Typer(help="Train and use sentiment classifiers.", no_args_is_help=True)
bert_app = typer.Typer(
    help="Pretrain BERT with masked LM and next-sentence prediction.", no_args_is_help=True
)
app.add_typer(tokenizer_app, name="tokenizer")
app.add_typer(sentiment_app, name="sentiment")
app.add_typer(bert_app, name="bert")


class SubwordModelName(StrEnum):
    wordpiece = "wordpiece"
    bpe = "bpe"


@tokenizer_app.command("train")
def tokenizer_train(
    corpus: Annotated[Path, typer.Argument(help="A UTF-8 text file; each line is one text.")],
    model: Annotated[
        SubwordModelName, typer.Option("--model", help="wordpiece (BERT) or bpe (translation).")
    ] = SubwordModelName.wordpiece,
    vocab_size: Annotated[
        int, typer.Option("--vocab-size", min=8, help="Vocabulary size, special tokens included.")
    ] = 8000,
    out: Annotated[Path, typer.Option("--out", help="Where to write the tokenizer.json.")] = Path(
        "tokenizer.json"
    ),
) -> None:
    """Train a WordPiece or BPE tokenizer on a corpus and save it as tokenizer.json."""
    from dllab.nlp.tokenizer_commands import tokenizer_train_command

    tokenizer_train_command(corpus, str(model), vocab_size, out)


class SentimentModel(StrEnum):
    textcnn = "textcnn"
    birnn = "birnn"
    bert = "bert"


class SentimentDataset(StrEnum):
    synthetic = "synthetic"
    imdb = "imdb"


class PretrainCorpus(StrEnum):
    synthetic = "synthetic"
    wikitext2 = "wikitext2"


def _lr_or_default(value: float | None) -> float | None:
    return None if value is None else check_positive_option("--lr", value)


LrOrDefault = Annotated[
    float | None,
    typer.Option(
        "--lr", callback=_lr_or_default, help="Learning rate (finite, > 0; default per model)."
    ),
]
MaxLen = Annotated[
    int | None,
    typer.Option(
        "--max-len", min=8, max=4096, help="Tokens per text (default: 64 synthetic, 256 IMDb)."
    ),
]
Samples = Annotated[
    int | None,
    typer.Option(
        "--samples",
        min=20,
        max=1_000_000,
        help="Training texts (default: 4000 synthetic; all of IMDb, else a seeded subset).",
    ),
]
VocabSize = Annotated[
    int,
    typer.Option(
        "--vocab-size",
        min=16,
        help="Vocabulary cap: the word vocabulary's (textcnn, birnn) or WordPiece's (bert).",
    ),
]


@sentiment_app.command("train")
def sentiment_train(
    model: Annotated[
        SentimentModel, typer.Option("--model", help="textcnn, birnn or bert.")
    ] = SentimentModel.textcnn,
    dataset: Annotated[
        SentimentDataset,
        typer.Option("--dataset", help="synthetic (embedded reviews) or imdb (aclImdb)."),
    ] = SentimentDataset.synthetic,
    from_pretrained: Annotated[
        Path | None,
        typer.Option(
            "--from-pretrained",
            help="A run folder of 'dllab nlp bert pretrain' to fine-tune (--model bert).",
        ),
    ] = None,
    glove: Annotated[
        Path | None,
        typer.Option(
            "--glove", help="GloVe vectors (.txt) to start the embedding (textcnn, birnn)."
        ),
    ] = None,
    freeze_embeddings: Annotated[
        bool, typer.Option("--freeze-embeddings", help="Keep the GloVe vectors fixed.")
    ] = False,
    epochs: Epochs = 5,
    batch_size: BatchSize = 64,
    lr: LrOrDefault = None,
    max_len: MaxLen = None,
    samples: Samples = None,
    vocab_size: VocabSize = 5000,
    seed: Seed = 0,
    data_dir: DataDir = None,
    download: Download = False,
    runs_dir: RunsDir = Path("runs"),
    resume: Resume = False,
    accelerator: Accelerator = AcceleratorName.auto,
    devices: Devices = 1,
    quick: Quick = False,
) -> None:
    """Train a sentiment classifier; the run folder carries its vocabulary or tokenizer."""
    options = dict(locals())
    from dllab.nlp.commands import sentiment_train_command

    sentiment_train_command(options)


@sentiment_app.command("predict")
def sentiment_predict(
    texts: Annotated[list[str], typer.Argument(help="Texts to classify; - reads stdin lines.")],
    run: Annotated[Path, typer.Option("--run", help="A run folder of 'sentiment train'.")],
) -> None:
    """Print the label of each text with its probability, from a trained run."""
    from dllab.nlp.commands import read_texts, sentiment_predict_command

    sentiment_predict_command(run, read_texts(texts, sys.stdin))


@bert_app.command("pretrain")
def bert_pretrain(
    corpus: Annotated[
        PretrainCorpus,
        typer.Option("--corpus", help="synthetic (embedded paragraphs) or wikitext2."),
    ] = PretrainCorpus.synthetic,
    epochs: Epochs = 10,
    batch_size: BatchSize = 64,
    lr: LrOrDefault = None,
    max_len: Annotated[
        int, typer.Option("--max-len", min=8, max=4096, help="Tokens per sentence pair.")
    ] = 64,
    samples: Annotated[
        int, typer.Option("--samples", min=20, max=1_000_000, help="Synthetic paragraphs.")
    ] = 2000,
    vocab_size: Annotated[
        int, typer.Option("--vocab-size", min=16, help="WordPiece vocabulary size.")
    ] = 2000,
    seed: Seed = 0,
    data_dir: DataDir = None,
    download: Download = False,
    runs_dir: RunsDir = Path("runs"),
    resume: Resume = False,
    accelerator: Accelerator = AcceleratorName.auto,
    devices: Devices = 1,
    quick: Quick = False,
) -> None:
    """Pretrain BERT (masked LM + next sentence); prints MLM acc, NSP acc and perplexity."""
    options = dict(locals())
    from dllab.nlp.commands import bert_pretrain_command

    bert_pretrain_command(options)


# ---- translate ----------------------------------------------------------------------------------
translate_app = typer.Typer(
    help="Train and use English-French translators (GRU, Bahdanau attention, Transformer).",
    no_args_is_help=True,
)
app.add_typer(translate_app, name="translate")


class TranslateModel(StrEnum):
    seq2seq = "seq2seq"
    bahdanau = "bahdanau"
    transformer = "transformer"


class TranslateDataset(StrEnum):
    numbers = "numbers"
    fra_eng = "fra-eng"


class TranslateTokenizer(StrEnum):
    word = "word"
    bpe = "bpe"


@translate_app.command("train")
def translate_train(
    model: Annotated[
        TranslateModel, typer.Option("--model", help="seq2seq (GRU), bahdanau or transformer.")
    ] = TranslateModel.transformer,
    dataset: Annotated[
        TranslateDataset,
        typer.Option("--dataset", help="numbers (embedded) or fra-eng (tab-separated pairs)."),
    ] = TranslateDataset.numbers,
    tokenizer: Annotated[
        TranslateTokenizer,
        typer.Option("--tokenizer", help="word (a vocabulary per language) or bpe."),
    ] = TranslateTokenizer.word,
    epochs: Epochs = 30,
    batch_size: BatchSize = 128,
    lr: LrOrDefault = None,
    num_steps: Annotated[
        int, typer.Option("--num-steps", min=2, max=4096, help="Tokens per sentence.")
    ] = 16,
    samples: Annotated[
        int | None,
        typer.Option(
            "--samples",
            min=2,
            max=10_000_000,
            help="Sentence pairs (default: one per number; all of fra-eng).",
        ),
    ] = None,
    vocab_size: Annotated[
        int | None,
        typer.Option("--vocab-size", min=16, help="BPE vocabulary size (default 2000)."),
    ] = None,
    seed: Seed = 0,
    data_dir: DataDir = None,
    download: Download = False,
    runs_dir: RunsDir = Path("runs"),
    resume: Resume = False,
    accelerator: Accelerator = AcceleratorName.auto,
    devices: Devices = 1,
    quick: Quick = False,
) -> None:
    """Train a translator; prints its BLEU on the held-out pairs. The run folder carries both
    vocabularies."""
    options = dict(locals())
    from dllab.nlp.translate_commands import translate_train_command

    translate_train_command(options)


@translate_app.command("run")
def translate_run(
    texts: Annotated[list[str], typer.Argument(help="English texts; - reads stdin lines.")],
    run: Annotated[Path, typer.Option("--run", help="A run folder of 'translate train'.")],
    beam: Annotated[
        int, typer.Option("--beam", min=1, max=64, help="Beam size (1: greedy decoding).")
    ] = 1,
) -> None:
    """Print the French translation of each text, from a trained run."""
    from dllab.nlp.commands import read_texts
    from dllab.nlp.translate_commands import translate_run_command

    translate_run_command(run, read_texts(texts, sys.stdin), beam)
