"""``import dllab.gp`` and the CLI module stay light: no torch, gpytorch or lightning."""

from __future__ import annotations

import dllab.gp
from dllab.core.testing import assert_imports_stay_light, assert_lazy_names

HEAVY = ("torch", "gpytorch", "lightning", "sklearn")


def test_importing_the_package_and_cli_loads_no_heavy_module():
    assert_imports_stay_light(["dllab.gp", "dllab.gp.cli", "dllab.gp.spec"], HEAVY)


def test_public_names_resolve_lazily():
    assert_lazy_names(dllab.gp)


def test_scratch_modules_do_not_import_gpytorch():
    modules = ["dllab.gp.api", "dllab.gp.fit", "dllab.gp.posterior", "dllab.gp.prior"]
    assert_imports_stay_light(modules, ("gpytorch",))


def test_the_package_is_marked_typed():
    from pathlib import Path

    assert (Path(dllab.gp.__file__).parent / "py.typed").is_file()
