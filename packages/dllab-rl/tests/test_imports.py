"""``import dllab.rl`` and the CLI module stay light: no torch, lightning or gymnasium."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "lightning", "gymnasium", "gpytorch")


def test_importing_the_package_and_cli_loads_no_heavy_module():
    code = (
        "import sys, dllab.rl, dllab.rl.cli; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_names_resolve_lazily():
    import dllab.rl

    assert set(dllab.rl.__all__) <= set(dir(dllab.rl))
    for name in dllab.rl.__all__:
        assert getattr(dllab.rl, name) is not None
    try:
        dllab.rl.not_a_name  # noqa: B018
    except AttributeError as err:
        assert "not_a_name" in str(err)
    else:
        raise AssertionError("unknown names must raise AttributeError")
