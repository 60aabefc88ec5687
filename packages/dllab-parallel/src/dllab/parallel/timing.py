"""Timing workers of the all-reduce benchmark (run them with ``run_workers``).

- ``time_all_reduces``: seconds per all-reduce of dllab's ring, dllab's naive and
  ``dist.all_reduce``, interleaved, for each size; a call lasts until the slowest rank is done.
- ``time_ddp_steps``: seconds per DDP training step of an MLP on a fixed global batch.

The bus bandwidth of an all-reduce of ``N`` bytes over ``n`` ranks is
``2 (n - 1) / n · N / time``: the bytes each rank must send, over the time it took.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from dllab.parallel.allreduce import ALL_REDUCES, library_all_reduce

CONTENDERS = {**ALL_REDUCES, "gloo": library_all_reduce}


def bus_bandwidth(nbytes: int, seconds: float, world_size: int) -> float:
    """``2 (n - 1) / n · nbytes / seconds``, in bytes per second."""
    return 2 * (world_size - 1) / world_size * nbytes / seconds


def _slowest(seconds: float) -> float:
    """The longest time any rank took (every rank returns the same value)."""
    t = torch.tensor([seconds], dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t)


def time_all_reduces(
    rank: int, world_size: int, plan: Sequence[tuple[int, int]]
) -> dict[int, dict[str, list[float]]]:
    """``{nbytes: {contender: [seconds, ...]}}`` for float32 tensors of ``nbytes`` bytes.

    ``plan`` lists ``(nbytes, repeats)``: each size is timed ``repeats`` rounds, after one
    warm-up round, the contenders taking turns within each round.
    """
    out: dict[int, dict[str, list[float]]] = {}
    for nbytes, repeats in plan:
        x = torch.ones(nbytes // 4)
        samples: dict[str, list[float]] = {name: [] for name in CONTENDERS}
        for repeat in range(repeats + 1):  # the first round warms up
            for name, reduce in CONTENDERS.items():
                dist.barrier()
                tic = time.perf_counter()
                reduce(x, "mean")
                seconds = _slowest(time.perf_counter() - tic)
                if repeat:
                    samples[name].append(seconds)
        out[nbytes] = samples
    return out


def time_ddp_steps(
    rank: int, world_size: int, global_batch: int, steps: int, repeats: int
) -> list[float]:
    """Seconds per DDP step (784-512-512-10 MLP, SGD), each rank on ``global_batch / n``."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU())
    model.append(nn.Linear(512, 10))
    ddp = nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.01)
    X = torch.randn(global_batch // world_size, 784)  # (B / n, 784): this rank's shard
    y = torch.randint(0, 10, (len(X),))
    samples = []
    for repeat in range(repeats + 1):
        dist.barrier()
        tic = time.perf_counter()
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(ddp(X), y).backward()
            optimizer.step()
        seconds = _slowest(time.perf_counter() - tic) / steps
        if repeat:
            samples.append(seconds)
    return samples
