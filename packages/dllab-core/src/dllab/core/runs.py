"""Run folders: ``runs/<name>/version_N/`` with hparams.yaml and summary.json.

Every dllab command, training or not, writes its results into one of these folders so a
run can be found, compared and repeated.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_VERSION = re.compile(r"^version_(\d+)$")


def next_version(root: str | os.PathLike[str]) -> int:
    """Return the first unused ``N`` among ``root/version_N`` folders."""
    root = Path(root)
    if not root.is_dir():
        return 0
    used = [int(m.group(1)) for p in root.iterdir() if (m := _VERSION.match(p.name))]
    return max(used, default=-1) + 1


def new_run_dir(runs_dir: str | os.PathLike[str], name: str) -> Path:
    """Create and return a fresh ``runs_dir/name/version_N`` folder."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"run name must be a plain folder name, got {name!r}")
    root = Path(runs_dir) / name
    root.mkdir(parents=True, exist_ok=True)
    while True:  # another process may claim a version at the same moment
        path = root / f"version_{next_version(root)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def latest_run_dir(runs_dir: str | os.PathLike[str], name: str) -> Path | None:
    """Return the highest existing ``version_N`` folder of a run name, or ``None``."""
    version = next_version(Path(runs_dir) / name) - 1
    return None if version < 0 else Path(runs_dir) / name / f"version_{version}"


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write bytes to ``path`` through a temporary file and a rename (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write text (UTF-8) to ``path`` atomically, as ``atomic_write_bytes``."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return atomic_write_bytes(path, text.encode())


def _plain(value: Any) -> Any:
    """Turn tensors, numpy scalars and paths into JSON/YAML-friendly values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return value


def write_summary(run_dir: str | os.PathLike[str], summary: Mapping[str, Any]) -> Path:
    """Write the final metrics of a run to ``summary.json``."""
    text = json.dumps(_plain(summary), indent=2, sort_keys=True)
    return atomic_write_text(Path(run_dir) / "summary.json", text + "\n")


def write_hparams(run_dir: str | os.PathLike[str], hparams: Mapping[str, Any]) -> Path:
    """Write every option of a run to ``hparams.yaml`` so it can be repeated."""
    import yaml

    text = yaml.safe_dump(_plain(dict(hparams)), sort_keys=True)
    return atomic_write_text(Path(run_dir) / "hparams.yaml", text)
