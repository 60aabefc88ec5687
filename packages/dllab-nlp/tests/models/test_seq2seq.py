"""Translation networks: the masked loss against torch, padding, the step protocol, bad input."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from dllab.core.testing import assert_close_to_reference
from dllab.nlp.models.seq2seq import (
    BahdanauDecoder,
    GRUDecoder,
    GRUEncoder,
    RNNSeq2Seq,
    TransformerSeq2Seq,
    masked_cross_entropy,
)
from dllab.nlp.special import BOS_ID, EOS_ID, PAD_ID

SRC_V, TGT_V = 23, 19


def make_model(name: str):
    torch.manual_seed(0)
    if name == "transformer":
        return TransformerSeq2Seq(SRC_V, TGT_V, d_model=16, num_heads=2, ffn_hidden=32).eval()
    return RNNSeq2Seq(SRC_V, TGT_V, attention=name == "bahdanau", num_hiddens=16).eval()


def batch(seed: int = 0, width: int = 7):
    g = torch.Generator().manual_seed(seed)
    lens = torch.tensor([7, 3, 5, 1])
    src = torch.randint(7, SRC_V, (4, width), generator=g)
    src = src.masked_fill(torch.arange(width) >= lens[:, None], PAD_ID)  # (B, S)
    tgt_in = torch.randint(7, TGT_V, (4, 6), generator=g)
    tgt_in[:, 0] = BOS_ID
    return src, lens, tgt_in


MODELS = ["seq2seq", "bahdanau", "transformer"]


def test_masked_cross_entropy_equals_torch_ignore_index_with_its_gradient():
    """Tolerance 1e-6 (float64) on the loss and on the gradient of the logits."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 9, 11, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.randint(3, 11, (5, 9), generator=g)
    target[:, 6:] = PAD_ID
    target[2, 2:] = PAD_ID
    ours = masked_cross_entropy(logits, target)
    (grad_ours,) = torch.autograd.grad(ours, logits)
    theirs = F.cross_entropy(logits.reshape(-1, 11), target.reshape(-1), ignore_index=PAD_ID)
    (grad_theirs,) = torch.autograd.grad(theirs, logits)
    assert_close_to_reference(ours, theirs, atol=1e-6, name="loss")
    assert_close_to_reference(grad_ours, grad_theirs, atol=1e-6, name="gradient")
    assert masked_cross_entropy(logits, target, pad_id=4).item() != pytest.approx(ours.item())


def test_extra_padding_does_not_change_the_loss():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 5, 8, generator=g)
    target = torch.tensor([[4, 5, EOS_ID, 0, 0], [6, EOS_ID, 0, 0, 0], [7, 7, 7, 7, EOS_ID]])
    padded_logits = torch.cat((logits, torch.randn(3, 4, 8, generator=g) * 50), dim=1)
    padded_target = F.pad(target, (0, 4), value=PAD_ID)  # (3, 9): four more pad columns
    assert_close_to_reference(
        masked_cross_entropy(padded_logits, padded_target),
        masked_cross_entropy(logits, target),
        atol=1e-6,
        name="padded",
    )


@pytest.mark.parametrize("name", MODELS)
def test_source_padding_does_not_change_the_output(name):
    model = make_model(name)
    src, lens, tgt_in = batch()
    wider = F.pad(src, (0, 5), value=PAD_ID)  # (B, S + 5)
    with torch.no_grad():
        assert_close_to_reference(
            model(wider, lens, tgt_in), model(src, lens, tgt_in), atol=1e-5, name=name
        )


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("use_cache", [True, False])
def test_stepping_token_by_token_gives_the_teacher_forced_logits(name, use_cache):
    model = make_model(name)
    src, lens, tgt_in = batch(seed=2)
    with torch.no_grad():
        forced = model(src, lens, tgt_in)  # (B, T, V)
        state = model.start(src, lens, use_cache=use_cache)
        steps = []
        for t in range(tgt_in.shape[1]):
            logits, state = model.step(tgt_in[:, t], state)
            steps.append(logits)
    assert forced.shape == (4, 6, TGT_V)
    assert_close_to_reference(torch.stack(steps, 1), forced, atol=1e-5, name=name)


