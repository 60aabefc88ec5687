"""Workspace layout: namespace package, wheel contents, versions and changelogs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
MEMBERS = sorted(p for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())


ROOT_PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _project(member: Path) -> dict:
    return tomllib.loads((member / "pyproject.toml").read_text())


def _version(member: Path) -> str:
    return _project(member)["project"]["version"]


def core_range() -> str:
    """The dllab-core range every domain declares: the current minor series of core."""
    major, minor = _version(ROOT / "packages" / "dllab-core").split(".")[:2]
    return f"dllab-core>={major}.{minor},<{major}.{int(minor) + 1}"


@pytest.mark.parametrize("member", MEMBERS, ids=lambda p: p.name)
def test_member_layout(member):
    domain = member.name.removeprefix("dllab-")
    project = _project(member)
    version = project["project"]["version"]
    assert project["project"]["name"] == member.name
    assert project["tool"]["uv"]["build-backend"]["module-name"] == f"dllab.{domain}"
    assert not (member / "src" / "dllab" / "__init__.py").exists(), "dllab is a namespace package"
    init = (member / "src" / "dllab" / domain / "__init__.py").read_text()
    assert f'__version__ = "{version}"' in init, f"__version__ must be {version!r}, as pyproject"
    for folder in ["tests", "notebooks", "benchmarks"]:
        assert (member / folder).is_dir(), folder
    changelog = (member / "CHANGELOG.md").read_text()
    assert f"## {version}" in changelog, f"CHANGELOG.md has no '## {version}' heading"
    assert domain in project["project"]["entry-points"]["dllab.commands"]
    if domain != "core":
        deps = project["project"]["dependencies"]
        assert core_range() in deps, f"{member.name} must declare {core_range()!r}"
        assert project["tool"]["uv"]["sources"]["dllab-core"] == {"workspace": True}


@pytest.mark.parametrize("member", MEMBERS, ids=lambda p: p.name)
def test_root_project_installs_every_member(member):
    """`uv sync` at the root installs each member, resolved from the workspace."""
    assert member.name in ROOT_PROJECT["project"]["dependencies"], "add it to the root deps"
    assert ROOT_PROJECT["tool"]["uv"]["sources"][member.name] == {"workspace": True}


def test_github_ci_lists_no_package_by_name():
    """The GitHub matrix is derived from packages/*, so no domain is named in the workflow."""
    workflow = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    named = [m.name for m in MEMBERS if m.name != "dllab-core" and m.name in workflow]
    assert not named, named


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
    dist_info = f"dllab_{domain}-{_version(member)}.dist-info/"
    assert any(n.startswith(f"dllab/{domain}/") for n in names)
    own = (f"dllab/{domain}/", dist_info)
    strays = [n for n in names if n != "dllab/" and not n.startswith(own)]
    assert not strays, strays
    assert "dllab/__init__.py" not in names


def _ci_step(step_id: str, tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    """Run one `run:` step of the GitHub `changes` job here; return what it wrote to outputs."""
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    (step,) = [s for s in workflow["jobs"]["changes"]["steps"] if s.get("id") == step_id]
    outputs = tmp_path / f"{step_id}.out"
    outputs.touch()
    full_env = {**os.environ, **env, "GITHUB_OUTPUT": str(outputs)}
    subprocess.run(["bash", "-e", "-c", step["run"]], cwd=ROOT, env=full_env, check=True)
    return dict(line.split("=", 1) for line in outputs.read_text().splitlines())


@pytest.mark.skipif(shutil.which("python3") is None, reason="the CI steps run python3")
def test_github_matrix_is_derived_from_packages(tmp_path):
    members = _ci_step("members", tmp_path, {})
    names = [m.name for m in MEMBERS]
    assert json.loads(members["all"]) == names
    filters = json.loads(members["filters"])
    assert set(filters) == {"workspace", *names}
    assert "packages/dllab-core/**" in filters["workspace"]

    def pick(changed: list[str]) -> list[str]:
        env = {"ALL": members["all"], "CHANGED": json.dumps(changed)}
        return json.loads(_ci_step("pick", tmp_path, env)["packages"])

    domain = names[-1]
    assert pick([domain]) == [domain]
    assert pick(["workspace", domain]) == names
    assert pick([]) == []
