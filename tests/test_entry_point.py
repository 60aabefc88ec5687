"""The installed ``dllab`` command: a real process, help without torch, all domains listed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import entry_points


def test_help_lists_installed_domains_and_imports_no_torch():
    code = textwrap.dedent(
        """
        import sys
        from dllab.core.cli.app import app
        try:
            app(["--help"])
        except SystemExit as stop:
            assert stop.code == 0, stop.code
        heavy = [m for m in ("torch", "lightning", "gymnasium", "gpytorch") if m in sys.modules]
        print("HEAVY", heavy)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
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
