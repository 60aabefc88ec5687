"""BERT pretraining: 15% masking with 80/10/10, NSP pairs, the data module and the Module."""

from __future__ import annotations

import math
import random

import pytest
import torch

from dllab.core.testing import quick_trainer
from dllab.nlp.pretraining import (
    IGNORE,
    BERTPretrainData,
    BERTPretrainer,
    mask_tokens,
    nsp_pairs,
)
from dllab.nlp.special import CLS_ID, MASK_ID, PAD_ID, SEP_ID, SPECIAL_TOKENS

V = 60


def _within(observed: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    """``observed`` successes of ``n`` lie within ``sigmas`` binomial deviations of ``n p``."""
    return abs(observed - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


def test_masking_chooses_15_percent_then_splits_80_10_10_within_5_sigma():
    g = torch.Generator().manual_seed(0)
    n, length = 2000, 40
    lens = torch.randint(5, length + 1, (n,), generator=g)
    ids = torch.randint(len(SPECIAL_TOKENS), V, (n, length), generator=g)
    ids[:, 0] = CLS_ID
    ids[torch.arange(n), lens - 1] = SEP_ID
    ids = ids.masked_fill(torch.arange(length) >= lens.unsqueeze(1), PAD_ID)
    masked = mask_tokens(ids, lens, V, generator=torch.Generator().manual_seed(1))
    candidates = int((ids >= len(SPECIAL_TOKENS)).sum())
    chosen = masked.positions
    k = int(chosen.sum())
    assert _within(k, candidates, 0.15), (k, candidates)
    assert not chosen[ids < len(SPECIAL_TOKENS)].any()  # never <pad>, <cls>, <sep>
    assert torch.equal(masked.labels[chosen], ids[chosen])
    assert (masked.labels[~chosen] == IGNORE).all()
    assert torch.equal(masked.ids[~chosen], ids[~chosen])  # the rest untouched
    new = masked.ids[chosen]
    as_mask = int((new == MASK_ID).sum())
    kept = int((new == ids[chosen]).sum())
    replaced = k - as_mask - kept  # a random token that differs from the original
    p_same = 1 / (V - len(SPECIAL_TOKENS))  # a random draw can hit the original
    assert _within(as_mask, k, 0.8), as_mask / k
    assert _within(replaced, k, 0.1 * (1 - p_same)), replaced / k
    assert _within(kept, k, 0.1 + 0.1 * p_same), kept / k
    assert (new[new != MASK_ID] >= len(SPECIAL_TOKENS)).all()  # random ids are real tokens


def test_masking_is_seeded_and_refuses_a_vocabulary_of_only_specials():
    ids, lens = torch.randint(7, V, (4, 9)), torch.full((4,), 9)
    a = mask_tokens(ids, lens, V, torch.Generator().manual_seed(3))
    b = mask_tokens(ids, lens, V, torch.Generator().manual_seed(3))
    assert torch.equal(a.ids, b.ids) and torch.equal(a.labels, b.labels)
    with pytest.raises(ValueError, match="vocab_size must be >= 8"):
        mask_tokens(ids, lens, len(SPECIAL_TOKENS))
    with pytest.raises(ValueError, match=r"prob must be in \[0, 1\)"):
        mask_tokens(ids, lens, V, prob=1.5)


def test_nsp_pairs_are_half_true_continuations_and_the_rest_random_sentences():
    paragraphs = [[f"p{i} s{j}" for j in range(5)] for i in range(200)]
    firsts, seconds, labels = nsp_pairs(paragraphs, random.Random(0))
    assert len(firsts) == len(seconds) == len(labels) == 200 * 4
    assert _within(sum(labels), len(labels), 0.5)
    for first, second, is_next in zip(firsts, seconds, labels, strict=True):
        p, s = first.split()
        if is_next:
            assert second == f"{p} s{int(s[1:]) + 1}"
    false = [s for s, y in zip(seconds, labels, strict=True) if not y]
    assert len({s.split()[0] for s in false}) > 100  # drawn from across the corpus


class _PairEncoder:
    """A tiny word-level encoder with ``encode_pairs`` (the ``TextEncoder`` method used)."""

    vocab_size = V

    def encode_pairs(self, firsts, seconds, max_len):
        from dllab.nlp.encoding import pack_pairs

        def ids(text):
            return [7 + int(w[1:]) % (V - 7) for w in text.split()]  # "w12" -> 19

        return pack_pairs([ids(a) for a in firsts], [ids(b) for b in seconds], max_len)


def _paragraphs(n: int, seed: int = 0) -> list[list[str]]:
    """Paragraphs whose sentences count up (``w3 w4 w5`` then ``w6 w7 w8``): learnable pairs."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        start = rng.randrange(0, 20)
        out.append([" ".join(f"w{start + 3 * j + k}" for k in range(3)) for j in range(4)])
    return out


def test_pretrain_data_encodes_pairs_with_segments_and_labels():
    data = BERTPretrainData(_paragraphs(50), _PairEncoder(), max_len=12, batch_size=8)
    data.setup()
    ids, segments, lens, is_next = data.train_tensors
    assert ids.shape == segments.shape == (len(lens), 12) and ids[:, 0].eq(CLS_ID).all()
    assert torch.equal(segments[0, : int(lens[0])], torch.tensor([0] * 5 + [1] * 4))
    assert set(is_next.tolist()) == {0, 1}
    with pytest.raises(ValueError, match="paragraphs of two or more sentences"):
        BERTPretrainData([["only one"]], _PairEncoder())
    with pytest.raises(TypeError, match="list of sentences"):
        BERTPretrainData(["a flat string"], _PairEncoder())


def test_pretraining_lowers_the_loss_and_logs_mlm_nsp_and_perplexity(tmp_path):
    torch.manual_seed(0)
    data = BERTPretrainData(_paragraphs(300), _PairEncoder(), max_len=12, batch_size=32)
    model = BERTPretrainer(V, d_model=32, ffn_hidden=64, num_layers=2, max_len=12, lr=3e-3,
                           schedule="none")  # fmt: skip
    trainer = quick_trainer(tmp_path, max_epochs=5, curves=False, checkpoint=False)
    assert model.supports_direct_step(trainer)  # core's fast step path is kept
    data.setup()
    first = float(model.loss(model(*data.val_tensors[:3]), data.val_tensors[3]))
    trainer.fit(model, data)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    assert metrics["val_loss"] < 0.7 * first, (first, metrics)
    assert metrics["mlm_acc"] > 0.2 and 0 <= metrics["nsp_acc"] <= 1, metrics
    assert 1 < metrics["perplexity"] < V, metrics


def test_pretrainer_refuses_a_vocabulary_too_small_for_masking():
    with pytest.raises(ValueError, match="vocab_size must be >= 8"):
        BERTPretrainer(len(SPECIAL_TOKENS))


def _negated_share(paragraphs) -> float:
    sentences = [s for p in paragraphs for s in p]
    return sum((" not " in f" {s} " or " never " in f" {s} ") for s in sentences) / len(sentences)


def test_synthetic_corpus_adds_review_paragraphs_rich_in_negation():
    from dllab.nlp.data.reviews import pretraining_paragraphs
    from dllab.nlp.pretraining import synthetic_corpus

    corpus = synthetic_corpus(100, seed=0)
    assert corpus == synthetic_corpus(100, seed=0) and corpus != synthetic_corpus(100, seed=1)
    plain = pretraining_paragraphs(100, seed=0)
    assert all(p in corpus for p in plain) and len(corpus) > 2 * len(plain)
    assert all(len(p) >= 2 for p in corpus)  # every paragraph yields NSP pairs
    assert _negated_share(corpus) > _negated_share(plain) + 0.1
    assert _negated_share(synthetic_corpus(100, negation_share=1.0)) > _negated_share(
        synthetic_corpus(100, negation_share=0.0)
    )
    with pytest.raises(ValueError, match="negation_share must be in"):
        synthetic_corpus(10, negation_share=1.5)
