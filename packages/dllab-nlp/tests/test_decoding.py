"""Greedy decoding and beam search: k=1 is greedy, the cache changes nothing, batching changes
nothing, beam search finds what greedy misses, scores are length-normalised log-probabilities."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from dllab.nlp.decoding import beam_search, greedy_decode
from dllab.nlp.models.seq2seq import RNNSeq2Seq, TransformerSeq2Seq
from dllab.nlp.special import BOS_ID, EOS_ID, PAD_ID

SRC_V, TGT_V = 23, 19
A, B = 3, 4  # two "word" ids of the scripted model


def make_model(name: str, seed: int = 0):
    torch.manual_seed(seed)
    if name == "transformer":
        return TransformerSeq2Seq(SRC_V, TGT_V, d_model=16, num_heads=2, ffn_hidden=32)
    return RNNSeq2Seq(SRC_V, TGT_V, attention=name == "bahdanau", num_hiddens=16)


def sources(n: int = 5, width: int = 8, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    lens = torch.randint(1, width + 1, (n,), generator=g)
    lens[0] = width
    src = torch.randint(7, SRC_V, (n, width), generator=g)
    return src.masked_fill(torch.arange(width) >= lens[:, None], PAD_ID), lens


class Markov:
    """A scripted decoder: the next token's probabilities depend on the last token only."""

    def __init__(self, table: dict[int, dict[int, float]], vocab: int = 5) -> None:
        probs = torch.full((vocab, vocab), 1e-6)
        for prev, row in table.items():
            for token, p in row.items():
                probs[prev, token] = p
        probs[EOS_ID] = probs[PAD_ID] = 1e-6
        probs[EOS_ID, PAD_ID] = probs[PAD_ID, PAD_ID] = 1.0
        self.log_probs = probs.log()
        self.steps = 0

    def start(self, src, src_valid_lens, use_cache=True):
        return torch.arange(len(src))  # the state: which row this is

    def step(self, tokens, state):
        self.steps += 1
        return self.log_probs[tokens], state

    def reorder(self, state, indices):
        return state[indices]


# greedy takes A (0.55), then A again, and never ends; "B <eos>" has probability 0.45 * 0.9
MARKOV = {BOS_ID: {A: 0.55, B: 0.45}, A: {A: 0.36, B: 0.34, EOS_ID: 0.3}, B: {EOS_ID: 0.9, A: 0.1}}


def test_beam_search_finds_the_likelier_sentence_greedy_misses():
    model = Markov(MARKOV)
    src, lens = torch.zeros(1, 2, dtype=torch.long), torch.tensor([2])
    assert greedy_decode(model, src, lens, 4).tolist() == [[A, A, A, A]]
    out, score = beam_search(model, src, lens, beam_size=2, max_len=4, length_penalty=0.0)
    assert out.tolist() == [[B, EOS_ID, PAD_ID, PAD_ID]]
    assert score.item() == pytest.approx(math.log(0.45 * 0.9), abs=1e-5)
    out, score = beam_search(model, src, lens, beam_size=2, max_len=4, length_penalty=1.0)
    assert score.item() == pytest.approx(math.log(0.45 * 0.9) / 2, abs=1e-5)  # / L^1, L = 2


def test_greedy_stops_at_eos_and_exits_once_every_row_ended():
    model = Markov({BOS_ID: {B: 0.9, A: 0.1}, B: {EOS_ID: 0.9, A: 0.1}})
    src, lens = torch.zeros(3, 2, dtype=torch.long), torch.tensor([2, 1, 2])
    out = greedy_decode(model, src, lens, 10)
    assert out.tolist() == [[B, EOS_ID] + [PAD_ID] * 8] * 3
    assert model.steps == 2  # not 10


