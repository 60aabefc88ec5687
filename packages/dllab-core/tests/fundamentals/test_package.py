"""``dllab.core.fundamentals`` exports its names lazily and imports no torch up front."""

from __future__ import annotations

import subprocess
import sys

import pytest

import dllab.core.fundamentals as fundamentals
from dllab.core.fundamentals import backprop, functional, models


def test_import_does_not_load_torch():
    code = "import sys, dllab.core.fundamentals; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_every_exported_name_resolves_to_its_module():
    for name in fundamentals.__all__:
        value = getattr(fundamentals, name)
        home = next(m for m in (functional, models, backprop) if name in m.__all__)
        assert value is getattr(home, name), name
    for module in (functional, models, backprop):
        assert set(module.__all__) <= set(fundamentals.__all__), module.__name__


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Perceptron'"):
        fundamentals.Perceptron  # noqa: B018
