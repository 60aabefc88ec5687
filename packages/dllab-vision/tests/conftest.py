"""Shared fixtures: tiny CIFAR-10 python batches in the published format (no download).

Lightning adds a log handler bound to the stderr of the moment it is first imported; imported
inside a ``CliRunner`` call, that stream is closed by the next call. Importing it here binds
the handler to the test session's stderr instead.
"""

from __future__ import annotations

import io
import pickle
import struct
import tarfile
from pathlib import Path
from types import SimpleNamespace

import lightning.pytorch  # noqa: F401
import numpy as np
import pytest

BATCH_NAMES = [f"data_batch_{i}" for i in range(1, 6)]


class Python2Pickler(pickle._Pickler):
    """Pickles as Python 2's cPickle did (protocol 2): bytes as ``str`` opcodes, numpy 1 names.

    The published batches were written by Python 2, so their image bytes are ``BINSTRING``s
    (not ``_codecs.encode`` calls) and the array is rebuilt by ``numpy.core.multiarray``.
    """

    dispatch = pickle._Pickler.dispatch.copy()

    def save_bytes(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes

    def save_global(self, obj: object, name: str | None = None) -> None:
        module = obj.__module__.replace("numpy._core", "numpy.core")
        self.write(pickle.GLOBAL + f"{module}\n{name or obj.__qualname__}\n".encode())
        self.memoize(obj)


def batch_dict(images: np.ndarray, labels: list[int], name: str) -> dict:
    return {
        "batch_label": f"{name} of 5",
        "labels": labels,
        "data": images.reshape(len(images), -1),
        "filenames": [f"img_{i}.png" for i in range(len(images))],
    }


def write_batch(path: Path, batch: dict, python2: bool = True) -> Path:
    buffer = io.BytesIO()
    if python2:
        encoded = {k.encode(): v for k, v in batch.items()}  # Python 2 str keys
        encoded[b"filenames"] = [f.encode() for f in batch["filenames"]]
        Python2Pickler(buffer, protocol=2).dump(encoded)
    else:
        pickle.dump(batch, buffer, protocol=2)
    path.write_bytes(buffer.getvalue())
    return path


def make_cifar(root: Path, per_batch: int = 4, seed: int = 0, python2: bool = True) -> dict:
    """Write ``root/cifar10/cifar-10-batches-py`` with tiny batches; returns the arrays."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    arrays = {}
    for name in [*BATCH_NAMES, "test_batch"]:
        images = rng.integers(0, 256, (per_batch, 3, 32, 32), dtype=np.uint8)
        labels = [int(x) for x in rng.integers(0, 10, per_batch)]
        write_batch(folder / name, batch_dict(images, labels, name), python2)
        arrays[name] = (images, labels)
    meta = {"label_names": ["airplane"] * 10, "num_cases_per_batch": per_batch}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return arrays


def make_archive(root: Path, destination: Path) -> Path:
    """``cifar-10-python.tar.gz`` holding ``cifar-10-batches-py/`` of ``root/cifar10``."""
    with tarfile.open(destination, "w:gz") as tar:
        tar.add(root / "cifar10" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    return destination


@pytest.fixture
def cifar_root(tmp_path):
    """A data root holding tiny CIFAR-10 batches (4 images each); yields (root, arrays)."""
    root = tmp_path / "data"
    return root, make_cifar(root)


@pytest.fixture
def cifar_files():
    """The fixture writers: ``batch_dict``, ``write_batch``, ``make_cifar``, ``make_archive``."""
    return SimpleNamespace(
        batch_dict=batch_dict,
        write_batch=write_batch,
        make_cifar=make_cifar,
        make_archive=make_archive,
    )
