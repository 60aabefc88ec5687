"""Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017) from its published IDX gzip files.

- ``read_idx`` / ``write_idx``: the IDX format of LeCun's MNIST files (a 4-byte magic number
  ``0x00 0x00 <dtype> <ndim>``, ``ndim`` big-endian int32 sizes, then big-endian data), plain
  or gzip-compressed. ``write_idx`` builds test fixtures in exactly that format.
- ``FashionMNIST``: a ``TensorDataModule`` over the 60,000 training images (split into train
  and validation by ``val_fraction``) with the 10,000 test images as its test set. Images are
  float32 ``(N, 1, 28, 28)`` in ``[0, 1]``, labels int64. ``download=True`` fetches the four
  files from the canonical address and verifies their md5 checksums.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from torch import Tensor

from dllab.core.data.datamodule import TensorDataModule, TensorLoader, batched_loader
from dllab.core.data.download import download as fetch
from dllab.core.data.download import require_path
from dllab.core.runs import atomic_write_bytes

BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FILES: dict[str, tuple[str, str]] = {
    "train-images": ("train-images-idx3-ubyte.gz", "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    "train-labels": ("train-labels-idx1-ubyte.gz", "md5:25c81989df183df01b3e8a0aad5dffbe"),
    "test-images": ("t10k-images-idx3-ubyte.gz", "md5:bef4ecab320f06d8554ea6380940ec79"),
    "test-labels": ("t10k-labels-idx1-ubyte.gz", "md5:bb300cfdad3c16e7a12a480ee83cd310"),
}
CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
IMAGE_SHAPE = (28, 28)

# IDX type codes and their big-endian numpy dtypes
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_DTYPES.items()}


# ---- IDX files ---------------------------------------------------------------------------------
def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (gzip-compressed or not) into a native-endian numpy array.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file is not valid IDX: bad magic number, unknown type code, or a
            size that does not match its header (truncated or padded).
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise ValueError(f"{path}: corrupt gzip data ({error})") from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (the magic number must start with 0x0000)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX type code {code:#04x}")
    if ndim == 0:
        raise ValueError(f"{path}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes, need {header})")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path}: IDX data is {len(raw) - header} bytes but the header {shape} "
            f"of {dtype.name} needs {expected} (truncated or wrong file)"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file, gzip-compressed if ``path`` ends in ``.gz`` (atomic).

    Raises:
        TypeError: if the dtype has no IDX code (uint8, int8, int16, int32, float32, float64).
        ValueError: if the array has no dimensions or more than 255.
    """
    array = np.asarray(array)
    code = _IDX_CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(f"IDX cannot store dtype {array.dtype}")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"IDX needs 1 to 255 dimensions, got {array.ndim}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + array.astype(_IDX_DTYPES[code]).tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)  # mtime=0: the same array, the same bytes
    return atomic_write_bytes(path, payload)


def text_labels(labels: Iterable[int]) -> list[str]:
    """Class names of integer labels (d2l's ``text_labels``); labels must be in 0..9."""
    names = []
    for label in labels:
        index = int(label)
        if not 0 <= index < len(CLASSES):
            raise ValueError(f"Fashion-MNIST labels are 0..9, got {index}")
        names.append(CLASSES[index])
    return names


# ---- the data module ---------------------------------------------------------------------------
class FashionMNIST(TensorDataModule):
    """Fashion-MNIST read from ``root/fashion_mnist/*.gz`` in the published IDX format.

    Args:
        root: data folder (default ``$DLLAB_DATA_DIR`` or ``~/.cache/dllab``).
        download: fetch missing files from ``BASE_URL`` and verify their checksums.
        batch_size: batch size of every loader.
        val_fraction: share of the training images held out for validation.
        seed: seed of the validation split and the shuffling.

    Raises:
        FileNotFoundError: (on ``setup``) if a file is missing and ``download`` is False.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        download: bool = False,
        batch_size: int = 128,
        val_fraction: float = 0.1,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, val_fraction=val_fraction, seed=seed, root=root)
        if not isinstance(download, bool):
            raise TypeError(f"download must be a bool, got {type(download).__name__}")
        self.download = download
        self.folder = self.root / "fashion_mnist"
        self.test_tensors: tuple[Tensor, Tensor] | None = None

    def prepare_data(self) -> None:
        """Download every missing file when ``download=True`` (Lightning runs it on rank 0)."""
        if self.download:
            for key in FILES:
                self._file(key)

    def build(self) -> tuple[Tensor, Tensor]:
        return self._load("train")

    def test_dataloader(self) -> TensorLoader:
        if self.test_tensors is None:
            self.test_tensors = self._load("test")
        return batched_loader(*self.test_tensors, batch_size=self.batch_size, shuffle=False)

    def _file(self, key: str) -> Path:
        name, checksum = FILES[key]
        if self.download:
            return fetch(BASE_URL + name, checksum, self.folder)
        return require_path(self.folder / name, f"Fashion-MNIST file {name}")

    def _load(self, split: str) -> tuple[Tensor, Tensor]:
        """Read one split: images ``(N, 1, 28, 28)`` float32 in [0, 1], labels ``(N,)`` int64."""
        import torch

        images_path, labels_path = self._file(f"{split}-images"), self._file(f"{split}-labels")
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE or images.dtype != np.uint8:
            raise ValueError(
                f"{images_path}: expected uint8 images of shape (N, 28, 28), "
                f"got {images.dtype} {images.shape}"
            )
        if labels.shape != images.shape[:1] or labels.dtype != np.uint8:
            raise ValueError(
                f"{labels_path}: expected {len(images)} uint8 labels, got {labels.dtype} "
                f"{labels.shape}"
            )
        if labels.size and labels.max() >= len(CLASSES):
            raise ValueError(f"{labels_path}: labels must be in 0..9, found {labels.max()}")
        X = torch.from_numpy(images).unsqueeze(1).float().div_(255.0)  # (N, 1, 28, 28)
        y = torch.from_numpy(labels.astype(np.int64))  # (N,)
        return X, y
