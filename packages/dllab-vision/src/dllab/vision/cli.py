"""``dllab vision ...``: train a ResNet, predict image classes, preview augmentation."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Vision: ResNet on rendered shapes or CIFAR-10, predictions, augmentation previews.",
    no_args_is_help=True,
)


@app.callback()
def main() -> None:
    """Vision: ResNet on rendered shapes or CIFAR-10, predictions, augmentation previews."""
