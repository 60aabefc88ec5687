"""``dllab nlp ...``: tokenizers, sentiment analysis and BERT pretraining.

The command bodies live in modules imported when a command runs, so ``dllab --help`` stays
free of torch and tokenizers.
"""

from __future__ import annotations

import typer

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
