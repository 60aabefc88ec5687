"""BERT (Devlin et al. 2019, "BERT: Pre-training of Deep Bidirectional Transformers"; d2l 15.8).

- ``BERTEncoder``: token + segment + learned position embeddings (summed, then layer norm and
  dropout), over core's post-norm ``TransformerEncoder`` with GELU. Padding is masked out of
  every attention: ``(ids, segments, valid_lens) -> (B, T, d)``.
- ``BERTModel``: the encoder with the two pretraining heads, masked language modelling (MLM,
  predict the original token at masked positions) and next-sentence prediction (NSP, from the
  pooled ``<cls>`` state ``tanh(W h_cls)``).
- ``BERTClassifier``: the encoder and pooler with a classification head, for fine-tuning on
  single texts ``(ids, valid_lens)`` (all segments 0).
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from dllab.core.checks import check_int, check_int_tensor, check_positive_int, check_probability
from dllab.core.nn.masking import padding_mask
from dllab.core.nn.transformer import TransformerEncoder
from dllab.nlp.models.inputs import check_token_batch


@dataclass
class BERTConfig:
    """The sizes of a BERT network."""

    vocab_size: int
    """Number of token ids (the tokenizer's ``vocab_size``)."""
    d_model: int = 64
    """Hidden size ``d``."""
    num_heads: int = 2
    """Attention heads per layer (must divide ``d_model``)."""
    ffn_hidden: int = 128
    """Hidden size of each layer's feed-forward network."""
    num_layers: int = 2
    """Encoder layers."""
    max_len: int = 64
    """Longest input, in tokens (the number of learned positions)."""
    dropout: float = 0.1
    """Dropout on embeddings, attention weights, residual branches and heads."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def fields(cls) -> tuple[str, ...]:
        """The size names after ``vocab_size`` (the keyword options of a BERT network)."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.name != "vocab_size")


class BERTEncoder(nn.Module):
    """BERT's embeddings and Transformer encoder.

    Args:
        vocab_size, d_model, num_heads, ffn_hidden, num_layers, max_len, dropout: see
            ``BERTConfig``.
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int = 64,
        num_heads: int = 2,
        ffn_hidden: int = 128,
        num_layers: int = 2,
        max_len: int = 64,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.vocab_size = check_positive_int(vocab_size, "vocab_size")
        self.max_len = check_positive_int(max_len, "max_len")
        self.token_embedding = nn.Embedding(vocab_size, check_positive_int(d_model, "d_model"))
        self.segment_embedding = nn.Embedding(2, d_model)
        for table in (self.token_embedding, self.segment_embedding):
            nn.init.normal_(table.weight, std=0.02)  # BERT's init: positions weigh as much
        self.pos_embedding = nn.Parameter(torch.randn(1, max_len, d_model) * 0.02)
        self.embed_norm = nn.LayerNorm(d_model)
        self.embed_dropout = nn.Dropout(check_probability(dropout, "dropout"))
        self.blocks = TransformerEncoder(
            num_layers, d_model, num_heads, ffn_hidden, dropout=dropout, activation="gelu"
        )

    @classmethod
    def from_config(cls, config: BERTConfig) -> BERTEncoder:
        """The encoder of ``config``'s sizes."""
        return cls(**config.to_dict())

    def embed(self, ids: Tensor, segments: Tensor) -> Tensor:
        """``norm(E_tok[ids] + E_seg[segments] + P[:T])``, then dropout: ``(B, T, d)``."""
        length = ids.shape[1]
        x = self.token_embedding(ids) + self.segment_embedding(segments)  # (B, T, d)
        x = x + self.pos_embedding[:, :length]  # (1, T, d) broadcast over the batch
        return self.embed_dropout(self.embed_norm(x))

    def forward(self, ids: Tensor, segments: Tensor | None, valid_lens: Tensor) -> Tensor:
        """Hidden states ``(B, T, d)`` of ids ``(B, T)``, segments ``(B, T)`` (None: all 0).

        Raises:
            ValueError: ids out of range, lengths outside ``1..T``, ``T > max_len``, or
                segments that are not 0/1 of the ids' shape.
        """
        check_token_batch(ids, valid_lens, self.vocab_size)
        if ids.shape[1] > self.max_len:
            raise ValueError(
                f"the input has {ids.shape[1]} tokens, more than the model's max_len "
                f"{self.max_len}: encode with max_len <= {self.max_len} (it truncates)"
            )
        if segments is None:
            segments = torch.zeros_like(ids)
        check_int_tensor(segments, "segments")
        if segments.shape != ids.shape:
            raise ValueError(
                f"segments must have the ids' shape {tuple(ids.shape)}, got {tuple(segments.shape)}"
            )
        if int(segments.min()) < 0 or int(segments.max()) > 1:
            raise ValueError("segments must be 0 (first sentence) or 1 (second sentence)")
        pad = padding_mask(valid_lens, ids.shape[1])  # (B, T), True on padding
        return self.blocks(self.embed(ids, segments), key_padding_mask=pad)  # (B, T, d)


class Pooler(nn.Module):
    """BERT's pooled text state ``tanh(W h_cls + b)`` from the ``<cls>`` position."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.dense = nn.Linear(d_model, d_model)

    def forward(self, encoded: Tensor) -> Tensor:
        """``(B, T, d) -> (B, d)``."""
        return torch.tanh(self.dense(encoded[:, 0]))


class MaskLM(nn.Module):
    """The MLM head: ``W_2 norm(gelu(W_1 h))``, scores over the vocabulary."""

    def __init__(self, vocab_size: int, d_model: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(d_model, d_model), nn.GELU(), nn.LayerNorm(d_model))
        self.decoder = nn.Linear(d_model, vocab_size)

    def forward(self, hidden: Tensor) -> Tensor:
        """``(..., d) -> (..., vocab_size)``."""
        return self.decoder(self.mlp(hidden))


class BERTModel(nn.Module):
    """BERT with its pretraining heads (MLM and NSP).

    Args:
        config: the network sizes.
    """

    def __init__(self, config: BERTConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = BERTEncoder.from_config(config)
        self.pooler = Pooler(config.d_model)
        self.mlm = MaskLM(config.vocab_size, config.d_model)
        self.nsp = nn.Linear(config.d_model, 2)

    def forward(
        self,
        ids: Tensor,
        segments: Tensor | None,
        valid_lens: Tensor,
        mlm_positions: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None, Tensor]:
        """Encode, then score the masked positions and the sentence pair.

        Args:
            ids, segments, valid_lens: as in ``BERTEncoder.forward``.
            mlm_positions: ``(B, T)`` bool, True at the positions to predict; None skips MLM.

        Returns:
            ``(encoded (B, T, d), mlm_logits (M, vocab_size) or None, nsp_logits (B, 2))``,
            with ``M = mlm_positions.sum()``, in row-major order of the positions.
        """
        encoded = self.encoder(ids, segments, valid_lens)  # (B, T, d)
        mlm_logits = None
        if mlm_positions is not None:
            if mlm_positions.dtype != torch.bool or mlm_positions.shape != ids.shape:
                raise ValueError(
                    f"mlm_positions must be a bool tensor of shape {tuple(ids.shape)}, got "
                    f"{mlm_positions.dtype} {tuple(mlm_positions.shape)}"
                )
            mlm_logits = self.mlm(encoded[mlm_positions])  # (M, d) -> (M, V)
        return encoded, mlm_logits, self.nsp(self.pooler(encoded))


class BERTClassifier(nn.Module):
    """BERT for text classification: the pooled ``<cls>`` state, dropout, a linear layer.

    Args:
        config: the network sizes (those of the pretrained ``BERTModel``, to fine-tune one).
        num_classes: number of output classes.
    """

    def __init__(self, config: BERTConfig, num_classes: int = 2) -> None:
        super().__init__()
        self.config = config
        self.encoder = BERTEncoder.from_config(config)
        self.pooler = Pooler(config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.decoder = nn.Linear(config.d_model, check_int(num_classes, "num_classes", min=2))

    def load_pretrained(self, bert: BERTModel) -> None:
        """Copy the encoder and pooler of a pretrained ``BERTModel`` (same sizes)."""
        if bert.config != self.config:
            raise ValueError(
                f"the pretrained BERT has sizes {bert.config}, this classifier {self.config}"
            )
        self.encoder.load_state_dict(bert.encoder.state_dict())
        self.pooler.load_state_dict(bert.pooler.state_dict())

    def forward(self, ids: Tensor, valid_lens: Tensor) -> Tensor:
        """Logits ``(B, num_classes)`` of ``<cls> text <sep>`` ids ``(B, T)``."""
        encoded = self.encoder(ids, None, valid_lens)  # (B, T, d)
        return self.decoder(self.dropout(self.pooler(encoded)))
