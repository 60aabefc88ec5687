"""Test helpers shared by every dllab package.

- ``BoringModel`` / ``BoringDataModule``: a tiny regression model and data (Lightning's idea).
- ``quick_trainer(tmp_path)``: a CPU Trainer with few steps, no progress bar, writing to tmp.
- ``assert_close_to_reference``: ``torch.testing``-style check that reports max abs/rel error.
- ``run_script``: run a notebook or example file as ``__main__`` in a folder, quick mode on.
- ``readme_examples`` / ``run_readme_example``: the ```python blocks of a README, run as scripts.
- ``last_json``: the JSON summary line a command prints last.
- ``assert_pngs``: the named plots exist and are real PNG files.
- ``assert_imports_stay_light`` / ``assert_lazy_names``: a package's import cost contract.
"""

from __future__ import annotations

import json
import os
import re
import runpy
from contextlib import chdir
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dllab.core.lazy import lazy_exports

if TYPE_CHECKING:
    pass

# the Lightning-based fixtures load only when asked for (keeps this module light)
_LAZY = {"BoringModel": "dllab.core._boring", "BoringDataModule": "dllab.core._boring"}
__getattr__ = lazy_exports(__name__, _LAZY)[0]


def quick_trainer(tmp_path: str | os.PathLike[str], max_epochs: int = 2, **kwargs: Any):
    """A dllab ``Trainer`` for tests: CPU, no progress bar, runs under ``tmp_path``."""
    from dllab.core.trainer import Trainer

    defaults: dict[str, Any] = {
        "runs_dir": Path(tmp_path) / "runs",
        "progress_bar": False,
        "accelerator": "cpu",
        "name": "test",
    }
    defaults.update(kwargs)
    return Trainer(max_epochs=max_epochs, **defaults)


def _as_array(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor
        return x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def assert_close_to_reference(
    actual: Any, expected: Any, atol: float = 1e-6, rtol: float = 0.0, name: str = "value"
) -> tuple[float, float]:
    """Assert ``|actual - expected| <= atol + rtol * |expected|`` element-wise.

    Returns ``(max_abs_err, max_rel_err)`` and names both in the failure message.
    """
    a, e = _as_array(actual), _as_array(expected)
    if a.shape != e.shape:
        raise AssertionError(f"{name}: shape {a.shape} != reference shape {e.shape}")
    if not np.array_equal(np.isnan(a), np.isnan(e)):
        raise AssertionError(f"{name}: NaNs differ from the reference")
    diff = np.abs(np.nan_to_num(a) - np.nan_to_num(e))
    max_abs = float(diff.max(initial=0.0))
    rel = diff / np.maximum(np.abs(np.nan_to_num(e)), np.finfo(np.float64).tiny)
    max_rel = float(rel.max(initial=0.0))
    ok = diff <= atol + rtol * np.abs(np.nan_to_num(e))
    if not ok.all():
        raise AssertionError(
            f"{name}: {int((~ok).sum())}/{ok.size} elements differ from the reference; "
            f"max abs err {max_abs:.3e}, max rel err {max_rel:.3e} (atol={atol}, rtol={rtol})"
        )
    return max_abs, max_rel


def run_script(
    path: str | os.PathLike[str], cwd: str | os.PathLike[str], quick: bool = True
) -> dict:
    """Run a notebook/script file as ``__main__`` inside ``cwd``; returns its globals."""
    path = Path(path).resolve()
    old = os.environ.get("DLLAB_QUICK")
    if quick:
        os.environ["DLLAB_QUICK"] = "1"
    try:
        with chdir(cwd):
            return runpy.run_path(str(path), run_name="__main__")
    finally:
        if old is None:
            os.environ.pop("DLLAB_QUICK", None)
        else:
            os.environ["DLLAB_QUICK"] = old


def readme_examples(readme: str | os.PathLike[str]) -> list[str]:
    """The code of every ```python block in a README, in order."""
    return re.findall(r"```python\n(.*?)```", Path(readme).read_text(), flags=re.DOTALL)


def run_readme_example(
    readme: str | os.PathLike[str], cwd: str | os.PathLike[str], index: int = 0
) -> dict:
    """Run a README's ``index``-th python block as a script in ``cwd`` (quick mode on)."""
    blocks = readme_examples(readme)
    if not blocks:
        raise AssertionError(f"{readme} has no ```python example")
    script = Path(cwd) / f"readme_example_{index}.py"
    script.write_text(blocks[index])
    return run_script(script, cwd)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def last_json(output: str) -> Any:
    """The JSON object on the last line of a command's output (the commands' summary line)."""
    return json.loads(output.strip().splitlines()[-1])


def assert_pngs(folder: str | os.PathLike[str], names: list[str], min_bytes: int = 2000) -> None:
    """Assert each ``folder/name`` is a PNG file of at least ``min_bytes``."""
    for name in names:
        path = Path(folder) / name
        assert path.is_file(), f"missing plot {path}"
        assert path.stat().st_size >= min_bytes, f"{path} is suspiciously small"
        assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{path} is not a PNG file"


def assert_imports_stay_light(modules: list[str], heavy: tuple[str, ...]) -> None:
    """Importing ``modules`` in a fresh interpreter loads none of ``heavy``."""
    import subprocess
    import sys

    code = (
        f"import sys, {', '.join(modules)}; "
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing {modules} loaded {out.stdout.strip()}"


def type_checking_imports(module: Any) -> dict[str, str]:
    """``{name: module}`` imported under ``if TYPE_CHECKING:`` in ``module``'s source."""
    import ast

    tree = ast.parse(Path(module.__file__).read_text())
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom) and stmt.module:
                    found.update({a.asname or a.name: stmt.module for a in stmt.names})
    return found


def assert_lazy_names(package: Any) -> None:
    """Every name in ``package.__all__`` resolves, and unknown names raise AttributeError.

    The package's ``if TYPE_CHECKING:`` block must import exactly its lazy table, so type
    checkers and IDEs see the same public names that ``__getattr__`` serves.
    """
    table = getattr(package.__getattr__, "table", None)
    assert table is not None, f"{package.__name__} does not use dllab.core.lazy.lazy_exports"
    assert type_checking_imports(package) == table, (
        f"{package.__name__}: the TYPE_CHECKING block and the lazy table differ"
    )
    assert set(package.__all__) <= set(dir(package))
    for name in package.__all__:
        assert getattr(package, name) is not None, name
    try:
        package.not_a_name  # noqa: B018
    except AttributeError as err:
        assert "not_a_name" in str(err)
    else:
        raise AssertionError("unknown names must raise AttributeError")
