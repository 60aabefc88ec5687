"""Memory estimates, checked before a large table is allocated.

A 1000x1000 lake has a million states: its sparse tables take a few hundred MB, but a dense
``T[s, a, s']`` would take 32 TB. Every builder estimates what it is about to allocate and
calls :func:`check_memory`, which refuses with a ``ValueError`` naming the sizes instead of
letting numpy fail half-way with a ``MemoryError``.
"""

from __future__ import annotations

import os

GIB = 2**30

USABLE_FRACTION = 0.8
"""Share of the currently available memory that one allocation plan may use."""


def available_memory() -> int | None:
    """Bytes of memory available to new allocations now, or ``None`` when unknown.

    Reads ``MemAvailable`` from ``/proc/meminfo`` (Linux), else the free physical pages.
    """
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(nbytes: float) -> str:
    """``nbytes`` in MiB or GiB, for messages."""
    if nbytes >= GIB:
        return f"{nbytes / GIB:.1f} GiB"
    return f"{nbytes / 2**20:.0f} MiB"


def check_memory(nbytes: float, what: str, hint: str = "") -> None:
    """Raise ``ValueError`` when ``nbytes`` exceeds the usable share of available memory.

    Args:
        nbytes: the estimated peak allocation.
        what: what would be allocated, e.g. ``"the MDP of a 1000x1000 lake"``.
        hint: what the caller can do instead, appended to the message.
    """
    available = available_memory()
    if available is None or nbytes <= USABLE_FRACTION * available:
        return
    message = (
        f"{what} needs about {format_bytes(nbytes)} of memory, but only "
        f"{format_bytes(available)} is available"
    )
    raise ValueError(f"{message}; {hint}" if hint else message)
