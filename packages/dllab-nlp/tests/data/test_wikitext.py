"""WikiText-2 on a tiny fixture in the published layout: paragraphs as d2l reads them, download."""

from __future__ import annotations

import hashlib
import zipfile

import pytest

import dllab.nlp.data.wikitext as wikitext
from dllab.nlp.data.wikitext import read_wikitext2

TRAIN = """ 
 = Valkyria Chronicles III = 
 
 Senjō no Valkyria 3 is a tactical role @-@ playing game . It was released in 2011 . 
 The game 's <unk> were praised . 
 
 = = Gameplay = = 
 
 As with previous games , players fight battles . Each unit has a class . Units level up . 
"""


def make_wikitext2(root):
    """Write ``root/wikitext2/wikitext-2/wiki.{train,valid,test}.tokens``; return the folder."""
    folder = root / "wikitext2" / "wikitext-2"
    folder.mkdir(parents=True)
    for split in ("train", "valid", "test"):
        text = TRAIN if split == "train" else " = Title = \n One sentence . Two sentences . \n"
        (folder / f"wiki.{split}.tokens").write_text(text, encoding="utf-8")
    return folder


def test_keeps_lowercased_paragraphs_of_two_sentences_or_more(tmp_path):
    make_wikitext2(tmp_path)
    paragraphs = read_wikitext2(tmp_path, "train")
    assert paragraphs == [
        ["senjō no valkyria 3 is a tactical role @-@ playing game", "it was released in 2011 ."],
        ["as with previous games , players fight battles", "each unit has a class",
         "units level up ."],
    ]  # fmt: skip
    assert read_wikitext2(tmp_path, "valid") == [["one sentence", "two sentences ."]]


def test_missing_or_empty_files_and_bad_splits_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("DLLAB_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        read_wikitext2()  # the data root comes from $DLLAB_DATA_DIR
    assert str(tmp_path / "wikitext2" / "wikitext-2") in str(err.value)
    assert "--download" in str(err.value)
    folder = make_wikitext2(tmp_path)
    (folder / "wiki.test.tokens").write_text(" = Only a heading = \n")
    with pytest.raises(ValueError, match="no paragraph"):
        read_wikitext2(tmp_path, "test")
    (folder / "wiki.valid.tokens").unlink()
    with pytest.raises(FileNotFoundError, match="WikiText-2 valid"):
        read_wikitext2(tmp_path, "valid")
    with pytest.raises(ValueError, match="split must be one of"):
        read_wikitext2(tmp_path, "dev")


def test_download_checks_the_md5_and_unpacks_the_zip(tmp_path, monkeypatch):
    folder = make_wikitext2(tmp_path / "source")
    archive = tmp_path / "wikitext-2-v1.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, f"wikitext-2/{path.name}")
    monkeypatch.setattr(wikitext, "WIKITEXT2_URL", archive.as_uri())
    monkeypatch.setattr(wikitext, "WIKITEXT2_MD5", hashlib.md5(archive.read_bytes()).hexdigest())
    assert len(read_wikitext2(tmp_path / "fresh", download=True)) == 2
    assert (tmp_path / "fresh" / "wikitext2" / "wikitext-2" / "wiki.test.tokens").is_file()
