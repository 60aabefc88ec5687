"""Transformer blocks and stacks (Vaswani et al. 2017, "Attention Is All You Need"; d2l 11.7).

- ``PositionWiseFFN``: the same two-layer MLP applied at every position.
- ``AddNorm``: residual connection and layer norm around a sublayer, post-norm as in the
  paper (``norm(x + sublayer(x))``) or pre-norm (``x + sublayer(norm(x))``).
- ``TransformerEncoderBlock`` / ``TransformerDecoderBlock`` and the stacks
  ``TransformerEncoder`` / ``TransformerDecoder``, which work on embeddings ``(B, T, d)``;
  token embeddings, positions and output heads belong to the model that uses them.
- Incremental decoding: ``TransformerDecoder.new_cache()`` returns a ``DecoderCache`` holding
  one self-attention ``KVCache`` and one static cross-attention cache per block.
- ``load_from_torch_encoder_layer`` / ``load_from_torch_decoder_layer`` copy the weights of
  ``nn.TransformerEncoderLayer`` / ``nn.TransformerDecoderLayer`` into a block.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor, nn
from torch.nn import functional as F

from dllab.core.checks import check_positive_int, check_probability
from dllab.core.nn.attention import Impl
from dllab.core.nn.kv_cache import DecoderCache, LayerCache
from dllab.core.nn.multihead import MultiHeadAttention, load_from_torch_mha

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"relu": F.relu, "gelu": F.gelu}


class PositionWiseFFN(nn.Module):
    """``dense2(dropout(activation(dense1(x))))`` at every position.

    Args:
        d_model: input and output size.
        ffn_hidden: hidden size.
        dropout: dropout after the activation.
        activation: ``"relu"`` or ``"gelu"``.
        bias: add biases.
    """

    def __init__(
        self,
        d_model: int,
        ffn_hidden: int,
        dropout: float = 0.0,
        activation: str = "relu",
        bias: bool = True,
    ) -> None:
        super().__init__()
        check_positive_int(d_model, "d_model")
        check_positive_int(ffn_hidden, "ffn_hidden")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.dense1 = nn.Linear(d_model, ffn_hidden, bias=bias)
        self.activation = ACTIVATIONS[activation]
        self.dropout = nn.Dropout(check_probability(dropout, "dropout"))
        self.dense2 = nn.Linear(ffn_hidden, d_model, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        """``(..., d) -> (..., d)``."""
        return self.dense2(self.dropout(self.activation(self.dense1(x))))


class AddNorm(nn.Module):
    """Residual connection with dropout and layer norm.

    ``forward(x, sublayer)`` computes ``norm(x + dropout(sublayer(x)))`` (post-norm) or
    ``x + dropout(sublayer(norm(x)))`` (``norm_first=True``). ``forward(x, y)`` with a tensor
    ``y`` is d2l's post-norm ``norm(x + dropout(y))``.

    Args:
        d_model: normalized size.
        dropout: dropout on the sublayer output.
        norm_first: pre-norm instead of the paper's post-norm.
        eps: layer-norm epsilon.
        bias: layer norm with a bias.
    """

    def __init__(
        self,
        d_model: int,
        dropout: float = 0.0,
        norm_first: bool = False,
        eps: float = 1e-5,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(check_positive_int(d_model, "d_model"), eps=eps, bias=bias)
        self.dropout = nn.Dropout(check_probability(dropout, "dropout"))
        self.norm_first = norm_first

    def forward(self, x: Tensor, sublayer: Callable[[Tensor], Tensor] | Tensor) -> Tensor:
        """Apply the residual block; shapes are ``(..., d)``."""
        if isinstance(sublayer, Tensor):
            if self.norm_first:
                raise ValueError("a pre-norm AddNorm needs the sublayer itself, not its output")
            if sublayer.shape != x.shape:
                raise ValueError(f"shapes differ: x {tuple(x.shape)}, y {tuple(sublayer.shape)}")
            return self.norm(x + self.dropout(sublayer))
        if self.norm_first:
            return x + self.dropout(sublayer(self.norm(x)))
        return self.norm(x + self.dropout(sublayer(x)))


@dataclass
class BlockOptions:
    """Shared options of encoder and decoder blocks (mirroring ``nn.TransformerEncoderLayer``)."""

    dropout: float = 0.0
    """Dropout in the residual branches, the FFN and on attention weights."""
    activation: str = "relu"
    """FFN activation: ``"relu"`` or ``"gelu"``."""
    norm_first: bool = False
    """Pre-norm blocks instead of the paper's post-norm."""
    layer_norm_eps: float = 1e-5
    """Layer-norm epsilon."""
    bias: bool = True
    """Biases in projections, FFN and layer norms."""
    impl: Impl = "sdpa"
    """Attention implementation: ``"sdpa"`` (fast) or ``"scratch"``."""

    def add_norm(self, d_model: int) -> AddNorm:
        return AddNorm(d_model, self.dropout, self.norm_first, self.layer_norm_eps, self.bias)

    def attention(self, d_model: int, num_heads: int) -> MultiHeadAttention:
        return MultiHeadAttention(d_model, num_heads, self.dropout, self.bias, self.impl)

    def ffn(self, d_model: int, ffn_hidden: int) -> PositionWiseFFN:
        return PositionWiseFFN(d_model, ffn_hidden, self.dropout, self.activation, self.bias)

    def final_norm(self, d_model: int) -> nn.LayerNorm | None:
        """Pre-norm stacks end with a layer norm; post-norm blocks already end normalized."""
        if not self.norm_first:
            return None
        return nn.LayerNorm(d_model, eps=self.layer_norm_eps, bias=self.bias)


