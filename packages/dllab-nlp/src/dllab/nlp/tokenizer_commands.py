"""The body of ``dllab nlp tokenizer train``: read a corpus, train, write tokenizer.json.

Bad input (a missing, empty or non-UTF-8 corpus, a vocabulary too small for the special
tokens and the alphabet, an output path that is a folder) ends with ``typer.BadParameter``
(exit code 2) before anything is written; the file is written atomically, so it is either
complete or absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import typer


def _lines(corpus: Path, counter: list[int]) -> Iterator[str]:
    """The corpus's lines, streamed (a large corpus never sits in memory whole)."""
    with corpus.open(encoding="utf-8") as handle:
        for line in handle:
            counter[0] += 1
            yield line


def tokenizer_train_command(corpus: Path, model: str, vocab_size: int, out: Path) -> Path:
    """Train a ``model`` (wordpiece or bpe) tokenizer on ``corpus`` and save it to ``out``."""
    from dllab.nlp.subword import train_tokenizer

    if not corpus.is_file():
        raise typer.BadParameter(f"no corpus file at {corpus}", param_hint="CORPUS")
    if out.is_dir():
        raise typer.BadParameter(f"{out} is a folder; name a .json file", param_hint="--out")
    lines = [0]
    try:
        tokenizer = train_tokenizer(_lines(corpus, lines), model, vocab_size)  # type: ignore[arg-type]
    except UnicodeDecodeError as err:
        raise typer.BadParameter(
            f"{corpus} is not UTF-8 text: {err}", param_hint="CORPUS"
        ) from None
    except ValueError as err:
        hint = "--vocab-size" if "vocab_size" in str(err) else "CORPUS"
        raise typer.BadParameter(str(err), param_hint=hint) from None
    path = tokenizer.save(out)
    typer.echo(
        f"trained a {model} tokenizer of {tokenizer.vocab_size} tokens on {lines[0]} lines "
        f"of {corpus}: {path}"
    )
    return path
