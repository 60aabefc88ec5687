"""The embedded sequence-reversal task: format, determinism, batches and bad input."""

from __future__ import annotations

import pytest
import torch

import dllab.core.tasks
from dllab.core.tasks.reversal import (
    BOS,
    EOS,
    NUM_SPECIAL,
    PAD,
    ReversalData,
    make_reversal_data,
)
from dllab.core.testing import assert_lazy_names


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


def test_data_module_batches():
    data = ReversalData(num_samples=100, batch_size=16)
    src, lengths, _, tgt_out = next(iter(data.train_dataloader()))
    assert src.shape == (16, 8) and lengths.shape == (16,) and tgt_out.shape == (16, 9)
    assert data.vocab_size == 13 and len(data.val_tensors[0]) == 10


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"num_samples": 10, "min_len": 5, "max_len": 3}, ValueError, "max_len"),
        ({"num_samples": 0}, ValueError, "num_samples"),
        ({"num_samples": 10, "num_digits": 2.5}, TypeError, "num_digits"),
        ({"num_samples": 10, "seed": "0"}, TypeError, "seed"),
    ],
)
def test_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_reversal_data(**kwargs)


def test_lazy_names():
    assert_lazy_names(dllab.core.tasks)
