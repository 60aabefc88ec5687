"""IMDb on a tiny aclImdb fixture: the real tree, Latin-1 bytes, <br /> tags, download, safety."""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

import dllab.nlp.data.imdb as imdb
from dllab.core.data.download import ChecksumError, UnsafeArchiveError
from dllab.nlp.data.imdb import imdb_folder, read_imdb
from dllab.nlp.data.sentiment import SentimentData

REVIEWS = {
    ("train", "pos", "0_9.txt"): "A superb film.<br /><br />The acting was great.",
    ("train", "pos", "1_10.txt"): "Loved it, never boring.",
    ("train", "pos", "2_8.txt"): "Wonderful music and a great cast.",
    ("train", "neg", "0_2.txt"): "Dull plot.<br />Bad acting.",
    ("train", "neg", "1_1.txt"): "Not good at all, awful.",
    ("train", "neg", "2_3.txt"): "Boring and weak.",
    ("test", "pos", "0_7.txt"): "Great fun.",
    ("test", "neg", "0_4.txt"): "Terrible.",
}
LATIN1 = ("train", "neg", "3_2.txt"), "Caf\xe9 scenes were awful".encode("latin-1")


def make_aclimdb(root):
    """Write ``root/imdb/aclImdb`` as published (plus one unlabelled review); return the tree."""
    tree = root / "imdb" / "aclImdb"
    for (split, label, name), text in REVIEWS.items():
        (tree / split / label).mkdir(parents=True, exist_ok=True)
        (tree / split / label / name).write_text(text, encoding="utf-8")
    (split, label, name), data = LATIN1
    (tree / split / label / name).write_bytes(data)
    (tree / "train" / "unsup").mkdir()
    (tree / "train" / "unsup" / "0_0.txt").write_text("unlabelled")
    (tree / "README").write_text("Large Movie Review Dataset v1.0")
    return tree


def test_reads_both_classes_of_a_split_with_labels_in_file_order(tmp_path):
    texts, labels = read_imdb(make_aclimdb(tmp_path), "train")
    assert labels == [1, 1, 1, 0, 0, 0, 0]
    assert texts[0] == REVIEWS[("train", "pos", "0_9.txt")] and "unlabelled" not in texts
    assert read_imdb(tmp_path / "imdb" / "aclImdb", "test") == (["Great fun.", "Terrible."], [1, 0])


def test_a_non_utf8_review_is_read_as_latin1(tmp_path):
    texts, _ = read_imdb(make_aclimdb(tmp_path), "train")
    assert "Café scenes were awful" in texts


def test_sentiment_data_reads_imdb_and_drops_br_tags(tmp_path):
    make_aclimdb(tmp_path)
    data = SentimentData(None, dataset="imdb", root=tmp_path, max_len=12, val_fraction=0.0)
    assert "br" not in data.encoder.vocab and "café" in data.encoder.vocab
    ids, valid_lens, y = data.tensors("train")
    assert ids.shape == (7, 12) and y.tolist() == [1, 1, 1, 0, 0, 0, 0]
    assert valid_lens.tolist()[:2] == [9, 6]  # "<br /><br />" left no token behind
    assert len(data.tensors("test")[0]) == 2
    subset = SentimentData(None, dataset="imdb", root=tmp_path, n_train=3, seed=1)
    assert len(subset.texts("train")) == 3


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


def test_download_checks_the_md5_and_unpacks_the_archive(tmp_path, monkeypatch):
    archive = _archive(make_aclimdb(tmp_path / "source"), tmp_path / "aclImdb_v1.tar.gz")
    monkeypatch.setattr(imdb, "IMDB_URL", archive.as_uri())
    monkeypatch.setattr(imdb, "IMDB_MD5", hashlib.md5(archive.read_bytes()).hexdigest())
    tree = imdb_folder(tmp_path / "fresh", download=True)
    assert read_imdb(tree, "test")[1] == [1, 0]
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
