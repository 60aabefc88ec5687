"""Data parallelism by hand: per-rank gradients, one all-reduce, the same step everywhere.

Every rank holds a full copy of the model and a shard of the global batch of ``B`` samples.
Rank ``r`` with ``B_r`` samples computes the gradient ``g_r`` of its mean loss; the gradient
of the mean loss over the whole batch is

    g = sum_r (B_r / B) g_r = mean_r (n B_r / B) g_r,

so each rank scales its loss by ``n B_r / B`` (1 when the shards are equal), averages the
gradients with an all-reduce, and takes the same optimizer step as one process on the full
batch would. The gradients travel as one flat bucket: one all-reduce per step, not one per
parameter, as DDP's buckets do.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.distributed as dist
from torch import Tensor, nn

from dllab.parallel.allreduce import Op, ring_all_reduce

AllReduce = Callable[[Tensor, Op], Tensor]
"""An in-place all-reduce such as ``ring_all_reduce(tensor, op)``."""


def average_gradients(model: nn.Module, all_reduce: AllReduce = ring_all_reduce) -> None:
    """Replace every parameter's gradient by its mean over the ranks (one flat bucket)."""
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if not grads:
        raise ValueError("the model has no gradients to average: call backward() first")
    bucket = torch.cat([g.reshape(-1) for g in grads])  # (total parameters,)
    all_reduce(bucket, "mean")
    offset = 0
    for g in grads:
        g.copy_(bucket[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def data_parallel_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    X: Tensor,
    y: Tensor,
    global_batch_size: int,
    all_reduce: AllReduce | None = ring_all_reduce,
) -> Tensor:
    """One synchronous data-parallel step on this rank's shard ``(X, y)``.

    Args:
        model: this rank's replica (the same parameters on every rank).
        optimizer: its optimizer.
        loss_fn: the mean loss ``loss_fn(model(X), y)``.
        X: this rank's inputs ``(B_r, ...)``.
        y: this rank's targets ``(B_r, ...)``.
        global_batch_size: ``B``, the sum of ``B_r`` over the ranks.
        all_reduce: how gradients are averaged; ``None`` when something else does it (a
            model wrapped in DDP averages during ``backward``).

    Returns:
        This rank's mean loss on its shard (detached).
    """
    if not dist.is_initialized():
        raise RuntimeError("no process group is initialised: call init_process_group first")
    if len(X) == 0 or len(X) != len(y) or global_batch_size < len(X):
        raise ValueError(
            f"a shard needs 1..global_batch_size samples and as many targets, got {len(X)} "
            f"inputs, {len(y)} targets, global batch {global_batch_size}"
        )
    scale = len(X) * dist.get_world_size() / global_batch_size
    optimizer.zero_grad(set_to_none=True)
    loss = loss_fn(model(X), y)
    (loss * scale).backward()
    if all_reduce is not None:
        average_gradients(model, all_reduce)
    optimizer.step()
    return loss.detach()
