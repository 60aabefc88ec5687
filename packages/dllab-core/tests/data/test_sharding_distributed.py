"""The in-memory loader under real ``torch.distributed`` processes (gloo, CPU).

Every rank must take the same number of batches: each batch here ends in an all-reduce, as a
DDP step does, so a rank with one batch more would wait in it until the group's time-out. The
sampler pads an epoch by repeating its first batches (as ``DistributedSampler`` pads with its
first samples), so every sample is still served at least once.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import timedelta

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from dllab.core.data.datamodule import batched_loader  # imported once, before the forks

TIMEOUT_S = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rank_main(rank: int, world: int, port: int, n: int, batch_size: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", rank=rank, world_size=world, timeout=timedelta(seconds=TIMEOUT_S)
    )
    try:
        loader = batched_loader(torch.arange(n), batch_size=batch_size, shuffle=True, seed=3)
        served, steps = [], 0
        for epoch in range(2):
            loader.sampler.set_epoch(epoch)
            for (idx,) in loader:
                dist.all_reduce(torch.ones(1))  # a collective per step, like a DDP step
                served.append(idx)
                steps += 1
        torch.save({"steps": steps, "len": len(loader), "served": served}, f"{out}/{rank}.pt")
    finally:
        dist.destroy_process_group()


def _run(world: int, n: int, batch_size: int, out) -> list[dict]:
    port = _free_port()
    args = (world, port, n, batch_size, str(out))
    context = mp.start_processes(_rank_main, args, nprocs=world, join=False, start_method="fork")
    deadline = time.monotonic() + TIMEOUT_S + 30
    while not context.join(timeout=1):  # raises if a rank failed
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail(f"{world} ranks still running after {TIMEOUT_S + 30} s")
    return [torch.load(out / f"{rank}.pt", weights_only=True) for rank in range(world)]


@pytest.mark.distributed
@pytest.mark.parametrize(
    ("world", "n", "batch_size"),
    [(2, 9, 2), (2, 5, 4), (3, 10, 3), (3, 4, 1), (3, 2, 1)],  # 5, 2, 4, 4, 2 batches
)
def test_every_rank_takes_the_same_number_of_batches(tmp_path, world, n, batch_size):
    results = _run(world, n, batch_size, tmp_path)
    batches = -(-n // batch_size)
    per_epoch = -(-batches // world)
    for result in results:
        assert result["len"] == per_epoch
        assert result["steps"] == 2 * per_epoch  # equal counts: no rank waited forever
    for epoch in range(2):
        seen = torch.cat(
            [r["served"][epoch * per_epoch + i] for r in results for i in range(per_epoch)]
        )
        assert sorted(set(seen.tolist())) == list(range(n))  # every sample served
        assert len(seen) >= n
