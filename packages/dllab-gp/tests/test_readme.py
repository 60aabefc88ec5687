"""The README's Python example runs as written (in tmp_path, quick mode)."""

from __future__ import annotations

from pathlib import Path

import torch

from dllab.core.testing import run_readme_example

README = Path(__file__).parents[1] / "README.md"


def test_readme_example_runs(tmp_path, capsys):
    namespace = run_readme_example(README, tmp_path)
    assert "RMSE" in capsys.readouterr().out
    assert namespace["rmse"] < 0.1
    assert (tmp_path / "gp.pt").is_file()
    again = namespace["same"].predict(namespace["x_test"]).mean
    assert torch.allclose(again, namespace["pred"].mean, atol=1e-9)
