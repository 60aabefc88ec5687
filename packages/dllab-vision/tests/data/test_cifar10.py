"""CIFAR10Data on tiny fixtures in the published format: reading, download, bad and unsafe files."""

from __future__ import annotations

import hashlib
import os
import pickle

import numpy as np
import pytest
import torch

from dllab.vision.data.cifar10 import CIFAR10Data, UnsafePickleError, load_batch


def test_reads_every_batch_as_uint8_images_in_channel_planes(cifar_root):
    root, arrays = cifar_root
    data = CIFAR10Data(root=root, val_fraction=0.2, batch_size=3, augment=False)
    data.setup("fit")
    train_x, train_y = data.train_tensors
    val_x, _ = data.val_tensors
    assert train_x.dtype == torch.uint8 and train_x.shape == (16, 3, 32, 32)
    assert val_x.shape == (4, 3, 32, 32) and train_y.dtype == torch.int64
    pool = np.concatenate([arrays[f"data_batch_{i}"][0] for i in range(1, 6)])
    everything = torch.cat([train_x, val_x])
    assert sorted(map(bytes, everything.numpy())) == sorted(map(bytes, pool))
    test_x, test_y = next(iter(data.test_dataloader()))
    images, labels = arrays["test_batch"]
    assert torch.equal(test_x, torch.from_numpy(images[:3]))  # red plane first, as published
    assert test_y.tolist() == labels[:3]


def test_python3_pickles_of_the_same_dict_read_the_same(tmp_path, cifar_files):
    images = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3, 32, 32)
    batch = cifar_files.batch_dict(images, [3, 7], "data_batch_1")
    py2 = load_batch(cifar_files.write_batch(tmp_path / "py2", batch, python2=True))
    py3 = load_batch(cifar_files.write_batch(tmp_path / "py3", batch, python2=False))
    for read in (py2, py3):
        assert np.array_equal(read[0], images) and read[1].tolist() == [3, 7]


def test_missing_data_names_the_path_and_the_download_flag(tmp_path):
    data = CIFAR10Data(root=tmp_path)
    with pytest.raises(FileNotFoundError) as err:
        data.setup("fit")
    assert str(tmp_path / "cifar10" / "cifar-10-batches-py") in str(err.value)
    assert "--download" in str(err.value)


def test_download_fetches_checks_md5_and_unpacks(cifar_root, cifar_files, tmp_path):
    root, _ = cifar_root
    archive = cifar_files.make_archive(root, tmp_path / "cifar-10-python.tar.gz")
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()

    class Local(CIFAR10Data):
        url = archive.as_uri()

    Local.md5 = md5
    data = Local(root=tmp_path / "fresh", download=True, augment=False)
    data.setup("fit")
    assert len(data.train_tensors[0]) + len(data.val_tensors[0]) == 20
    assert (tmp_path / "fresh" / "cifar10" / "cifar-10-python.tar.gz").is_file()
    Local.md5 = "0" * 32
    from dllab.core.data.download import ChecksumError

    with pytest.raises(ChecksumError, match="checksum mismatch"):
        Local(root=tmp_path / "other", download=True).setup("fit")
    assert not (tmp_path / "other" / "cifar10" / "cifar-10-batches-py").exists()


def test_published_address_and_checksum():
    assert CIFAR10Data.url == "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    assert CIFAR10Data.md5 == "c58f30108f718f92721af3b95e74349a"


class _RunsCode:
    """Unpickling this would run ``os.system`` (creating the marker file)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_would_run_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({"data": _RunsCode(marker), "labels": []}, protocol=2))
    with pytest.raises(UnsafePickleError, match=r"refusing to load (posix|os|nt)\.system"):
        load_batch(path)
    assert not marker.exists()
    evil = b"cbuiltins\neval\n(V__import__('os').system('touch " + str(marker).encode()
    evil += b"')\ntR."
    path.write_bytes(evil)
    with pytest.raises(UnsafePickleError, match=r"builtins\.eval"):
        load_batch(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "content, match",
    [
        (b"not a pickle at all", "not a CIFAR-10 python batch"),
        (pickle.dumps([1, 2, 3], protocol=2), "expected a dict with 'data' and 'labels'"),
        (pickle.dumps({"data": np.zeros((2, 3072), np.float32), "labels": [0, 1]}), "uint8"),
        (pickle.dumps({"data": np.zeros((2, 1024), np.uint8), "labels": [0, 1]}), "3072"),
        (pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [0]}), "2 images"),
        (pickle.dumps({"data": np.zeros((1, 3072), np.uint8), "labels": [12]}), "0..9"),
    ],
)
def test_files_that_are_not_cifar_batches_give_clear_errors(tmp_path, content, match):
    path = tmp_path / "data_batch_1"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match) as err:
        load_batch(path)
    assert str(path) in str(err.value)


def test_a_bad_batch_inside_the_data_folder_stops_setup(cifar_root):
    root, _ = cifar_root
    (root / "cifar10" / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"\x80\x02garbage")
    with pytest.raises(ValueError, match="data_batch_3"):
        CIFAR10Data(root=root).setup("fit")


def test_make_cifar_writes_python2_pickles(tmp_path, cifar_files):
    cifar_files.make_cifar(tmp_path)
    raw = (tmp_path / "cifar10" / "cifar-10-batches-py" / "data_batch_1").read_bytes()
    assert b"cnumpy.core.multiarray\n_reconstruct\n" in raw and b"_codecs" not in raw
