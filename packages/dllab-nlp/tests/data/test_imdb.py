"""IMDb on the tiny aclImdb fixture (conftest): the real tree, Latin-1 bytes, <br /> tags,
download and safe extraction."""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

import dllab.nlp.data.imdb as imdb
from dllab.core.data.download import ChecksumError, UnsafeArchiveError
from dllab.nlp.data.imdb import imdb_folder, read_imdb
from dllab.nlp.data.sentiment import IMDbData, SentimentData


def _tree(imdb_root):
    """The conftest's aclImdb tree (13 reviews per class and split, one Latin-1), plus an
    unlabelled review that must not be read."""
    tree = imdb_root / "imdb" / "aclImdb"
    (tree / "train" / "unsup").mkdir()
    (tree / "train" / "unsup" / "0_0.txt").write_text("unlabelled")
    return tree


def test_reads_both_classes_of_a_split_with_labels_in_file_order(imdb_root):
    texts, labels = read_imdb(_tree(imdb_root), "train")
    assert labels == [1] * 13 + [0] * 12 and "unlabelled" not in texts
    assert texts[0].startswith("A wonderful film.<br />")  # 0_9.txt, the first file name
    assert texts[13].startswith("An awful film.")
    assert read_imdb(imdb_root / "imdb" / "aclImdb", "test")[1] == labels


def test_a_non_utf8_review_is_read_as_latin1(imdb_root):
    texts, _ = read_imdb(_tree(imdb_root), "train")
    assert "A charming café scene, a superb naïve hero: wonderful." in texts


def test_sentiment_data_reads_imdb_and_drops_br_tags(imdb_root):
    data = SentimentData(None, dataset="imdb", root=imdb_root, max_len=40, val_fraction=0.0)
    assert "br" not in data.encoder.vocab and "café" in data.encoder.vocab
    ids, valid_lens, y = data.tensors("train")
    assert ids.shape == (25, 40) and y.tolist() == [1] * 13 + [0] * 12
    assert valid_lens[0] == 14  # "<br /><br />" left no token behind
    assert len(data.tensors("test")[0]) == 25
    subset = SentimentData(None, dataset="imdb", root=imdb_root, n_train=3, seed=1)
    assert len(subset.texts("train")) == 3


def test_imdb_data_is_sentiment_data_on_imdb(imdb_root):
    data = IMDbData(root=imdb_root, batch_size=4)
    assert data.dataset == "imdb" and data.max_len == 256
    ids, _, y = next(iter(data.test_dataloader()))
    assert ids.shape == (4, 256) and y.tolist() == [1, 1, 1, 1]
    with pytest.raises(TypeError, match="use SentimentData"):
        IMDbData(root=imdb_root, dataset="synthetic")


def test_missing_tree_names_the_path_and_the_download_flag(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        SentimentData(None, dataset="imdb", root=tmp_path).texts("train")
    assert str(tmp_path / "imdb" / "aclImdb") in str(err.value) and "--download" in str(err.value)
    (tmp_path / "aclImdb" / "train" / "pos").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="train/neg"):
        read_imdb(tmp_path / "aclImdb", "train")
    (tmp_path / "aclImdb" / "train" / "neg").mkdir()
    with pytest.raises(ValueError, match="no IMDb reviews"):
        read_imdb(tmp_path / "aclImdb", "train")
    with pytest.raises(ValueError, match="split must be one of"):
        read_imdb(tmp_path / "aclImdb", "unsup")


def _archive(tree, destination):
    with tarfile.open(destination, "w:gz") as tar:
        tar.add(tree, arcname="aclImdb")
    return destination


def test_download_checks_the_md5_and_unpacks_the_archive(imdb_root, tmp_path, monkeypatch):
    archive = _archive(imdb_root / "imdb" / "aclImdb", tmp_path / "aclImdb_v1.tar.gz")
    monkeypatch.setattr(imdb, "IMDB_URL", archive.as_uri())
    monkeypatch.setattr(imdb, "IMDB_MD5", hashlib.md5(archive.read_bytes()).hexdigest())
    tree = imdb_folder(tmp_path / "fresh", download=True)
    assert read_imdb(tree, "test")[1] == [1] * 13 + [0] * 12
    monkeypatch.setattr(imdb, "IMDB_MD5", "0" * 32)
    with pytest.raises(ChecksumError, match="checksum mismatch"):
        imdb_folder(tmp_path / "other", download=True)
    assert not (tmp_path / "other" / "imdb" / "aclImdb").exists()


def test_an_archive_escaping_its_folder_is_refused_and_nothing_is_extracted(tmp_path, monkeypatch):
    archive = tmp_path / "aclImdb_v1.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        data = b"pwned"
        info = tarfile.TarInfo("aclImdb/../../escaped.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    monkeypatch.setattr(imdb, "IMDB_URL", archive.as_uri())
    monkeypatch.setattr(imdb, "IMDB_MD5", hashlib.md5(archive.read_bytes()).hexdigest())
    with pytest.raises(UnsafeArchiveError, match=r"\.\."):
        imdb_folder(tmp_path / "root", download=True)
    assert not (tmp_path / "escaped.txt").exists()
    assert not (tmp_path / "root" / "imdb" / "aclImdb").exists()
