"""Subword tokenizers trained with HF tokenizers: specials first, from an iterator, tokenizer.json."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer

from dllab.nlp.special import MASK_ID, SPECIAL_TOKENS
from dllab.nlp.subword import SubwordTokenizer, train_tokenizer

CORPUS = ["unbelievably good acting", "the acting was unbelievable", "good, good, not bad"] * 20


@pytest.mark.parametrize("model", ["wordpiece", "bpe"])
def test_trains_from_a_one_pass_iterator_with_the_special_ids_first(model):
    tokenizer = train_tokenizer((text for text in CORPUS), model, vocab_size=150)
    vocab = tokenizer.hf.get_vocab()
    assert [vocab[t] for t in SPECIAL_TOKENS] == list(range(len(SPECIAL_TOKENS)))
    assert tokenizer.hf.id_to_token(MASK_ID) == "<mask>" and tokenizer.vocab_size <= 150


def test_wordpiece_splits_unseen_words_into_known_pieces():
    tokenizer = train_tokenizer(CORPUS, "wordpiece", vocab_size=60)
    pieces = tokenizer.tokenize("unbelievable acting<br />")
    assert len(pieces) > 2 and any(p.startswith("##") for p in pieces)
    assert "<unk>" not in pieces and "<" not in pieces  # <br /> became a space
    assert tokenizer.decode(tokenizer.hf.encode("good acting").ids) == "good acting"


def test_bpe_decodes_back_to_the_lowercased_text():
    tokenizer = train_tokenizer(CORPUS, "bpe", vocab_size=80)
    ids = tokenizer.hf.encode("The acting was unbelievably good").ids
    assert tokenizer.decode(ids) == "the acting was unbelievably good"


def test_saved_file_is_a_plain_hf_tokenizer_json(tmp_path):
    tokenizer = train_tokenizer(CORPUS, "wordpiece", vocab_size=100)
    path = tokenizer.save(tmp_path / "tokenizer.json")
    plain = Tokenizer.from_file(str(path))
    assert plain.encode("good acting").ids == tokenizer.hf.encode("good acting").ids
    assert SubwordTokenizer.load(path).vocab_size == tokenizer.vocab_size


def test_a_tokenizer_with_other_special_ids_is_refused():
    from tokenizers import models

    foreign = Tokenizer(models.WordLevel({"[PAD]": 0, "<unk>": 1}, unk_token="<unk>"))
    with pytest.raises(ValueError, match="<pad> the id 0"):
        SubwordTokenizer(foreign)


def test_damaged_tokenizer_json_is_refused(tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text('{"model": {"type": "WordPiece"}}')
    with pytest.raises(ValueError, match=r"not a readable tokenizer\.json"):
        SubwordTokenizer.load(path)


@pytest.mark.parametrize(
    ("texts", "kwargs", "error", "message"),
    [
        ([], {}, ValueError, "corpus is empty"),
        (["", "   "], {}, ValueError, "corpus is empty"),
        (CORPUS, {"vocab_size": 7}, ValueError, "vocab_size must be >= 8"),
        (CORPUS, {"vocab_size": 12}, ValueError, "too small"),
        (CORPUS, {"model": "unigram"}, ValueError, "model must be one of"),
        ("one text", {}, TypeError, "not one str"),
        ([b"bytes"], {}, TypeError, "must be str"),
    ],
)
def test_bad_corpus_and_sizes_are_refused(texts, kwargs, error, message):
    with pytest.raises(error, match=message):
        train_tokenizer(texts, **{"model": "wordpiece", "vocab_size": 200, **kwargs})


_TRAIN_AND_SAVE = """
import sys
from dllab.nlp.data.reviews import pretraining_paragraphs
from dllab.nlp.subword import train_tokenizer
texts = [s for paragraph in pretraining_paragraphs(1000, seed=0) for s in paragraph]
for model in ("wordpiece", "bpe"):
    train_tokenizer(texts, model, vocab_size=400).save(f"{sys.argv[1]}-{model}.json")
"""


def test_the_same_corpus_gives_the_same_tokenizer_in_every_process(tmp_path):
    import subprocess
    import sys

    for run in ("a", "b"):  # fresh processes: HF's hash maps are seeded anew in each
        subprocess.run([sys.executable, "-c", _TRAIN_AND_SAVE, str(tmp_path / run)], check=True)
    for model in ("wordpiece", "bpe"):
        first, second = ((tmp_path / f"{run}-{model}.json").read_bytes() for run in ("a", "b"))
        assert first == second, f"{model}: the two processes trained different tokenizers"
        vocab = SubwordTokenizer.load(tmp_path / f"a-{model}.json").hf.get_vocab()
        assert sorted(vocab.values()) == list(range(len(vocab)))
        assert [vocab[t] for t in SPECIAL_TOKENS] == list(range(len(SPECIAL_TOKENS)))


def test_reserved_continuation_pieces_are_ordinary_tokens():
    tokenizer = train_tokenizer(CORPUS, "wordpiece", vocab_size=100)
    pieces = tokenizer.tokenize("unbelievably")
    assert tokenizer.decode(tokenizer.hf.encode("unbelievably").ids) == "unbelievably"
    added = tokenizer.hf.get_added_tokens_decoder()
    assert sorted(added) == list(range(len(SPECIAL_TOKENS))) and len(pieces) >= 1
