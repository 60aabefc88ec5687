"""Masks and the masked softmax: exact zeros, no NaN, and clear errors."""

from __future__ import annotations

import pytest
import torch

from dllab.core.nn.masking import (
    causal_mask,
    lengths_to_mask,
    masked_softmax,
    padding_mask,
)
from dllab.core.testing import assert_close_to_reference


def reference_softmax(scores: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """torch.softmax over ``masked_fill(-inf)``: the textbook masked softmax (NaN when all masked)."""
    return torch.softmax(scores.masked_fill(~keep, float("-inf")), dim=-1)


def test_lengths_to_mask_matches_a_loop():
    valid_lens = torch.tensor([0, 2, 5, 7])
    mask = lengths_to_mask(valid_lens, 5)
    expected = torch.tensor([[j < int(n) for j in range(5)] for n in valid_lens])
    assert mask.dtype == torch.bool and torch.equal(mask, expected)
    assert torch.equal(padding_mask(valid_lens, 5), ~expected)


def test_causal_mask_is_lower_triangle_and_aligns_queries_to_the_end():
    assert torch.equal(causal_mask(4), torch.ones(4, 4, dtype=torch.bool).tril())
    tail = causal_mask(2, 5)  # queries are positions 3 and 4
    assert torch.equal(tail, causal_mask(5)[3:])
    assert torch.equal(causal_mask(2, 5, offset=0), torch.ones(2, 5, dtype=torch.bool).tril())


def test_per_sequence_valid_lens_match_the_reference_softmax():
    scores = torch.randn(3, 4, 6, dtype=torch.float64)
    valid_lens = torch.tensor([1, 4, 6])
    weights = masked_softmax(scores, valid_lens)
    keep = lengths_to_mask(valid_lens, 6)[:, None, :]
    assert_close_to_reference(weights, reference_softmax(scores, keep), atol=1e-15, name="weights")
    assert torch.all(weights[~keep.expand_as(weights)] == 0.0)  # exactly zero, not tiny
    assert_close_to_reference(weights.sum(-1), torch.ones(3, 4), atol=1e-12, name="row sums")


def test_per_query_valid_lens_and_extra_dims():
    scores = torch.randn(2, 3, 4, 5, dtype=torch.float64)  # (B, H, Tq, Tk)
    valid_lens = torch.tensor([[1, 2, 3, 5], [5, 4, 3, 2]])  # (B, Tq)
    weights = masked_softmax(scores, valid_lens)
    keep = lengths_to_mask(valid_lens, 5)[:, None]  # (B, 1, Tq, Tk)
    assert_close_to_reference(weights, reference_softmax(scores, keep), atol=1e-15, name="weights")


def test_bool_and_float_masks_agree():
    scores = torch.randn(2, 4, 5)
    keep = torch.rand(2, 4, 5) > 0.3
    keep[..., 0] = True
    float_mask = torch.zeros(2, 4, 5).masked_fill(~keep, float("-inf"))
    assert torch.equal(masked_softmax(scores, mask=keep), masked_softmax(scores, mask=float_mask))
    assert_close_to_reference(
        masked_softmax(scores, mask=keep), reference_softmax(scores, keep), atol=1e-7
    )


def test_fully_masked_rows_give_zeros_and_finite_gradients():
    scores = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    valid_lens = torch.tensor([0, 2])  # the first sequence has no valid key at all
    weights = masked_softmax(scores, valid_lens)
    assert torch.isfinite(weights).all()
    assert torch.all(weights[0] == 0.0)
    (weights * torch.randn_like(weights)).sum().backward()
    assert torch.isfinite(scores.grad).all()
    assert torch.all(scores.grad[0] == 0.0) and torch.all(scores.grad[1, :, 2:] == 0.0)


def test_no_mask_is_plain_softmax():
    scores = torch.randn(3, 5)
    assert torch.equal(masked_softmax(scores), torch.softmax(scores, dim=-1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"valid_lens": torch.tensor([1.0, 2.0])}, "integer tensor"),
        ({"valid_lens": torch.tensor([1, 2, 3])}, "valid_lens must have shape"),
        ({"valid_lens": torch.tensor([-1, 2])}, ">= 0"),
        ({"mask": torch.ones(2, 3, 4, dtype=torch.int64)}, "bool tensor"),
        ({"mask": torch.ones(2, 3, 5, dtype=torch.bool)}, "does not broadcast"),
        ({"mask": torch.ones(3, 3, 4, dtype=torch.bool)}, "does not broadcast"),
    ],
)
def test_bad_masks_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        masked_softmax(torch.randn(2, 3, 4), **kwargs)


def test_bad_scores_and_sizes():
    with pytest.raises(TypeError, match="floating-point"):
        masked_softmax(torch.ones(2, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="batched scores"):
        masked_softmax(torch.randn(3, 4), valid_lens=torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="sizes must be >= 0"):
        causal_mask(-1)
    with pytest.raises(ValueError, match=r"shape \(B,\)"):
        padding_mask(torch.tensor([[1, 2]]), 3)
