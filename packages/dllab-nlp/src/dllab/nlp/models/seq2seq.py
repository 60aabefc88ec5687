"""Encoder–decoder networks for translation (d2l 10.7, 11.4, 11.7), one decoding protocol.

- ``GRUEncoder``: embeddings, then a multi-layer GRU over the packed source, so padding never
  reaches the state; returns the outputs ``(B, S, H)`` and the final state ``(L, B, H)``.
- ``GRUDecoder`` (d2l's ``Seq2SeqDecoder``): the encoder's last-layer final state is the
  context ``c``, concatenated to every input embedding: ``h_t = GRU([e(y_{t-1}); c], h_{t-1})``.
- ``BahdanauDecoder``: the context is recomputed at every step by additive attention over the
  encoder outputs, queried by the decoder's top hidden state:
  ``c_t = sum_s softmax_s(w_v^T tanh(W_q h_{t-1} + W_k o_s)) o_s``; the weights ``(B, T, S)``
  of the last call are kept in ``attention_weights``.
- ``RNNSeq2Seq`` (GRU encoder with either decoder) and ``TransformerSeq2Seq`` (core's
  ``Seq2SeqTransformer``) share the protocol the decoders in ``dllab.nlp.decoding`` use:
  ``start(src, src_valid_lens)`` -> state, ``step(tokens (N,), state)`` -> ``(logits (N, V),
  state)`` and ``reorder(state, indices)`` (keep batch rows ``indices``, as beams are pruned).
- ``masked_cross_entropy``: the mean token cross-entropy over the non-padding targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from dllab.core.checks import check_int, check_int_tensor, check_positive_int, check_probability
from dllab.core.models.seq2seq import Seq2SeqConfig, Seq2SeqTransformer
from dllab.core.nn.attention import AdditiveAttention
from dllab.core.nn.kv_cache import DecoderCache
from dllab.nlp.special import BOS_ID, EOS_ID, PAD_ID


def masked_cross_entropy(logits: Tensor, target: Tensor, pad_id: int = PAD_ID) -> Tensor:
    """Mean cross-entropy over the target tokens that are not padding.

    ``loss = sum_{b,t: y_bt != pad} -log softmax(z_bt)[y_bt] / #{b,t: y_bt != pad}``: the same
    as ``F.cross_entropy(ignore_index=pad_id)``, so extra padding changes nothing.

    Args:
        logits: ``(B, T, V)``.
        target: ids ``(B, T)``, padded with ``pad_id``.
        pad_id: the padding id.
    """
    check_int_tensor(target, "target")
    if logits.dim() != 3 or logits.shape[:2] != target.shape:
        raise ValueError(
            f"logits must be (B, T, V) over target (B, T), got {tuple(logits.shape)} and "
            f"{tuple(target.shape)}"
        )
    log_probs = logits.log_softmax(-1)  # (B, T, V)
    nll = -log_probs.gather(-1, target.unsqueeze(-1)).squeeze(-1)  # (B, T)
    real = target != pad_id  # (B, T)
    return (nll * real).sum() / real.sum().clamp(min=1)


def check_source(src: Tensor, src_valid_lens: Tensor) -> None:
    """Raise unless ``src`` is ``(B, S)`` integer ids with lengths ``(B,)`` in ``[1, S]``."""
    check_int_tensor(src, "src")
    check_int_tensor(src_valid_lens, "src_valid_lens")
    if src.dim() != 2 or src_valid_lens.shape != src.shape[:1]:
        raise ValueError(
            f"src must be (B, S) with src_valid_lens (B,), got {tuple(src.shape)} and "
            f"{tuple(src_valid_lens.shape)}"
        )
    if len(src) and (int(src_valid_lens.min()) < 1 or int(src_valid_lens.max()) > src.shape[1]):
        raise ValueError(f"src_valid_lens must lie in [1, {src.shape[1]}]")


def _check_target(tgt_in: Tensor, batch: int) -> None:
    check_int_tensor(tgt_in, "tgt_in")
    if tgt_in.dim() != 2 or tgt_in.shape[0] != batch:
        raise ValueError(f"tgt_in must be (B={batch}, T), got {tuple(tgt_in.shape)}")


def _embedding_and_gru(
    vocab_size: int,
    embed_size: int,
    num_hiddens: int,
    num_layers: int,
    dropout: float,
    with_context: bool,
) -> tuple[nn.Embedding, nn.GRU]:
    """Token embeddings and a batch-first GRU reading them (and a context of ``num_hiddens``)."""
    check_int(vocab_size, "vocab_size", min=2)
    embedding = nn.Embedding(vocab_size, check_positive_int(embed_size, "embed_size"))
    hiddens = check_positive_int(num_hiddens, "num_hiddens")
    rnn = nn.GRU(
        embed_size + (hiddens if with_context else 0),
        hiddens,
        check_positive_int(num_layers, "num_layers"),
        dropout=check_probability(dropout, "dropout"),
        batch_first=True,
    )
    return embedding, rnn


class GRUEncoder(nn.Module):
    """Embeddings and a GRU over the packed source.

    Args:
        vocab_size: source tokens.
        embed_size: embedding size.
        num_hiddens: GRU hidden size ``H``.
        num_layers: stacked GRU layers ``L``.
        dropout: dropout between GRU layers.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_size: int = 32,
        num_hiddens: int = 64,
        num_layers: int = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        sizes = (vocab_size, embed_size, num_hiddens, num_layers, dropout)
        self.embedding, self.rnn = _embedding_and_gru(*sizes, with_context=False)

    def forward(self, src: Tensor, src_valid_lens: Tensor) -> tuple[Tensor, Tensor]:
        """``(B, S)`` ids -> outputs ``(B, S, H)`` (zeros on padding) and state ``(L, B, H)``."""
        x = self.embedding(src)  # (B, S, E)
        lengths = src_valid_lens.cpu()
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        outputs, state = self.rnn(packed)  # state (L, B, H) in the original order
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=src.shape[1])
        return outputs, state


