"""Safe checkpoint files: ``weights_only=True`` loading, sha256 digests, clear errors.

Every checkpoint dllab writes gets a digest file beside it, in ``sha256sum`` format:
``epoch=1-step=20.ckpt`` and ``epoch=1-step=20.ckpt.sha256`` (``sha256sum -c`` checks it).
``last.ckpt`` is a symbolic link to the newest checkpoint, whose digest is its target's.
Loading checks, in order: the file exists and is a complete archive; it matches its digest;
``torch.load(weights_only=True)`` accepts it (no code runs from a checkpoint); it is a dict
with the keys asked for. Each failure is a ``CheckpointError`` that names the file. A
checkpoint without a digest (written before dllab-core 0.2, or by a process killed between
the two writes) still loads, structurally checked, with a warning where a caller asks for one.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import warnings
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

DIGEST_SUFFIX = ".sha256"
RESUME_KEYS = ("state_dict", "epoch", "global_step", "optimizer_states", "loops")
"""What Lightning needs in a checkpoint to resume training."""
_STEP = re.compile(r"step=(\d+)")


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, corrupt, altered or not the expected kind."""


def check_checkpoint_file(path: str | os.PathLike[str]) -> Path:
    """Cheap structural check (exists, complete zip archive) without unpickling."""
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise CheckpointError(
            f"checkpoint {path} is a link to {os.readlink(path)}, which no longer exists "
            "(an interrupted update); resume from another checkpoint of the run"
        )
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path.stat().st_size == 0 or not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"checkpoint {path} is truncated or corrupt (not a complete torch archive); "
            "resume from an earlier checkpoint or start a new run"
        )
    return path


