"""Sharding data across devices and processes.

- ``split_batch``: one batch cut into one contiguous slice per device (d2l's ``split_batch``);
  the slices differ in size by at most one sample when the batch does not divide evenly.
- ``shard_bounds``: where rank ``r`` of ``n`` starts and stops in ``size`` items.
- ``distributed_loader``: a plain ``DataLoader`` whose ``DistributedSampler`` gives each
  process its own share of every epoch. The sampler pads the epoch by repeating its first
  samples, so every rank takes the same number of batches (a rank with one batch fewer would
  leave the others waiting in an all-reduce forever).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from dllab.core.checks import check_int, check_positive_int


def _devices(devices: Sequence[torch.device | str] | int) -> list[torch.device]:
    if isinstance(devices, int) and not isinstance(devices, bool):
        check_positive_int(devices, "devices")
        return [torch.device("cpu")] * devices
    if isinstance(devices, str | torch.device) or not isinstance(devices, Sequence):
        raise TypeError(f"devices must be a list of devices or a count, got {devices!r}")
    if not devices:
        raise ValueError("devices must name at least one device")
    return [torch.device(d) for d in devices]


def shard_bounds(size: int, rank: int, world_size: int) -> tuple[int, int]:
    """``(start, stop)`` of rank ``rank``'s contiguous share of ``size`` items.

    The first ``size % world_size`` ranks take one item more, as ``torch.tensor_split`` does.
    """
    check_int(size, "size", min=0)
    check_positive_int(world_size, "world_size")
    check_int(rank, "rank", min=0, max=world_size - 1)
    base, extra = divmod(size, world_size)
    start = rank * base + min(rank, extra)
    return start, start + base + (rank < extra)


def split_batch(
    X: Tensor, y: Tensor, devices: Sequence[torch.device | str] | int
) -> tuple[list[Tensor], list[Tensor]]:
    """Split ``X`` and ``y`` along the batch dimension, one slice on each device.

    Args:
        X: inputs ``(B, ...)``.
        y: targets ``(B, ...)``, as many as ``X``.
        devices: the devices, or a count of CPU slices.

    Returns:
        ``(X_slices, y_slices)``; slice ``i`` lives on ``devices[i]``.

    Raises:
        ValueError: ``X`` and ``y`` differ in length, or there are more devices than samples.
    """
    if not isinstance(X, Tensor) or not isinstance(y, Tensor):
        raise TypeError(f"X and y must be tensors, got {type(X).__name__}, {type(y).__name__}")
    if X.dim() == 0 or y.dim() == 0 or len(X) != len(y):
        raise ValueError(f"X and y need one shared batch dimension, got {X.shape} and {y.shape}")
    targets = _devices(devices)
    if len(targets) > len(X):
        raise ValueError(f"cannot split a batch of {len(X)} across {len(targets)} devices")
    x_parts = X.tensor_split(len(targets))  # n views of (B_i, ...), B_i = B // n or B // n + 1
    y_parts = y.tensor_split(len(targets))
    return (
        [x.to(d) for x, d in zip(x_parts, targets, strict=True)],
        [t.to(d) for t, d in zip(y_parts, targets, strict=True)],
    )


def distributed_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    drop_last: bool = False,
    rank: int | None = None,
    world_size: int | None = None,
    **loader_kwargs: object,
) -> DataLoader:
    """A ``DataLoader`` over this process's share of ``dataset`` (a ``DistributedSampler``).

    ``rank`` and ``world_size`` default to those of the initialised process group. Call
    ``loader.sampler.set_epoch(epoch)`` before each epoch for a new shuffle order (Lightning
    does it for you). Every rank gets ``ceil(len(dataset) / world_size)`` samples, so the same
    number of batches; with ``drop_last`` the remainder is dropped instead of padded.
    """
    check_positive_int(batch_size, "batch_size")
    if rank is None or world_size is None:
        dist = torch.distributed
        if not (dist.is_available() and dist.is_initialized()):
            raise RuntimeError(
                "no process group is initialised: call init_process_group or pass "
                "rank and world_size"
            )
        rank = dist.get_rank() if rank is None else rank
        world_size = dist.get_world_size() if world_size is None else world_size
    check_positive_int(world_size, "world_size")
    check_int(rank, "rank", min=0, max=world_size - 1)
    if "sampler" in loader_kwargs or "batch_sampler" in loader_kwargs:
        raise ValueError("distributed_loader makes its own sampler; do not pass one")
    sampler = DistributedSampler(
        dataset,
        num_replicas=world_size,
        rank=rank,
        shuffle=shuffle,
        seed=seed,
        drop_last=drop_last,
    )
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, **loader_kwargs)
