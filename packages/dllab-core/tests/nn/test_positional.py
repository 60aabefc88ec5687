"""Positional encodings: the sinusoidal closed form, learned positions, and RoPE's relative
invariance."""

from __future__ import annotations

import math

import pytest
import torch

from dllab.core.nn.positional import (
    LearnedPositionalEncoding,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    sinusoidal_table,
)
from dllab.core.testing import assert_close_to_reference


@pytest.mark.parametrize("d_model", [8, 7])
def test_sinusoidal_table_matches_the_closed_form(d_model):
    table = sinusoidal_table(50, d_model, dtype=torch.float64)
    expected = torch.zeros(50, d_model, dtype=torch.float64)
    for pos in range(50):
        for j in range(d_model):
            angle = pos / 10000 ** (2 * (j // 2) / d_model)
            expected[pos, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    assert_close_to_reference(table, expected, atol=1e-12, name="sinusoidal table")


def test_sinusoidal_encoding_adds_the_table_from_an_offset():
    encoding = SinusoidalPositionalEncoding(6, max_len=20)
    x = torch.randn(2, 5, 6)
    table = sinusoidal_table(20, 6)
    assert_close_to_reference(encoding(x), x + table[:5], atol=1e-7)
    assert_close_to_reference(encoding(x, offset=3), x + table[3:8], atol=1e-7)
    x64 = x.double()
    assert encoding(x64).dtype == torch.float64


def test_learned_encoding_slices_and_trains():
    encoding = LearnedPositionalEncoding(4, max_len=10)
    x = torch.zeros(3, 2, 4)
    assert torch.equal(encoding(x, offset=4), encoding.P[4:6].expand(3, 2, 4))
    target = torch.ones(3, 2, 4)
    before = encoding.P.detach().clone()
    optimizer = torch.optim.SGD(encoding.parameters(), lr=1.0)
    for _ in range(20):
        loss = ((encoding(x) - target) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 1e-3
    after = encoding.P.detach()
    assert torch.equal(after[2:], before[2:])  # rows past the sequence get no gradient
    assert (after[:2] - before[:2]).abs().min() > 0.5  # the used rows moved towards 1


def complex_rope(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Reference RoPE: pair feature i with i + hd/2 as a complex number, multiply by e^{i m theta}."""
    half = x.shape[-1] // 2
    theta = base ** (-torch.arange(half, dtype=torch.float64) * 2 / x.shape[-1])
    z = torch.complex(x[..., :half], x[..., half:])
    angles = positions[:, None].double() * theta  # (T, hd/2)
    rotated = z * torch.polar(torch.ones_like(angles), angles)
    return torch.cat((rotated.real, rotated.imag), dim=-1)


def test_rope_matches_complex_rotation():
    rope = RotaryEmbedding(8)
    x = torch.randn(2, 3, 5, 8, dtype=torch.float64)
    expected = complex_rope(x, torch.arange(7, 12))
    assert_close_to_reference(rope(x, offset=7), expected, atol=1e-12, name="RoPE")


def test_rope_scores_depend_only_on_the_offset():
    """q_m . k_n == q_{m+s} . k_{n+s}: the same vectors placed at shifted positions."""
    rope = RotaryEmbedding(16)
    q, k = torch.randn(16, dtype=torch.float64), torch.randn(16, dtype=torch.float64)
    seq_q = q.expand(40, 16)
    seq_k = k.expand(40, 16)
    rq, rk = rope(seq_q), rope(seq_k)  # positions 0..39
    scores = rq @ rk.T  # (40, 40): entry (m, n) = <R_m q, R_n k>
    for offset in (-7, 0, 3, 11):
        diagonal = torch.diagonal(scores, offset=offset)
        assert_close_to_reference(diagonal, diagonal[0].expand_as(diagonal), atol=1e-10)
    assert not torch.allclose(torch.diagonal(scores, 0)[0], torch.diagonal(scores, 5)[0])
    assert_close_to_reference(rq.norm(dim=-1), q.norm().expand(40), atol=1e-12, name="norm")
    assert_close_to_reference(rope(seq_q[:1]), seq_q[:1], atol=0, name="position 0")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: RotaryEmbedding(7), ValueError, "even head_dim"),
        (lambda: RotaryEmbedding(8)(torch.randn(2, 3, 6)), ValueError, r"\(\.\.\., T, 8\)"),
        (lambda: RotaryEmbedding(8, max_len=4)(torch.randn(5, 8)), ValueError, "max_len=4"),
        (
            lambda: SinusoidalPositionalEncoding(4)(torch.randn(2, 3, 4), offset=-1),
            ValueError,
            "offset",
        ),
        (
            lambda: SinusoidalPositionalEncoding(4, max_len=5)(torch.randn(1, 6, 4)),
            ValueError,
            "exceed max_len",
        ),
        (lambda: SinusoidalPositionalEncoding(0), ValueError, "d_model"),
        (lambda: LearnedPositionalEncoding(4, dropout=1.0), ValueError, "dropout"),
        (
            lambda: LearnedPositionalEncoding(4)(torch.ones(2, 3, 4, dtype=torch.long)),
            ValueError,
            "floating-point",
        ),
        (lambda: sinusoidal_table(10, 2.5), TypeError, "d_model must be an int"),
    ],
)
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()
