"""A process group of one, in this process: the defaults that read the group, and n = 1."""

from __future__ import annotations

from datetime import timedelta

import pytest
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import TensorDataset

from dllab.parallel.allreduce import naive_all_reduce, ring_all_reduce
from dllab.parallel.launch import free_port
from dllab.parallel.manual import data_parallel_step
from dllab.parallel.sharding import distributed_loader


@pytest.fixture
def group_of_one():
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{free_port()}",
        rank=0,
        world_size=1,
        timeout=timedelta(seconds=30),
    )
    try:
        yield
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("reduce", [ring_all_reduce, naive_all_reduce])
def test_all_reduce_over_one_rank_is_the_identity(group_of_one, reduce):
    x = torch.arange(5.0)
    assert reduce(x) is x and torch.equal(x, torch.arange(5.0))
    assert torch.equal(reduce(x, "mean"), torch.arange(5.0))


def test_distributed_loader_reads_rank_and_world_size_from_the_group(group_of_one):
    loader = distributed_loader(TensorDataset(torch.arange(7)), 3, shuffle=False)
    assert loader.sampler.num_replicas == 1 and loader.sampler.rank == 0
    assert [b[0].tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6]]


def test_a_data_parallel_step_on_one_rank_is_a_plain_step(group_of_one):
    torch.manual_seed(0)
    model, twin = nn.Linear(3, 1), nn.Linear(3, 1)
    twin.load_state_dict(model.state_dict())
    X, y = torch.randn(8, 3), torch.randn(8, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = data_parallel_step(model, optimizer, nn.functional.mse_loss, X, y, 8)
    twin_optimizer = torch.optim.SGD(twin.parameters(), lr=0.1)
    nn.functional.mse_loss(twin(X), y).backward()
    twin_optimizer.step()
    assert torch.equal(model.weight, twin.weight) and loss.requires_grad is False
    with pytest.raises(ValueError, match=r"1\.\.global_batch_size"):
        data_parallel_step(model, optimizer, nn.functional.mse_loss, X, y, 4)
