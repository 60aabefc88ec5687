"""The README's Python example runs as written (in tmp_path, quick mode)."""

from __future__ import annotations

from pathlib import Path

import torch

from dllab.core.testing import run_readme_example

README = Path(__file__).parents[1] / "README.md"


def test_readme_example_runs(tmp_path, capsys):
    namespace = run_readme_example(README, tmp_path)
    capsys.readouterr()
    batch = namespace["batch"]
    probabilities = namespace["model"].predict_proba(batch.ids, batch.valid_lens)
    assert probabilities.shape == (2, 2)
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(2))
    assert (tmp_path / "runs").is_dir()  # the Trainer's run folder, under the working folder