class TransformerEncoderBlock(nn.Module):
    """Self-attention and a position-wise FFN, each inside an ``AddNorm``.

    Args:
        d_model: model size ``d``.
        num_heads: attention heads (must divide ``d_model``).
        ffn_hidden: FFN hidden size.
        **options: ``BlockOptions`` fields (dropout, activation, norm_first, ...).
    """

    def __init__(self, d_model: int, num_heads: int, ffn_hidden: int, **options: object) -> None:
        super().__init__()
        opts = BlockOptions(**options)  # type: ignore[arg-type]
        self.attention = opts.attention(d_model, num_heads)
        self.addnorm1 = opts.add_norm(d_model)
        self.ffn = opts.ffn(d_model, ffn_hidden)
        self.addnorm2 = opts.add_norm(d_model)

    def forward(
        self,
        x: Tensor,
        *,
        key_padding_mask: Tensor | None = None,
        valid_lens: Tensor | None = None,
        attn_mask: Tensor | None = None,
        is_causal: bool = False,
        need_weights: bool = False,
    ) -> Tensor:
        """``(B, T, d) -> (B, T, d)``; masks as in ``MultiHeadAttention.forward``."""

        def self_attention(h: Tensor) -> Tensor:
            return self.attention(
                h,
                key_padding_mask=key_padding_mask,
                valid_lens=valid_lens,
                attn_mask=attn_mask,
                is_causal=is_causal,
                need_weights=need_weights,
            )

        x = self.addnorm1(x, self_attention)
        return self.addnorm2(x, self.ffn)


