"""Workspace layout: namespace package, wheel contents, versions and changelogs."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MEMBERS = sorted(p for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())


@pytest.mark.parametrize("member", MEMBERS, ids=lambda p: p.name)
def test_member_layout(member):
    domain = member.name.removeprefix("dllab-")
    project = tomllib.loads((member / "pyproject.toml").read_text())
    assert project["project"]["version"] == "0.1.0"
    assert project["tool"]["uv"]["build-backend"]["module-name"] == f"dllab.{domain}"
    assert not (member / "src" / "dllab" / "__init__.py").exists(), "dllab is a namespace package"
    assert (member / "src" / "dllab" / domain / "__init__.py").is_file()
    for folder in ["tests", "notebooks", "benchmarks"]:
        assert (member / folder).is_dir(), folder
    assert "0.1.0" in (member / "CHANGELOG.md").read_text()
    if domain != "core":
        deps = project["project"]["dependencies"]
        assert "dllab-core>=0.1,<0.2" in deps
        assert project["tool"]["uv"]["sources"]["dllab-core"] == {"workspace": True}


@pytest.mark.skipif(shutil.which("uv") is None, reason="needs uv")
@pytest.mark.parametrize("member", MEMBERS, ids=lambda p: p.name)
def test_wheel_holds_only_its_own_module(member, tmp_path):
    domain = member.name.removeprefix("dllab-")
    subprocess.run(
        ["uv", "build", "--package", member.name, "--wheel", "--out-dir", str(tmp_path), "-q"],
        cwd=ROOT,
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    dist_info = f"dllab_{domain}-0.1.0.dist-info/"
    assert any(n.startswith(f"dllab/{domain}/") for n in names)
    own = (f"dllab/{domain}/", dist_info)
    strays = [n for n in names if n != "dllab/" and not n.startswith(own)]
    assert not strays, strays
    assert "dllab/__init__.py" not in names
