"""The README's Python example runs as written (in tmp_path, quick mode)."""

from __future__ import annotations

from pathlib import Path

from dllab.core.testing import run_readme_example

README = Path(__file__).parents[1] / "README.md"


def test_readme_example_runs(tmp_path, capsys):
    namespace = run_readme_example(README, tmp_path)
    out = capsys.readouterr().out
    assert "success" in out
    assert namespace["vi"].converged
    assert namespace["result"].success_rate >= 0.65  # 500 episodes of a 0.73 policy
