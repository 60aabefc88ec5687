"""A small seeded problem trained three ways, to prove data parallelism exact.

- ``train_single(problem)``: one process, the full batch each step (the reference);
- ``train_manual(rank, world_size, problem)``: by hand, dllab's ring all-reduce;
- ``train_ddp(rank, world_size, problem)``: torch's ``DistributedDataParallel``.

With the same seed every rank ends with the same parameters, equal to the single process's
up to rounding (float64 by default). Start the parallel ones with
``run_workers(train_manual, 2, (problem,))``, or DDP under torchrun::

    python -m torch.distributed.run --nproc-per-node 2 -m dllab.parallel.toy --out DIR

which saves each rank's parameters as ``DIR/rank<r>.pt``.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from dllab.parallel.allreduce import ALL_REDUCES
from dllab.parallel.manual import data_parallel_step
from dllab.parallel.sharding import shard_bounds


@dataclass(frozen=True)
class ToyProblem:
    """Settings of the toy classification problem.

    Attributes:
        samples: samples in the data set.
        batch_size: global batch size (all ranks together).
        features: inputs per sample.
        hidden: width of the MLP's hidden layer.
        classes: number of classes.
        steps: optimizer steps.
        lr: SGD learning rate.
        momentum: SGD momentum.
        seed: seed of the data, the initial weights and the batch order.
        dtype: ``float64`` for exact comparisons, ``float32`` for speed.
        all_reduce: ``ring`` or ``naive`` (manual training only).
    """

    samples: int = 96
    batch_size: int = 24
    features: int = 12
    hidden: int = 16
    classes: int = 3
    steps: int = 6
    lr: float = 0.3
    momentum: float = 0.9
    seed: int = 0
    dtype: str = "float64"
    all_reduce: str = "ring"


def toy_data(problem: ToyProblem) -> tuple[Tensor, Tensor]:
    """``(X, y)``: Gaussian inputs ``(samples, features)``, labels from a random linear map."""
    generator = torch.Generator().manual_seed(problem.seed)
    dtype = getattr(torch, problem.dtype)
    X = torch.randn(problem.samples, problem.features, generator=generator, dtype=dtype)
    W = torch.randn(problem.features, problem.classes, generator=generator, dtype=dtype)
    return X, (X @ W).argmax(dim=1)


def toy_model(problem: ToyProblem) -> nn.Module:
    """The MLP ``features -> hidden -> classes`` with seeded initial weights."""
    torch.manual_seed(problem.seed)
    model = nn.Sequential(
        nn.Linear(problem.features, problem.hidden),
        nn.ReLU(),
        nn.Linear(problem.hidden, problem.classes),
    )
    return model.to(getattr(torch, problem.dtype))


def toy_batches(problem: ToyProblem) -> list[Tensor]:
    """The sample indices of every step's global batch (a seeded order, cycled)."""
    generator = torch.Generator().manual_seed(problem.seed + 1)
    order = torch.randperm(problem.samples, generator=generator)
    batches = order.split(problem.batch_size)
    return [batches[step % len(batches)] for step in range(problem.steps)]


def _optimizer(model: nn.Module, problem: ToyProblem) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=problem.lr, momentum=problem.momentum)


def _state(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def train_single(problem: ToyProblem) -> dict[str, Tensor]:
    """One process, full batches: the reference parameters after ``problem.steps`` steps."""
    X, y = toy_data(problem)
    model = toy_model(problem)
    optimizer = _optimizer(model, problem)
    for idx in toy_batches(problem):
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(X[idx]), y[idx]).backward()
        optimizer.step()
    return _state(model)


def _train_parallel(rank: int, world_size: int, problem: ToyProblem, ddp: bool) -> nn.Module:
    X, y = toy_data(problem)
    model = toy_model(problem)
    if ddp:
        model = nn.parallel.DistributedDataParallel(model)
    optimizer = _optimizer(model, problem)
    reduce = None if ddp else ALL_REDUCES[problem.all_reduce]
    for idx in toy_batches(problem):
        start, stop = shard_bounds(len(idx), rank, world_size)
        mine = idx[start:stop]  # this rank's contiguous share of the global batch
        data_parallel_step(model, optimizer, F.cross_entropy, X[mine], y[mine], len(idx), reduce)
    return model.module if ddp else model


def train_manual(rank: int, world_size: int, problem: ToyProblem) -> dict[str, Tensor]:
    """Data parallelism by hand (dllab's all-reduce); this rank's final parameters."""
    return _state(_train_parallel(rank, world_size, problem, ddp=False))


def train_ddp(rank: int, world_size: int, problem: ToyProblem) -> dict[str, Tensor]:
    """The same training with ``DistributedDataParallel``; this rank's final parameters.

    DDP averages gradients (equal weights), so the global batch must split evenly.
    """
    if problem.batch_size % world_size or problem.samples % problem.batch_size:
        raise ValueError("DDP averages equal shards: batch_size must divide evenly")
    return _state(_train_parallel(rank, world_size, problem, ddp=True))


def main(argv: list[str] | None = None) -> None:
    """Under torchrun: DDP on the toy problem, each rank's parameters to ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=ToyProblem.steps)
    args = parser.parse_args(argv)
    problem = ToyProblem(steps=args.steps)
    dist.init_process_group("gloo")
    try:
        rank, world_size = dist.get_rank(), dist.get_world_size()
        state = train_ddp(rank, world_size, problem)
        args.out.mkdir(parents=True, exist_ok=True)
        torch.save({"state": state, "problem": asdict(problem)}, args.out / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
