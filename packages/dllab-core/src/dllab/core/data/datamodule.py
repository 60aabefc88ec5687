"""``DataModule`` and in-memory tensor data served by batched indexing.

``TensorDataModule`` keeps whole tensors in memory and hands each batch out with one
fancy-index (``X[idx]``) instead of per-item ``__getitem__`` plus ``collate``: on small
models that per-item path costs about a quarter of an epoch. The shuffle order of epoch ``e``
depends only on ``(seed, e)``, which makes a resumed run see exactly the batches an
uninterrupted run would.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import Dataset, Sampler


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The data folder: ``root`` if given, else ``$DLLAB_DATA_DIR``, else ``~/.cache/dllab``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("DLLAB_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dllab"


class DataModule(L.LightningDataModule):
    """A LightningDataModule whose ``root`` follows dllab's data policy (see ``data_root``)."""

    def __init__(self, root: str | os.PathLike[str] | None = None, batch_size: int = 128) -> None:
        super().__init__()
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.root = data_root(root)
        self.batch_size = batch_size


def sample_count(tensors: Sequence[Tensor]) -> int:
    """The common, nonzero length of ``tensors``; a ``ValueError`` naming the sizes if not."""
    n = len(tensors[0])
    if n == 0:
        raise ValueError("dataset is empty: no samples to train on")
    if any(len(t) != n for t in tensors):
        sizes = [len(t) for t in tensors]
        raise ValueError(f"all tensors must have the same length, got {sizes}")
    return n


class TensorBatches(Dataset):
    """Tensors of equal length indexed a whole batch at a time."""

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ValueError("TensorBatches needs at least one tensor")
        sample_count(tensors)
        self.tensors = tensors

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, idx: Tensor | Sequence[int]) -> tuple[Tensor, ...]:
        idx = torch.as_tensor(idx)
        return tuple(t[idx] for t in self.tensors)


class EpochBatchSampler(Sampler[Tensor]):
    """Yields index tensors of one batch; the order of epoch ``e`` is seeded by ``seed + e``.

    Under ``torch.distributed`` each rank takes every ``world_size``-th batch. Like
    ``DistributedSampler``, the epoch's batches are padded by repeating its first ones until
    every rank has the same count: a rank with one batch fewer would wait for the others in a
    collective forever. Lightning calls ``set_epoch`` before each epoch.
    """

    def __init__(
        self, n: int, batch_size: int, shuffle: bool, seed: int = 0, drop_last: bool = False
    ) -> None:
        if n <= 0:
            raise ValueError("dataset is empty: no samples to sample from")
        self.n, self.batch_size, self.shuffle = n, batch_size, shuffle
        self.seed, self.drop_last, self.epoch = seed, drop_last, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _order(self) -> Tensor:
        if not self.shuffle:
            return torch.arange(self.n)
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return torch.randperm(self.n, generator=generator)

    def _rank(self) -> tuple[int, int]:
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return 0, 1

    def __iter__(self) -> Iterator[Tensor]:
        rank, world = self._rank()
        batches = self._order().split(self.batch_size)
        if self.drop_last and len(batches[-1]) < self.batch_size:
            batches = batches[:-1]
        per_rank = -(-len(batches) // world)
        padded = (batches * world)[: per_rank * world]  # repeat the first batches, if needed
        yield from padded[rank::world]

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        count = full if self.drop_last or rest == 0 else full + 1
        return -(-count // self._rank()[1])


class TensorLoader:
    """Batches of in-memory tensors, one fancy-index per batch: a lean ``DataLoader``.

    It keeps the parts of a ``DataLoader`` that Lightning uses (``len``, ``dataset``,
    ``sampler`` with ``set_epoch``, ``batch_sampler``) and drops the per-batch machinery
    (fetcher, collate, profiler record) that worker processes need and in-memory tensors do
    not: that machinery costs more than the indexing itself. It draws nothing from the global
    RNG, so dropout masks do not depend on when an epoch's iterator was created.
    """

    def __init__(
        self,
        *tensors: Tensor,
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        self.dataset = TensorBatches(*tensors)
        self.batch_size = batch_size
        self.sampler = EpochBatchSampler(len(self.dataset), batch_size, shuffle, seed, drop_last)
        self.batch_sampler = None  # as in a DataLoader whose sampler yields whole batches

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        tensors = self.dataset.tensors
        for idx in self.sampler:
            yield tuple(t[idx] for t in tensors)

    def __len__(self) -> int:
        return len(self.sampler)


def batched_loader(
    *tensors: Tensor, batch_size: int, shuffle: bool, seed: int = 0, drop_last: bool = False
) -> TensorLoader:
    """A loader over in-memory tensors that indexes whole batches at once (``TensorLoader``)."""
    return TensorLoader(
        *tensors, batch_size=batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last
    )


class TensorDataModule(DataModule):
    """A DataModule over in-memory ``(X, y)`` tensors with a seeded validation split.

    Subclasses implement ``build() -> (X, y)`` (or pass ``tensors``); ``val_fraction`` of the
    samples, chosen by ``seed``, are held out for validation. Any number of equally long
    tensors works the same way, for example ``(ids, valid_lens, y)``. With nothing held out,
    training reads the tensors as given (no copy; the loader shuffles every epoch).
    """

    def __init__(
        self,
        tensors: tuple[Tensor, ...] | None = None,
        batch_size: int = 128,
        val_fraction: float = 0.2,
        seed: int = 0,
        root: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(root=root, batch_size=batch_size)
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        self._given = tensors
        self.val_fraction, self.seed = val_fraction, seed
        self.train_tensors: tuple[Tensor, ...] | None = None
        self.val_tensors: tuple[Tensor, ...] | None = None

    def build(self) -> tuple[Tensor, ...]:
        if self._given is None:
            raise NotImplementedError(
                f"{type(self).__name__} must implement build() or get tensors"
            )
        return self._given

    def setup(self, stage: str | None = None) -> None:
        if self.train_tensors is not None:
            return
        tensors = self.build()
        n = sample_count(tensors)
        n_val = round(n * self.val_fraction)
        if n_val == 0:  # nothing held out: train on the tensors as given, without a copy
            self.train_tensors, self.val_tensors = tuple(tensors), None
            return
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed))
        val_idx, train_idx = order[:n_val], order[n_val:]
        self.train_tensors = tuple(t[train_idx] for t in tensors)
        self.val_tensors = tuple(t[val_idx] for t in tensors) if n_val else None

    def train_dataloader(self) -> TensorLoader:
        self.setup()
        assert self.train_tensors is not None
        return batched_loader(
            *self.train_tensors, batch_size=self.batch_size, shuffle=True, seed=self.seed
        )

    def val_dataloader(self) -> TensorLoader | list:
        self.setup()
        if self.val_tensors is None:
            return []
        return batched_loader(*self.val_tensors, batch_size=self.batch_size, shuffle=False)
