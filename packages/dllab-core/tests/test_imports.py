"""``import dllab.core`` stays light, and its lazy names are visible to type checkers too."""

from __future__ import annotations

import importlib
import zipfile

import pytest

from dllab.core.testing import assert_imports_stay_light, assert_lazy_names, type_checking_imports


def test_importing_core_loads_no_torch_or_lightning():
    assert_imports_stay_light(["dllab.core", "dllab.core.checks", "dllab.core.runs"], ("torch",))


@pytest.mark.parametrize("name", ["", ".fundamentals", ".nn", ".models", ".tasks"])
def test_public_names_resolve_and_match_the_type_checking_block(name):
    assert_lazy_names(importlib.import_module(f"dllab.core{name}"))


def test_a_drifted_type_checking_block_is_caught(tmp_path, monkeypatch):
    source = tmp_path / "pkg.py"
    source.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from a.b import X, Y as Z\n"
    )
    fake = type("M", (), {"__file__": str(source)})
    assert type_checking_imports(fake) == {"X": "a.b", "Z": "a.b"}


@pytest.mark.slow
def test_the_wheel_ships_py_typed(tmp_path):
    import subprocess

    subprocess.run(
        ["uv", "build", "--package", "dllab-core", "--wheel", "-o", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("dllab_core-*.whl")
    assert "dllab/core/py.typed" in zipfile.ZipFile(wheel).namelist()
