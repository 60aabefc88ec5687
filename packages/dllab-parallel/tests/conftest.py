"""Shared setup of the parallel tests.

Multi-process tests start their ranks with ``fork``, which inherits the modules this process
has imported instead of importing torch again in every rank (``spawn`` is tested once, in
test_launch.py).
"""

from __future__ import annotations

import pytest

FORK = {"start_method": "fork", "timeout": 30.0}
"""Keyword arguments of ``run_workers`` in the tests: fast start, bounded waits."""


@pytest.fixture
def fork_workers():
    """``run_workers`` with the tests' start method and time-out."""
    from dllab.parallel.launch import run_workers

    def run(fn, world_size, args=()):
        return run_workers(fn, world_size, args, **FORK)

    return run
