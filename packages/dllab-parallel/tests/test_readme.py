"""The README's Python example runs as written (spawned ranks, so it is slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dllab.core.testing import run_readme_example

README = Path(__file__).parents[1] / "README.md"


@pytest.mark.slow
@pytest.mark.distributed
def test_readme_example_runs(tmp_path, capsys):
    namespace = run_readme_example(README, tmp_path)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "[4, 3, 3]"
    assert float(lines[1]) < 1e-6  # two ranks by hand equal one process on the full batch
    assert len(namespace["states"]) == 2
