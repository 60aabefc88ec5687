"""A toy sequence-to-sequence task and a small encoder–decoder Transformer that learns it.

The task is sequence reversal: the source is a run of digits of random length, padded to a
fixed width, and the target is the same digits backwards followed by ``<eos>``. It is
generated from a seed, so it needs no download, and a two-layer Transformer learns it in a
minute on a CPU. Padding exercises the masks (``valid_lens`` on the source, ``ignore_index``
in the loss), and greedy decoding runs token by token through the decoder's key/value cache.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from dllab.core.data.datamodule import TensorDataModule
from dllab.core.module import Classifier
from dllab.core.nn._checks import check_int_tensor, check_positive_int
from dllab.core.nn.positional import SinusoidalPositionalEncoding
from dllab.core.nn.transformer import TransformerDecoder, TransformerEncoder

PAD, BOS, EOS = 0, 1, 2
NUM_SPECIAL = 3


def make_reversal_data(
    num_samples: int, min_len: int = 3, max_len: int = 8, num_digits: int = 10, seed: int = 0
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Generate ``(src, src_valid_lens, tgt_in, tgt_out)`` for sequence reversal.

    Digits ``0 .. num_digits - 1`` are tokens ``3 ..``; ``0, 1, 2`` are pad, bos and eos.

    Returns:
        ``src (N, max_len)``, ``src_valid_lens (N,)``, ``tgt_in (N, max_len + 1)`` (bos then
        the reversed digits) and ``tgt_out (N, max_len + 1)`` (the reversed digits then eos).
    """
    check_positive_int(num_samples, "num_samples")
    check_positive_int(min_len, "min_len")
    check_positive_int(num_digits, "num_digits")
    if max_len < min_len:
        raise ValueError(f"max_len ({max_len}) must be >= min_len ({min_len})")
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(min_len, max_len + 1, (num_samples,), generator=g)  # (N,)
    digits = torch.randint(0, num_digits, (num_samples, max_len), generator=g) + NUM_SPECIAL
    positions = torch.arange(max_len)  # (L,)
    src = torch.where(positions < lengths[:, None], digits, PAD)  # (N, L)
    # reversed: target position i holds source position len - 1 - i
    rev_index = (lengths[:, None] - 1 - positions).clamp(min=0)  # (N, L)
    reversed_digits = torch.where(positions < lengths[:, None], src.gather(1, rev_index), PAD)
    tgt_out = torch.cat((reversed_digits, torch.full((num_samples, 1), PAD)), dim=1)  # (N, L+1)
    tgt_out[torch.arange(num_samples), lengths] = EOS
    tgt_in = torch.cat((torch.full((num_samples, 1), BOS), reversed_digits), dim=1)  # (N, L+1)
    return src, lengths, tgt_in, tgt_out


class ReversalData(TensorDataModule):
    """Sequence reversal as a DataModule: batches are ``(src, src_valid_lens, tgt_in, tgt_out)``."""

    def __init__(
        self,
        num_samples: int = 4000,
        min_len: int = 3,
        max_len: int = 8,
        num_digits: int = 10,
        batch_size: int = 64,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, val_fraction=0.1, seed=seed)
        self.num_samples, self.min_len, self.max_len = num_samples, min_len, max_len
        self.num_digits = num_digits
        self.vocab_size = num_digits + NUM_SPECIAL

    def build(self) -> tuple[Tensor, ...]:  # type: ignore[override]
        return make_reversal_data(
            self.num_samples, self.min_len, self.max_len, self.num_digits, self.seed
        )


@dataclass
class Seq2SeqConfig:
    """Shapes of ``Seq2SeqTransformer``."""

    vocab_size: int = 13
    """Number of tokens, specials included."""
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


