"""Ring and naive all-reduce against ``dist.all_reduce`` on gloo, world sizes 2, 3 and 4.

Tolerances: float32 and float64 sums differ from gloo's only by the order of the additions
(atol 1e-5 for float32 values of order 1 summed over 4 ranks, 1e-12 for float64); bfloat16
keeps 8 significant bits, so its results may differ by a rounding step or two (atol and
rtol 2**-5); integers are exact. Whatever the algorithm, every rank holds the same bits.
"""

from __future__ import annotations

import pytest
import torch

from dllab.core.testing import assert_close_to_reference
from dllab.parallel.allreduce import library_all_reduce, naive_all_reduce, ring_all_reduce
from dllab.parallel.parity import Case, case_tensor, compare_all_reduces

TOLERANCE = {"float32": 1e-5, "float64": 1e-12, "bfloat16": 2**-5, "int64": 0.0}
CASES = [
    Case((1,)),  # fewer elements than ranks: some chunks are empty
    Case((0,)),
    Case((10,), op="mean"),
    Case((1001,)),  # divides by no world size here
    Case((4, 5), transposed=True),  # a non-contiguous view, reduced in place
    Case((3, 7), "float64", "mean"),
    Case((1001,), "bfloat16"),
    Case((33,), "bfloat16", "mean"),
    Case((9,), "int64"),
]


@pytest.mark.distributed
@pytest.mark.parametrize("world_size", [2, 3, 4])
def test_ring_and_naive_equal_dist_all_reduce(fork_workers, world_size):
    results = fork_workers(compare_all_reduces, world_size, (CASES,))
    for i, case in enumerate(CASES):
        expected = sum(case_tensor(case, r).double() for r in range(world_size))
        if case.op == "mean":
            expected = expected / world_size
        tol = TOLERANCE[case.dtype]
        for rank in range(world_size):
            got = results[rank][i]
            library = got["library"]
            assert library.shape == case_tensor(case, 0).shape and library.dtype == getattr(
                torch, case.dtype
            )
            for name in ("ring", "naive"):
                ours = got[name]
                assert ours.dtype == library.dtype and ours.stride() == library.stride()
                label = f"{name} {case} rank {rank}"
                assert_close_to_reference(ours, library, atol=tol, rtol=tol, name=label)
                assert_close_to_reference(ours, expected, atol=2 * tol, rtol=2 * tol, name=label)
                assert torch.equal(ours, results[0][i][name]), f"{label}: ranks disagree"


@pytest.mark.parametrize("reduce", [ring_all_reduce, naive_all_reduce, library_all_reduce])
def test_bad_input_is_refused(reduce):
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        reduce([1.0, 2.0])
    with pytest.raises(ValueError, match="op must be one of"):
        reduce(torch.ones(2), "max")
    with pytest.raises(TypeError, match="floating-point"):
        reduce(torch.ones(2, dtype=torch.int64), "mean")
    x = torch.ones(3)
    with pytest.raises(RuntimeError, match="no process group"):
        reduce(x)
    assert torch.equal(x, torch.ones(3))  # untouched
