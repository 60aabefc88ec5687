"""``dllab rl ...``: commands of dllab-rl."""

from __future__ import annotations

import typer

app = typer.Typer(help="rl", no_args_is_help=True)
