"""Worker functions that compare the from-scratch all-reduces with ``dist.all_reduce``.

Run them with ``run_workers(compare_all_reduces, world_size, (cases,))``: every rank makes
its own seeded tensor for each case, reduces a copy with dllab's ring, one with the naive
all-reduce and one with the library, and returns all three. The caller checks that the three
agree and that every rank holds the same result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from dllab.parallel.allreduce import ALL_REDUCES, Op, library_all_reduce


@dataclass(frozen=True)
class Case:
    """One all-reduce to compare.

    Attributes:
        shape: the tensor's shape (any size, including ones ``world_size`` does not divide).
        dtype: ``"float32"``, ``"bfloat16"``, ``"float64"`` or ``"int64"``.
        op: ``"sum"`` or ``"mean"``.
        transposed: reduce a non-contiguous view (the transpose of a 2-D tensor).
    """

    shape: tuple[int, ...]
    dtype: str = "float32"
    op: Op = "sum"
    transposed: bool = False


def case_tensor(case: Case, rank: int) -> Tensor:
    """Rank ``rank``'s input for ``case``: seeded by the rank, so the ranks differ."""
    generator = torch.Generator().manual_seed(1000 + rank)
    dtype = getattr(torch, case.dtype)
    if dtype.is_floating_point:
        x = torch.randn(case.shape, generator=generator).to(dtype)
    else:
        x = torch.randint(-100, 100, case.shape, generator=generator, dtype=dtype)
    return x.t() if case.transposed else x


def compare_all_reduces(
    rank: int, world_size: int, cases: Sequence[Case]
) -> list[dict[str, Tensor]]:
    """For each case, this rank's results of ``ring``, ``naive`` and ``library``."""
    out = []
    for case in cases:
        x = case_tensor(case, rank)
        results = {}
        for name, reduce in [*ALL_REDUCES.items(), ("library", library_all_reduce)]:
            y = x.clone()  # keeps the strides: a transposed input stays non-contiguous
            reduce(y, case.op)
            results[name] = y
        out.append(results)
    return out


def fail_on_rank(rank: int, world_size: int, bad_rank: int, how: str) -> float:
    """Rank ``bad_rank`` fails before an all-reduce that every other rank enters; used to
    show that a failure never hangs the others. ``how``: ``raise``, ``sigkill`` or ``hang``
    (sleep for an hour, outside any collective)."""
    import os
    import signal
    import time

    if rank == bad_rank:
        if how == "sigkill":
            os.kill(os.getpid(), signal.SIGKILL)
        if how == "hang":
            time.sleep(3600)
        raise ValueError(f"rank {rank} failed on purpose")
    x = torch.ones(1000)
    ALL_REDUCES["ring"](x)
    return float(x[0])
