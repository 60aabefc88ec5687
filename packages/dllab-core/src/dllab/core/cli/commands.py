"""``dllab core ...`` commands (filled in below)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Core: fundamentals (MLP, softmax regression) on the embedded data.", no_args_is_help=True
)
