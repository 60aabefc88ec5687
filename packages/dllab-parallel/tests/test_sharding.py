"""``split_batch``, ``shard_bounds`` and ``distributed_loader`` (no process group needed)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import TensorDataset

from dllab.parallel.sharding import distributed_loader, shard_bounds, split_batch


@pytest.mark.parametrize(("size", "world"), [(10, 3), (7, 2), (2, 4), (0, 3), (12, 4)])
def test_shard_bounds_match_tensor_split(size, world):
    parts = torch.arange(size).tensor_split(world)
    for rank, part in enumerate(parts):
        start, stop = shard_bounds(size, rank, world)
        assert torch.equal(torch.arange(size)[start:stop], part)


def test_split_batch_cuts_x_and_y_alike_on_each_device():
    X, y = torch.arange(14.0).reshape(7, 2), torch.arange(7)
    xs, ys = split_batch(X, y, ["cpu", "cpu", "cpu"])
    assert [len(x) for x in xs] == [3, 2, 2]  # uneven: the first slices take one more
    assert torch.equal(torch.cat(xs), X) and torch.equal(torch.cat(ys), y)
    for x, t in zip(xs, ys, strict=True):
        assert torch.equal(x[:, 0] / 2, t.float()) and x.device.type == "cpu"
    assert [len(x) for x in split_batch(X, y, 2)[0]] == [4, 3]


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((torch.zeros(3, 2), torch.zeros(4), 2), ValueError, "batch dimension"),
        ((torch.zeros(2, 2), torch.zeros(2), 3), ValueError, "across 3 devices"),
        ((torch.zeros(2), torch.zeros(2), []), ValueError, "at least one"),
        ((torch.zeros(2), torch.zeros(2), 0), ValueError, "devices"),
        ((torch.zeros(2), torch.zeros(2), "cpu"), TypeError, "list of devices"),
        (([1, 2], torch.zeros(2), 2), TypeError, "tensors"),
    ],
)
def test_split_batch_refuses_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        split_batch(*args)


@pytest.mark.parametrize(("n", "world"), [(10, 3), (9, 2), (3, 4)])
def test_distributed_loader_gives_every_rank_the_same_number_of_batches(n, world):
    data = TensorDataset(torch.arange(n))
    loaders = [distributed_loader(data, 2, rank=r, world_size=world, seed=1) for r in range(world)]
    batches = [[b[0] for b in loader] for loader in loaders]
    assert len({len(b) for b in batches}) == 1 and len(batches[0]) == len(loaders[0])
    served = torch.cat([torch.cat(b) for b in batches])
    assert set(served.tolist()) == set(range(n))  # padded by repeats, nothing left out
    assert len(served) == world * -(-n // world)


def test_distributed_loader_drop_last_and_epochs():
    data = TensorDataset(torch.arange(10))
    loader = distributed_loader(data, 10, rank=0, world_size=3, drop_last=True)
    assert len(next(iter(loader))[0]) == 3  # 10 // 3 samples, the remainder dropped
    first = next(iter(loader))[0]
    loader.sampler.set_epoch(1)
    assert not torch.equal(next(iter(loader))[0], first)  # a new order each epoch


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({}, RuntimeError, "no process group"),
        ({"rank": 3, "world_size": 3}, ValueError, "rank"),
        ({"rank": 0, "world_size": 0}, ValueError, "world_size"),
        ({"rank": 0, "world_size": 2, "sampler": None}, ValueError, "its own sampler"),
    ],
)
def test_distributed_loader_refuses_bad_input(kwargs, error, message):
    with pytest.raises(error, match=message):
        distributed_loader(TensorDataset(torch.arange(4)), 2, **kwargs)
