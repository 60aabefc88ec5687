"""``dllab notebooks``: every installed dllab package's lab notebooks, as ``.ipynb`` files.

The notebooks are jupytext percent-format ``.py`` files in each package's ``notebooks/``
folder. They are not inside the wheels, so they are found through the source tree a package
was installed from: its PEP 610 ``direct_url.json`` names the folder for a workspace,
editable or local-path install. A package installed from an index has no notebooks to offer,
and the command says so.

Each ``.ipynb`` opens with a cell that installs the package when it is missing, so the
notebook also runs on Google Colab. jupytext and nbformat are imported inside the command:
``dllab --help`` stays light.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.metadata import Distribution, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import unquote, urlparse

import typer

if TYPE_CHECKING:
    from nbformat import NotebookNode

INSTALL_CELL = """\
# Installs {package} when it is missing (on Google Colab, for example).
try:
    import {module}
except ImportError:
    %pip install "{package}=={version}"
"""


@dataclass(frozen=True)
class NotebookSource:
    """One lab notebook of an installed dllab package."""

    package: str
    """The distribution name, e.g. ``dllab-rl``."""
    version: str
    """The installed version of ``package``."""
    path: Path
    """The jupytext percent-format ``.py`` file."""

    @property
    def module(self) -> str:
        """The package's import name, e.g. ``dllab.rl``."""
        return "dllab." + self.package.removeprefix("dllab-")


def source_tree(dist: Distribution) -> Path | None:
    """The project folder ``dist`` was installed from, or ``None`` (an index or wheel install)."""
    text = dist.read_text("direct_url.json")
    if not text:
        return None
    info = json.loads(text)
    url = urlparse(info.get("url", ""))
    if url.scheme != "file" or "dir_info" not in info:
        return None
    folder = Path(unquote(url.path))
    return folder if folder.is_dir() else None


def installed_packages() -> dict[str, Distribution]:
    """Every installed dllab package (one with a ``dllab.commands`` entry point), by name."""
    from dllab.core.cli.app import ENTRY_POINT_GROUP

    found = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.dist is not None:
            found[ep.dist.metadata["Name"]] = ep.dist
    return dict(sorted(found.items()))


def notebook_sources() -> tuple[list[NotebookSource], list[str]]:
    """The notebooks of every installed package, and the packages whose notebooks are absent."""
    sources, missing = [], []
    for name, dist in installed_packages().items():
        tree = source_tree(dist)
        paths = sorted((tree / "notebooks").glob("*.py")) if tree is not None else []
        if not paths:
            missing.append(name)
        sources.extend(NotebookSource(name, dist.version, p) for p in paths)
    return sources, missing


def to_ipynb(source: NotebookSource) -> NotebookNode:
    """Read a percent-format notebook and return it, install cell first, validated."""
    import jupytext
    import nbformat

    notebook = jupytext.read(source.path, fmt="py:percent")
    notebook.metadata.pop("jupytext", None)  # a standalone .ipynb, not paired with the .py
    notebook.metadata["language_info"] = {"name": "python"}
    install = INSTALL_CELL.format(
        package=source.package, module=source.module, version=source.version
    )
    notebook.cells.insert(0, nbformat.v4.new_code_cell(install.rstrip("\n")))
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{source.path.stem[:50]}-{index}"  # stable ids: same input, same file
    nbformat.validate(notebook)
    return notebook


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise typer.BadParameter(f"{out} is a file; give a folder", param_hint="--out")


def _make_out(out: Path) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        message = f"cannot create the folder {out}: {err.strerror}"
        raise typer.BadParameter(message, param_hint="--out") from None
    return out


OutDir = Annotated[
    Path, typer.Option("--out", help="Folder for the .ipynb files (one subfolder per package).")
]


def notebooks(out: OutDir = Path("notebooks")) -> None:
    """Write every installed dllab package's notebooks as .ipynb files (Colab-ready)."""
    import nbformat

    from dllab.core.runs import atomic_write_text

    _check_out(out)
    sources, missing = notebook_sources()
    if not sources:
        typer.echo("error: no installed dllab package has notebooks here", err=True)
        typer.echo("notebooks come with a source checkout (uv sync in the workspace)", err=True)
        raise typer.Exit(1)
    converted: list[tuple[Path, Any]] = [
        (Path(s.package) / f"{s.path.stem}.ipynb", to_ipynb(s)) for s in sources
    ]  # all converted before anything is written
    folder = _make_out(out)
    for relative, notebook in converted:
        atomic_write_text(folder / relative, nbformat.writes(notebook) + "\n")
        typer.echo(f"wrote {folder / relative}")
    for name in missing:
        typer.echo(f"{name}: no notebooks (installed without its source tree)")
    typer.echo(f"{len(converted)} notebooks in {folder}")
