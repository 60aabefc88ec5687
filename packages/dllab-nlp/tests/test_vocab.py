"""Vocab and WordTokenizer: d2l's lookups, min_freq, reserved tokens, JSON round trip."""

from __future__ import annotations

import pytest
import torch

from dllab.nlp.encoding import load_encoder
from dllab.nlp.special import SPECIAL_TOKENS, UNK_ID
from dllab.nlp.vocab import Vocab, WordTokenizer, tokenize


def test_tokenize_lowercases_splits_punctuation_and_removes_br_tags():
    text = "Great film!<br /><br />I didn't LIKE the end, though."
    assert tokenize(text) == [
        "great", "film", "!", "i", "didn't", "like", "the", "end", ",", "though", ".",
    ]  # fmt: skip


def test_build_puts_specials_first_then_reserved_then_frequent_tokens():
    lists = [["b", "a", "a"], ["c", "a", "b"], ["rare"]]
    vocab = Vocab.build(lists, min_freq=2, reserved=["<x>", "<unk>"])
    assert vocab.idx_to_token[:7] == list(SPECIAL_TOKENS)
    assert vocab.idx_to_token[7:] == ["<x>", "a", "b"]  # frequency order; c, rare below min_freq
    assert len(vocab) == 10 and "rare" not in vocab


def test_lookups_go_both_ways_and_unknown_maps_to_unk():
    vocab = Vocab.build([["good", "movie", "good"]])
    ids = vocab[["good", "movie", "never-seen"]]
    assert ids == [7, 8, UNK_ID] and vocab["good"] == 7
    assert vocab.to_tokens(ids) == ["good", "movie", "<unk>"]
    assert vocab.to_tokens(torch.tensor([8, 0])) == ["movie", "<pad>"]
    assert vocab.to_tokens(7) == "good"
    with pytest.raises(IndexError, match="outside the vocabulary"):
        vocab.to_tokens(99)


def test_json_round_trip_keeps_every_id(tmp_path):
    vocab = Vocab.build([tokenize("Ein Film, très bon; très très bon.")])
    again = Vocab.from_json(vocab.to_json())
    assert again == vocab and again["très"] == vocab["très"] != UNK_ID
    tokenizer = WordTokenizer(vocab)
    loaded = load_encoder(tokenizer.save(tmp_path / "vocab.json"))
    assert isinstance(loaded, WordTokenizer) and loaded.vocab == vocab


def test_bad_vocabularies_are_refused():
    with pytest.raises(ValueError, match="special tokens"):
        Vocab(["a", "b"])
    with pytest.raises(ValueError, match="unique"):
        Vocab([*SPECIAL_TOKENS, "a", "a"])
    with pytest.raises(ValueError, match="min_freq"):
        Vocab.build([["a"]], min_freq=0)
    with pytest.raises(TypeError, match="not one str"):
        Vocab.build("a text")
    with pytest.raises(ValueError, match="'tokens'"):
        Vocab.from_json('{"kind": "word"}')


def test_word_tokenizer_pads_to_a_fixed_length_with_valid_lengths():
    tokenizer = WordTokenizer(Vocab.build([tokenize("the plot was not good at all")]))
    enc = tokenizer.encode_batch(["the plot was good", "not good"], max_len=6)
    assert enc.ids.shape == (2, 6) and enc.ids.dtype == torch.long
    assert enc.valid_lens.tolist() == [4, 2] and enc.truncated == 0
    assert enc.attention_mask.tolist()[1] == [True, True, False, False, False, False]
    assert tokenizer.decode(enc.ids[0]) == "the plot was good"
