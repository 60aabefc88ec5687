"""The README's Python example runs as written (in tmp_path, quick mode)."""

from __future__ import annotations

import re
from pathlib import Path

import torch

README = Path(__file__).parents[1] / "README.md"


def test_readme_example_runs(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert blocks, "the README needs a ```python example"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DLLAB_QUICK", "1")
    namespace: dict = {"__name__": "__main__"}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    assert "RMSE" in capsys.readouterr().out
    assert namespace["rmse"] < 0.1
    assert (tmp_path / "gp.pt").is_file()
    again = namespace["same"].predict(namespace["x_test"]).mean
    assert torch.allclose(again, namespace["pred"].mean, atol=1e-9)
