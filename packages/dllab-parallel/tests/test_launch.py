"""``run_workers``: a failing rank never hangs the others.

Results in rank order through ``spawn`` (the default) are covered by test_readme.py.
"""

from __future__ import annotations

import time

import pytest

from dllab.parallel.launch import WorkerError, run_workers
from dllab.parallel.parity import fail_on_rank

BOUND_S = 20.0
"""A failure must end the whole run well within the 30 s collective time-out."""


@pytest.mark.distributed
@pytest.mark.parametrize(
    ("how", "reason"), [("raise", "ValueError: rank 1 failed on purpose"), ("sigkill", "SIGKILL")]
)
def test_a_failing_rank_stops_the_others_with_a_clear_error(fork_workers, how, reason):
    tic = time.monotonic()
    with pytest.raises(WorkerError) as caught:
        fork_workers(fail_on_rank, 3, (1, how))
    assert time.monotonic() - tic < BOUND_S
    failures = caught.value.failures
    assert set(failures) == {0, 1, 2}  # the others did not wait forever: they failed too
    assert reason in failures[1]
    for rank in (0, 2):  # gloo names the lost peer
        assert "RuntimeError" in failures[rank] and "peer" in failures[rank], failures[rank]
    assert f"rank 1: {failures[1]}" in str(caught.value)
    if how == "raise":  # the full traceback is kept for debugging
        assert "fail_on_rank" in caught.value.tracebacks[1]


@pytest.mark.distributed
def test_a_rank_stuck_outside_any_collective_is_killed_at_the_deadline(monkeypatch):
    from dllab.parallel import launch

    monkeypatch.setattr(launch, "STARTUP_S", 1.0)
    tic = time.monotonic()
    with pytest.raises(WorkerError) as caught:
        run_workers(fail_on_rank, 2, (1, "hang"), start_method="fork", timeout=2.0)
    assert time.monotonic() - tic < 10
    failures = caught.value.failures
    assert "timed out" in failures[0].lower() or "timeout" in failures[0].lower(), failures[0]
    assert failures[1] == "did not finish within the time-out and was killed"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"world_size": 0}, ValueError, "world_size"),
        ({"backend": "mpi"}, ValueError, "backend"),
        ({"start_method": "thread"}, ValueError, "start_method"),
        ({"timeout": 0}, ValueError, "timeout"),
        ({"fn": "not a function"}, TypeError, "callable"),
    ],
)
def test_bad_arguments_are_refused_before_any_process_starts(kwargs, error, message):
    arguments = {"fn": fail_on_rank, "world_size": 2, **kwargs}
    with pytest.raises(error, match=message):
        run_workers(arguments.pop("fn"), arguments.pop("world_size"), **arguments)
