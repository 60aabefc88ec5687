"""BiRNN: a bidirectional LSTM over packed sequences (d2l 16.2).

The LSTM runs over ``pack_padded_sequence``, so each direction stops at the text's own end and
padding never reaches its state. The text is encoded as d2l does, by the hidden states at its
first and last real token (both directions at each end), then classified::

    h = [H_fwd[0], H_bwd[0], H_fwd[n-1], H_bwd[n-1]]        logits = W_o dropout(h)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from dllab.core.checks import check_int, check_positive_int, check_probability
from dllab.nlp.models.embedding import token_embedding
from dllab.nlp.models.inputs import check_token_batch


class BiRNN(nn.Module):
    """A bidirectional LSTM text classifier.

    Args:
        vocab_size: number of token ids.
        embed_size: embedding size (``embeddings.shape[1]`` when those are given).
        num_hiddens: LSTM hidden size per direction.
        num_layers: stacked LSTM layers.
        dropout: dropout between LSTM layers and on the encoding.
        num_classes: number of output classes.
        embeddings: optional starting vectors ``(vocab_size, embed_size)``.
        freeze_embeddings: keep the embeddings fixed.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_size: int = 64,
        num_hiddens: int = 64,
        num_layers: int = 2,
        dropout: float = 0.0,
        num_classes: int = 2,
        embeddings: Tensor | None = None,
        freeze_embeddings: bool = False,
    ) -> None:
        super().__init__()
        self.vocab_size = check_positive_int(vocab_size, "vocab_size")
        self.embedding = token_embedding(vocab_size, embed_size, embeddings, freeze_embeddings)
        p = check_probability(dropout, "dropout")
        self.encoder = nn.LSTM(
            embed_size,
            check_positive_int(num_hiddens, "num_hiddens"),
            num_layers=check_positive_int(num_layers, "num_layers"),
            bidirectional=True,
            batch_first=True,
            dropout=p if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(p)
        self.decoder = nn.Linear(4 * num_hiddens, check_int(num_classes, "num_classes", min=2))

    def forward(self, ids: Tensor, valid_lens: Tensor) -> Tensor:
        """Logits ``(B, num_classes)`` of token ids ``(B, T)`` with lengths ``(B,)``."""
        check_token_batch(ids, valid_lens, self.vocab_size)
        packed = pack_padded_sequence(
            self.embedding(ids), valid_lens.cpu(), batch_first=True, enforce_sorted=False
        )
        outputs, _ = self.encoder(packed)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True)  # (B, max n, 2H), 0 after n
        last = (valid_lens - 1).to(outputs.device).view(-1, 1, 1)  # (B, 1, 1)
        last = last.expand(-1, 1, outputs.shape[2])  # (B, 1, 2H)
        ends = torch.cat([outputs[:, 0], outputs.gather(1, last).squeeze(1)], dim=1)  # (B, 4H)
        return self.decoder(self.dropout(ends))
