"""``import dllab.nlp`` and the CLI module stay light: no torch, lightning or tokenizers."""

from __future__ import annotations

import dllab.nlp
from dllab.core.testing import assert_imports_stay_light, assert_lazy_names

HEAVY = ("torch", "lightning", "tokenizers", "matplotlib")


def test_importing_the_package_and_cli_loads_no_heavy_module():
    assert_imports_stay_light(["dllab.nlp", "dllab.nlp.cli"], HEAVY)


def test_public_names_resolve_lazily():
    assert_lazy_names(dllab.nlp)
