"""CIFAR-10 read from its published python batches, safely.

The archive ``cifar-10-python.tar.gz`` (from ``URL``, md5 ``MD5``) unpacks to
``cifar-10-batches-py/``: ``data_batch_1`` ... ``data_batch_5`` (10,000 images each),
``test_batch`` and ``batches.meta``. Each batch is a pickled dict with ``data``, a uint8
array ``(N, 3072)`` (the red, green then blue 32×32 planes of each image), and ``labels``, a
list of N ints in 0..9.

A pickle can name any importable callable and have the loader call it. ``load_batch`` reads
batches with ``SafeUnpickler``, which resolves only the few names a numpy array needs; a
file that names anything else (``os.system``, ``builtins.eval``...) is refused before it
runs (``UnsafePickleError``).
"""

from __future__ import annotations

import codecs
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dllab.core.data.download import download as fetch
from dllab.core.data.download import extract_archive, require_path
from dllab.vision.augment import BatchAugment
from dllab.vision.data.images import ImageData

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
_MAX_BATCH_BYTES = 1 << 30  # a real batch is about 31 MB


class UnsafePickleError(ValueError):
    """A pickle names a callable outside what a CIFAR-10 batch needs."""


def _allowed_globals() -> dict[tuple[str, str], Any]:
    """The only names a CIFAR-10 batch may reference: the pieces of a numpy array."""
    reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]  # numpy's own _reconstruct
    return {
        ("numpy.core.multiarray", "_reconstruct"): reconstruct,  # numpy 1.x pickles
        ("numpy._core.multiarray", "_reconstruct"): reconstruct,  # numpy 2.x pickles
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,  # bytes pickled by Python 3 at protocol < 3
    }


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """``codecs.encode`` as Python 3 pickles bytes at protocols 0-2: latin-1 only."""
    if encoding.replace("-", "").replace("_", "").lower() != "latin1":
        raise UnsafePickleError(f"refusing to decode pickled bytes from {encoding!r}")
    return codecs.encode(text, "latin1")


class SafeUnpickler(pickle.Unpickler):
    """An Unpickler that resolves only numpy array reconstruction (see ``_allowed_globals``)."""

    def __init__(self, file: Any, *, source: str = "<pickle>", **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self.source = source
        self.allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"{self.source}: refusing to load {module}.{name}: a CIFAR-10 batch holds only "
                "numpy arrays, lists and strings (is this file really a CIFAR-10 batch?)"
            ) from None


def load_batch(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read one python batch safely: ``(uint8 images (N, 3, 32, 32), int64 labels (N,))``.

    Raises:
        UnsafePickleError: the pickle names a callable other than numpy array reconstruction.
        ValueError: the file is not a pickle of a CIFAR-10 batch, or has wrong shapes or types.
    """
    path = Path(path)
    if path.stat().st_size > _MAX_BATCH_BYTES:
        raise ValueError(f"{path}: {path.stat().st_size} bytes is too large for a CIFAR-10 batch")
    with path.open("rb") as handle:
        try:
            batch = SafeUnpickler(handle, source=str(path), encoding="latin1").load()
        except UnsafePickleError:
            raise
        except Exception as err:  # truncated or not a pickle at all
            raise ValueError(f"{path}: not a CIFAR-10 python batch ({err})") from err
    if not isinstance(batch, dict) or not {"data", "labels"} <= set(batch):
        found = sorted(batch)[:5] if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(
            f"{path}: not a CIFAR-10 batch: expected a dict with 'data' and 'labels', got {found}"
        )
    data, labels = batch["data"], batch["labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        kind = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data)
        raise ValueError(f"{path}: 'data' must be a uint8 array (N, 3072), got {kind}")
    if data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{path}: 'data' must have 3072 values per image, got {data.shape[1]}")
    try:
        targets = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: 'labels' must be a list of ints ({err})") from err
    if targets.shape != (len(data),):
        raise ValueError(f"{path}: {len(data)} images but labels of shape {targets.shape}")
    if targets.size and (targets.min() < 0 or targets.max() >= len(CLASSES)):
        raise ValueError(f"{path}: labels must lie in 0..9, found {targets.min()}..{targets.max()}")
    return data.reshape(-1, 3, 32, 32), targets


class CIFAR10Data(ImageData):
    """CIFAR-10 from ``root/cifar10/cifar-10-batches-py`` (see the module docstring).

    Args:
        root: data folder (default ``$DLLAB_DATA_DIR`` or ``~/.cache/dllab``).
        download: fetch and unpack the archive when the batches are missing (md5-checked).
        batch_size: batch size of every loader.
        val_fraction: share of the 50,000 training images held out for validation.
        seed: seed of the validation split and the shuffling.
        augment: ``True``/``False`` or a ``BatchAugment`` (see ``ImageData``).

    Raises:
        FileNotFoundError: (on ``setup``) the batches are missing and ``download`` is False;
            the message names the folder and ``--download``.
    """

    classes = CLASSES
    mean = MEAN
    std = STD
    url, md5 = URL, MD5

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        download: bool = False,
        batch_size: int = 128,
        val_fraction: float = 0.1,
        seed: int = 0,
        augment: bool | BatchAugment = True,
    ) -> None:
        super().__init__(
            batch_size=batch_size, val_fraction=val_fraction, seed=seed, augment=augment, root=root
        )
        if not isinstance(download, bool):
            raise TypeError(f"download must be a bool, got {type(download).__name__}")
        self.download = download
        self.folder = self.root / "cifar10"

    @property
    def batches_dir(self) -> Path:
        return self.folder / FOLDER

    def prepare_data(self) -> None:
        """Download and unpack the archive if the batches are missing and ``download`` is set."""
        if self.download and not all((self.batches_dir / n).exists() for n in TRAIN_BATCHES):
            archive = fetch(self.url, f"md5:{self.md5}", self.folder)
            extract_archive(archive, self.folder)

    def _read(self, names: tuple[str, ...]) -> tuple[Tensor, Tensor]:
        self.prepare_data()
        folder = require_path(self.batches_dir, "CIFAR-10 python batches")
        parts = [load_batch(require_path(folder / n, f"CIFAR-10 batch {n}")) for n in names]
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        return torch.from_numpy(images), torch.from_numpy(labels)

    def build(self) -> tuple[Tensor, Tensor]:
        return self._read(TRAIN_BATCHES)

    def build_test(self) -> tuple[Tensor, Tensor]:
        return self._read((TEST_BATCH,))
