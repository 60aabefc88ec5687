"""Transformer blocks against nn.TransformerEncoderLayer / nn.TransformerDecoderLayer."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dllab.core.nn.masking import causal_mask
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
from dllab.core.testing import assert_close_to_reference

B, T, S, D, H, F = 3, 6, 7, 16, 4, 32


def kpm(lengths, total):
    return torch.arange(total) >= torch.tensor(lengths)[:, None]  # True = pad


def grads_of(out, inputs, grad):
    return torch.autograd.grad(out, inputs, grad)


def test_ffn_and_addnorm_match_their_definitions():
    ffn = PositionWiseFFN(D, F).double()
    x = torch.randn(B, T, D, dtype=torch.float64)
    expected = ffn.dense2(torch.relu(ffn.dense1(x)))
    assert_close_to_reference(ffn(x), expected, atol=1e-15, name="ffn")
    post, pre = AddNorm(D).double(), AddNorm(D, norm_first=True).double()
    y = torch.randn_like(x)
    reference = nn.functional.layer_norm(x + y, (D,))
    assert_close_to_reference(post(x, y), reference, atol=1e-12, name="d2l form")
    assert_close_to_reference(post(x, lambda h: h * 2), nn.functional.layer_norm(3 * x, (D,)))
    assert_close_to_reference(pre(x, lambda h: h), x + nn.functional.layer_norm(x, (D,)))


@pytest.mark.parametrize("impl", ["scratch", "sdpa"])
@pytest.mark.parametrize(("norm_first", "activation"), [(False, "relu"), (True, "gelu")])
def test_encoder_block_equals_torch_encoder_layer(impl, norm_first, activation):
    """Tolerance 1e-5 (float32) on outputs and input gradients; dropout off, batch_first."""
    layer = nn.TransformerEncoderLayer(
        D, H, F, dropout=0.0, activation=activation, batch_first=True, norm_first=norm_first
    )
    block = TransformerEncoderBlock(
        D, H, F, activation=activation, norm_first=norm_first, impl=impl
    )
    load_from_torch_encoder_layer(block, layer)
    x = torch.randn(B, T, D, requires_grad=True)
    mask = kpm([6, 4, 1], T)
    out = block(x, key_padding_mask=mask)
    expected = layer(x, src_key_padding_mask=mask)
    assert_close_to_reference(out, expected, atol=1e-5, name="encoder output")
    grad = torch.randn_like(out)
    (dx,) = grads_of(out, x, grad)
    (dx_ref,) = grads_of(expected, x, grad)
    assert_close_to_reference(dx, dx_ref, atol=1e-5, name="encoder input grad")
    assert_close_to_reference(block(x, valid_lens=torch.tensor([6, 4, 1])), out, atol=1e-6)


@pytest.mark.parametrize("impl", ["scratch", "sdpa"])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_decoder_block_equals_torch_decoder_layer(impl, norm_first, activation):
    """Tolerance 1e-5 (float32) on outputs and both input gradients; dropout off, batch_first."""
    layer = nn.TransformerDecoderLayer(
        D, H, F, dropout=0.0, activation=activation, batch_first=True, norm_first=norm_first
    )
    block = TransformerDecoderBlock(
        D, H, F, activation=activation, norm_first=norm_first, impl=impl
    )
    load_from_torch_decoder_layer(block, layer)
    x = torch.randn(B, T, D, requires_grad=True)
    memory = torch.randn(B, S, D, requires_grad=True)
    memory_mask = kpm([7, 3, 5], S)
    out = block(x, memory, memory_key_padding_mask=memory_mask)  # causal by default
    expected = layer(
        x, memory, tgt_mask=~causal_mask(T), memory_key_padding_mask=memory_mask, tgt_is_causal=True
    )
    assert_close_to_reference(out, expected, atol=1e-5, name="decoder output")
    grad = torch.randn_like(out)
    got = grads_of(out, (x, memory), grad)
    want = grads_of(expected, (x, memory), grad)
    for name, a, b in zip(("target grad", "memory grad"), got, want, strict=True):
        assert_close_to_reference(a, b, atol=1e-5, name=name)


@pytest.mark.parametrize("norm_first", [False, True])
def test_stacks_equal_torch_stacks(norm_first):
    torch_layer = nn.TransformerEncoderLayer(D, H, F, 0.0, batch_first=True, norm_first=norm_first)
    torch_encoder = nn.TransformerEncoder(
        torch_layer, 2, norm=nn.LayerNorm(D) if norm_first else None, enable_nested_tensor=False
    )
    encoder = TransformerEncoder(2, D, H, F, norm_first=norm_first)
    for ours, theirs in zip(encoder.blocks, torch_encoder.layers, strict=True):
        load_from_torch_encoder_layer(ours, theirs)
    if norm_first:
        with torch.no_grad():
            torch_encoder.norm.weight.uniform_()
        encoder.norm.load_state_dict(torch_encoder.norm.state_dict())
    x = torch.randn(B, T, D)
    mask = kpm([6, 2, 5], T)
    expected = torch_encoder(x, src_key_padding_mask=mask)
    assert_close_to_reference(encoder(x, key_padding_mask=mask), expected, atol=1e-5)


def test_decoder_only_stack_is_causal_and_keeps_weights():
    decoder = TransformerDecoder(2, D, H, F, cross_attention=False)
    x = torch.randn(B, T, D)
    changed = x.clone()
    changed[:, 4:] = torch.randn(B, 2, D)
    out, out_changed = decoder(x), decoder(changed)
    assert torch.equal(out[:, :4], out_changed[:, :4])
    assert not torch.allclose(out[:, 4:], out_changed[:, 4:])
    decoder(x, need_weights=True)
    self_weights, cross_weights = decoder.attention_weights[0]
    assert cross_weights is None and self_weights.shape == (B, H, T, T)
    assert torch.all(self_weights.triu(1) == 0)


def test_encoder_keeps_weights_for_heatmaps():
    encoder = TransformerEncoder(2, D, H, F)
    encoder(torch.randn(B, T, D), valid_lens=torch.tensor([2, 6, 6]), need_weights=True)
    weights = encoder.attention_weights
    assert len(weights) == 2 and weights[1].shape == (B, H, T, T)
    assert torch.all(weights[0][0, :, :, 2:] == 0)


def test_encoder_block_learns_to_copy_a_torch_layer():
    """Seeded learning test: a fresh block fits the outputs of a random torch encoder layer."""
    torch.manual_seed(0)
    teacher = nn.TransformerEncoderLayer(D, H, F, 0.0, batch_first=True)
    student = TransformerEncoderBlock(D, H, F)
    optimizer = torch.optim.Adam(student.parameters(), lr=1e-2)
    x = torch.randn(32, T, D)
    with torch.no_grad():
        target = teacher(x)
    losses = []
    for _ in range(60):
        loss = nn.functional.mse_loss(student(x), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0], (losses[0], losses[-1])


def test_bad_input():
    with pytest.raises(ValueError, match="divisible by num_heads"):
        TransformerEncoderBlock(10, 4, 8)
    with pytest.raises(ValueError, match="activation"):
        PositionWiseFFN(4, 8, activation="tanh")
    with pytest.raises(TypeError, match="unexpected keyword"):
        TransformerEncoderBlock(8, 2, 8, dropuot=0.1)
    with pytest.raises(ValueError, match="num_layers"):
        TransformerEncoder(0, 8, 2, 8)
    with pytest.raises(ValueError, match="pass memory"):
        TransformerDecoderBlock(8, 2, 8)(torch.randn(1, 3, 8))
    with pytest.raises(ValueError, match="pre-norm AddNorm"):
        AddNorm(8, norm_first=True)(torch.randn(2, 8), torch.randn(2, 8))
    with pytest.raises(ValueError, match="shapes differ"):
        AddNorm(8)(torch.randn(2, 8), torch.randn(3, 8))
    with pytest.raises(ValueError, match="key_padding_mask must"):
        TransformerEncoderBlock(8, 2, 8)(
            torch.randn(2, 3, 8), key_padding_mask=torch.ones(2, 4) > 0
        )
    decoder, one_layer = TransformerDecoder(2, 8, 2, 8), TransformerDecoder(1, 8, 2, 8)
    with pytest.raises(ValueError, match="cache has 1 layers"):
        decoder(torch.randn(1, 1, 8), torch.randn(1, 2, 8), cache=one_layer.new_cache())


def test_torch_loaders_reject_mismatches():
    block = TransformerEncoderBlock(D, H, F)
    with pytest.raises(ValueError, match="norm_first differs"):
        load_from_torch_encoder_layer(block, nn.TransformerEncoderLayer(D, H, F, norm_first=True))
    with pytest.raises(ValueError, match="activation differs"):
        load_from_torch_encoder_layer(block, nn.TransformerEncoderLayer(D, H, F, activation="gelu"))
    with pytest.raises(ValueError, match="FFN first layer differs"):
        load_from_torch_encoder_layer(block, nn.TransformerEncoderLayer(D, H, 2 * F))
    with pytest.raises(TypeError, match="TransformerEncoderLayer"):
        load_from_torch_encoder_layer(block, nn.TransformerDecoderLayer(D, H, F))
    decoder_only = TransformerDecoderBlock(D, H, F, cross_attention=False)
    with pytest.raises(ValueError, match="no cross-attention"):
        load_from_torch_decoder_layer(decoder_only, nn.TransformerDecoderLayer(D, H, F))
