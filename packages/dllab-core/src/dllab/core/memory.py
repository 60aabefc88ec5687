"""Memory estimates, checked before a large allocation: refuse with a message, never crash.

An exact GP on 50,000 rows or a dense table for a 1000×1000 lake asks for more memory than
the machine has. Each caller estimates what it is about to allocate and calls
``check_memory``, which raises ``MemoryBudgetError`` (a ``ValueError``, so the CLI turns it
into a one-line error with exit code 2) naming what was asked for, the sizes and the way out,
instead of letting numpy or torch fail half-way, or the operating system kill the process.

The available memory is ``MemAvailable`` from ``/proc/meminfo`` where it exists, else the
free physical pages from ``os.sysconf``; tests replace ``available_memory`` to simulate a
small machine.
"""

from __future__ import annotations

import os
from pathlib import Path

MEMINFO = Path("/proc/meminfo")
USABLE_FRACTION = 0.8
"""Share of the currently available memory that one allocation plan may take."""


class MemoryBudgetError(ValueError):
    """An allocation was refused before it started: it would not fit in memory."""


def available_memory() -> int | None:
    """Bytes a new allocation can take now, or ``None`` when the system does not say."""
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # the value is in kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return None


def format_bytes(size: float) -> str:
    """``21474836480`` -> ``"20.0 GiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def check_memory(nbytes: float, what: str, way_out: str = "") -> float:
    """Raise ``MemoryBudgetError`` when ``nbytes`` exceeds the usable share of free memory.

    Args:
        nbytes: the estimated peak allocation, in bytes.
        what: what would be allocated, e.g. ``"the MDP of a 1000x1000 lake"``.
        way_out: what the caller can do instead, appended to the message.

    Returns:
        ``nbytes``, when it fits (or when the system does not say how much is free).
    """
    available = available_memory()
    if available is None or nbytes <= USABLE_FRACTION * available:
        return nbytes
    message = (
        f"{what} needs about {format_bytes(nbytes)} of memory, but only "
        f"{format_bytes(available)} is available"
    )
    raise MemoryBudgetError(f"{message}; {way_out}" if way_out else message)
