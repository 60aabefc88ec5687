"""``apply_quick``: the ``--quick`` settings replace the options only in quick mode."""

from __future__ import annotations

import pytest

from dllab.core.cli.options import apply_quick

QUICK = {"epochs": 2, "samples": 100}


@pytest.mark.parametrize(
    ("flag", "env", "expected"), [(False, None, False), (True, None, True), (False, "1", True)]
)
def test_apply_quick_follows_the_flag_and_the_environment(monkeypatch, flag, env, expected):
    if env is None:
        monkeypatch.delenv("DLLAB_QUICK", raising=False)
    else:
        monkeypatch.setenv("DLLAB_QUICK", env)
    options = {"epochs": 10, "samples": 5000, "lr": 0.1, "quick": flag}
    assert apply_quick(options, QUICK) is expected
    assert options["quick"] is expected
    assert options["lr"] == 0.1  # untouched either way
    assert (options["epochs"], options["samples"]) == ((2, 100) if expected else (10, 5000))
