"""``import dllab.parallel`` and the CLI module stay light: no torch, lightning or matplotlib."""

from __future__ import annotations

import dllab.parallel
from dllab.core.testing import assert_imports_stay_light, assert_lazy_names

HEAVY = ("torch", "lightning", "matplotlib")


def test_importing_the_package_and_cli_loads_no_heavy_module():
    assert_imports_stay_light(["dllab.parallel", "dllab.parallel.cli"], HEAVY)


def test_public_names_resolve_lazily():
    assert_lazy_names(dllab.parallel)