@pytest.mark.parametrize("name", ["seq2seq", "bahdanau", "transformer"])
def test_beam_of_one_is_greedy(name):
    model = make_model(name)
    src, lens = sources()
    greedy = greedy_decode(model, src, lens, 12)
    beam, _ = beam_search(model, src, lens, beam_size=1, max_len=12, length_penalty=0.7)
    assert torch.equal(beam, greedy)
    assert (greedy[:, 0] != PAD_ID).all()


@pytest.mark.parametrize("beam_size", [2, 4])
def test_beam_search_with_the_cache_gives_the_beams_without_it(beam_size):
    model = make_model("transformer", seed=1)
    src, lens = sources(6, seed=1)
    cached, cached_scores = beam_search(model, src, lens, beam_size, 12, use_cache=True)
    plain, plain_scores = beam_search(model, src, lens, beam_size, 12, use_cache=False)
    assert torch.equal(cached, plain)
    assert torch.allclose(cached_scores, plain_scores, atol=1e-5)
    greedy_cached = greedy_decode(model, src, lens, 12)
    assert torch.equal(greedy_cached, greedy_decode(model, src, lens, 12, use_cache=False))


@pytest.mark.parametrize("name", ["bahdanau", "transformer"])
def test_batched_decoding_equals_decoding_one_sentence_at_a_time(name):
    model = make_model(name, seed=2)
    src, lens = sources(5, seed=2)
    greedy = greedy_decode(model, src, lens, 10)
    beams, scores = beam_search(model, src, lens, 3, 10)
    for i in range(len(src)):
        one_src, one_len = src[i : i + 1, : lens[i]], lens[i : i + 1]  # its own padding: none
        assert torch.equal(greedy_decode(model, one_src, one_len, 10), greedy[i : i + 1])
        beam, score = beam_search(model, one_src, one_len, 3, 10)
        assert torch.equal(beam, beams[i : i + 1])
        assert torch.allclose(score, scores[i : i + 1], atol=1e-5)


@pytest.mark.parametrize("name", ["seq2seq", "transformer"])
def test_the_score_is_the_length_normalised_log_probability_of_the_returned_beam(name):
    model = make_model(name, seed=3).eval()
    src, lens = sources(4, seed=3)
    alpha = 0.75
    out, scores = beam_search(model, src, lens, 3, 9, length_penalty=alpha)
    tgt_in = torch.cat((torch.full((4, 1), BOS_ID), out[:, :-1]), dim=1)  # (B, T)
    with torch.no_grad():
        log_probs = F.log_softmax(model(src, lens, tgt_in), -1)  # (B, T, V)
    token_lp = log_probs.gather(-1, out[..., None])[..., 0]  # (B, T)
    real = out != PAD_ID
    expected = (token_lp * real).sum(1) / real.sum(1).float() ** alpha
    assert torch.allclose(scores, expected, atol=1e-4)


def test_decoding_restores_the_training_mode():
    model = make_model("transformer").train()
    src, lens = sources(2)
    greedy_decode(model, src, lens, 3)
    beam_search(model, src, lens, 2, 3)
    assert model.training


def test_bad_input():
    model = make_model("seq2seq")
    src, lens = sources(3)
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(model, src, lens, beam_size=0, max_len=5)
    with pytest.raises(ValueError, match="max_len"):
        beam_search(model, src, lens, beam_size=2, max_len=0)
    with pytest.raises(ValueError, match="max_len"):
        greedy_decode(model, src, lens, 0)
    with pytest.raises(ValueError, match=r"src must be \(B, S\)"):
        greedy_decode(model, src, lens[:2], 5)
    with pytest.raises(ValueError, match=r"src must be \(B, S\)"):
        beam_search(model, src[0], lens, 2, 5)
    with pytest.raises(ValueError, match="length_penalty"):
        beam_search(model, src, lens, 2, 5, length_penalty=-1.0)
    with pytest.raises(ValueError, match="integer tensor"):
        greedy_decode(model, src.float(), lens, 5)
    with pytest.raises(TypeError, match="not an incremental decoder"):
        greedy_decode(torch.nn.Linear(2, 2), src, lens, 5)
