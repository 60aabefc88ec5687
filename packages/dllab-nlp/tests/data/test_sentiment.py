"""SentimentData: encoded splits on core's loader, seeded and resumable, and build_encoder."""

from __future__ import annotations

import pytest
import torch

from dllab.nlp.data.sentiment import SentimentData, build_encoder
from dllab.nlp.special import CLS_ID, PAD_ID, SEP_ID
from dllab.nlp.subword import SubwordTokenizer
from dllab.nlp.vocab import WordTokenizer


def test_batches_are_ids_valid_lengths_and_labels_padded_to_max_len():
    data = SentimentData(None, n_train=200, max_len=40, batch_size=16, seed=0)
    assert isinstance(data.encoder, WordTokenizer) and data.vocab_size == len(data.encoder.vocab)
    ids, valid_lens, y = next(iter(data.train_dataloader()))
    assert ids.shape == (16, 40) and valid_lens.shape == y.shape == (16,)
    positions = torch.arange(40)[None, :]
    assert (ids[positions >= valid_lens[:, None]] == PAD_ID).all()
    assert (ids[positions < valid_lens[:, None]] != PAD_ID).all()
    assert set(y.tolist()) <= {0, 1}
    assert len(data.train_tensors[0]) == 160 and len(data.val_tensors[0]) == 40


def test_test_and_negation_splits_are_separate_seeded_reviews():
    data = SentimentData(None, n_train=100, seed=3)
    train, test = data.texts("train"), data.texts("test")
    negation = data.texts("negation")
    assert len(test) == len(negation) == 1000 and not set(train) & set(negation)
    assert data.texts("test") == SentimentData(None, n_train=100, seed=3).texts("test")
    ids, valid_lens, y = next(iter(data.negation_dataloader()))
    assert ids.shape[1] == 48 and valid_lens.max() <= 48 and set(y.tolist()) == {0, 1}
    assert len(next(iter(data.test_dataloader()))) == 3


def test_shuffled_order_is_seeded_by_epoch_so_resume_sees_the_same_batches():
    def first_batch(epoch: int) -> torch.Tensor:
        loader = SentimentData(None, n_train=120, batch_size=8, seed=1).train_dataloader()
        loader.sampler.set_epoch(epoch)
        return next(iter(loader))[0]

    assert torch.equal(first_batch(2), first_batch(2))
    assert not torch.equal(first_batch(1), first_batch(2))


def test_a_given_subword_encoder_with_cls_sep_as_bert_reads():
    texts = SentimentData(None, n_train=300).texts("train")
    encoder = build_encoder("wordpiece", texts, vocab_size=400)
    assert isinstance(encoder, SubwordTokenizer) and encoder.vocab_size <= 400
    data = SentimentData(encoder, n_train=300, add_cls_sep=True, max_len=48)
    ids, valid_lens, _ = data.tensors("test")
    assert (ids[:, 0] == CLS_ID).all()
    assert (ids[torch.arange(len(ids)), valid_lens - 1] == SEP_ID).all()


def test_build_encoder_caps_the_word_vocabulary_and_refuses_an_empty_corpus():
    encoder = build_encoder("word", ["a b c d e f", "a b"], vocab_size=9)
    assert encoder.vocab_size == 9 and encoder.vocab.idx_to_token[7:] == ["a", "b"]
    with pytest.raises(ValueError, match="texts is empty"):
        build_encoder("word", ["", "  "])
    with pytest.raises(ValueError, match="kind must be one of"):
        build_encoder("chars", ["a"])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"dataset": "yelp"}, ValueError, "dataset must be one of"),
        ({"max_len": 0}, ValueError, "max_len must be >= 1"),
        ({"n_train": 0}, ValueError, "n_train must be >= 1"),
        ({"encoder": "vocab.json"}, TypeError, "encoder must be a TextEncoder"),
        ({"batch_size": 0}, ValueError, "batch_size"),
    ],
)
def test_bad_options_are_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        SentimentData(**kwargs)


def test_unknown_split_and_imdb_negation_are_refused(tmp_path):
    data = SentimentData(None, n_train=50)
    with pytest.raises(ValueError, match="split must be one of"):
        data.texts("dev")
    with pytest.raises(ValueError, match="dataset='synthetic' only"):
        SentimentData(None, dataset="imdb", root=tmp_path).texts("negation")
