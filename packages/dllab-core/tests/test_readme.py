"""Every ```python example in the dllab-core README runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__readme__"}
    exec(compile(BLOCKS[index], f"{README}:block{index}", "exec"), namespace)
    if index == 0:
        run_dir = namespace["trainer"].run_dir
        assert (tmp_path / run_dir / "checkpoints" / "last.ckpt").is_file()
        assert 0.0 <= namespace["trainer"].summary["val_acc"] <= 1.0
