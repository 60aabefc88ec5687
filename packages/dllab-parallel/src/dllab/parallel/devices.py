"""What this machine offers for parallel training: devices, their memory, the backends."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

BACKENDS = ("gloo", "nccl", "mpi", "ucc", "xccl")


@dataclass(frozen=True)
class DeviceInfo:
    """One device.

    Attributes:
        name: ``cpu``, ``cuda:0``, ``mps``...
        description: the model name (or the CPU's core count).
        memory_bytes: its memory (the machine's RAM for the CPU; ``None`` if unknown).
    """

    name: str
    description: str
    memory_bytes: int | None


def _ram_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def list_devices() -> list[DeviceInfo]:
    """The CPU, then every CUDA GPU, then Apple's MPS device if present."""
    cores = os.cpu_count() or 1
    found = [
        DeviceInfo("cpu", f"{cores} cores, {torch.get_num_threads()} torch threads", _ram_bytes())
    ]
    for i in range(torch.cuda.device_count() if torch.cuda.is_available() else 0):
        props = torch.cuda.get_device_properties(i)
        found.append(DeviceInfo(f"cuda:{i}", props.name, int(props.total_memory)))
    if torch.backends.mps.is_available():
        found.append(DeviceInfo("mps", "Apple Metal", None))
    return found


def available_backends() -> dict[str, bool]:
    """Which ``torch.distributed`` backends this build of torch has (nccl needs a GPU too)."""
    if not dist.is_available():
        return dict.fromkeys(BACKENDS, False)
    checks = {
        "gloo": dist.is_gloo_available,
        "nccl": lambda: dist.is_nccl_available() and torch.cuda.is_available(),
        "mpi": dist.is_mpi_available,
        "ucc": getattr(dist, "is_ucc_available", lambda: False),
        "xccl": getattr(dist, "is_xccl_available", lambda: False),
    }
    return {name: bool(check()) for name, check in checks.items()}


def format_bytes(n: int | None) -> str:
    """``n`` bytes in GiB (or MiB), for display."""
    if n is None:
        return "unknown"
    if n >= 2**30:
        return f"{n / 2**30:.1f} GiB"
    return f"{n / 2**20:.0f} MiB"
