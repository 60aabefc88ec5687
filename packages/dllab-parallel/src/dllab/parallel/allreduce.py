"""All-reduce from scratch, over ``torch.distributed`` point-to-point messages.

After an all-reduce every one of the ``n`` ranks holds ``x_0 + x_1 + ... + x_{n-1}`` (or that
sum divided by ``n`` for the mean), where ``x_r`` was rank ``r``'s tensor of ``N`` bytes.

**Naive**: every rank sends its tensor to rank 0, which adds them up and sends the sum back.
Rank 0's link carries ``2 (n - 1) N`` bytes, so the time grows with the number of ranks.

**Ring** (Patarasuk and Yuan, 2009; the algorithm of NCCL and gloo): the ranks form a ring
``r -> r + 1 (mod n)`` and the tensor is cut into ``n`` chunks.

1. *Reduce-scatter*, ``n - 1`` steps: at step ``s`` rank ``r`` sends chunk ``(r - s) mod n``
   to its right neighbour and adds the chunk ``(r - s - 1) mod n`` it receives from its left
   one into its own copy. Afterwards rank ``r`` holds the complete sum of chunk
   ``(r + 1) mod n``.
2. *All-gather*, ``n - 1`` steps: at step ``s`` rank ``r`` sends chunk ``(r + 1 - s) mod n``
   (complete) and overwrites chunk ``(r - s) mod n`` with the one it receives.

Each rank sends ``2 (n - 1) / n · N`` bytes whatever ``n`` is, which is why the *bus
bandwidth* ``2 (n - 1) / n · N / time`` measures how well an all-reduce uses the links. Every
chunk's sum is computed once, by one rank, and copied to the others, so all ranks end with
bit-identical tensors. Chunks come from ``tensor_split``: sizes differ by at most one element,
and ranks skip empty chunks, so any size works, even one smaller than ``n``.

Both functions work in place, like ``dist.all_reduce``, on the default process group.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.distributed as dist
from torch import Tensor

Op = Literal["sum", "mean"]
OPS = ("sum", "mean")


def _check(tensor: Tensor, op: str) -> tuple[int, int]:
    """``(rank, world_size)`` once the tensor, the op and the process group are usable."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"all-reduce needs a torch.Tensor, got {type(tensor).__name__}")
    if op not in OPS:
        raise ValueError(f"op must be one of {OPS}, got {op!r}")
    if op == "mean" and not (tensor.is_floating_point() or tensor.is_complex()):
        raise TypeError(f"op='mean' needs a floating-point tensor, got {tensor.dtype}")
    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError("no process group is initialised: call init_process_group first")
    return dist.get_rank(), dist.get_world_size()


def _flat(tensor: Tensor) -> Tensor:
    """A 1-D view of ``tensor`` (a copy when it is not contiguous)."""
    return tensor.view(-1) if tensor.is_contiguous() else tensor.reshape(-1).clone()


def _exchange(send: Tensor, dst: int, receive: Tensor, src: int) -> None:
    """Send ``send`` to ``dst`` and receive ``receive`` from ``src`` at the same time."""
    requests = []
    if send.numel():
        requests.append(dist.isend(send, dst))
    if receive.numel():
        requests.append(dist.irecv(receive, src))
    for request in requests:
        request.wait()


def ring_all_reduce(tensor: Tensor, op: Op = "sum") -> Tensor:
    """Replace ``tensor`` on every rank by the sum (or mean) over ranks; ring algorithm.

    Args:
        tensor: this rank's tensor; same shape and dtype on every rank.
        op: ``"sum"`` or ``"mean"``.

    Returns:
        ``tensor``, reduced in place.
    """
    rank, n = _check(tensor, op)
    flat = _flat(tensor)
    if n > 1:
        chunks = flat.tensor_split(n)  # n views, sizes N // n or N // n + 1
        right, left = (rank + 1) % n, (rank - 1) % n
        buffer = torch.empty_like(chunks[0])
        for step in range(n - 1):  # reduce-scatter
            send, receive = chunks[(rank - step) % n], chunks[(rank - step - 1) % n]
            incoming = buffer[: receive.numel()]
            _exchange(send, right, incoming, left)
            receive += incoming
        for step in range(n - 1):  # all-gather
            send, receive = chunks[(rank + 1 - step) % n], chunks[(rank - step) % n]
            _exchange(send, right, receive, left)
    if op == "mean":
        flat /= n
    if flat.data_ptr() != tensor.data_ptr() or not tensor.is_contiguous():
        tensor.copy_(flat.view_as(tensor))
    return tensor


def naive_all_reduce(tensor: Tensor, op: Op = "sum") -> Tensor:
    """Replace ``tensor`` on every rank by the sum (or mean) over ranks: reduce to rank 0,
    then send the result back to every rank.

    Args:
        tensor: this rank's tensor; same shape and dtype on every rank.
        op: ``"sum"`` or ``"mean"``.

    Returns:
        ``tensor``, reduced in place.
    """
    rank, n = _check(tensor, op)
    if tensor.numel() == 0 or n == 1:
        return tensor.div_(n) if op == "mean" else tensor
    flat = _flat(tensor)
    if rank == 0:
        incoming = torch.empty_like(flat)
        for source in range(1, n):  # reduce, in rank order
            dist.recv(incoming, source)
            flat += incoming
        if op == "mean":
            flat /= n
        for destination in range(1, n):  # broadcast
            dist.send(flat, destination)
    else:
        dist.send(flat, 0)
        dist.recv(flat, 0)
    if flat.data_ptr() != tensor.data_ptr() or not tensor.is_contiguous():
        tensor.copy_(flat.view_as(tensor))
    return tensor


ALL_REDUCES = {"ring": ring_all_reduce, "naive": naive_all_reduce}
"""The from-scratch all-reduces by name."""


def library_all_reduce(tensor: Tensor, op: Op = "sum") -> Tensor:
    """``dist.all_reduce`` with the same signature as the from-scratch ones (the reference)."""
    _check(tensor, op)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    if op == "mean":
        tensor /= dist.get_world_size()
    return tensor
