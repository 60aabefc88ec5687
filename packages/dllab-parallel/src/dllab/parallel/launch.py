"""Start ``world_size`` processes in a ``torch.distributed`` group and collect their results.

``run_workers(fn, world_size, args)`` runs ``fn(rank, world_size, *args)`` in each process,
after ``init_process_group`` (gloo on CPU, nccl on GPU) on a free local port, and returns the
results in rank order. ``fn`` must be importable by the new processes (a module-level
function of an installed module), because ``spawn`` pickles it by name.

A run never hangs. Every collective and point-to-point call times out after ``timeout``
seconds (``init_process_group(timeout=...)``); when a peer dies, gloo's sockets close and its
partners fail at once. The parent waits at most ``timeout`` plus a start-up allowance, then
kills what is left. Whatever went wrong, on any rank (an exception, a signal such as SIGKILL,
a time-out), ends in one ``WorkerError`` naming each failed rank and why.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import queue
import signal
import socket
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from dllab.core.checks import check_choice, check_positive, check_positive_int

START_METHODS = ("spawn", "forkserver", "fork")
STARTUP_S = 60.0
"""Allowance, on top of ``timeout``, for the processes to start and import torch."""


class WorkerError(RuntimeError):
    """One or more ranks failed; ``failures`` maps each failed rank to its reason (one line),
    ``tracebacks`` the ranks that raised to their full traceback."""

    def __init__(self, failures: dict[int, str], tracebacks: dict[int, str] | None = None) -> None:
        self.failures = dict(sorted(failures.items()))
        self.tracebacks = dict(tracebacks or {})
        lines = [f"rank {rank}: {reason}" for rank, reason in self.failures.items()]
        super().__init__(f"{len(failures)} rank(s) failed: " + "; ".join(lines))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _last_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[-400:]}" if text else type(err).__name__


def _worker(
    rank: int,
    world_size: int,
    port: int,
    backend: str,
    timeout: float,
    fn: Callable[..., Any],
    args: Sequence[Any],
    results: Any,
) -> None:
    """The body of each process: join the group, run ``fn``, report, leave the group."""
    import torch
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)  # the processes share the machine's cores
    try:
        if backend == "nccl":
            torch.cuda.set_device(rank % torch.cuda.device_count())
        dist.init_process_group(
            backend, rank=rank, world_size=world_size, timeout=timedelta(seconds=timeout)
        )
        value = fn(rank, world_size, *args)
        results.put((rank, "ok", pickle.dumps(value)))  # by value: no shared-memory handles
    except BaseException as err:  # report every failure, then exit non-zero
        results.put((rank, "error", _last_line(err), traceback.format_exc()))
        raise SystemExit(1) from None
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "did not finish within the time-out and was killed"
    if code < 0:
        return f"killed by signal {signal.Signals(-code).name}"
    return f"exited with code {code} without a result"


def run_workers(
    fn: Callable[..., Any],
    world_size: int,
    args: Sequence[Any] = (),
    *,
    backend: str = "gloo",
    timeout: float = 60.0,
    start_method: str = "spawn",
) -> list[Any]:
    """Run ``fn(rank, world_size, *args)`` on ``world_size`` new processes; their results.

    Args:
        fn: a module-level function; its result must pickle.
        world_size: number of processes.
        args: further arguments of ``fn`` (picklable).
        backend: ``gloo`` (CPU) or ``nccl`` (one GPU per rank).
        timeout: seconds any distributed call may wait, and the parent's budget beyond
            start-up.
        start_method: ``spawn`` (safe everywhere), ``forkserver`` or ``fork`` (CPU only).

    Raises:
        WorkerError: a rank raised, was killed or ran out of time; the others were stopped.
    """
    check_positive_int(world_size, "world_size")
    check_positive(timeout, "timeout")
    check_choice(backend, "backend", ("gloo", "nccl"))
    check_choice(start_method, "start_method", START_METHODS)
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    context = mp.get_context(start_method)
    results = context.Queue()
    port = free_port()
    processes = [
        context.Process(
            target=_worker,
            args=(rank, world_size, port, backend, timeout, fn, tuple(args), results),
            daemon=True,
        )
        for rank in range(world_size)
    ]
    for process in processes:
        process.start()
    reports, exits = _collect(processes, results, deadline=time.monotonic() + timeout + STARTUP_S)
    failures = {r: _exit_reason(code) for r, code in exits.items() if r not in reports}
    failures.update({r: rep[1] for r, rep in reports.items() if rep[0] == "error"})
    if failures:
        tracebacks = {r: rep[2] for r, rep in reports.items() if rep[0] == "error"}
        raise WorkerError(failures, tracebacks)
    return [pickle.loads(reports[rank][1]) for rank in range(world_size)]


def _collect(
    processes: list[Any], results: Any, deadline: float
) -> tuple[dict[int, tuple], dict[int, int | None]]:
    """Read the ranks' reports until all have exited or the deadline passes; kill the rest.

    Returns the reports by rank and the exit codes (``None``: killed at the deadline).
    """
    reports: dict[int, tuple] = {}
    while time.monotonic() < deadline:
        try:
            rank, *report = results.get(timeout=0.05)
            reports[rank] = tuple(report)
            continue
        except queue.Empty:
            pass
        if not any(p.is_alive() for p in processes):
            break
    exits: dict[int, int | None] = {}
    for rank, process in enumerate(processes):
        late = process.is_alive()
        if late:
            process.kill()
        process.join(timeout=5)
        exits[rank] = None if late else process.exitcode
    while True:  # reports that arrived while the last processes exited
        try:
            rank, *report = results.get(timeout=0.2)
        except queue.Empty:
            break
        reports[rank] = tuple(report)
    results.close()
    return reports, exits
