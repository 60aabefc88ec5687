"""The reversal toy task, exact match, and greedy decoding through the cache."""

from __future__ import annotations

import pytest
import torch

from dllab.core.nn.seq2seq import (
    BOS,
    EOS,
    NUM_SPECIAL,
    PAD,
    ReversalData,
    Seq2SeqConfig,
    Seq2SeqTransformer,
    exact_match,
    make_reversal_data,
)


def test_reversal_data_reverses_each_source():
    src, lengths, tgt_in, tgt_out = make_reversal_data(50, min_len=2, max_len=6, seed=3)
    assert src.shape == (50, 6) and tgt_in.shape == tgt_out.shape == (50, 7)
    for i in range(50):
        n = int(lengths[i])
        digits = src[i, :n].tolist()
        assert all(t >= NUM_SPECIAL for t in digits) and torch.all(src[i, n:] == PAD)
        assert tgt_out[i].tolist() == [*digits[::-1], EOS] + [PAD] * (6 - n)
        assert tgt_in[i].tolist() == [BOS, *digits[::-1]] + [PAD] * (6 - n)
    assert lengths.min() >= 2 and lengths.max() <= 6
    again = make_reversal_data(50, min_len=2, max_len=6, seed=3)
    assert all(
        torch.equal(a, b) for a, b in zip(again, (src, lengths, tgt_in, tgt_out), strict=True)
    )


def test_exact_match_ignores_positions_after_eos():
    target = torch.tensor([[5, 4, EOS, PAD], [3, EOS, PAD, PAD]])
    predicted = torch.tensor([[5, 4, EOS, 7], [3, 6, EOS, PAD]])
    assert exact_match(predicted, target).tolist() == [True, False]
    with pytest.raises(ValueError, match="shapes differ"):
        exact_match(predicted[:, :3], target)


def test_greedy_decoding_with_cache_equals_recomputing_prefixes():
    torch.manual_seed(0)
    model = Seq2SeqTransformer(Seq2SeqConfig(d_model=16, ffn_hidden=32)).eval()
    src, lengths, _, tgt_out = make_reversal_data(4, seed=1)
    steps = tgt_out.shape[1]
    cached = model.greedy_decode(src, lengths, steps)
    prefix = torch.full((4, 1), BOS)
    with torch.no_grad():
        for _ in range(steps):
            next_token = model(src, lengths, prefix)[:, -1].argmax(-1, keepdim=True)
            prefix = torch.cat((prefix, next_token), dim=1)
    assert torch.equal(cached, prefix[:, 1:])


def test_a_few_steps_lower_the_loss():
    """Seeded learning test on raw batches (the notebook trains to >= 95% exact match)."""
    torch.manual_seed(0)
    model = Seq2SeqTransformer(lr=3e-3)
    src, lengths, tgt_in, tgt_out = make_reversal_data(512, seed=0)
    optimizer = model.configure_optimizers()
    losses = []
    for step in range(40):
        batch = slice(64 * (step % 8), 64 * (step % 8 + 1))
        loss = model.loss(model(src[batch], lengths[batch], tgt_in[batch]), tgt_out[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0], (losses[0], losses[-1])


def test_data_module_batches():
    data = ReversalData(num_samples=100, batch_size=16)
    src, lengths, _, tgt_out = next(iter(data.train_dataloader()))
    assert src.shape == (16, 8) and lengths.shape == (16,) and tgt_out.shape == (16, 9)
    assert data.vocab_size == 13 and len(data.val_tensors[0]) == 10


def test_bad_input():
    with pytest.raises(ValueError, match="max_len"):
        make_reversal_data(10, min_len=5, max_len=3)
    with pytest.raises(ValueError, match="num_samples"):
        make_reversal_data(0)
    model = Seq2SeqTransformer(Seq2SeqConfig(d_model=16, ffn_hidden=32))
    src, lengths, tgt_in, _ = make_reversal_data(4)
    with pytest.raises(ValueError, match="integer tensor"):
        model(src.float(), lengths, tgt_in)
    with pytest.raises(ValueError, match="valid_lens must have shape"):
        model(src, lengths[:2], tgt_in)
    with pytest.raises(ValueError, match="divisible by num_heads"):
        Seq2SeqTransformer(Seq2SeqConfig(d_model=10))
    with pytest.raises(TypeError, match="unexpected keyword"):
        Seq2SeqTransformer({"d_modle": 16})
