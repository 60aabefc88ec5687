"""BERT: the whole encoder against a stack of nn.TransformerEncoderLayer, padding, and heads."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from dllab.core.nn.masking import padding_mask
from dllab.core.nn.transformer import load_from_torch_encoder_layer
from dllab.core.testing import assert_close_to_reference
from dllab.nlp.models import BERTClassifier, BERTConfig, BERTEncoder, BERTModel

CONFIG = BERTConfig(vocab_size=50, d_model=16, num_heads=4, ffn_hidden=24, num_layers=3,
                    max_len=20, dropout=0.0)  # fmt: skip


def _batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    lens = torch.tensor([11, 7, 3])
    ids = torch.randint(7, 50, (3, 11), generator=g).masked_fill(
        torch.arange(11) >= lens.unsqueeze(1), 0
    )
    segments = (torch.arange(11) >= torch.tensor([[5], [4], [2]])).long()  # (B, T)
    return ids, segments, lens


def test_the_whole_encoder_equals_a_stack_of_torch_encoder_layers_within_1e_5():
    """Embeddings, every layer and the padding mask, in float64, against torch's layers."""
    torch.manual_seed(0)
    encoder = BERTEncoder.from_config(CONFIG).double().eval()
    layers = [
        nn.TransformerEncoderLayer(
            16,
            4,
            24,
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=False,
            dtype=torch.float64,
        )
        for _ in range(CONFIG.num_layers)
    ]
    for block, layer in zip(encoder.blocks.blocks, layers, strict=True):
        load_from_torch_encoder_layer(block, layer.eval())
    ids, segments, lens = _batch()
    ours = encoder(ids, segments, lens)
    x = encoder.embed(ids, segments)  # the same embeddings feed the reference stack
    for layer in layers:
        x = layer(x, src_key_padding_mask=padding_mask(lens, ids.shape[1]))
    assert_close_to_reference(ours, x, atol=1e-5, name="BERT encoder vs torch layers")
    # the check can fail: without the padding mask the stack gives other states
    unmasked = encoder.embed(ids, segments)
    for layer in layers:
        unmasked = layer(unmasked)
    assert not torch.allclose(ours[1, :7], unmasked[1, :7], atol=1e-3)


def test_embeddings_sum_token_segment_and_learned_positions():
    encoder = BERTEncoder.from_config(CONFIG).eval()
    ids, segments, _ = _batch()
    expected = encoder.embed_norm(
        encoder.token_embedding(ids) + encoder.segment_embedding(segments)
        + encoder.pos_embedding[0, :11]
    )  # fmt: skip
    assert_close_to_reference(encoder.embed(ids, segments), expected, atol=1e-6, name="embed")
    assert encoder.pos_embedding.requires_grad and encoder.pos_embedding.shape == (1, 20, 16)
    assert encoder.blocks.blocks[0].ffn.activation is F.gelu


def test_padding_never_changes_the_states_of_real_tokens():
    encoder = BERTEncoder.from_config(CONFIG).eval()
    ids, segments, lens = _batch()
    base = encoder(ids, segments, lens)
    junk = ids.masked_fill(torch.arange(11) >= lens.unsqueeze(1), 17)
    longer = encoder(F.pad(ids, (0, 6)), F.pad(segments, (0, 6)), lens)
    for row, n in enumerate(lens.tolist()):
        assert_close_to_reference(encoder(junk, segments, lens)[row, :n], base[row, :n],
                                  atol=1e-6, name="junk padding")  # fmt: skip
        assert_close_to_reference(longer[row, :n], base[row, :n], atol=1e-6, name="more padding")


def test_the_pretraining_heads_score_masked_positions_and_the_pair():
    model = BERTModel(CONFIG).eval()
    ids, segments, lens = _batch()
    positions = torch.zeros_like(ids, dtype=torch.bool)
    positions[0, [1, 3]] = positions[2, 1] = True
    encoded, mlm, nsp = model(ids, segments, lens, positions)
    assert encoded.shape == (3, 11, 16) and nsp.shape == (3, 2)
    assert mlm is not None and mlm.shape == (3, 50)
    assert_close_to_reference(mlm[2], model.mlm(encoded[2, 1]), atol=1e-6, name="MLM row order")
    assert model(ids, segments, lens)[1] is None
    with pytest.raises(ValueError, match="mlm_positions must be a bool tensor"):
        model(ids, segments, lens, positions.long())


def test_the_classifier_starts_from_a_pretrained_encoder_of_the_same_sizes():
    pretrained = BERTModel(CONFIG)
    classifier = BERTClassifier(CONFIG, num_classes=3)
    classifier.load_pretrained(pretrained)
    for key, value in pretrained.encoder.state_dict().items():
        assert torch.equal(classifier.encoder.state_dict()[key], value), key
    ids, _, lens = _batch()
    assert classifier.eval()(ids, lens).shape == (3, 3)
    other = BERTConfig(**{**CONFIG.to_dict(), "num_layers": 2})
    with pytest.raises(ValueError, match="the pretrained BERT has sizes"):
        BERTClassifier(other).load_pretrained(pretrained)
