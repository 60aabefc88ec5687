"""A trainable encoder–decoder Transformer over token ids (Vaswani et al., 2017).

``Seq2SeqTransformer`` puts the blocks of ``dllab.core.nn`` together: source and target
embeddings (separate vocabularies), sinusoidal positions, an encoder and a decoder stack, and
a linear head over the target vocabulary. It trains with teacher forcing (the loss skips
padding) and decodes greedily, token by token through the decoder's key/value cache, stopping
each sequence at ``<eos>``. ``dllab.core.tasks.reversal`` is the embedded task it learns.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from dllab.core.checks import check_int, check_int_tensor, check_positive_int, check_probability
from dllab.core.module import Classifier
from dllab.core.nn.kv_cache import DecoderCache
from dllab.core.nn.positional import SinusoidalPositionalEncoding
from dllab.core.nn.transformer import TransformerDecoder, TransformerEncoder


@dataclass
class Seq2SeqConfig:
    """Shapes and special tokens of ``Seq2SeqTransformer``."""

    src_vocab_size: int = 13
    """Source tokens, specials included."""
    tgt_vocab_size: int = 13
    """Target tokens, specials included: the size of the output layer."""
    d_model: int = 32
    """Model size."""
    num_heads: int = 4
    """Attention heads."""
    ffn_hidden: int = 64
    """FFN hidden size."""
    num_layers: int = 2
    """Blocks in the encoder and in the decoder."""
    dropout: float = 0.0
    """Dropout everywhere."""
    norm_first: bool = True
    """Pre-norm blocks (train faster than the paper's post-norm at this size)."""
    max_len: int = 128
    """Longest sequence."""
    pad_id: int = 0
    """Padding, in both vocabularies: embedded as zeros and skipped by the loss."""
    bos_id: int = 1
    """Target token that starts decoding."""
    eos_id: int = 2
    """Target token that ends a sequence."""

    def __post_init__(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size"):
            check_int(getattr(self, name), name, min=2)
        for name in ("d_model", "num_heads", "ffn_hidden", "num_layers", "max_len"):
            check_positive_int(getattr(self, name), name)
        check_probability(self.dropout, "dropout")
        check_int(
            self.pad_id, "pad_id", min=0, max=min(self.src_vocab_size, self.tgt_vocab_size) - 1
        )
        check_int(self.bos_id, "bos_id", min=0, max=self.tgt_vocab_size - 1)
        check_int(self.eos_id, "eos_id", min=0, max=self.tgt_vocab_size - 1)
        if len({self.pad_id, self.bos_id, self.eos_id}) != 3:
            raise ValueError(
                f"pad_id, bos_id and eos_id must differ, got {self.pad_id}, {self.bos_id}, "
                f"{self.eos_id}"
            )


class Seq2SeqTransformer(Classifier):
    """Encoder–decoder Transformer over token ids, with its own source and target vocabularies.

    ``forward(src, src_valid_lens, tgt_in)`` returns logits ``(B, T, tgt_vocab_size)``; the
    loss skips ``pad_id``. Validation logs ``val_loss``, ``val_acc`` (per token) and
    ``val_exact_match`` (greedy decoding, whole sequence right).

    Args:
        config: a ``Seq2SeqConfig`` (or its dict).
        lr: peak learning rate of the one-cycle schedule (``Module``'s ``schedule="onecycle"``,
            warming up over the first 10% of the steps, stepped after every batch).
        optimizer: ``"adam"`` by default.
    """

    def __init__(
        self,
        config: Seq2SeqConfig | dict[str, Any] | None = None,
        lr: float = 5e-3,
        optimizer: str = "adam",
    ) -> None:
        cfg = Seq2SeqConfig(**config) if isinstance(config, dict) else config or Seq2SeqConfig()
        if not isinstance(cfg, Seq2SeqConfig):
            raise TypeError(f"config must be a Seq2SeqConfig or a dict, got {type(cfg).__name__}")
        super().__init__(
            num_classes=cfg.tgt_vocab_size,
            lr=lr,
            optimizer=optimizer,
            schedule="onecycle",
            warmup_fraction=0.1,
        )
        self.save_hyperparameters({"config": asdict(cfg), "lr": lr, "optimizer": optimizer})
        self.config = cfg
        d = cfg.d_model
        self.src_embedding = self._embedding(cfg.src_vocab_size)
        self.tgt_embedding = self._embedding(cfg.tgt_vocab_size)
        self.positions = SinusoidalPositionalEncoding(d, cfg.max_len, cfg.dropout)
        opts = {"dropout": cfg.dropout, "norm_first": cfg.norm_first}
        self.encoder = TransformerEncoder(cfg.num_layers, d, cfg.num_heads, cfg.ffn_hidden, **opts)
        self.decoder = TransformerDecoder(cfg.num_layers, d, cfg.num_heads, cfg.ffn_hidden, **opts)
        self.head = nn.Linear(d, cfg.tgt_vocab_size)

    def _embedding(self, vocab_size: int) -> nn.Embedding:
        d = self.config.d_model
        embedding = nn.Embedding(vocab_size, d, padding_idx=self.config.pad_id)
        # std d^-1/2, scaled by sqrt(d) in embed(): unit-size tokens, as large as the positions
        nn.init.normal_(embedding.weight, std=d**-0.5)
        with torch.no_grad():
            embedding.weight[self.config.pad_id].zero_()
        return embedding

    def embed(self, tokens: Tensor, offset: int = 0, *, source: bool = False) -> Tensor:
        """Target ids (source ids with ``source=True``) ``(B, T)`` -> ``(B, T, d)``.

        The scaled embedding plus positions ``offset .. offset + T - 1``.
        """
        embedding = self.src_embedding if source else self.tgt_embedding
        x = embedding(tokens) * math.sqrt(self.config.d_model)  # (B, T, d)
        return self.positions(x, offset)

    def encode(self, src: Tensor, src_valid_lens: Tensor) -> Tensor:
        """``(B, S)`` source ids -> memory ``(B, S, d)``."""
        return self.encoder(self.embed(src, source=True), valid_lens=src_valid_lens)

    def forward(self, src: Tensor, src_valid_lens: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher-forced logits ``(B, T, tgt_vocab_size)``."""
        check_int_tensor(src, "src")
        check_int_tensor(tgt_in, "tgt_in")
        memory = self.encode(src, src_valid_lens)  # (B, S, d)
        h = self.decoder(self.embed(tgt_in), memory, memory_valid_lens=src_valid_lens)  # (B, T, d)
        return self.head(h)  # (B, T, tgt_vocab)

    def loss(self, y_hat: Tensor, y: Tensor) -> Tensor:
        self._check_targets(y_hat, y)
        flat_logits, flat_y = y_hat.reshape(-1, y_hat.shape[-1]), y.reshape(-1)
        return F.cross_entropy(flat_logits, flat_y, ignore_index=self.config.pad_id)

    def decode_step(
        self,
        tokens: Tensor,
        memory: Tensor,
        src_valid_lens: Tensor,
        cache: DecoderCache | None = None,
    ) -> Tensor:
        """The logits ``(N, tgt_vocab_size)`` of the next target token.

        With ``cache``, ``tokens`` ``(N, t)`` are the newest tokens, at positions
        ``cache.offset ..``, and the earlier ones come from the cache; without it, ``tokens``
        is the whole prefix (``<bos>`` first), recomputed at every step.

        Args:
            tokens: target ids ``(N, t)``.
            memory: the encoder output ``(N, S, d)`` (``encode``).
            src_valid_lens: ``(N,)`` valid source lengths.
            cache: the decoder's ``DecoderCache`` (``decoder.new_cache()``), or None.
        """
        offset = 0 if cache is None else cache.offset
        x = self.embed(tokens, offset=offset)  # (N, t, d)
        h = self.decoder(x, memory, cache=cache, memory_valid_lens=src_valid_lens)  # (N, t, d)
        return self.head(h[:, -1:])[:, 0]  # (N, 1, d) -> (N, tgt_vocab)

    @torch.no_grad()
    def greedy_decode(self, src: Tensor, src_valid_lens: Tensor, max_steps: int) -> Tensor:
        """Greedy decoding with the key/value cache, stopping each sequence at ``<eos>``.

        Returns:
            Token ids ``(B, max_steps)``: each row up to and including its first ``eos_id``,
            then ``pad_id``. Decoding stops early once every row has emitted ``eos_id``.
        """
        check_int_tensor(src, "src")
        check_positive_int(max_steps, "max_steps")
        cfg = self.config
        was_training = self.training
        self.eval()
        try:
            memory = self.encode(src, src_valid_lens)  # (B, S, d)
            cache = self.decoder.new_cache()
            batch = src.shape[0]
            out = torch.full((batch, max_steps), cfg.pad_id, dtype=torch.long, device=src.device)
            token = torch.full((batch, 1), cfg.bos_id, dtype=torch.long, device=src.device)
            finished = torch.zeros(batch, dtype=torch.bool, device=src.device)  # (B,)
            for step in range(max_steps):
                logits = self.decode_step(token, memory, src_valid_lens, cache=cache)  # (B, V)
                token = logits.argmax(-1, keepdim=True)  # (B, 1)
                token = token.masked_fill(finished[:, None], cfg.pad_id)
                out[:, step] = token[:, 0]
                finished |= token[:, 0] == cfg.eos_id
                if bool(finished.all()):
                    break
            return out
        finally:
            self.train(was_training)

    def validation_step(self, batch: Any, batch_idx: int) -> Tensor:
        src, src_valid_lens, tgt_in, tgt_out = batch
        logits = self(src, src_valid_lens, tgt_in)
        loss = self.loss(logits, tgt_out)
        real = tgt_out != self.config.pad_id
        token_acc = (logits.argmax(-1) == tgt_out)[real].float().mean()
        decoded = self.greedy_decode(src, src_valid_lens, tgt_out.shape[1])
        exact = exact_match(decoded, tgt_out, self.config.pad_id).float().mean()
        n = len(tgt_out)
        self.log("val_loss", loss, prog_bar=True, batch_size=n)
        self.log("val_acc", token_acc, prog_bar=True, batch_size=n)
        self.log("val_exact_match", exact, prog_bar=True, batch_size=n)
        return loss


def exact_match(predicted: Tensor, target: Tensor, pad_id: int = 0) -> Tensor:
    """Per sequence, True when every non-pad target token (up to ``<eos>``) was predicted.

    Args:
        predicted: token ids ``(B, T)``.
        target: token ids ``(B, T)``, padded with ``pad_id`` after ``<eos>``.
        pad_id: the padding id, ignored in ``target``.

    Returns:
        A bool tensor ``(B,)``.
    """
    if predicted.shape != target.shape:
        raise ValueError(f"shapes differ: predicted {predicted.shape}, target {target.shape}")
    real = target != pad_id  # (B, T)
    return ((predicted == target) | ~real).all(dim=1)  # (B,)
