"""Fixtures for the attention and Transformer tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Run each test on one intra-op thread and a fixed seed (thread count restored afterwards).

    Under ``pytest -n 2`` on two cores, two threads per worker oversubscribe the CPU and the
    spinning OpenMP workers make small matrix products tens of times slower.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
