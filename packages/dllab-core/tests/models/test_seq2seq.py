"""Seq2SeqTransformer: separate vocabularies, greedy decoding to <eos>, learning, bad input."""

from __future__ import annotations

import pytest
import torch

import dllab.core.models
from dllab.core.models.seq2seq import Seq2SeqConfig, Seq2SeqTransformer, exact_match
from dllab.core.tasks.reversal import BOS, EOS, PAD, make_reversal_data
from dllab.core.testing import assert_lazy_names

SMALL = {"d_model": 16, "ffn_hidden": 32}


def test_exact_match_ignores_positions_after_eos():
    target = torch.tensor([[5, 4, EOS, PAD], [3, EOS, PAD, PAD]])
    predicted = torch.tensor([[5, 4, EOS, 7], [3, 6, EOS, PAD]])
    assert exact_match(predicted, target).tolist() == [True, False]
    shifted = torch.where(target == PAD, 9, target)  # the same, padded with 9
    assert exact_match(torch.where(predicted == PAD, 9, predicted), shifted, pad_id=9).tolist() == [
        True,
        False,
    ]
    with pytest.raises(ValueError, match="shapes differ"):
        exact_match(predicted[:, :3], target)


@pytest.mark.parametrize(("src_vocab", "tgt_vocab"), [(7, 11), (11, 7)])
def test_separate_vocabularies_give_the_right_shapes_and_train(src_vocab, tgt_vocab):
    cfg = Seq2SeqConfig(src_vocab_size=src_vocab, tgt_vocab_size=tgt_vocab, **SMALL)
    model = Seq2SeqTransformer(cfg)
    assert model.src_embedding.num_embeddings == src_vocab
    assert model.tgt_embedding.num_embeddings == model.head.out_features == tgt_vocab
    src = torch.randint(3, src_vocab, (4, 5))  # (B, S), up to the largest source id
    src[0, 0] = src_vocab - 1
    lengths = torch.tensor([5, 3, 4, 1])
    tgt_in = torch.randint(3, tgt_vocab, (4, 6))  # (B, T) over the target vocabulary
    tgt_in[0, 0] = tgt_vocab - 1
    tgt_out = torch.randint(3, tgt_vocab, (4, 6))
    logits = model(src, lengths, tgt_in)
    assert logits.shape == (4, 6, tgt_vocab)
    loss = model.loss(logits, tgt_out)
    loss.backward()
    assert model.src_embedding.weight.grad is not None and model.head.weight.grad is not None
    assert model.greedy_decode(src, lengths, 6).shape == (4, 6)


def test_custom_special_ids():
    cfg = Seq2SeqConfig(src_vocab_size=10, tgt_vocab_size=9, pad_id=8, bos_id=7, eos_id=6, **SMALL)
    model = Seq2SeqTransformer(cfg)
    assert model.src_embedding.padding_idx == model.tgt_embedding.padding_idx == 8
    assert not model.tgt_embedding.weight[8].any()
    logits = torch.randn(1, 3, 9)
    target = torch.tensor([[0, 1, 8]])  # the last position is padding: skipped by the loss
    expected = torch.nn.functional.cross_entropy(logits[0, :2], target[0, :2])
    assert torch.allclose(model.loss(logits, target), expected, atol=1e-6)


def test_greedy_decode_stops_each_row_at_eos_and_exits_early():
    torch.manual_seed(0)
    model = Seq2SeqTransformer(Seq2SeqConfig(**SMALL)).eval()
    eos_at = torch.tensor([2, 0, 4])  # row b emits <eos> at step eos_at[b]
    calls = []

    def scripted(module, inputs, output):  # (B, 1, vocab) logits, one step at a time
        step = len(calls)
        calls.append(step)
        forced = torch.full_like(output, -10.0)
        forced[:, 0, 5] = 10.0  # a digit token
        forced[eos_at == step, 0, EOS] = 20.0
        return forced

    model.head.register_forward_hook(scripted)
    src, lengths = torch.randint(3, 13, (3, 5)), torch.tensor([5, 5, 5])
    out = model.greedy_decode(src, lengths, max_steps=10)
    assert out.shape == (3, 10)
    assert out.tolist() == [
        [5, 5, EOS] + [PAD] * 7,
        [EOS] + [PAD] * 9,
        [5, 5, 5, 5, EOS] + [PAD] * 5,
    ]
    assert len(calls) == 5  # stopped once the last row emitted <eos>, not after 10 steps


