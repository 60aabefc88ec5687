"""``import dllab.vision`` and the CLI module stay light: no torch, lightning or torchvision."""

from __future__ import annotations

import dllab.vision
from dllab.core.testing import assert_imports_stay_light, assert_lazy_names

HEAVY = ("torch", "lightning", "torchvision", "PIL", "matplotlib")


def test_importing_the_package_and_cli_loads_no_heavy_module():
    assert_imports_stay_light(["dllab.vision", "dllab.vision.cli"], HEAVY)


def test_public_names_resolve_lazily():
    assert_lazy_names(dllab.vision)
