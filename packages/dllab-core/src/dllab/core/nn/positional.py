"""Positional encodings: sinusoidal (Vaswani et al. 2017), learned, and rotary (RoPE, Su et al. 2021).

Sinusoidal and learned encodings are added to the token embeddings ``(B, T, d)``. Rotary
embeddings instead rotate each query and key ``(..., T, head_dim)`` by an angle proportional to
its position, so that ``q_m . k_n`` depends on the offset ``m - n`` only. Every ``forward``
takes ``offset``, the position of the first token, which incremental decoding needs.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dllab.core.checks import check_float_tensor, check_int, check_positive_int, check_probability


def sinusoidal_table(
    max_len: int, d_model: int, base: float = 10000.0, dtype: torch.dtype = torch.float32
) -> Tensor:
    """``P[pos, 2i] = sin(pos / base^(2i/d))`` and ``P[pos, 2i+1] = cos(...)``, ``(max_len, d)``."""
    check_positive_int(max_len, "max_len")
    check_positive_int(d_model, "d_model")
    positions = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)  # (L, 1)
    even = torch.arange(0, d_model, 2, dtype=torch.float64)  # (ceil(d/2),)
    angles = positions / base ** (even / d_model)  # (L, ceil(d/2))
    table = torch.zeros(max_len, d_model, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return table.to(dtype)


def _check_positions(x: Tensor, offset: int, d_model: int, max_len: int) -> None:
    check_float_tensor(x, "x")
    if x.dim() < 2 or x.shape[-1] != d_model:
        raise ValueError(f"x must have shape (..., T, {d_model}), got {tuple(x.shape)}")
    check_int(offset, "offset", min=0)
    if offset + x.shape[-2] > max_len:
        raise ValueError(
            f"positions up to {offset + x.shape[-2] - 1} exceed max_len={max_len}; "
            "build the encoding with a larger max_len"
        )


class SinusoidalPositionalEncoding(nn.Module):
    """Adds the fixed sinusoidal table to ``(B, T, d)`` inputs, then dropout.

    Args:
        d_model: feature size ``d``.
        max_len: longest sequence (positions ``0 .. max_len - 1``).
        dropout: dropout after the addition.
        base: wavelength base, 10000 in the paper.
    """

    def __init__(
        self, d_model: int, max_len: int = 1000, dropout: float = 0.0, base: float = 10000.0
    ) -> None:
        super().__init__()
        self.d_model, self.max_len = d_model, max_len
        self.dropout = nn.Dropout(check_probability(dropout, "dropout"))
        self.register_buffer("P", sinusoidal_table(max_len, d_model, base), persistent=False)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        """``x + P[offset : offset + T]``, shape ``(B, T, d)``."""
        _check_positions(x, offset, self.d_model, self.max_len)
        table = self.P[offset : offset + x.shape[-2]].to(x.dtype)  # (T, d)
        return self.dropout(x + table)


class LearnedPositionalEncoding(nn.Module):
    """Adds a learned embedding per position (BERT, GPT, ViT), then dropout.

    Args:
        d_model: feature size ``d``.
        max_len: number of positions.
        dropout: dropout after the addition.
    """

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0) -> None:
        super().__init__()
        check_positive_int(d_model, "d_model")
        check_positive_int(max_len, "max_len")
        self.d_model, self.max_len = d_model, max_len
        self.P = nn.Parameter(torch.randn(max_len, d_model) * 0.02)
        self.dropout = nn.Dropout(check_probability(dropout, "dropout"))

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        """``x + P[offset : offset + T]``, shape ``(B, T, d)``."""
        _check_positions(x, offset, self.d_model, self.max_len)
        return self.dropout(x + self.P[offset : offset + x.shape[-2]])


def rotate_half(x: Tensor) -> Tensor:
    """``[x1, x2] -> [-x2, x1]`` on the halves of the last axis."""
    x1, x2 = x.chunk(2, dim=-1)  # (..., hd/2) each
    return torch.cat((-x2, x1), dim=-1)  # (..., hd)


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (RoPE) for queries and keys.

    Feature ``i`` and ``i + hd/2`` of a vector at position ``m`` are rotated by the angle
    ``m * base^(-2i/hd)`` (the "rotate half" layout of GPT-NeoX and Llama). It has no
    parameters; apply it to queries and keys after splitting heads.

    Args:
        head_dim: per-head feature size (even).
        base: wavelength base.
        max_len: longest position supported.
    """

    def __init__(self, head_dim: int, base: float = 10000.0, max_len: int = 8192) -> None:
        super().__init__()
        check_positive_int(head_dim, "head_dim")
        check_positive_int(max_len, "max_len")
        if head_dim % 2:
            raise ValueError(f"RoPE needs an even head_dim, got {head_dim}")
        self.head_dim, self.base, self.max_len = head_dim, base, max_len
        half = torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim  # (hd/2,)
        self.register_buffer("inv_freq", base**-half, persistent=False)

    def angles(self, length: int, offset: int = 0) -> tuple[Tensor, Tensor]:
        """``(cos, sin)`` of positions ``offset .. offset + length - 1``, each ``(length, hd)``."""
        positions = torch.arange(offset, offset + length, dtype=torch.float64)
        freqs = positions.to(self.inv_freq.device).unsqueeze(1) * self.inv_freq  # (T, hd/2)
        freqs = torch.cat((freqs, freqs), dim=-1)  # (T, hd)
        return freqs.cos(), freqs.sin()

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        """Rotate ``x`` ``(..., T, head_dim)`` whose first token sits at position ``offset``."""
        _check_positions(x, offset, self.head_dim, self.max_len)
        cos, sin = self.angles(x.shape[-2], offset)  # (T, hd) each
        return x * cos.to(x.dtype) + rotate_half(x) * sin.to(x.dtype)
