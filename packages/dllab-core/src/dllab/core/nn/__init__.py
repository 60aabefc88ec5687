"""Neural-network building blocks: attention and Transformers.

- ``masking``: valid-length, padding and causal masks; ``masked_softmax``.
- ``kernel_regression``: Nadaraya–Watson attention pooling (non-parametric and learned width).
- ``attention``: scaled dot-product attention from scratch and through SDPA; additive attention.
- ``multihead``: ``MultiHeadAttention`` and ``load_from_torch_mha``.
- ``positional``: sinusoidal, learned and rotary position encodings.
- ``transformer``: FFN, AddNorm, encoder/decoder blocks and stacks, torch weight loading.
- ``kv_cache``: key/value caches for token-by-token decoding.
- ``heatmaps``: attention weights drawn to a PNG grid.

Trainable models built from these blocks live in ``dllab.core.models`` (``Seq2SeqTransformer``)
and the embedded toy tasks in ``dllab.core.tasks`` (sequence reversal).

Names load lazily, so ``import dllab.core.nn`` does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dllab.core.lazy import lazy_exports

if TYPE_CHECKING:
    from dllab.core.nn.attention import (
        AdditiveAttention,
        DotProductAttention,
        attend,
        dot_product_attention,
        sdpa_attention,
    )
    from dllab.core.nn.heatmaps import plot_attention_heatmaps
    from dllab.core.nn.kernel_regression import (
        NadarayaWatson,
        kernel_weights,
        leave_one_out_mask,
        nadaraya_watson,
    )
    from dllab.core.nn.kv_cache import DecoderCache, KVCache
    from dllab.core.nn.masking import causal_mask, lengths_to_mask, masked_softmax, padding_mask
    from dllab.core.nn.multihead import MultiHeadAttention, load_from_torch_mha
    from dllab.core.nn.positional import (
        LearnedPositionalEncoding,
        RotaryEmbedding,
        SinusoidalPositionalEncoding,
        sinusoidal_table,
    )
    from dllab.core.nn.transformer import (
        AddNorm,
        PositionWiseFFN,
        TransformerDecoder,
        TransformerDecoderBlock,
        TransformerEncoder,
        TransformerEncoderBlock,
        load_from_torch_decoder_layer,
        load_from_torch_encoder_layer,
    )

_LAZY = {
    "lengths_to_mask": "masking",
    "padding_mask": "masking",
    "causal_mask": "masking",
    "masked_softmax": "masking",
    "nadaraya_watson": "kernel_regression",
    "kernel_weights": "kernel_regression",
    "NadarayaWatson": "kernel_regression",
    "leave_one_out_mask": "kernel_regression",
    "dot_product_attention": "attention",
    "sdpa_attention": "attention",
    "attend": "attention",
    "DotProductAttention": "attention",
    "AdditiveAttention": "attention",
    "MultiHeadAttention": "multihead",
    "load_from_torch_mha": "multihead",
    "sinusoidal_table": "positional",
    "SinusoidalPositionalEncoding": "positional",
    "LearnedPositionalEncoding": "positional",
    "RotaryEmbedding": "positional",
    "PositionWiseFFN": "transformer",
    "AddNorm": "transformer",
    "TransformerEncoderBlock": "transformer",
    "TransformerDecoderBlock": "transformer",
    "TransformerEncoder": "transformer",
    "TransformerDecoder": "transformer",
    "DecoderCache": "kv_cache",
    "load_from_torch_encoder_layer": "transformer",
    "load_from_torch_decoder_layer": "transformer",
    "KVCache": "kv_cache",
    "plot_attention_heatmaps": "heatmaps",
}

__getattr__, __dir__, __all__ = lazy_exports(
    __name__, {name: f"{__name__}.{module}" for name, module in _LAZY.items()}
)
