"""``dllab gp ...``: commands of dllab-gp."""

from __future__ import annotations

import typer

app = typer.Typer(help="gp", no_args_is_help=True)
