"""TranslationData on the numbers corpus and on a tiny fra.txt fixture in the published format."""

from __future__ import annotations

import hashlib
import warnings
import zipfile

import pytest
import torch

import dllab.nlp.data.translation as translation
from dllab.core.data.download import ChecksumError, UnsafeArchiveError
from dllab.nlp.data.translation import (
    TranslationData,
    fra_eng_file,
    preprocess_nmt,
    read_fra_eng,
)
from dllab.nlp.special import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from dllab.nlp.vocab import tokenize


def test_preprocessing_is_d2ls():
    assert preprocess_nmt("Go.") == "go ."
    assert preprocess_nmt("Cours\u202f!") == "cours !"
    assert preprocess_nmt("Ça alors\xa0!") == "ça alors !"
    assert preprocess_nmt("Hello,world? Yes!") == "hello ,world ? yes !"
    assert preprocess_nmt("Va !") == "va !"  # a space already there is not doubled


def test_reads_pairs_skipping_bad_lines_with_one_counting_warning(fra_root):
    with pytest.warns(UserWarning, match=r"skipped 2 lines \(1 without a tab, 1 empty") as record:
        pairs = read_fra_eng(fra_root)
    assert len(record) == 1
    assert len(pairs) == 12
    assert pairs[0] == ("Go.", "Va !")  # the attribution column is dropped
    assert pairs[3] == ("Who?", "Qui ?")  # a two-column line (d2l's copy)
    with pytest.warns(UserWarning, match="skipped 2"):
        assert read_fra_eng(fra_root / "fra-eng" / "fra.txt") == pairs  # the file itself


def test_a_file_without_pairs_or_a_missing_file_is_refused(tmp_path):
    (tmp_path / "fra.txt").write_text("no tab here\n\n", encoding="utf-8")
    with pytest.warns(UserWarning, match="skipped 2"), pytest.raises(ValueError, match="no tab"):
        read_fra_eng(tmp_path)
    with pytest.raises(FileNotFoundError, match="no English-French pairs file"):
        read_fra_eng(tmp_path / "elsewhere")
    with pytest.raises(FileNotFoundError) as err:
        TranslationData("fra-eng", root=tmp_path / "empty").pairs("train")
    assert str(tmp_path / "empty" / "fra-eng" / "fra.txt") in str(err.value)
    assert "--download" in str(err.value)


