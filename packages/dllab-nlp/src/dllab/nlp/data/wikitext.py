"""WikiText-2 (Merity et al. 2016) read as BERT's pretraining paragraphs, from its published files.

``wikitext-2-v1.zip`` (from ``WIKITEXT2_URL``, md5 ``WIKITEXT2_MD5``) unpacks to
``wikitext-2/wiki.{train,valid,test}.tokens``: one Wikipedia paragraph per line, already
tokenized (``@-@`` for inner hyphens, ``<unk>`` for rare words), headings as ``= Title =``
lines, and blank lines between. ``read_wikitext2`` keeps what d2l's ``_read_wiki`` keeps:
the lowercased lines that hold at least two sentences, split on ``" . "``.

The address is the one the dataset was published at; it has been reported offline at times.
The md5 lets a copy fetched from elsewhere be checked before it is used.
"""

from __future__ import annotations

import os
from pathlib import Path

from dllab.core.checks import check_choice
from dllab.core.data.download import download as fetch
from dllab.core.data.download import extract_archive, require_path

WIKITEXT2_URL = "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-v1.zip"
WIKITEXT2_MD5 = "542ccefacc6c27f945fb54453812b3cd"
"""The md5 of ``wikitext-2-v1.zip`` as published alongside the dataset."""
FOLDER = "wikitext-2"
SPLITS = ("train", "valid", "test")


def wikitext2_folder(root: str | os.PathLike[str], download: bool = False) -> Path:
    """``root/wikitext2/wikitext-2``; with ``download``, fetched (md5-checked) and unpacked.

    Raises:
        FileNotFoundError: the files are missing and ``download`` is False (names the path
            and ``--download``).
    """
    folder = Path(root).expanduser() / "wikitext2"
    tree = folder / FOLDER
    if download and not all((tree / f"wiki.{s}.tokens").is_file() for s in SPLITS):
        archive = fetch(WIKITEXT2_URL, f"md5:{WIKITEXT2_MD5}", folder)
        extract_archive(archive, folder)
    return require_path(tree, "WikiText-2")


def read_paragraphs(path: str | os.PathLike[str]) -> list[list[str]]:
    """Paragraphs (lists of >= 2 lowercased sentences) of one ``wiki.*.tokens`` file, in order.

    Raises:
        ValueError: the file holds no paragraph of two sentences or more.
    """
    paragraphs = []
    with Path(path).open(encoding="utf-8") as handle:
        for line in handle:
            sentences = [s for s in line.strip().lower().split(" . ") if s.strip()]
            if len(sentences) >= 2:
                paragraphs.append(sentences)
    if not paragraphs:
        raise ValueError(f"{path} holds no paragraph of two sentences or more")
    return paragraphs


def read_wikitext2(
    root: str | os.PathLike[str] | None = None, split: str = "train", download: bool = False
) -> list[list[str]]:
    """The paragraphs of a WikiText-2 split (see ``read_paragraphs``).

    Args:
        root: the data folder (default ``$DLLAB_DATA_DIR`` or ``~/.cache/dllab``); the files
            live in ``root/wikitext2/wikitext-2/``.
        split: ``"train"``, ``"valid"`` or ``"test"``.
        download: fetch and unpack the archive when the files are missing.

    Raises:
        FileNotFoundError: the split's file is missing (the message names ``--download``).
        ValueError: the file holds no paragraph of two sentences or more.
    """
    from dllab.core.data.datamodule import data_root

    split = check_choice(split, "split", SPLITS)
    folder = wikitext2_folder(data_root(root), download)
    return read_paragraphs(require_path(folder / f"wiki.{split}.tokens", f"WikiText-2 {split}"))
