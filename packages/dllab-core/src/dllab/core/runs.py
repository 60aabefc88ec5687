"""Run folders: ``runs/<name>/version_N/`` with hparams.yaml and summary.json.

Every dllab command, training or not, writes its results into one of these folders so a
run can be found, compared and repeated. A command that does not train uses ``run_folder``::

    with run_folder(runs_dir, "gp-fit", hparams) as run:
        plot(..., run.path("fit.png"))
        run.write_summary({"rmse": 0.01})

The failure policy, the same for every command: a run that fails leaves no folder that looks
complete. A folder that holds nothing yet but ``hparams.yaml`` is removed; any other is kept
for inspection, marked by ``failed.json`` (the error), and never holds a ``summary.json``.
``run_status`` tells the three states apart.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

_VERSION = re.compile(r"^version_(\d+)$")
SUMMARY, HPARAMS, FAILED = "summary.json", "hparams.yaml", "failed.json"
RunStatus = Literal["complete", "failed", "incomplete"]


def run_versions(root: str | os.PathLike[str]) -> list[tuple[int, Path]]:
    """``(N, path)`` of every ``root/version_N`` folder, oldest first (other names ignored)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _VERSION.match(p.name))]
    return sorted(found)


def next_version(root: str | os.PathLike[str]) -> int:
    """Return the first unused ``N`` among ``root/version_N`` folders."""
    versions = run_versions(root)
    return versions[-1][0] + 1 if versions else 0


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
    versions = run_versions(Path(runs_dir) / name)
    return versions[-1][1] if versions else None


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


def run_status(run_dir: str | os.PathLike[str]) -> RunStatus:
    """``"failed"`` (failed.json), ``"complete"`` (summary.json) or ``"incomplete"``."""
    run_dir = Path(run_dir)
    if (run_dir / FAILED).exists():
        return "failed"
    return "complete" if (run_dir / SUMMARY).exists() else "incomplete"


def mark_failed(run_dir: str | os.PathLike[str], error: BaseException | str) -> Path | None:
    """Apply the failure policy to ``run_dir``; returns the folder if it was kept.

    A folder with nothing but hparams.yaml (and empty subfolders) is removed. Any other loses
    its summary.json and gains ``failed.json`` naming the error.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return None
    (run_dir / SUMMARY).unlink(missing_ok=True)
    produced = [p for p in run_dir.rglob("*") if p.is_file() and p.name != HPARAMS]
    if not produced and all(p.parent == run_dir for p in run_dir.rglob(HPARAMS)):
        shutil.rmtree(run_dir, ignore_errors=True)
        return None
    kind = "interrupted" if isinstance(error, KeyboardInterrupt) else type(error).__name__
    record = {"status": "failed", "error": kind, "message": str(error), "time": time.time()}
    atomic_write_text(run_dir / FAILED, json.dumps(record, indent=2) + "\n")
    return run_dir


@dataclass
class Run:
    """An open run folder (see ``run_folder``)."""

    dir: Path
    name: str
    summary: dict[str, Any] = field(default_factory=dict)

    def path(self, filename: str) -> Path:
        """A file inside the run folder (the name must not leave it)."""
        target = self.dir / filename
        if filename.startswith(("/", "..")) or ".." in Path(filename).parts:
            raise ValueError(f"{filename!r} is not a plain file name inside {self.dir}")
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def write_summary(self, summary: Mapping[str, Any]) -> Path:
        """Record the final results in summary.json (removed again if the run then fails)."""
        self.summary = {**self.summary, **summary}
        return write_summary(self.dir, self.summary)


@contextmanager
def run_folder(
    runs_dir: str | os.PathLike[str], name: str, hparams: Mapping[str, Any] | None = None
) -> Iterator[Run]:
    """Claim ``runs_dir/name/version_N`` (race-safe), write hparams, apply the failure policy.

    Raises whatever the block raised, after ``mark_failed``. Creating the folder itself fails
    with an ``OSError`` naming ``runs_dir`` when it is a file or not writable.
    """
    run_dir = new_run_dir(runs_dir, name)
    try:
        if hparams is not None:
            write_hparams(run_dir, hparams)
        yield Run(run_dir, name)
    except BaseException as err:
        mark_failed(run_dir, err)
        raise
