"""Tests for dllab.core.data.fashion_mnist on tiny IDX gzip fixtures built in tmp_path."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from dllab.core.data import fashion_mnist as fm
from dllab.core.data.download import ChecksumError
from dllab.core.data.fashion_mnist import CLASSES, FashionMNIST, read_idx, text_labels, write_idx
from dllab.core.metrics import accuracy


def class_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """28x28 uint8 images: dim noise plus a bright 5x5 block whose place depends on the class."""
    images = rng.integers(0, 60, size=(len(labels), 28, 28), dtype=np.uint8)
    for i, c in enumerate(labels):
        row, col = 2 + 5 * (c % 5), 4 + 12 * (c // 5)
        images[i, row : row + 5, col : col + 5] = 255
    return images


def make_fixture(folder: Path, n_train: int = 120, n_test: int = 30, seed: int = 0) -> dict:
    """The four Fashion-MNIST files, in the published format, with learnable content."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        arrays[f"{split}-images"] = class_images(labels, rng)
        arrays[f"{split}-labels"] = labels
    for key, array in arrays.items():
        write_idx(folder / fm.FILES[key][0], array)
    return arrays


def idx_bytes(array: np.ndarray, code: int, big_endian_dtype: str) -> bytes:
    """The IDX encoding written out by hand with ``struct`` (the format's reference)."""
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(big_endian_dtype).tobytes()


# ---- IDX ---------------------------------------------------------------------------------------
IDX_TYPES = [(np.uint8, 0x08, ">u1"), (np.int8, 0x09, ">i1"), (np.int16, 0x0B, ">i2"),
             (np.int32, 0x0C, ">i4"), (np.float32, 0x0D, ">f4"), (np.float64, 0x0E, ">f8")]  # fmt: skip


@pytest.mark.parametrize(("dtype", "code", "big_endian"), IDX_TYPES)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_matches_the_format_written_by_hand(tmp_path, dtype, code, big_endian, suffix):
    rng = np.random.default_rng(code)
    array = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    encoded = idx_bytes(array, code, big_endian)
    by_hand = tmp_path / f"hand{suffix}"
    by_hand.write_bytes(gzip.compress(encoded) if suffix else encoded)
    read = read_idx(by_hand)
    assert read.dtype == np.dtype(dtype) and read.shape == array.shape
    np.testing.assert_array_equal(read, array)  # exact: no arithmetic involved
    written = write_idx(tmp_path / f"ours{suffix}", array).read_bytes()
    assert (gzip.decompress(written) if suffix else written) == encoded


def test_write_idx_is_deterministic_and_one_dimensional_works(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    a = write_idx(tmp_path / "a.gz", labels).read_bytes()
    b = write_idx(tmp_path / "b.gz", labels).read_bytes()
    assert a == b
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), labels)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gz", "b.gz"]


def corrupt_files() -> dict[str, bytes]:
    good = idx_bytes(np.zeros((2, 3), np.uint8), 0x08, ">u1")
    return {
        "truncated data": good[:-1],
        "extra bytes": good + b"\x00",
        "bad magic": b"\x01" + good[1:],
        "unknown type": good[:2] + b"\x0a" + good[3:],
        "no dimensions": b"\x00\x00\x08\x00",
        "truncated header": good[:6],
        "empty": b"",
        "corrupt gzip": gzip.compress(good)[:-8] + b"garbage!",
    }


@pytest.mark.parametrize("case", sorted(corrupt_files()))
def test_read_idx_rejects_bad_files(tmp_path, case):
    path = tmp_path / "bad.idx"
    path.write_bytes(corrupt_files()[case])
    with pytest.raises(ValueError, match=r"bad\.idx"):
        read_idx(path)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope.gz")


@pytest.mark.parametrize(
    ("array", "error", "match"),
    [
        (np.zeros(3, dtype=np.int64), TypeError, "cannot store dtype int64"),
        (np.zeros(3, dtype=bool), TypeError, "cannot store dtype bool"),
        (np.array(5, dtype=np.uint8), ValueError, "1 to 255 dimensions"),
    ],
)
def test_write_idx_rejects_bad_arrays(tmp_path, array, error, match):
    with pytest.raises(error, match=match):
        write_idx(tmp_path / "x.gz", array)
    assert list(tmp_path.iterdir()) == []


def test_class_names():
    assert len(CLASSES) == 10 and len(set(CLASSES)) == 10
    assert text_labels(torch.tensor([0, 9, 1])) == [CLASSES[0], CLASSES[9], CLASSES[1]]
    with pytest.raises(ValueError, match=r"0\.\.9, got 10"):
        text_labels([3, 10])


