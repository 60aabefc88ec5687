"""Safe checkpoint loading: ``weights_only=True`` and clear errors for damaged files."""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, corrupt or not a checkpoint."""


def check_checkpoint_file(path: str | os.PathLike[str]) -> Path:
    """Cheap structural check (exists, complete zip archive) without unpickling."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path.stat().st_size == 0 or not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"checkpoint {path} is truncated or corrupt (not a complete torch archive); "
            "resume from an earlier checkpoint or start a new run"
        )
    return path


def load_checkpoint(path: str | os.PathLike[str], map_location: Any = "cpu") -> dict[str, Any]:
    """``torch.load`` with ``weights_only=True``, turning damage into ``CheckpointError``."""
    path = check_checkpoint_file(path)
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, OSError) as err:
        raise CheckpointError(f"cannot load checkpoint {path}: {err}") from err
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"checkpoint {path} holds {type(checkpoint).__name__}, not a dict")
    return checkpoint