@dataclass
class RNNState:
    """A GRU decoder's state; every tensor is batch-first except ``hidden`` ``(L, N, H)``."""

    hidden: Tensor
    context: Tensor  # (N, H): GRUDecoder's fixed context
    enc_outputs: Tensor  # (N, S, H): BahdanauDecoder's attention memory
    src_valid_lens: Tensor  # (N,)

    def reorder(self, indices: Tensor) -> RNNState:
        return RNNState(
            self.hidden.index_select(1, indices),
            self.context.index_select(0, indices),
            self.enc_outputs.index_select(0, indices),
            self.src_valid_lens.index_select(0, indices),
        )


class GRUDecoder(nn.Module):
    """d2l's ``Seq2SeqDecoder``: the source's final top state concatenated to every input.

    Args:
        vocab_size: target tokens.
        embed_size: embedding size.
        num_hiddens: GRU hidden size (the encoder's).
        num_layers: GRU layers (the encoder's).
        dropout: dropout between GRU layers.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_size: int = 32,
        num_hiddens: int = 64,
        num_layers: int = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        sizes = (vocab_size, embed_size, num_hiddens, num_layers, dropout)
        self.embedding, self.rnn = _embedding_and_gru(*sizes, with_context=True)
        self.dense = nn.Linear(num_hiddens, vocab_size)

    def init_state(
        self, enc_outputs: Tensor, enc_state: Tensor, src_valid_lens: Tensor
    ) -> RNNState:
        """The encoder's final state starts the decoder; its top layer is the context."""
        return RNNState(enc_state, enc_state[-1], enc_outputs, src_valid_lens)

    def forward(self, tgt_in: Tensor, state: RNNState) -> tuple[Tensor, RNNState]:
        """Teacher-forced ``(B, T)`` ids -> logits ``(B, T, V)`` and the state after them."""
        x = self.embedding(tgt_in)  # (B, T, E)
        context = state.context[:, None].expand(-1, x.shape[1], -1)  # (B, T, H)
        outputs, hidden = self.rnn(torch.cat((x, context), dim=-1), state.hidden)  # (B, T, H)
        new_state = RNNState(hidden, state.context, state.enc_outputs, state.src_valid_lens)
        return self.dense(outputs), new_state


