"""TextCNN (Kim 2014, "Convolutional Neural Networks for Sentence Classification"; d2l 16.3).

Each kernel width ``k`` slides ``num_channels`` 1-D convolutions over the token embeddings;
max-over-time pooling keeps each channel's strongest response anywhere in the text::

    c_t = relu(W * e[t : t + k] + b)        h = max_t c_t        logits = W_o dropout([h_k ...])

Padding never changes the result: padded embeddings are zeroed, and only windows that start
inside the text are pooled (a text shorter than ``k`` keeps its one zero-padded window).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from dllab.core.checks import check_int, check_positive_int, check_probability
from dllab.core.nn.masking import lengths_to_mask
from dllab.nlp.models.embedding import token_embedding
from dllab.nlp.models.inputs import check_token_batch


class TextCNN(nn.Module):
    """Convolutions of several widths over token embeddings, max-pooled over time.

    Args:
        vocab_size: number of token ids.
        embed_size: embedding size (``embeddings.shape[1]`` when those are given).
        kernel_sizes: the convolution widths, one group of channels each.
        num_channels: output channels per width (an int, or one per width).
        dropout: dropout on the pooled features.
        num_classes: number of output classes.
        embeddings: optional starting vectors ``(vocab_size, embed_size)``.
        freeze_embeddings: keep the embeddings fixed.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_size: int = 64,
        kernel_sizes: Sequence[int] = (3, 4, 5),
        num_channels: int | Sequence[int] = 64,
        dropout: float = 0.5,
        num_classes: int = 2,
        embeddings: Tensor | None = None,
        freeze_embeddings: bool = False,
    ) -> None:
        super().__init__()
        kernel_sizes = [check_int(k, "kernel_sizes[i]", min=1) for k in kernel_sizes]
        if not kernel_sizes:
            raise ValueError("kernel_sizes must name at least one width")
        channels = (
            [num_channels] * len(kernel_sizes)
            if isinstance(num_channels, int)
            else list(num_channels)
        )
        if len(channels) != len(kernel_sizes):
            raise ValueError(
                f"num_channels needs one count per kernel size ({len(kernel_sizes)}), "
                f"got {channels}"
            )
        channels = [check_positive_int(c, "num_channels[i]") for c in channels]
        self.vocab_size = check_positive_int(vocab_size, "vocab_size")
        self.embedding = token_embedding(vocab_size, embed_size, embeddings, freeze_embeddings)
        self.convs = nn.ModuleList(
            nn.Conv1d(embed_size, c, k) for c, k in zip(channels, kernel_sizes, strict=True)
        )
        self.dropout = nn.Dropout(check_probability(dropout, "dropout"))
        self.decoder = nn.Linear(sum(channels), check_int(num_classes, "num_classes", min=2))

    def forward(self, ids: Tensor, valid_lens: Tensor) -> Tensor:
        """Logits ``(B, num_classes)`` of token ids ``(B, T)`` with lengths ``(B,)``."""
        check_token_batch(ids, valid_lens, self.vocab_size)
        keep = lengths_to_mask(valid_lens, ids.shape[1])  # (B, T)
        x = self.embedding(ids) * keep.unsqueeze(-1)  # (B, T, E), zero on padding
        width = max(conv.kernel_size[0] for conv in self.convs)
        if ids.shape[1] < width:  # room for the widest window
            x = nn.functional.pad(x, (0, 0, 0, width - ids.shape[1]))  # (B, width, E)
        x = x.transpose(1, 2)  # (B, E, T)
        pooled = [self._max_over_time(conv, x, valid_lens) for conv in self.convs]
        return self.decoder(self.dropout(torch.cat(pooled, dim=1)))  # (B, C)

    @staticmethod
    def _max_over_time(conv: nn.Conv1d, x: Tensor, valid_lens: Tensor) -> Tensor:
        """``max_t relu(conv(x))`` over windows starting inside the text: ``(B, channels)``."""
        c = torch.relu(conv(x))  # (B, channels, T - k + 1)
        starts = (valid_lens - conv.kernel_size[0] + 1).clamp(min=1)  # (B,) windows per text
        inside = lengths_to_mask(starts, c.shape[2]).unsqueeze(1)  # (B, 1, T - k + 1)
        return c.masked_fill(~inside, 0.0).amax(dim=2)  # relu >= 0, so 0 is a neutral fill
