"""``import dllab.gp`` and the CLI module stay light: no torch, gpytorch or lightning."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "gpytorch", "lightning", "sklearn")


def test_importing_the_package_and_cli_loads_no_heavy_module():
    code = (
        "import sys, dllab.gp, dllab.gp.cli, dllab.gp.spec; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_names_resolve_lazily():
    import dllab.gp

    assert set(dllab.gp.__all__) <= set(dir(dllab.gp))
    for name in dllab.gp.__all__:
        assert getattr(dllab.gp, name) is not None
    try:
        dllab.gp.not_a_name  # noqa: B018
    except AttributeError as err:
        assert "not_a_name" in str(err)
    else:
        raise AssertionError("unknown names must raise AttributeError")


def test_scratch_modules_do_not_import_gpytorch():
    code = (
        "import sys, dllab.gp.api, dllab.gp.fit, dllab.gp.posterior, dllab.gp.prior; "
        "print('gpytorch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
