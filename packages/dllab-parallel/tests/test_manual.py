"""Data parallelism by hand and with DDP equals single-process full-batch training.

Tolerance: 1e-6 on every parameter after 6 SGD steps with momentum, in float64 (what
differs is only the order of the additions in the gradient sums, ~1e-16 here). The
parameters move by ~0.5 over those steps, so a rank that skipped its updates would fail.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dllab.core.testing import assert_close_to_reference
from dllab.parallel.manual import average_gradients, data_parallel_step
from dllab.parallel.toy import ToyProblem, train_ddp, train_manual, train_single

TOL = 1e-6


def _assert_equal_to_single(states, reference, problem):
    start = train_single(ToyProblem(steps=0))
    assert max((reference[k] - start[k]).abs().max() for k in start) > 0.1  # it trained
    for rank, state in enumerate(states):
        assert state.keys() == reference.keys()
        for key in reference:
            assert torch.equal(state[key], states[0][key]), f"rank {rank} differs from rank 0"
            assert_close_to_reference(state[key], reference[key], atol=TOL, name=key)


@pytest.mark.distributed
@pytest.mark.parametrize(
    ("world_size", "problem"),
    [
        (2, ToyProblem()),  # equal shards of 12
        (3, ToyProblem(batch_size=25, all_reduce="naive")),  # shards of 9, 8, 8; last batch 21
        (4, ToyProblem(batch_size=30)),  # shards of 8, 8, 7, 7
    ],
)
def test_manual_data_parallel_equals_single_process(fork_workers, world_size, problem):
    reference = train_single(problem)  # first: the ranks fork with the optimizer's imports done
    _assert_equal_to_single(fork_workers(train_manual, world_size, (problem,)), reference, problem)


@pytest.mark.distributed
def test_ddp_equals_single_process(fork_workers):
    problem = ToyProblem()
    reference = train_single(problem)
    _assert_equal_to_single(fork_workers(train_ddp, 2, (problem,)), reference, problem)


def test_ddp_refuses_shards_of_unequal_size(fork_workers):
    from dllab.parallel.launch import WorkerError

    with pytest.raises(WorkerError, match="divide evenly"):
        fork_workers(train_ddp, 2, (ToyProblem(batch_size=25),))


def test_bad_input_is_refused():
    model = nn.Linear(2, 1)
    with pytest.raises(ValueError, match="call backward"):
        average_gradients(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(RuntimeError, match="no process group"):
        data_parallel_step(
            model, optimizer, nn.functional.mse_loss, torch.ones(2, 2), torch.ones(2, 1), 4
        )
    assert model.weight.grad is None  # nothing ran