class BahdanauDecoder(GRUDecoder):
    """A GRU decoder with additive attention over the encoder outputs (Bahdanau et al. 2015).

    The arguments are ``GRUDecoder``'s; ``num_hiddens`` is also the attention's hidden width
    and ``dropout`` also applies to the attention weights.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_size: int = 32,
        num_hiddens: int = 64,
        num_layers: int = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(vocab_size, embed_size, num_hiddens, num_layers, dropout)
        self.attention = AdditiveAttention(num_hiddens, num_hiddens, num_hiddens, dropout)
        self.attention_weights: Tensor | None = None  # (B, T, S) of the last call

    def forward(self, tgt_in: Tensor, state: RNNState) -> tuple[Tensor, RNNState]:
        """Teacher-forced ``(B, T)`` ids -> logits ``(B, T, V)``, one step at a time."""
        x = self.embedding(tgt_in)  # (B, T, E)
        hidden, outputs, weights = state.hidden, [], []
        for t in range(x.shape[1]):
            query = hidden[-1][:, None]  # (B, 1, H)
            context = self.attention(
                query, state.enc_outputs, state.enc_outputs, state.src_valid_lens
            )  # (B, 1, H)
            weights.append(self.attention.attention_weights)  # (B, 1, S)
            out, hidden = self.rnn(torch.cat((x[:, t : t + 1], context), dim=-1), hidden)
            outputs.append(out)  # (B, 1, H)
        self.attention_weights = torch.cat(weights, dim=1)  # (B, T, S)
        logits = self.dense(torch.cat(outputs, dim=1))  # (B, T, V)
        return logits, RNNState(hidden, state.context, state.enc_outputs, state.src_valid_lens)


class RNNSeq2Seq(nn.Module):
    """A GRU encoder with a ``GRUDecoder`` or a ``BahdanauDecoder``.

    Args:
        src_vocab_size: source tokens.
        tgt_vocab_size: target tokens.
        attention: a Bahdanau decoder instead of the plain one.
        embed_size, num_hiddens, num_layers, dropout: as in ``GRUEncoder``, shared.
    """

    def __init__(
        self,
        src_vocab_size: int,
        tgt_vocab_size: int,
        attention: bool = False,
        embed_size: int = 32,
        num_hiddens: int = 64,
        num_layers: int = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        sizes = (embed_size, num_hiddens, num_layers, dropout)
        self.encoder = GRUEncoder(src_vocab_size, *sizes)
        decoder = BahdanauDecoder if attention else GRUDecoder
        self.decoder = decoder(tgt_vocab_size, *sizes)
        self.has_attention = attention

    def forward(self, src: Tensor, src_valid_lens: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher-forced logits ``(B, T, tgt_vocab_size)``."""
        state = self.start(src, src_valid_lens)
        _check_target(tgt_in, src.shape[0])
        return self.decoder(tgt_in, state)[0]

    def start(self, src: Tensor, src_valid_lens: Tensor, use_cache: bool = True) -> RNNState:
        """Encode ``(B, S)`` source ids; the decoder's first state (``use_cache`` is unused)."""
        check_source(src, src_valid_lens)
        enc_outputs, enc_state = self.encoder(src, src_valid_lens)  # (B, S, H), (L, B, H)
        return self.decoder.init_state(enc_outputs, enc_state, src_valid_lens)

    def step(self, tokens: Tensor, state: RNNState) -> tuple[Tensor, RNNState]:
        """The newest tokens ``(N,)`` -> next-token logits ``(N, V)`` and the new state."""
        logits, state = self.decoder(tokens[:, None], state)  # (N, 1, V)
        return logits[:, 0], state

    def reorder(self, state: RNNState, indices: Tensor) -> RNNState:
        """Keep the batch rows ``indices`` ``(N,)`` of ``state``, in that order."""
        return state.reorder(indices)

    def attention_weights(self, src: Tensor, src_valid_lens: Tensor, tgt_in: Tensor) -> Tensor:
        """Bahdanau's weights ``(B, 1, T, S)`` (one head) under teacher forcing."""
        if not isinstance(self.decoder, BahdanauDecoder):  # has_attention is False
            raise ValueError("the plain GRU decoder has no attention; use model='bahdanau'")
        self(src, src_valid_lens, tgt_in)
        assert self.decoder.attention_weights is not None
        return self.decoder.attention_weights[:, None]  # (B, T, S) -> (B, 1, T, S)


