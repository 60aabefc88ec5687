"""The installed ``dllab`` command: a real process, help without torch, all domains listed."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points, packages_distributions
from pathlib import Path


def _isolation():
    """tests/test_isolation.py as a module: the tables derived from the members' pyprojects."""
    path = Path(__file__).with_name("test_isolation.py")
    spec = importlib.util.spec_from_file_location("workspace_isolation", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def heavy_modules() -> list[str]:
    """torch, lightning, the notebook converters and every domain stack, as import names."""
    isolation = _isolation()
    stacks = set().union(*isolation.own_stacks(isolation.declared_dependencies()).values())
    modules = {"torch", "lightning", "jupytext", "nbformat"}
    for module, dists in packages_distributions().items():
        if stacks & {isolation._norm(d) for d in dists}:
            modules.add(module)
    modules |= {name.replace("-", "_") for name in stacks}  # stacks not installed here
    return sorted(modules)


def test_help_lists_installed_domains_and_imports_no_torch():
    code = textwrap.dedent(
        """
        import sys
        from dllab.core.cli.app import app
        try:
            app(["--help"])
        except SystemExit as stop:
            assert stop.code == 0, stop.code
        heavy = [m for m in sys.argv[1:] if m in sys.modules]
        print("HEAVY", heavy)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *heavy_modules()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "HEAVY []" in out
    for ep in entry_points(group="dllab.commands"):
        assert ep.name in out


def test_console_script_runs():
    exe = __import__("shutil").which("dllab")
    assert exe is not None, "the dllab console script is not installed"
    out = subprocess.run([exe, "list"], capture_output=True, text=True, timeout=120, check=True)
    assert "dllab-core" in out.stdout
    bad = subprocess.run([exe, "no-such-command"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "No such command" in bad.stdout + bad.stderr
