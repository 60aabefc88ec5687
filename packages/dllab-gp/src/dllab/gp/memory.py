"""Size guards: exact GP work holds several ``n × n`` matrices, so its memory is checked first.

At n = 50,000 one float64 kernel matrix takes 20 GB, and a Cholesky factor, a noisy copy and
the gradient's inverse each take as much again. Rather than let the operating system kill
the process halfway, ``check_dense_memory`` estimates ``n² × bytes per element × matrices``
before anything is allocated and refuses, with a one-line message that names ``n``, the bytes
needed, the bytes available and the way out (a random subsample of fewer rows).

The available memory and the usable share come from ``dllab.core.memory``; tests replace
``dllab.core.memory.available_memory`` to simulate a small machine.
"""

from __future__ import annotations

from dllab.core import memory
from dllab.core.checks import check_int, check_positive_int
from dllab.core.memory import MemoryBudgetError, format_bytes

UNCHECKED_BYTES = 256 * 2**20
"""Estimates below this size (256 MiB) are not checked: nothing to read, nothing to refuse."""

POSTERIOR_MATRICES = 3
"""n×n matrices held while conditioning (no gradient): K + σ²I, its Cholesky factor, and a
jittered copy when the first factorisation fails (measured peak ≈ 2.4 without jitter, 3.05
with it, for an RBF kernel at n = 3,000)."""
EVIDENCE_GRAD_MATRICES = 8
"""n×n matrices held by one evidence evaluation with its gradient: the kernel's distance,
exponential and scaled intermediates that autograd keeps, K + σ²I, the factor, ``K⁻¹``,
``ααᵀ`` and the gradient itself (measured peak ≈ 6.1 for an RBF kernel at n = 3,000)."""
GPYTORCH_MATRICES = 12
"""n×n matrices GPyTorch's exact training step holds (measured peak ≈ 10.8 for an RBF kernel)."""


class ProblemTooLargeError(MemoryBudgetError):
    """The exact computation asked for would need more memory than the machine has."""


def dense_bytes(n: int, matrices: int, itemsize: int = 8) -> int:
    """``n² × itemsize × matrices``: the memory of ``matrices`` dense ``n × n`` arrays."""
    n = check_int(n, "n", min=0)
    return (
        n * n * check_positive_int(itemsize, "itemsize") * check_positive_int(matrices, "matrices")
    )


def check_dense_memory(
    n: int,
    matrices: int,
    *,
    itemsize: int = 8,
    what: str = "an exact GP",
    way_out: str = "fit on a random subsample of fewer rows (max_points=...)",
) -> int:
    """Refuse, before allocating, an exact computation that would not fit in memory.

    Args:
        n: rows of the ``n × n`` matrices.
        matrices: how many such matrices the computation holds at its peak.
        itemsize: bytes per element (8 for float64).
        what: the computation, for the message.
        way_out: what the caller can do instead, for the message.

    Returns:
        The estimated bytes.

    Raises:
        ProblemTooLargeError: when the estimate exceeds ``dllab.core.memory.USABLE_FRACTION`` of the available
            memory. The message names ``n``, both sizes and ``way_out``.
    """
    needed = dense_bytes(n, matrices, itemsize)
    if needed < UNCHECKED_BYTES:
        return needed
    available = memory.available_memory()
    usable = memory.USABLE_FRACTION
    if available is not None and needed > usable * available:
        largest = int((usable * available / (matrices * itemsize)) ** 0.5)
        raise ProblemTooLargeError(
            f"{what} on n={n:,} rows needs about {format_bytes(needed)} ({matrices} n×n "
            f"matrices of {format_bytes(n * n * itemsize)}) but only {format_bytes(available)} "
            f"is available (about {largest:,} rows would fit); {way_out}"
        )
    return needed