def test_greedy_decoding_with_cache_equals_recomputing_prefixes():
    torch.manual_seed(0)
    model = Seq2SeqTransformer(Seq2SeqConfig(**SMALL)).eval()
    src, lengths, _, tgt_out = make_reversal_data(8, seed=1)
    steps = tgt_out.shape[1]
    cached = model.greedy_decode(src, lengths, steps)
    prefix = torch.full((8, 1), BOS)
    with torch.no_grad():
        for _ in range(steps):
            next_token = model(src, lengths, prefix)[:, -1].argmax(-1, keepdim=True)
            prefix = torch.cat((prefix, next_token), dim=1)
    expected = prefix[:, 1:]
    after_eos = (expected == EOS).long().cumsum(1) - (expected == EOS).long() > 0
    assert torch.equal(cached, expected.masked_fill(after_eos, PAD))


def test_decode_step_with_and_without_cache_gives_the_teacher_forced_logits():
    torch.manual_seed(0)
    model = Seq2SeqTransformer(Seq2SeqConfig(**SMALL)).eval()
    src, lengths, tgt_in, _ = make_reversal_data(4, seed=2)
    with torch.no_grad():
        forced = model(src, lengths, tgt_in)  # (B, T, V)
        memory = model.encode(src, lengths)
        cache = model.decoder.new_cache()
        for t in range(tgt_in.shape[1]):
            cached = model.decode_step(tgt_in[:, t : t + 1], memory, lengths, cache=cache)
            recomputed = model.decode_step(tgt_in[:, : t + 1], memory, lengths)
            assert torch.allclose(cached, forced[:, t], atol=1e-5)
            assert torch.allclose(recomputed, forced[:, t], atol=1e-5)


def test_a_few_steps_lower_the_loss():
    """Seeded learning test on raw batches (the notebook trains to >= 95% exact match)."""
    torch.manual_seed(0)
    model = Seq2SeqTransformer(lr=3e-3)
    src, lengths, tgt_in, tgt_out = make_reversal_data(512, seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)  # no Trainer: no schedule
    losses = []
    for step in range(40):
        batch = slice(64 * (step % 8), 64 * (step % 8 + 1))
        loss = model.loss(model(src[batch], lengths[batch], tgt_in[batch]), tgt_out[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0], (losses[0], losses[-1])


def test_bad_input():
    model = Seq2SeqTransformer(Seq2SeqConfig(**SMALL))
    src, lengths, tgt_in, _ = make_reversal_data(4)
    with pytest.raises(ValueError, match="integer tensor"):
        model(src.float(), lengths, tgt_in)
    with pytest.raises(ValueError, match="valid_lens must have shape"):
        model(src, lengths[:2], tgt_in)
    with pytest.raises(ValueError, match="max_steps"):
        model.greedy_decode(src, lengths, 0)
    with pytest.raises(ValueError, match="divisible by num_heads"):
        Seq2SeqTransformer(Seq2SeqConfig(d_model=10))
    with pytest.raises(TypeError, match="unexpected keyword"):
        Seq2SeqTransformer({"d_modle": 16})
    with pytest.raises(TypeError, match="config must be"):
        Seq2SeqTransformer("small")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"src_vocab_size": 1}, ValueError, "src_vocab_size"),
        ({"tgt_vocab_size": 2.0}, TypeError, "tgt_vocab_size"),
        ({"eos_id": 13}, ValueError, "eos_id"),
        ({"pad_id": 5, "src_vocab_size": 4}, ValueError, "pad_id"),
        ({"bos_id": 0}, ValueError, "must differ"),
        ({"dropout": 1.0}, ValueError, "dropout"),
    ],
)
def test_bad_config(kwargs, error, match):
    with pytest.raises(error, match=match):
        Seq2SeqConfig(**kwargs)


def test_lazy_names():
    assert_lazy_names(dllab.core.models)


def test_trains_on_the_direct_step_with_modules_one_cycle_schedule(tmp_path):
    """The schedule is ``Module``'s recipe (no override), so the lean loop runs every batch;
    the learning rate peaks after 10% of the steps and ends near zero."""
    from lightning.pytorch.callbacks import Callback

    from dllab.core import TensorDataModule
    from dllab.core.testing import quick_trainer

    torch.manual_seed(0)
    model = Seq2SeqTransformer(Seq2SeqConfig(**SMALL), lr=3e-3)
    lrs: list[float] = []

    class Record(Callback):
        def on_train_batch_start(self, trainer, *args) -> None:
            lrs.append(trainer.optimizers[0].param_groups[0]["lr"])

    data = TensorDataModule(make_reversal_data(400, seed=0), batch_size=20, val_fraction=0.0)
    trainer = quick_trainer(tmp_path, max_epochs=2, logger=False, checkpoint=False)
    trainer.callbacks.append(Record())
    trainer.fit(model, data)
    assert trainer.fit_loop.epoch_loop.lean_batches == len(lrs) == 40
    assert lrs.index(max(lrs)) == 3 and max(lrs) == pytest.approx(3e-3)  # step 4 of 40
    assert lrs[-1] < 0.01 * max(lrs)
    assert model.automatic_optimization  # the fit leaves the model as it came
