"""The README's Python example runs as written (in tmp_path, quick mode)."""

from __future__ import annotations

from pathlib import Path

import torch

from dllab.core.testing import run_readme_example

README = Path(__file__).parents[1] / "README.md"


def test_readme_example_runs(tmp_path, capsys):
    namespace = run_readme_example(README, tmp_path)
    capsys.readouterr()
    probabilities, classes = namespace["model"].top_k(namespace["data"].build_test()[0][:2], k=3)
    assert probabilities.shape == classes.shape == (2, 3)
    assert torch.all(probabilities[:, :-1] >= probabilities[:, 1:])
    assert namespace["model"].classes == list(namespace["data"].classes)
    assert (tmp_path / "runs").is_dir()  # the Trainer's run folder, under the working folder
