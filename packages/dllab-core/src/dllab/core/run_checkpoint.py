"""``RunCheckpoint``: Lightning's ``ModelCheckpoint`` with files a resume can trust.

What it changes, on a local file system (elsewhere it behaves as ``ModelCheckpoint``):

- Each checkpoint is written to a hidden temporary file in its folder and renamed into place,
  then its sha256 digest is written beside it (``<name>.ckpt.sha256``, see
  ``dllab.core.checkpoint``). A kill mid-save leaves no half-written checkpoint.
- ``last.ckpt`` is a link swapped atomically (new link under a temporary name, then a
  rename), and the checkpoint it pointed to is removed only after the swap. Lightning removes
  it first, so a kill in between left a dangling ``last.ckpt``.
- A checkpoint is not written, and ``last.ckpt`` keeps pointing at the last good one, when a
  loss (or the monitored metric) or a parameter is not finite.
- Each checkpoint records the model's class (``MODEL_CLASS_KEY``) so ``load_run`` can
  rebuild the model without being told what it is.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.utilities.cloud_io import _is_local_file_protocol
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor

from dllab.core.checkpoint import DIGEST_SUFFIX, write_digest
from dllab.core.runs import atomic_write_bytes

MODEL_CLASS_KEY = "dllab_model"
"""Checkpoint key holding ``{"module": ..., "qualname": ...}`` of the model's class."""


def non_finite_reason(trainer: L.Trainer, module: L.LightningModule, monitor: str | None) -> str:
    """Why the current training state is not worth a checkpoint (``""``: it is)."""
    for key, value in trainer.callback_metrics.items():
        if ("loss" in key or key == monitor) and isinstance(value, Tensor) and value.numel() == 1:
            number = float(value)
            if not math.isfinite(number):
                return f"{key} is {number}"
    return "" if parameters_finite(module) else "some parameters are not finite"


def parameters_finite(module: torch.nn.Module) -> bool:
    """Whether every parameter is finite (one pass over the weights, one device sync)."""
    flags = [p.detach().isfinite().all() for p in module.parameters()]
    return not flags or bool(torch.stack(flags).all())


class RunCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` (same arguments) with atomic files, digests and a safe ``last.ckpt``.

    dllab's Trainer uses it with ``save_top_k=1, save_last="link"``: the run folder holds the
    newest epoch's checkpoint, its digest, and ``last.ckpt`` linking to it.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._local = True
        self._pending_removals: list[str] = []
        self.skipped: list[tuple[int, str]] = []
        """``(global_step, reason)`` of each save skipped for non-finite values."""

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        self._local = self.dirpath is None or _is_local_file_protocol(self.dirpath)

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        cls = type(pl_module)
        checkpoint[MODEL_CLASS_KEY] = {"module": cls.__module__, "qualname": cls.__qualname__}

    # ---- nothing saved from a broken state ------------------------------------------------
    def _worth_saving(self, trainer: L.Trainer) -> bool:
        reason = non_finite_reason(trainer, trainer.lightning_module, self.monitor)
        if trainer.strategy.reduce_boolean_decision(not reason, all=True):
            return True  # every rank agrees, or none would wait for the others' save
        reason = reason or "another process saw a non-finite value"
        if not self.skipped or self.skipped[-1][0] != trainer.global_step:
            self.skipped.append((trainer.global_step, reason))
            kept = self.last_model_path or self.best_model_path or "no earlier checkpoint"
            rank_zero_warn(
                f"no checkpoint at epoch {trainer.current_epoch}, global step "
                f"{trainer.global_step}: {reason}; the last good one stays: {kept}"
            )
        return False

    def _save_topk_checkpoint(self, trainer: L.Trainer, monitor_candidates: dict[str, Any]) -> None:
        if self._worth_saving(trainer):
            super()._save_topk_checkpoint(trainer, monitor_candidates)

    def _save_last_checkpoint(self, trainer: L.Trainer, monitor_candidates: dict[str, Any]) -> None:
        if not self._worth_saving(trainer):
            return
        super()._save_last_checkpoint(trainer, monitor_candidates)
        pending, self._pending_removals = self._pending_removals, []
        for path in pending:  # last.ckpt no longer points at them
            self._remove_checkpoint(trainer, path)

    # ---- atomic files and digests ---------------------------------------------------------
    def _save_checkpoint(self, trainer: L.Trainer, filepath: str) -> None:
        if not self._local:
            super()._save_checkpoint(trainer, filepath)
            return
        folder, name = os.path.split(filepath)
        partial = os.path.join(folder, f".{name}.partial")
        super()._save_checkpoint(trainer, partial)
        if trainer.is_global_zero:
            os.replace(partial, filepath)
            write_digest(filepath)
        self._last_checkpoint_saved = filepath
        trainer.strategy.barrier()

    @staticmethod
    def _link_checkpoint(trainer: L.Trainer, filepath: str, linkpath: str) -> None:
        if trainer.is_global_zero and os.path.abspath(filepath) != os.path.abspath(linkpath):
            link_atomically(Path(filepath), Path(linkpath))
        trainer.strategy.barrier()

    def _remove_checkpoint(self, trainer: L.Trainer, filepath: str) -> None:
        if self._local and self._is_last_target(filepath):
            self._pending_removals.append(filepath)  # removed once last.ckpt moves on
            return
        super()._remove_checkpoint(trainer, filepath)
        if self._local and trainer.is_global_zero:
            Path(filepath + DIGEST_SUFFIX).unlink(missing_ok=True)

    def _is_last_target(self, filepath: str) -> bool:
        last = Path(self.last_model_path) if self.last_model_path else None
        if last is None or not last.is_symlink() or Path(filepath) == last:
            return False
        return os.path.realpath(last) == os.path.realpath(filepath)


def link_atomically(target: Path, link: Path) -> None:
    """Point ``link`` at ``target`` in one rename; a copy (with its digest) without symlinks."""
    temporary = link.with_name(f".{link.name}.{os.getpid()}.new")
    temporary.unlink(missing_ok=True)
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)
    try:
        os.symlink(os.path.relpath(target, link.parent), temporary)
    except OSError:  # no symbolic links here (Windows without the privilege): copy
        shutil.copyfile(target, temporary)
        os.replace(temporary, link)
        digest = target.with_name(target.name + DIGEST_SUFFIX)
        if digest.is_file():
            text = digest.read_text().replace(target.name, link.name)
            atomic_write_bytes(link.with_name(link.name + DIGEST_SUFFIX), text.encode())
        return
    os.replace(temporary, link)