class TransformerDecoderBlock(nn.Module):
    """Causal self-attention, cross-attention to the encoder output, and an FFN.

    Args:
        d_model: model size ``d``.
        num_heads: attention heads.
        ffn_hidden: FFN hidden size.
        cross_attention: False drops the cross-attention (a decoder-only, GPT-style block).
        **options: ``BlockOptions`` fields.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        ffn_hidden: int,
        cross_attention: bool = True,
        **options: object,
    ) -> None:
        super().__init__()
        opts = BlockOptions(**options)  # type: ignore[arg-type]
        self.self_attention = opts.attention(d_model, num_heads)
        self.addnorm1 = opts.add_norm(d_model)
        self.cross_attention = opts.attention(d_model, num_heads) if cross_attention else None
        self.addnorm2 = opts.add_norm(d_model) if cross_attention else None
        self.ffn = opts.ffn(d_model, ffn_hidden)
        self.addnorm3 = opts.add_norm(d_model)

    def forward(
        self,
        x: Tensor,
        memory: Tensor | None = None,
        *,
        is_causal: bool = True,
        tgt_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        memory_valid_lens: Tensor | None = None,
        cache: LayerCache | None = None,
        need_weights: bool = False,
    ) -> Tensor:
        """``(B, T, d)`` targets attending to ``memory`` ``(B, S, d)`` -> ``(B, T, d)``.

        With ``cache``, ``x`` holds only the new tokens; earlier ones come from the cache.
        """

        def self_attention(h: Tensor) -> Tensor:
            return self.self_attention(
                h,
                attn_mask=tgt_mask,
                key_padding_mask=tgt_key_padding_mask,
                is_causal=is_causal,
                need_weights=need_weights,
                cache=None if cache is None else cache.self_attn,
            )

        def cross_attention(h: Tensor) -> Tensor:
            assert self.cross_attention is not None and memory is not None
            return self.cross_attention(
                h,
                memory,
                memory,
                key_padding_mask=memory_key_padding_mask,
                valid_lens=memory_valid_lens,
                need_weights=need_weights,
                cache=None if cache is None else cache.cross_attn,
            )

        x = self.addnorm1(x, self_attention)
        if self.cross_attention is not None:
            if memory is None:
                raise ValueError("this decoder block has cross-attention: pass memory (B, S, d)")
            assert self.addnorm2 is not None
            x = self.addnorm2(x, cross_attention)
        return self.addnorm3(x, self.ffn)


class TransformerEncoder(nn.Module):
    """A stack of ``num_layers`` encoder blocks, with a final layer norm when pre-norm.

    Args:
        num_layers: number of blocks.
        d_model, num_heads, ffn_hidden, **options: as in ``TransformerEncoderBlock``.
    """

    def __init__(
        self, num_layers: int, d_model: int, num_heads: int, ffn_hidden: int, **options: object
    ) -> None:
        super().__init__()
        check_positive_int(num_layers, "num_layers")
        self.blocks = nn.ModuleList(
            TransformerEncoderBlock(d_model, num_heads, ffn_hidden, **options)
            for _ in range(num_layers)
        )
        self.norm = BlockOptions(**options).final_norm(d_model)  # type: ignore[arg-type]

    def forward(self, x: Tensor, **masks: object) -> Tensor:
        """``(B, T, d) -> (B, T, d)``; keyword masks as in ``TransformerEncoderBlock``."""
        for block in self.blocks:
            x = block(x, **masks)
        return x if self.norm is None else self.norm(x)

    @property
    def attention_weights(self) -> list[Tensor | None]:
        """Per block, the weights ``(B, H, T, T)`` of the last ``need_weights=True`` call."""
        return [block.attention.attention_weights for block in self.blocks]


class TransformerDecoder(nn.Module):
    """A stack of ``num_layers`` decoder blocks, with a final layer norm when pre-norm.

    Args:
        num_layers: number of blocks.
        d_model, num_heads, ffn_hidden, cross_attention, **options: as in
            ``TransformerDecoderBlock``.
    """

    def __init__(
        self,
        num_layers: int,
        d_model: int,
        num_heads: int,
        ffn_hidden: int,
        cross_attention: bool = True,
        **options: object,
    ) -> None:
        super().__init__()
        check_positive_int(num_layers, "num_layers")
        self.blocks = nn.ModuleList(
            TransformerDecoderBlock(d_model, num_heads, ffn_hidden, cross_attention, **options)
            for _ in range(num_layers)
        )
        self.norm = BlockOptions(**options).final_norm(d_model)  # type: ignore[arg-type]

    def new_cache(self) -> DecoderCache:
        """Empty caches for incremental decoding of a new batch of sequences."""
        return DecoderCache([LayerCache() for _ in self.blocks])

    def forward(
        self,
        x: Tensor,
        memory: Tensor | None = None,
        *,
        cache: DecoderCache | None = None,
        **masks: object,
    ) -> Tensor:
        """``(B, T, d)`` -> ``(B, T, d)``; with ``cache``, ``x`` is the new tokens only."""
        if cache is not None and len(cache.layers) != len(self.blocks):
            raise ValueError(
                f"cache has {len(cache.layers)} layers, decoder has {len(self.blocks)}"
            )
        for i, block in enumerate(self.blocks):
            layer_cache = None if cache is None else cache.layers[i]
            x = block(x, memory, cache=layer_cache, **masks)
        return x if self.norm is None else self.norm(x)

    @property
    def attention_weights(self) -> list[tuple[Tensor | None, Tensor | None]]:
        """Per block, ``(self-attention, cross-attention)`` weights of the last weighted call."""
        return [
            (
                block.self_attention.attention_weights,
                None if block.cross_attention is None else block.cross_attention.attention_weights,
            )
            for block in self.blocks
        ]


def _copy(ours: nn.Module, theirs: nn.Module, name: str) -> None:
    mine, other = ours.state_dict(), theirs.state_dict()
    shapes = {k: tuple(v.shape) for k, v in mine.items()}
    if shapes != {k: tuple(v.shape) for k, v in other.items()}:
        raise ValueError(
            f"{name} differs: block has {shapes}, torch layer has "
            f"{ {k: tuple(v.shape) for k, v in other.items()} }"
        )
    ours.load_state_dict(other)


def _copy_norm(ours: AddNorm, theirs: nn.LayerNorm, name: str) -> None:
    _copy(ours.norm, theirs, name)


def _copy_ffn(ours: PositionWiseFFN, linear1: nn.Linear, linear2: nn.Linear) -> None:
    _copy(ours.dense1, linear1, "FFN first layer")
    _copy(ours.dense2, linear2, "FFN second layer")


def _check_same_structure(block: nn.Module, layer: nn.Module) -> None:
    ours = block.addnorm1.norm_first  # type: ignore[union-attr]
    if ours != layer.norm_first:
        raise ValueError(f"norm_first differs: block {ours}, torch layer {layer.norm_first}")
    theirs = layer.activation
    mine = block.ffn.activation  # type: ignore[union-attr]
    if theirs in ACTIVATIONS.values() and theirs is not mine:
        raise ValueError(
            f"activation differs: block {mine.__name__}, torch layer {theirs.__name__}"
        )


def load_from_torch_encoder_layer(
    block: TransformerEncoderBlock, layer: nn.TransformerEncoderLayer
) -> None:
    """Copy an ``nn.TransformerEncoderLayer``'s weights into ``block`` (same sizes, same norm order)."""
    if not isinstance(layer, nn.TransformerEncoderLayer):
        raise TypeError(f"expected nn.TransformerEncoderLayer, got {type(layer).__name__}")
    _check_same_structure(block, layer)
    load_from_torch_mha(block.attention, layer.self_attn)
    _copy_ffn(block.ffn, layer.linear1, layer.linear2)
    _copy_norm(block.addnorm1, layer.norm1, "norm1")
    _copy_norm(block.addnorm2, layer.norm2, "norm2")


def load_from_torch_decoder_layer(
    block: TransformerDecoderBlock, layer: nn.TransformerDecoderLayer
) -> None:
    """Copy an ``nn.TransformerDecoderLayer``'s weights into ``block`` (with cross-attention)."""
    if not isinstance(layer, nn.TransformerDecoderLayer):
        raise TypeError(f"expected nn.TransformerDecoderLayer, got {type(layer).__name__}")
    if block.cross_attention is None or block.addnorm2 is None:
        raise ValueError("the block has no cross-attention; torch decoder layers always do")
    _check_same_structure(block, layer)
    load_from_torch_mha(block.self_attention, layer.self_attn)
    load_from_torch_mha(block.cross_attention, layer.multihead_attn)
    _copy_ffn(block.ffn, layer.linear1, layer.linear2)
    _copy_norm(block.addnorm1, layer.norm1, "norm1")
    _copy_norm(block.addnorm2, layer.norm2, "norm2")
    _copy_norm(block.addnorm3, layer.norm3, "norm3")