class Seq2SeqTransformer(Classifier):
    """Encoder–decoder Transformer over token ids (shared embedding, sinusoidal positions).

    ``forward(src, src_valid_lens, tgt_in)`` returns logits ``(B, T, vocab)``; the loss skips
    padding. Validation logs ``val_loss``, ``val_acc`` (per token) and ``val_exact_match``
    (greedy decoding, whole sequence right).

    Args:
        config: a ``Seq2SeqConfig`` (or its dict).
        lr: learning rate.
        optimizer: ``"adam"`` by default.
    """

    def __init__(
        self,
        config: Seq2SeqConfig | dict[str, Any] | None = None,
        lr: float = 5e-3,
        optimizer: str = "adam",
    ) -> None:
        cfg = Seq2SeqConfig(**config) if isinstance(config, dict) else config or Seq2SeqConfig()
        super().__init__(num_classes=cfg.vocab_size, lr=lr, optimizer=optimizer)
        self.save_hyperparameters({"config": asdict(cfg), "lr": lr, "optimizer": optimizer})
        self.config = cfg
        d = cfg.d_model
        self.embedding = nn.Embedding(cfg.vocab_size, d, padding_idx=PAD)
        # std d^-1/2, scaled by sqrt(d) in embed(): unit-size tokens, as large as the positions
        nn.init.normal_(self.embedding.weight, std=d**-0.5)
        with torch.no_grad():
            self.embedding.weight[PAD].zero_()
        self.positions = SinusoidalPositionalEncoding(d, cfg.max_len, cfg.dropout)
        opts = {"dropout": cfg.dropout, "norm_first": cfg.norm_first}
        self.encoder = TransformerEncoder(cfg.num_layers, d, cfg.num_heads, cfg.ffn_hidden, **opts)
        self.decoder = TransformerDecoder(cfg.num_layers, d, cfg.num_heads, cfg.ffn_hidden, **opts)
        self.head = nn.Linear(d, cfg.vocab_size)

    def configure_optimizers(self) -> Any:
        """The base optimizer with a one-cycle schedule (warm-up, then cosine decay) per step."""
        optimizer = super().configure_optimizers()
        trainer = self._trainer
        if trainer is None:
            return optimizer
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=self.lr,
            total_steps=max(1, int(trainer.estimated_stepping_batches)),
            pct_start=0.1,
            cycle_momentum=False,
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def embed(self, tokens: Tensor, offset: int = 0) -> Tensor:
        """Token ids ``(B, T)`` -> ``(B, T, d)``: scaled embedding plus positions."""
        x = self.embedding(tokens) * math.sqrt(self.config.d_model)  # (B, T, d)
        return self.positions(x, offset)

    def encode(self, src: Tensor, src_valid_lens: Tensor) -> Tensor:
        """``(B, S)`` source ids -> memory ``(B, S, d)``."""
        return self.encoder(self.embed(src), valid_lens=src_valid_lens)

    def forward(self, src: Tensor, src_valid_lens: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher-forced logits ``(B, T, vocab)``."""
        check_int_tensor(src, "src")
        check_int_tensor(tgt_in, "tgt_in")
        memory = self.encode(src, src_valid_lens)  # (B, S, d)
        h = self.decoder(self.embed(tgt_in), memory, memory_valid_lens=src_valid_lens)
        return self.head(h)  # (B, T, vocab)

    def loss(self, y_hat: Tensor, y: Tensor) -> Tensor:
        self._check_targets(y_hat, y)
        return F.cross_entropy(y_hat.reshape(-1, y_hat.shape[-1]), y.reshape(-1), ignore_index=PAD)

    @torch.no_grad()
    def greedy_decode(self, src: Tensor, src_valid_lens: Tensor, max_steps: int) -> Tensor:
        """Greedy decoding with the key/value cache: token ids ``(B, max_steps)``."""
        was_training = self.training
        self.eval()
        try:
            memory = self.encode(src, src_valid_lens)  # (B, S, d)
            cache = self.decoder.new_cache()
            token = torch.full((src.shape[0], 1), BOS, dtype=torch.long, device=src.device)
            outputs = []
            for step in range(max_steps):
                h = self.decoder(
                    self.embed(token, offset=step),
                    memory,
                    cache=cache,
                    memory_valid_lens=src_valid_lens,
                )  # (B, 1, d)
                token = self.head(h).argmax(-1)  # (B, 1)
                outputs.append(token)
            return torch.cat(outputs, dim=1)  # (B, max_steps)
        finally:
            self.train(was_training)

    def validation_step(self, batch: Any, batch_idx: int) -> Tensor:
        src, src_valid_lens, tgt_in, tgt_out = batch
        logits = self(src, src_valid_lens, tgt_in)
        loss = self.loss(logits, tgt_out)
        real = tgt_out != PAD
        token_acc = (logits.argmax(-1) == tgt_out)[real].float().mean()
        decoded = self.greedy_decode(src, src_valid_lens, tgt_out.shape[1])
        exact = exact_match(decoded, tgt_out).float().mean()
        n = len(tgt_out)
        self.log("val_loss", loss, prog_bar=True, batch_size=n)
        self.log("val_acc", token_acc, prog_bar=True, batch_size=n)
        self.log("val_exact_match", exact, prog_bar=True, batch_size=n)
        return loss


def exact_match(predicted: Tensor, target: Tensor) -> Tensor:
    """Per sequence, True when every non-pad target token (up to ``<eos>``) was predicted."""
    if predicted.shape != target.shape:
        raise ValueError(f"shapes differ: predicted {predicted.shape}, target {target.shape}")
    real = target != PAD  # (B, T)
    return ((predicted == target) | ~real).all(dim=1)  # (B,)
