"""Token embeddings that start random or from pretrained vectors (GloVe), frozen or trained."""

from __future__ import annotations

from torch import Tensor, nn

from dllab.core.checks import check_float_tensor, check_positive_int
from dllab.nlp.special import PAD_ID


def token_embedding(
    vocab_size: int,
    embed_size: int,
    embeddings: Tensor | None = None,
    freeze: bool = False,
) -> nn.Embedding:
    """An ``nn.Embedding(vocab_size, embed_size)``, optionally copied from ``embeddings``.

    Args:
        vocab_size: number of token ids.
        embed_size: vector size; must equal ``embeddings.shape[1]`` when both are given.
        embeddings: ``(vocab_size, embed_size)`` starting vectors (for example from
            ``dllab.nlp.data.glove.load_glove``); ``None`` starts random.
        freeze: keep the vectors fixed during training.
    """
    check_positive_int(vocab_size, "vocab_size")
    check_positive_int(embed_size, "embed_size")
    if not isinstance(freeze, bool):
        raise TypeError(f"freeze must be a bool, got {freeze!r}")
    layer = nn.Embedding(vocab_size, embed_size, padding_idx=PAD_ID)
    if embeddings is not None:
        check_float_tensor(embeddings, "embeddings", ndim=2)
        if tuple(embeddings.shape) != (vocab_size, embed_size):
            raise ValueError(
                f"embeddings must have shape (vocab_size, embed_size) = ({vocab_size}, "
                f"{embed_size}), got {tuple(embeddings.shape)}"
            )
        layer.weight.data.copy_(embeddings)
    layer.weight.requires_grad_(not freeze)
    return layer