def _fra_data(fra_root, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fixture's two bad lines
        data = TranslationData("fra-eng", root=fra_root, num_steps=6, batch_size=4, **kwargs)
        data.setup()
    return data


def test_fra_eng_batches_follow_the_seq2seq_layout(fra_root):
    data = _fra_data(fra_root, min_freq=1)
    assert len(data.pairs("train")) + len(data.pairs("val")) == 12 and data.pairs("val")
    src, src_valid_lens, tgt_in, tgt_out = next(iter(data.train_dataloader()))
    assert src.shape == tgt_in.shape == tgt_out.shape == (4, 6) and src_valid_lens.shape == (4,)
    rows = torch.arange(4)
    assert (src[rows, src_valid_lens - 1] == EOS_ID).all()  # <eos> closes the valid part
    positions = torch.arange(6)
    assert (src[positions >= src_valid_lens[:, None]] == PAD_ID).all()
    assert (tgt_in[:, 0] == BOS_ID).all()
    assert torch.equal(tgt_in[:, 1:], tgt_out[:, :-1].masked_fill(tgt_out[:, :-1] == EOS_ID, 0))
    target_lens = (tgt_out != PAD_ID).sum(dim=1)
    assert (tgt_out[rows, target_lens - 1] == EOS_ID).all()


def test_encoders_come_from_the_training_pairs_only(fra_root):
    data = _fra_data(fra_root, min_freq=1)
    val_only = {t for _, fr in data.pairs("val") for t in tokenize(fr)} - {
        t for _, fr in data.pairs("train") for t in tokenize(fr)
    }
    assert val_only  # the fixture is small: validation has French words training lacks
    assert not any(token in data.tgt_encoder.vocab for token in val_only)
    assert "va" not in data.src_encoder.vocab  # source and target have their own vocabulary


def test_decode_target_gives_back_the_preprocessed_text(fra_root):
    data = _fra_data(fra_root, min_freq=1)
    *_, tgt_out = data.tensors("train")
    assert data.decode_target(tgt_out) == [fr for _, fr in data.pairs("train")]
    assert "arrête-toi !" in data.decode_target(tgt_out)  # no spaces around an inner hyphen


def test_numbers_round_trip_and_every_held_out_token_is_known():
    data = TranslationData(num_pairs=400, batch_size=32)
    data.setup()
    src, _, _, tgt_out = data.val_tensors
    assert len(src) == 40 and src.shape[1] == 16
    assert not (src == UNK_ID).any() and not (tgt_out == UNK_ID).any()
    assert data.decode_target(tgt_out) == [fr for _, fr in data.pairs("val")]
    again, _ = data.encode_source([en for en, _ in data.pairs("val")])
    assert torch.equal(again, src)  # the same path as the batches
    loader = data.val_dataloader()
    assert sum(len(batch[0]) for batch in loader) == 40


def test_long_texts_are_cut_but_keep_bos_and_eos():
    data = TranslationData(num_pairs=100, num_steps=5)
    with pytest.warns(UserWarning, match="truncated"):
        src, src_valid_lens, tgt_in, tgt_out = data.tensors("train")
    assert src.shape == (90, 5) and (src_valid_lens <= 5).all()
    assert (src[torch.arange(90), src_valid_lens - 1] == EOS_ID).all()
    assert (tgt_in[:, 0] == BOS_ID).all() and (tgt_out == EOS_ID).sum() == 90


def test_given_encoders_are_reused_as_a_resumed_run_needs():
    first = TranslationData(num_pairs=200)
    second = TranslationData(
        num_pairs=200, seed=1, src_encoder=first.src_encoder, tgt_encoder=first.tgt_encoder
    )
    assert second.src_encoder is first.src_encoder and second.tgt_encoder is first.tgt_encoder
    assert second.tgt_vocab_size == first.tgt_vocab_size


def test_bpe_tokenizers_round_trip():
    data = TranslationData(num_pairs=300, tokenizer="bpe", vocab_size=120, num_steps=40)
    assert data.src_encoder.kind == data.tgt_encoder.kind == "bpe"
    assert data.tgt_vocab_size <= 120
    french = [fr for _, fr in data.pairs("val")]
    pieces = sum(len(data.tgt_encoder.tokenize(fr)) for fr in french)
    assert pieces > sum(len(fr.split()) for fr in french)  # some words are cut into pieces
    *_, tgt_out = data.tensors("val")
    assert data.decode_target(tgt_out) == [fr for _, fr in data.pairs("val")]


def test_source_text_that_is_empty_or_unknown_is_reported():
    data = TranslationData(num_pairs=100)
    with pytest.raises(ValueError, match="empty text"):
        data.encode_source(["one dog .", "   "])
    with pytest.warns(UserWarning, match="only of unknown tokens"):
        src, valid_lens = data.encode_source(["xylophone zebra"])
    assert src[0, :3].tolist() == [UNK_ID, UNK_ID, EOS_ID] and valid_lens.tolist() == [3]
    with pytest.raises(ValueError, match="2-D"):
        data.decode_target(torch.tensor([1, 2, 3]))


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"dataset": "deu-eng"}, "dataset must be one of"),
        ({"tokenizer": "wordpiece"}, "tokenizer must be one of"),
        ({"num_steps": 1}, "num_steps must be"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"num_pairs": 1}, "num_pairs"),
    ],
)
def test_bad_settings_are_refused(kwargs, error):
    with pytest.raises(ValueError, match=error):
        TranslationData(**kwargs)
    with pytest.raises(TypeError, match="src_encoder must be a TextEncoder"):
        TranslationData(src_encoder="vocab.json")


def _zip(fra_root, destination, member="fra-eng/fra.txt"):
    with zipfile.ZipFile(destination, "w") as archive:
        archive.write(fra_root / "fra-eng" / "fra.txt", member)
    return destination


def test_download_checks_the_sha1_and_unpacks_the_archive(fra_root, tmp_path, monkeypatch):
    archive = _zip(fra_root, tmp_path / "fra-eng.zip")
    monkeypatch.setattr(translation, "FRA_ENG_URL", archive.as_uri())
    monkeypatch.setattr(translation, "FRA_ENG_SHA1", hashlib.sha1(archive.read_bytes()).hexdigest())
    path = fra_eng_file(tmp_path / "fresh", download=True)
    assert path == tmp_path / "fresh" / "fra-eng" / "fra.txt"
    data = _fra_data(tmp_path / "fresh")
    assert len(data.pairs("train")) + len(data.pairs("val")) == 12
    monkeypatch.setattr(translation, "FRA_ENG_SHA1", "0" * 40)
    with pytest.raises(ChecksumError, match="checksum mismatch"):
        fra_eng_file(tmp_path / "other", download=True)
    assert not (tmp_path / "other" / "fra-eng").exists()


def test_an_archive_escaping_its_folder_is_refused(fra_root, tmp_path, monkeypatch):
    archive = _zip(fra_root, tmp_path / "fra-eng.zip", member="../../escaped.txt")
    monkeypatch.setattr(translation, "FRA_ENG_URL", archive.as_uri())
    monkeypatch.setattr(translation, "FRA_ENG_SHA1", hashlib.sha1(archive.read_bytes()).hexdigest())
    with pytest.raises(UnsafeArchiveError):
        fra_eng_file(tmp_path / "root", download=True)
    assert not (tmp_path / "escaped.txt").exists()
    assert not (tmp_path / "root" / "fra-eng").exists()
