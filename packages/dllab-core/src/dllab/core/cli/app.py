"""The root ``dllab`` command.

dllab-core owns the root. Each installed domain package contributes a typer sub-app through
the entry-point group ``dllab.commands``, so ``dllab --help`` lists only what is installed.
Nothing here imports torch: domain CLI modules import heavy libraries inside their commands.
"""

from __future__ import annotations

from importlib.metadata import distribution, entry_points

import typer

from dllab.core.cli.notebooks import notebooks

ENTRY_POINT_GROUP = "dllab.commands"

app = typer.Typer(
    name="dllab",
    help="dllab: a deep-learning lab. Each domain package adds its own commands.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rendering it with rich costs ~0.5 s of imports
)


def installed_domains() -> dict[str, str]:
    """Map each installed domain name to its distribution version."""
    found = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found[ep.name] = ep.dist.version if ep.dist is not None else "unknown"
    return dict(sorted(found.items()))


@app.command("list")
def list_domains() -> None:
    """Show the installed dllab domains and their versions."""
    from rich.console import Console
    from rich.table import Table

    table = Table("domain", "package", "version")
    for name, version in installed_domains().items():
        table.add_row(name, f"dllab-{name}", version)
    Console().print(table)


app.command("notebooks")(notebooks)


@app.callback(invoke_without_command=False)
def _root(
    version: bool = typer.Option(False, "--version", help="Print dllab-core's version."),
) -> None:
    if version:
        typer.echo(distribution("dllab-core").version)
        raise typer.Exit()


def _register_domains() -> None:
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            sub_app = ep.load()
        except Exception as err:  # a broken domain must not take the whole CLI down
            typer.echo(f"warning: cannot load dllab domain {ep.name!r}: {err}", err=True)
            continue
        app.add_typer(sub_app, name=ep.name)


_register_domains()


def main() -> None:
    """Console-script entry point."""
    app()
