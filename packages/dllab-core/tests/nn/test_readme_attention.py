"""The python example of the attention README section runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README-attention.md"


def test_readme_example_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "README-attention.md has no python example"
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__readme__"}
    exec(compile(blocks[0], f"{README}:block0", "exec"), namespace)
    assert namespace["out"].shape == (2, 10, 64)
    assert namespace["steps"].shape == (2, 10, 64)
