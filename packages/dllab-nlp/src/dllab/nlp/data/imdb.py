"""The Large Movie Review Dataset (IMDb, Maas et al. 2011) read from its published tree.

``aclImdb_v1.tar.gz`` (from ``IMDB_URL``, md5 ``IMDB_MD5``) unpacks to::

    aclImdb/train/pos/*.txt   12,500 positive reviews (rating >= 7), one review per file
    aclImdb/train/neg/*.txt   12,500 negative reviews (rating <= 4)
    aclImdb/test/pos|neg/...  the same for the test split
    aclImdb/train/unsup/...   unlabelled reviews (not read)

File names are ``<id>_<rating>.txt``. Reviews keep their HTML line breaks (``<br />``); every
tokenizer of dllab.nlp turns them into spaces. A few files are not valid UTF-8: they are
decoded as Latin-1 instead (every byte is a Latin-1 character), so no review is dropped and
no byte is silently replaced.
"""

from __future__ import annotations

import os
from pathlib import Path

from dllab.core.checks import check_choice
from dllab.core.data.download import download as fetch
from dllab.core.data.download import extract_archive, require_path

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_MD5 = "7c2ac02c03563afcf9b574c7e56c153a"
"""The published md5 of ``aclImdb_v1.tar.gz`` (84,125,825 bytes)."""
FOLDER = "aclImdb"
SPLITS = ("train", "test")
LABELS = {"neg": 0, "pos": 1}


def imdb_folder(root: str | os.PathLike[str], download: bool = False) -> Path:
    """``root/imdb/aclImdb``; with ``download``, fetched (md5-checked) and unpacked if missing.

    Raises:
        FileNotFoundError: the tree is missing and ``download`` is False (names the path and
            ``--download``).
    """
    folder = Path(root).expanduser() / "imdb"
    tree = folder / FOLDER
    complete = all((tree / s / label).is_dir() for s in SPLITS for label in LABELS)
    if download and not complete:
        archive = fetch(IMDB_URL, f"md5:{IMDB_MD5}", folder)
        extract_archive(archive, folder)
    return require_path(tree, "IMDb reviews (aclImdb)")


def read_review(path: Path) -> str:
    """One review file: UTF-8, or Latin-1 when the bytes are not valid UTF-8."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_imdb(root: str | os.PathLike[str], split: str = "train") -> tuple[list[str], list[int]]:
    """The reviews and labels (1 = positive) of ``root/<split>/{pos,neg}/*.txt``.

    ``root`` is the ``aclImdb`` folder. Positive reviews come first, each class in file-name
    order, so the result does not depend on the file system's listing order.

    Raises:
        FileNotFoundError: a ``pos`` or ``neg`` folder of the split is missing.
        ValueError: the split holds no review at all.
    """
    split = check_choice(split, "split", SPLITS)
    texts: list[str] = []
    labels: list[int] = []
    for name in ("pos", "neg"):
        folder = require_path(Path(root) / split / name, f"IMDb {split}/{name} reviews")
        for path in sorted(folder.glob("*.txt")):
            texts.append(read_review(path))
            labels.append(LABELS[name])
    if not texts:
        raise ValueError(f"no IMDb reviews (*.txt) in {Path(root) / split}/pos or /neg")
    return texts, labels