def digest_path(path: str | os.PathLike[str]) -> Path:
    """The digest file of a checkpoint (for a link: its target's)."""
    path = Path(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    return target.with_name(target.name + DIGEST_SUFFIX)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 hex digest of a file's bytes."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def write_digest(path: str | os.PathLike[str]) -> Path:
    """Write ``<path>.sha256`` (``sha256sum`` format) atomically; call it after the file."""
    from dllab.core.runs import atomic_write_text

    path = Path(path)
    line = f"{file_sha256(path)}  {path.name}\n"
    return atomic_write_text(path.with_name(path.name + DIGEST_SUFFIX), line)


def verify_digest(path: str | os.PathLike[str], *, warn_if_missing: bool = False) -> bool:
    """Compare a checkpoint with its digest file; ``False`` when it has none.

    Raises:
        CheckpointError: if the bytes changed since the digest was written. The message
            names the file and offers the run's newest other checkpoint that still verifies.
    """
    path = Path(path)
    recorded = digest_path(path)
    if not recorded.is_file():
        if warn_if_missing:
            warnings.warn(
                f"checkpoint {path} has no digest file ({recorded.name}); loading it unverified",
                UserWarning,
                stacklevel=3,
            )
        return False
    expected = (recorded.read_text().split() or [""])[0]
    if file_sha256(path) != expected:
        other = _verified_alternative(path)
        offer = f"; the previous checkpoint {other} verifies" if other else ""
        shown = f"{path} (a link to {os.readlink(path)})" if path.is_symlink() else str(path)
        raise CheckpointError(
            f"checkpoint {shown} does not match its digest {recorded.name}: its bytes changed "
            f"after it was written (disk or copy damage), so it is not loaded{offer}"
        )
    return True


def _verified_alternative(damaged: Path) -> Path | None:
    """The newest other checkpoint in the same folder that matches its digest."""
    target = Path(os.path.realpath(damaged))
    for other in checkpoints_newest_first(damaged.parent):
        if Path(os.path.realpath(other)) == target:
            continue
        try:
            check_checkpoint_file(other)
            if verify_digest(other):
                return other
        except CheckpointError:
            continue
    return None


def checkpoint_step(path: str | os.PathLike[str]) -> int:
    """The global step in a checkpoint's (or its link target's) name, ``-1`` if none."""
    path = Path(path)
    name = Path(os.path.realpath(path)).name if path.is_symlink() else path.name
    match = _STEP.search(name)
    return int(match.group(1)) if match else -1


def checkpoints_newest_first(folder: str | os.PathLike[str]) -> list[Path]:
    """The ``*.ckpt`` files of a folder, newest first: by step in the name, then by time.

    ``last.ckpt`` comes first among equals; links are listed even when dangling.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []

    def key(path: Path) -> tuple[int, int, int]:
        mtime = path.lstat().st_mtime_ns if path.is_symlink() else path.stat().st_mtime_ns
        return checkpoint_step(path), path.name.startswith("last"), mtime

    found = [p for p in folder.iterdir() if p.suffix == ".ckpt" and not p.name.startswith(".")]
    return sorted(found, key=key, reverse=True)


def newest_valid_checkpoint(run_dir: str | os.PathLike[str]) -> Path:
    """The checkpoint of one run folder to resume from: its newest valid one.

    A dangling link (``last.ckpt`` caught between Lightning's removal of the old file and
    the relink) gives way to the next newest file. Damage is not skipped: a truncated file or
    one that no longer matches its digest raises, offering the previous checkpoint.

    Raises:
        CheckpointError: naming the run and why none of its checkpoints is usable.
    """
    run_dir = Path(run_dir)
    candidates = checkpoints_newest_first(run_dir / "checkpoints")
    if not candidates:
        raise CheckpointError(
            f"the newest run {run_dir} has no checkpoint (it stopped before its first epoch "
            "ended); an older run is not resumed in its place: start a new run, or give that "
            "run's checkpoint file explicitly"
        )
    dangling = []
    for path in candidates:
        if path.is_symlink() and not path.exists():
            dangling.append(f"{path.name} links to {os.readlink(path)}, which no longer exists")
            continue
        try:
            check_checkpoint_file(path)
        except CheckpointError as err:
            other = _verified_alternative(path)
            offer = f" (the previous checkpoint {other} verifies)" if other else ""
            raise CheckpointError(f"{err}{offer}") from None
        verify_digest(path)
        return path.parent / os.readlink(path) if _relative_link(path) else path
    raise CheckpointError(
        f"the newest run {run_dir} has no usable checkpoint: {'; '.join(dangling)}; an older "
        "run is not resumed in its place: start a new run"
    )


def _relative_link(path: Path) -> bool:
    return path.is_symlink() and not os.path.isabs(os.readlink(path))


def _refusal(err: Exception) -> str:
    """The part of torch's refusal that names what was refused (without its advice)."""
    lines = [s.strip() for s in str(err).splitlines()]
    named = [s for s in lines if "GLOBAL" in s or "Unsupported" in s or "global" in s]
    if named and "weights_only" not in named[0]:
        return named[0]
    return "it holds objects other than tensors, numbers, strings and containers"


def load_checkpoint(
    path: str | os.PathLike[str],
    map_location: Any = "cpu",
    *,
    required: Iterable[str] = (),
    warn_if_unverified: bool = False,
) -> dict[str, Any]:
    """Verify and load a checkpoint with ``torch.load(weights_only=True)``.

    Args:
        path: the checkpoint file.
        map_location: passed to ``torch.load``.
        required: top-level keys the checkpoint must hold (e.g. ``RESUME_KEYS``).
        warn_if_unverified: warn when the checkpoint has no digest file.

    Raises:
        CheckpointError: naming the file and what is wrong with it.
    """
    path = check_checkpoint_file(path)
    verify_digest(path, warn_if_missing=warn_if_unverified)
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"checkpoint {path} was refused by the safe loader: {_refusal(err)}. dllab loads "
            "only tensors and plain values, never code; use a checkpoint written by dllab"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as err:
        raise CheckpointError(f"cannot load checkpoint {path}: {err}") from err
    if not isinstance(checkpoint, dict):
        raise CheckpointError(
            f"checkpoint {path} holds a {type(checkpoint).__name__}, not a dict of training state"
        )
    missing = [key for key in required if key not in checkpoint]
    if missing:
        raise CheckpointError(
            f"checkpoint {path} lacks {', '.join(map(repr, missing))} "
            f"(it holds {sorted(map(str, checkpoint))}): not a full training checkpoint"
        )
    return checkpoint


def check_state_dict(model: torch.nn.Module, state_dict: Any, path: str | os.PathLike[str]) -> None:
    """Raise ``CheckpointError`` naming the keys and shapes where ``state_dict`` misfits."""
    if not isinstance(state_dict, Mapping):
        raise CheckpointError(
            f"checkpoint {path}: 'state_dict' is a {type(state_dict).__name__}, not a mapping"
        )
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    shapes = [
        f"{key}: checkpoint {tuple(value.shape)}, model {tuple(own[key].shape)}"
        for key, value in state_dict.items()
        if key in own
        and isinstance(value, torch.Tensor)
        and not isinstance(own[key], torch.nn.parameter.UninitializedParameter)
        and value.shape != own[key].shape
    ]
    problems = []
    if missing:
        problems.append(f"missing keys {_few(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {_few(unexpected)}")
    if shapes:
        problems.append(f"mismatched shapes {_few(shapes)}")
    if problems:
        raise CheckpointError(
            f"checkpoint {path} does not fit {type(model).__name__}: {'; '.join(problems)} "
            "(a checkpoint of another architecture or other hyperparameters)"
        )


def _few(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return f"[{shown}{f', ... ({len(items)} in all)' if len(items) > limit else ''}]"
