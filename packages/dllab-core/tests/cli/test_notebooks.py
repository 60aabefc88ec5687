"""``dllab notebooks``: every installed package's notebooks become valid, Colab-ready .ipynb."""

from __future__ import annotations

import json
import re
from importlib.metadata import Distribution
from pathlib import Path

import jupytext
import nbformat
import pytest
from typer.testing import CliRunner

from dllab.core.cli import notebooks as cli_notebooks
from dllab.core.cli.app import app
from dllab.core.cli.notebooks import NotebookSource, notebook_sources, source_tree, to_ipynb

runner = CliRunner()
CORE_NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def test_the_workspace_notebooks_are_all_found():
    sources, _ = notebook_sources()
    core = sorted(s.path for s in sources if s.package == "dllab-core")
    assert core == sorted(CORE_NOTEBOOKS.glob("*.py")) and len(core) >= 4
    for source in sources:
        assert source.path.parent.name == "notebooks"
        assert source.path.parent.parent.name == source.package  # packages/<package>/notebooks


def test_every_notebook_converts_to_a_valid_ipynb_with_the_install_cell_first():
    sources, _ = notebook_sources()
    assert sources
    for source in sources:
        notebook = to_ipynb(source)
        text = nbformat.writes(notebook)
        nbformat.validate(nbformat.reads(text, as_version=4))  # valid after a round trip
        first = notebook.cells[0]
        assert first.cell_type == "code", source.path
        assert f"    import {source.module}\n" in first.source
        assert f'%pip install "{source.package}=={source.version}"' in first.source
        original = jupytext.read(source.path)
        assert [c.source for c in notebook.cells[1:]] == [c.source for c in original.cells]
        assert "jupytext" not in notebook.metadata


def _run_install_cell(source: NotebookSource) -> list[str]:
    """Execute the install cell, with IPython's ``%pip install`` recorded instead of run."""
    cell = to_ipynb(source).cells[0].source
    code = re.sub(r"%pip install (.+)", r"installs.append(\1)", cell)
    namespace: dict = {"installs": []}
    exec(compile(code, "install-cell", "exec"), namespace)
    return namespace["installs"]


def test_install_cell_installs_only_a_missing_package():
    path = sorted(CORE_NOTEBOOKS.glob("*.py"))[0]
    assert _run_install_cell(NotebookSource("dllab-core", "0.2.0", path)) == []
    missing = NotebookSource("dllab-nosuchdomain", "1.0.0", path)
    assert _run_install_cell(missing) == ["dllab-nosuchdomain==1.0.0"]


def test_out_writes_every_notebook(tmp_path):
    out = tmp_path / "made" / "here"
    result = runner.invoke(app, ["notebooks", "--out", str(out)])
    assert result.exit_code == 0, result.output
    sources, _ = notebook_sources()
    written = sorted(out.rglob("*.ipynb"))
    expected = sorted(out / s.package / f"{s.path.stem}.ipynb" for s in sources)
    assert written == expected
    for path in written:
        nbformat.validate(nbformat.read(path, as_version=4))
        assert f"wrote {path}" in result.output
    assert result.output.strip().splitlines()[-1] == f"{len(sources)} notebooks in {out}"
    first = written[0].read_bytes()
    assert runner.invoke(app, ["notebooks", "--out", str(out)]).exit_code == 0
    assert written[0].read_bytes() == first  # stable cell ids: the same file again
    assert not list(out.rglob("*.tmp"))


@pytest.mark.parametrize("target", ["a-file", "a-file/below"])
def test_out_that_is_a_file_is_refused_with_one_line(tmp_path, target):
    (tmp_path / "a-file").write_text("keep me")
    result = runner.invoke(app, ["notebooks", "--out", str(tmp_path / target)])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "--out" in errors[0] and str(tmp_path / "a-file") in errors[0]
    assert (tmp_path / "a-file").read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]  # nothing half-written


def test_no_notebooks_anywhere_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(cli_notebooks, "notebook_sources", lambda: ([], ["dllab-core"]))
    result = runner.invoke(app, ["notebooks", "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "no installed dllab package has notebooks" in result.output
    assert not (tmp_path / "out").exists()


class _Dist(Distribution):
    def __init__(self, direct_url: dict | None) -> None:
        self._direct_url = direct_url

    def read_text(self, filename: str) -> str | None:
        if filename == "direct_url.json" and self._direct_url is not None:
            return json.dumps(self._direct_url)
        return None

    def locate_file(self, path):  # pragma: no cover - not used
        raise NotImplementedError


def test_source_tree_comes_from_a_local_folder_install_only(tmp_path):
    folder = {"url": tmp_path.as_uri(), "dir_info": {"editable": True}}
    assert source_tree(_Dist(folder)) == tmp_path
    assert source_tree(_Dist({"url": tmp_path.as_uri(), "dir_info": {}})) == tmp_path
    wheel = {"url": (tmp_path / "x.whl").as_uri(), "archive_info": {}}
    assert source_tree(_Dist(wheel)) is None
    assert source_tree(_Dist({"url": "https://example.org/x", "dir_info": {}})) is None
    assert source_tree(_Dist(None)) is None  # installed from an index
    gone = {"url": (tmp_path / "gone").as_uri(), "dir_info": {}}
    assert source_tree(_Dist(gone)) is None