@dataclass
class TransformerState:
    """The Transformer's decoding state: the encoder output and the cache or the prefix."""

    memory: Tensor  # (N, S, d)
    src_valid_lens: Tensor  # (N,)
    cache: DecoderCache | None  # with the cache: the keys and values of the prefix
    prefix: Tensor  # (N, t) tokens so far (without the cache: recomputed every step)


class TransformerSeq2Seq(nn.Module):
    """Core's ``Seq2SeqTransformer`` (separate vocabularies) under the decoding protocol.

    Args:
        src_vocab_size: source tokens.
        tgt_vocab_size: target tokens.
        **config: other ``dllab.core.models.seq2seq.Seq2SeqConfig`` fields (``d_model``,
            ``num_heads``, ``ffn_hidden``, ``num_layers``, ``dropout``, ``max_len``, ...).
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, **config: Any) -> None:
        super().__init__()
        specials = {"pad_id": PAD_ID, "bos_id": BOS_ID, "eos_id": EOS_ID}
        cfg = Seq2SeqConfig(src_vocab_size, tgt_vocab_size, **{**specials, **config})
        self.net = Seq2SeqTransformer(cfg)
        self.has_attention = True

    def forward(self, src: Tensor, src_valid_lens: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher-forced logits ``(B, T, tgt_vocab_size)``."""
        check_source(src, src_valid_lens)
        _check_target(tgt_in, src.shape[0])
        return self.net(src, src_valid_lens, tgt_in)

    def start(
        self, src: Tensor, src_valid_lens: Tensor, use_cache: bool = True
    ) -> TransformerState:
        """Encode the source; with ``use_cache`` the decoder keeps its keys and values."""
        check_source(src, src_valid_lens)
        memory = self.net.encode(src, src_valid_lens)  # (B, S, d)
        cache = self.net.decoder.new_cache() if use_cache else None
        prefix = src.new_empty((src.shape[0], 0))  # (B, 0)
        return TransformerState(memory, src_valid_lens, cache, prefix)

    def step(self, tokens: Tensor, state: TransformerState) -> tuple[Tensor, TransformerState]:
        """The newest tokens ``(N,)`` -> next-token logits ``(N, V)`` and the new state."""
        prefix = torch.cat((state.prefix, tokens[:, None]), dim=1)  # (N, t + 1)
        new = tokens[:, None] if state.cache is not None else prefix  # (N, 1) or (N, t + 1)
        logits = self.net.decode_step(new, state.memory, state.src_valid_lens, state.cache)
        return logits, TransformerState(state.memory, state.src_valid_lens, state.cache, prefix)

    def reorder(self, state: TransformerState, indices: Tensor) -> TransformerState:
        """Keep the batch rows ``indices`` ``(N,)``; the cache is reordered in place."""
        if state.cache is not None:
            state.cache.reorder(indices)
        return TransformerState(
            state.memory.index_select(0, indices),
            state.src_valid_lens.index_select(0, indices),
            state.cache,
            state.prefix.index_select(0, indices),
        )

    def attention_weights(self, src: Tensor, src_valid_lens: Tensor, tgt_in: Tensor) -> Tensor:
        """The last decoder block's cross-attention ``(B, heads, T, S)``, teacher-forced."""
        check_source(src, src_valid_lens)
        _check_target(tgt_in, src.shape[0])
        memory = self.net.encode(src, src_valid_lens)  # (B, S, d)
        x = self.net.embed(tgt_in)  # (B, T, d)
        self.net.decoder(x, memory, memory_valid_lens=src_valid_lens, need_weights=True)
        weights = self.net.decoder.attention_weights[-1][1]
        assert weights is not None
        return weights  # (B, H, T, S)