# ---- the data module ---------------------------------------------------------------------------
def test_fashion_mnist_reads_the_fixture(tmp_path):
    arrays = make_fixture(tmp_path / "fashion_mnist")
    data = FashionMNIST(root=tmp_path, batch_size=16, val_fraction=0.25, seed=3)
    X, y = data.build()
    assert X.shape == (120, 1, 28, 28) and X.dtype == torch.float32
    assert y.shape == (120,) and y.dtype == torch.int64
    assert X.min() >= 0.0 and X.max() <= 1.0
    torch.testing.assert_close(X * 255, torch.from_numpy(arrays["train-images"]).float()[:, None],
                               atol=1e-4, rtol=0)  # fmt: skip
    assert y.tolist() == arrays["train-labels"].tolist()
    data.setup("fit")
    assert len(data.train_tensors[0]) == 90 and len(data.val_tensors[0]) == 30
    batches = list(data.test_dataloader())
    assert sum(len(b[1]) for b in batches) == 30
    assert torch.cat([b[1] for b in batches]).tolist() == arrays["test-labels"].tolist()


def test_fashion_mnist_uses_the_data_dir_variable(tmp_path, monkeypatch):
    make_fixture(tmp_path / "env" / "fashion_mnist", n_train=20, n_test=5)
    monkeypatch.setenv("DLLAB_DATA_DIR", str(tmp_path / "env"))
    assert len(FashionMNIST().build()[1]) == 20


def test_missing_files_name_the_path_and_the_flag(tmp_path):
    data = FashionMNIST(root=tmp_path)
    with pytest.raises(FileNotFoundError) as info:
        data.setup()
    message = str(info.value)
    assert str(tmp_path / "fashion_mnist" / "train-images-idx3-ubyte.gz") in message
    assert "download=True" in message and "--download" in message
    assert not (tmp_path / "fashion_mnist").exists()


def serve_fixture(tmp_path: Path, monkeypatch) -> dict:
    """Put a fixture behind a file:// base URL with its own md5 checksums."""
    source = tmp_path / "mirror"
    arrays = make_fixture(source, n_train=40, n_test=10)
    files = {
        key: (name, f"md5:{hashlib.md5((source / name).read_bytes()).hexdigest()}")
        for key, (name, _) in fm.FILES.items()
    }
    monkeypatch.setattr(fm, "BASE_URL", source.as_uri() + "/")
    monkeypatch.setattr(fm, "FILES", files)
    return arrays


def test_download_true_fetches_verifies_and_loads(tmp_path, monkeypatch):
    arrays = serve_fixture(tmp_path, monkeypatch)
    data = FashionMNIST(root=tmp_path / "root", download=True, val_fraction=0.0)
    data.prepare_data()
    names = sorted(name for name, _ in fm.FILES.values())
    assert sorted(p.name for p in (tmp_path / "root" / "fashion_mnist").iterdir()) == names
    data.setup()
    assert data.train_tensors[1].tolist() != []
    assert sorted(data.train_tensors[1].tolist()) == sorted(arrays["train-labels"].tolist())
    assert data.val_tensors is None


def test_download_with_a_wrong_checksum_leaves_nothing(tmp_path, monkeypatch):
    serve_fixture(tmp_path, monkeypatch)
    bad = {k: (name, "md5:" + "0" * 32) for k, (name, _) in fm.FILES.items()}
    monkeypatch.setattr(fm, "FILES", bad)
    data = FashionMNIST(root=tmp_path / "root", download=True)
    with pytest.raises(ChecksumError, match=r"expected md5 0{32}"):
        data.prepare_data()
    assert list((tmp_path / "root" / "fashion_mnist").iterdir()) == []


@pytest.mark.parametrize(
    ("key", "array", "match"),
    [
        ("train-images", np.zeros((4, 27, 28), np.uint8), r"shape \(N, 28, 28\)"),
        ("train-images", np.zeros((4, 28, 28), np.float32), "uint8 images"),
        ("train-labels", np.zeros(3, np.uint8), "expected 4 uint8 labels"),
        ("train-labels", np.full(4, 10, np.uint8), r"labels must be in 0\.\.9"),
    ],
)
def test_wrong_content_is_refused(tmp_path, key, array, match):
    folder = tmp_path / "fashion_mnist"
    write_idx(folder / fm.FILES["train-images"][0], np.zeros((4, 28, 28), np.uint8))
    write_idx(folder / fm.FILES["train-labels"][0], np.zeros(4, np.uint8))
    write_idx(folder / fm.FILES[key][0], array)
    with pytest.raises(ValueError, match=match):
        FashionMNIST(root=tmp_path).build()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"download": "yes"}, TypeError, "download must be a bool"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"val_fraction": 1.0}, ValueError, "val_fraction"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        FashionMNIST(root=tmp_path, **kwargs)


def test_a_softmax_model_learns_the_fixture(tmp_path):
    make_fixture(tmp_path / "fashion_mnist", n_train=300, n_test=50)
    data = FashionMNIST(root=tmp_path, batch_size=32, val_fraction=0.2, seed=0)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 28, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(5):
        for X, y in data.train_dataloader():
            optimizer.zero_grad()
            F.cross_entropy(model(X), y).backward()
            optimizer.step()
    with torch.no_grad():
        val = [accuracy(model(X), y) for X, y in data.val_dataloader()]
        test = [accuracy(model(X), y) for X, y in data.test_dataloader()]
    assert float(torch.stack(val).mean()) > 0.9
    assert float(torch.stack(test).mean()) > 0.9
