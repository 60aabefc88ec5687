"""The TextEncoder contract, checked on both kinds of encoder: specials, truncation, bad input."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from dllab.nlp.encoding import Encoding, TextEncoder, load_encoder
from dllab.nlp.special import CLS_ID, PAD_ID, SEP_ID, SPECIAL_TOKENS, UNK_ID
from dllab.nlp.subword import train_tokenizer
from dllab.nlp.vocab import Vocab, WordTokenizer, tokenize

CORPUS = [
    "the plot was dull but the acting was superb",
    "the movie was not good at all",
    "a great film , never boring",
] * 10


@pytest.fixture(scope="module", params=["word", "wordpiece", "bpe"])
def encoder(request) -> TextEncoder:
    if request.param == "word":
        return WordTokenizer(Vocab.build(tokenize(t) for t in CORPUS))
    return train_tokenizer(CORPUS, request.param, vocab_size=200)


def test_every_encoder_meets_the_protocol(encoder):
    assert isinstance(encoder, TextEncoder)
    assert encoder.kind in ("word", "wordpiece", "bpe") and encoder.vocab_size > 7


def test_cls_sep_wrap_each_text_and_padding_fills_the_rest(encoder):
    enc = encoder.encode_batch(["the movie was good", "great"], max_len=12, add_cls_sep=True)
    n = int(enc.valid_lens[0])
    assert enc.ids[0, 0] == CLS_ID and enc.ids[0, n - 1] == SEP_ID
    assert (enc.ids[0, n:] == PAD_ID).all() and enc.segments is None
    assert enc.attention_mask.sum().item() == enc.valid_lens.sum().item()
    assert encoder.decode(enc.ids[0]).replace(" ", "") == "themoviewasgood"


def test_long_text_is_truncated_with_one_warning_naming_the_count(encoder):
    texts = ["the plot was dull but the acting was superb"] * 3 + ["great"]
    with pytest.warns(UserWarning, match="3 of 4 texts were longer than max_len=5"):
        enc = encoder.encode_batch(texts, max_len=5, add_cls_sep=True)
    assert enc.truncated == 3 and enc.valid_lens.tolist()[:3] == [5, 5, 5]
    assert enc.ids[0, 4] == SEP_ID  # the closing <sep> survives truncation


def test_pairs_carry_segments_and_are_cut_longest_first(encoder):
    with pytest.warns(UserWarning, match="1 of 2 texts"):
        enc = encoder.encode_pairs(
            ["the movie", "the plot was dull but the acting"], ["good", "a"], 8
        )
    ids, seg = enc.ids[0].tolist(), enc.segments[0].tolist()
    n = int(enc.valid_lens[0])
    assert ids[0] == CLS_ID and ids[n - 1] == SEP_ID and ids.count(SEP_ID) == 2
    second = ids.index(SEP_ID) + 1
    assert seg[:second] == [0] * second and seg[second:n] == [1] * (n - second)
    assert enc.valid_lens[1] == 8 and enc.truncated == 1
    row = enc.ids[1].tolist()
    assert encoder.decode(row[row.index(SEP_ID) + 1 : 7]).strip() == "a"  # the short text stays


def test_empty_text_is_refused_naming_its_index(encoder):
    with pytest.raises(ValueError, match=r"texts\[1\] is empty"):
        encoder.encode_batch(["good", "   "], max_len=8)
    with pytest.raises(ValueError, match=r"texts\[2\] gives no token"):
        encoder.encode_batch(["good", "great", "<br /> <br/>"], max_len=8, add_cls_sep=True)
    with pytest.raises(ValueError, match="texts is empty"):
        encoder.encode_batch([], max_len=8)
    with pytest.raises(TypeError, match="sequence of strings"):
        encoder.encode_batch("one string", max_len=8)
    with pytest.raises(ValueError, match="max_len"):
        encoder.encode_batch(["good"], max_len=2, add_cls_sep=True)
    with pytest.raises(ValueError, match="differ in length"):
        encoder.encode_pairs(["a"], ["b", "c"], max_len=8)


def test_text_of_unknown_tokens_only_is_encoded_with_a_warning(encoder):
    with pytest.warns(UserWarning, match="only of unknown tokens"):
        enc = encoder.encode_batch(["good", "ẞẞ ẞẞẞ"], max_len=8)
    real = enc.ids[1, : enc.valid_lens[1]]
    assert (real == UNK_ID).any()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a known text alone warns nothing
        encoder.encode_batch(["the movie was good"], max_len=8)


def test_special_tokens_typed_in_a_text_stay_text(encoder, tmp_path):
    for enc in (encoder, load_encoder(encoder.save(tmp_path / "encoder.json"))):
        ids = enc.encode_batch(["the <mask> movie <pad> <sep>"], max_len=32).ids
        assert not ((ids > 0) & (ids < len(SPECIAL_TOKENS)) & (ids != UNK_ID)).any()
        assert int((ids != PAD_ID).sum()) > 5


def test_saved_encoders_load_back_and_encode_the_same(encoder, tmp_path):
    path = encoder.save(tmp_path / "encoder.json")
    loaded = load_encoder(path)
    assert loaded.kind == encoder.kind and loaded.vocab_size == encoder.vocab_size
    texts = ["the acting was superb", "never boring"]
    a, b = encoder.encode_batch(texts, 10), loaded.encode_batch(texts, 10)
    assert torch.equal(a.ids, b.ids) and torch.equal(a.valid_lens, b.valid_lens)


def test_load_encoder_refuses_missing_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no saved encoder"):
        load_encoder(tmp_path / "missing.json")
    (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(ValueError, match="neither a dllab vocabulary"):
        load_encoder(tmp_path / "other.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a JSON encoder"):
        load_encoder(tmp_path / "broken.json")


def test_attention_mask_follows_valid_lengths():
    enc = Encoding(torch.tensor([[4, 9, 5, 0], [4, 5, 0, 0]]), torch.tensor([3, 2]))
    assert enc.attention_mask.tolist() == [[True, True, True, False], [True, True, False, False]]
