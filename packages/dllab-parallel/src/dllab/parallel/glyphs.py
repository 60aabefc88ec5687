"""Core's MLP on the embedded glyphs, trained data-parallel by hand (one function per rank).

``train_glyphs(rank, world_size, settings, run_dir)`` is the body of each process of
``dllab parallel train --strategy manual``. Each epoch's shuffle order depends only on
``(seed, epoch)``; every global batch of ``batch_size`` samples is cut into one contiguous
shard per rank, and ``data_parallel_step`` averages the gradients with dllab's ring
all-reduce. Validation is sharded the same way and its sums are all-reduced, so every rank
computes the same metrics; rank 0 alone writes ``metrics.csv`` and the weights.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from dllab.parallel.allreduce import ring_all_reduce
from dllab.parallel.manual import data_parallel_step
from dllab.parallel.sharding import shard_bounds


def _device(rank: int, accelerator: str) -> torch.device:
    if accelerator == "gpu":
        return torch.device("cuda", rank % torch.cuda.device_count())
    return torch.device("cpu")


def _evaluate(model: Any, X: Tensor, y: Tensor, rank: int, world_size: int) -> dict[str, float]:
    """Loss and accuracy over the whole split: each rank a shard, the sums all-reduced."""
    start, stop = shard_bounds(len(X), rank, world_size)
    model.eval()
    with torch.no_grad():
        logits = model(X[start:stop])  # (B_r, classes)
        sums = torch.stack(
            [
                torch.nn.functional.cross_entropy(logits, y[start:stop], reduction="sum"),
                (logits.argmax(dim=1) == y[start:stop]).sum().to(logits.dtype),
            ]
        ).double()
    model.train()
    ring_all_reduce(sums)
    return {"val_loss": float(sums[0]) / len(X), "val_acc": float(sums[1]) / len(X)}


def _epoch_batches(n: int, batch_size: int, seed: int, epoch: int, world_size: int) -> list:
    """The global batches of one epoch; a last batch smaller than ``world_size`` is dropped."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch))
    return [idx for idx in order.split(batch_size) if len(idx) >= world_size]


def train_glyphs(
    rank: int, world_size: int, settings: Mapping[str, Any], run_dir: str | None
) -> list[dict[str, float]]:
    """Train core's MLP on the glyphs on this rank; every rank returns the metric history.

    Args:
        rank: this process's rank.
        world_size: number of processes.
        settings: ``samples``, ``batch_size`` (global), ``epochs``, ``lr``, ``hidden``,
            ``seed`` and ``accelerator`` (``cpu`` or ``gpu``).
        run_dir: where rank 0 writes ``metrics.csv`` and ``model.pt`` (``None``: nowhere).
    """
    from dllab.core.data.glyphs import GlyphsData
    from dllab.core.fundamentals.models import MLP

    device = _device(rank, settings["accelerator"])
    data = GlyphsData(
        n=settings["samples"], batch_size=settings["batch_size"], seed=settings["seed"]
    )
    data.setup("fit")
    X, y = (t.to(device) for t in data.train_tensors)
    X_val, y_val = (t.to(device) for t in data.val_tensors)
    torch.manual_seed(settings["seed"])  # the same initial weights on every rank
    model = MLP(num_hiddens=tuple(settings["hidden"]), lr=settings["lr"]).to(device)
    optimizer = model.configure_optimizers()  # the same optimizer Lightning would use
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError("the manual strategy trains without a learning-rate schedule")
    history = []
    for epoch in range(settings["epochs"]):
        losses = []
        for idx in _epoch_batches(
            len(X), settings["batch_size"], settings["seed"], epoch, world_size
        ):
            start, stop = shard_bounds(len(idx), rank, world_size)
            mine = idx[start:stop].to(device)
            loss = data_parallel_step(model, optimizer, model.loss, X[mine], y[mine], len(idx))
            losses.append(loss)
        train_loss = torch.stack(losses).mean().double()  # this rank's mean over its shards
        ring_all_reduce(train_loss.view(1), "mean")
        metrics = {"epoch": epoch, "train_loss": float(train_loss)}
        history.append({**metrics, **_evaluate(model, X_val, y_val, rank, world_size)})
    if rank == 0 and run_dir is not None:
        _write(Path(run_dir), model, history)
    dist.barrier()
    return history


def _write(run_dir: Path, model: Any, history: list[dict[str, float]]) -> None:
    import io

    from dllab.core.runs import atomic_write_bytes, atomic_write_text

    rows = [",".join(history[0])]
    rows += [",".join(str(row[k]) for k in history[0]) for row in history]
    atomic_write_text(run_dir / "metrics.csv", "\n".join(rows) + "\n")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save({"state_dict": state, "hparams": dict(model.hparams)}, buffer)
    atomic_write_bytes(run_dir / "model.pt", buffer.getvalue())


def read_metrics(path: str | Path) -> list[dict[str, float]]:
    """The rows of a ``metrics.csv`` written by ``train_glyphs``."""
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