@pytest.mark.parametrize("name", MODELS)
def test_reorder_selects_the_state_of_the_chosen_rows(name):
    model = make_model(name)
    src, lens, tgt_in = batch(seed=3)
    order = torch.tensor([2, 2, 0])
    with torch.no_grad():
        state = model.start(src, lens)
        state = model.step(tgt_in[:, 0], state)[1]
        state = model.reorder(state, order)
        logits = model.step(tgt_in[order, 1], state)[0]
        expected = model(src[order], lens[order], tgt_in[order, :2])[:, 1]
    assert_close_to_reference(logits, expected, atol=1e-5, name=name)


def test_bahdanau_keeps_its_attention_weights_masked_to_the_source():
    model = make_model("bahdanau")
    src, lens, tgt_in = batch()
    with torch.no_grad():
        weights = model.attention_weights(src, lens, tgt_in)
    assert weights.shape == (4, 1, 6, 7)  # (B, heads, T, S)
    assert torch.allclose(weights.sum(-1), torch.ones(4, 1, 6), atol=1e-6)
    beyond = torch.arange(7) >= lens[:, None, None, None]  # (B, 1, 1, S)
    assert not weights.masked_select(beyond).any()
    assert isinstance(model.decoder, BahdanauDecoder)
    assert model.decoder.attention_weights.shape == (4, 6, 7)


def test_transformer_attention_weights_are_the_last_cross_attention_heads():
    model = make_model("transformer")
    src, lens, tgt_in = batch()
    with torch.no_grad():
        weights = model.attention_weights(src, lens, tgt_in)
    assert weights.shape == (4, 2, 6, 7)
    assert torch.allclose(weights.sum(-1), torch.ones(4, 2, 6), atol=1e-5)


def test_the_gru_decoder_sees_the_context_at_every_step():
    """d2l's decoder: its GRU input is the embedding and the context (the encoder's top state)."""
    encoder, decoder = GRUEncoder(SRC_V, 8, 16, 2), GRUDecoder(TGT_V, 8, 16, 2)
    assert decoder.rnn.input_size == 8 + 16
    src, lens, tgt_in = batch()
    outputs, enc_state = encoder(src, lens)
    assert outputs.shape == (4, 7, 16) and enc_state.shape == (2, 4, 16)
    assert not outputs[1, 3:].any()  # padding gets no output
    state = decoder.init_state(outputs, enc_state, lens)
    assert torch.equal(state.context, enc_state[-1])
    logits, _ = decoder(tgt_in, state)
    assert logits.shape == (4, 6, TGT_V)


def test_bad_input():
    model = make_model("transformer")
    src, lens, tgt_in = batch()
    with pytest.raises(ValueError, match="src_valid_lens must lie in"):
        model(src, torch.tensor([7, 3, 5, 0]), tgt_in)
    with pytest.raises(ValueError, match="src_valid_lens must lie in"):
        make_model("seq2seq").start(src, torch.tensor([8, 3, 5, 1]))
    with pytest.raises(ValueError, match=r"src must be \(B, S\)"):
        model(src, lens[:3], tgt_in)
    with pytest.raises(ValueError, match="tgt_in must be"):
        model(src, lens, tgt_in[:2])
    with pytest.raises(ValueError, match="integer tensor"):
        model(src.float(), lens, tgt_in)
    with pytest.raises(ValueError, match="no attention"):
        make_model("seq2seq").attention_weights(src, lens, tgt_in)
    with pytest.raises(ValueError, match=r"logits must be \(B, T, V\)"):
        masked_cross_entropy(torch.randn(4, 5, 3), torch.zeros(4, 6, dtype=torch.long))
    with pytest.raises(ValueError, match="vocab_size"):
        GRUEncoder(1)
    with pytest.raises(ValueError, match="num_hiddens"):
        RNNSeq2Seq(SRC_V, TGT_V, num_hiddens=0)
    with pytest.raises(ValueError, match="d_model"):
        TransformerSeq2Seq(SRC_V, TGT_V, d_model=0)
