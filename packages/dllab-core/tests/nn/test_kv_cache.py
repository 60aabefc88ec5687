"""Incremental decoding with key/value caches equals the full causal pass."""

from __future__ import annotations

import math

import pytest
import torch

from dllab.core.nn.kv_cache import KVCache
from dllab.core.nn.multihead import MultiHeadAttention
from dllab.core.nn.positional import RotaryEmbedding
from dllab.core.nn.transformer import TransformerDecoder
from dllab.core.testing import assert_close_to_reference

B, T, S, D, H, F = 3, 9, 5, 16, 4, 32


def decode_in_chunks(decoder, x, memory, chunk, **masks):
    cache = decoder.new_cache()
    outputs = []
    with torch.no_grad():
        for start in range(0, x.shape[1], chunk):
            outputs.append(decoder(x[:, start : start + chunk], memory, cache=cache, **masks))
    assert cache.offset == x.shape[1]
    return torch.cat(outputs, dim=1)


@pytest.mark.parametrize("impl", ["scratch", "sdpa"])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("chunk", [1, 4])
def test_cached_decoding_equals_the_full_causal_pass(impl, norm_first, chunk):
    """Tolerance 1e-5 (float32), token by token and a few tokens at a time."""
    decoder = TransformerDecoder(2, D, H, F, norm_first=norm_first, impl=impl).eval()
    x, memory = torch.randn(B, T, D), torch.randn(B, S, D)
    memory_valid_lens = torch.tensor([5, 2, 4])
    with torch.no_grad():
        full = decoder(x, memory, memory_valid_lens=memory_valid_lens)
    cached = decode_in_chunks(decoder, x, memory, chunk, memory_valid_lens=memory_valid_lens)
    assert_close_to_reference(cached, full, atol=1e-5, name=f"{impl} chunk={chunk}")


def test_decoder_only_with_rope_decodes_incrementally():
    decoder = TransformerDecoder(2, D, H, F, cross_attention=False).eval()
    rope = RotaryEmbedding(D // H)
    for block in decoder.blocks:
        block.self_attention.rope = rope
    x = torch.randn(B, T, D)
    with torch.no_grad():
        full = decoder(x)
    cached = decode_in_chunks(decoder, x, None, 1)
    assert_close_to_reference(cached, full, atol=1e-5, name="RoPE decoder-only")


def test_target_padding_mask_spans_the_cached_keys():
    attention = MultiHeadAttention(D, H).eval()
    x = torch.randn(2, 4, D)
    pad = torch.tensor([[False, False, True, False], [False] * 4])  # a hole at position 2
    with torch.no_grad():
        full = attention(x, key_padding_mask=pad, is_causal=True)
        cache = KVCache()
        steps = [
            attention(
                x[:, t : t + 1], key_padding_mask=pad[:, : t + 1], is_causal=True, cache=cache
            )
            for t in range(4)
        ]
    assert_close_to_reference(torch.cat(steps, 1), full, atol=1e-5, name="padded self-attention")


@pytest.mark.parametrize("impl", ["scratch", "sdpa"])
def test_static_cache_projects_the_memory_once(impl):
    attention = MultiHeadAttention(D, H, impl=impl).eval()
    memory = torch.randn(B, S, D)
    cache = KVCache(static=True)
    with torch.no_grad():
        first = attention(torch.randn(B, 1, D), memory, memory, cache=cache)
        keys, values = cache.keys, cache.values
        query = torch.randn(B, 1, D)
        expected = attention(query, memory, memory)
        # a later call gets other memory: a cache that projected again would use it
        other = torch.randn(B, S, D)
        reused = attention(query, other, other, cache=cache)
    assert first.shape == (B, 1, D) and len(cache) == S and cache.keys is not None
    assert cache.keys.data_ptr() == keys.data_ptr() and cache.values.data_ptr() == values.data_ptr()
    assert torch.equal(cache.keys, keys) and torch.equal(cache.values, values)
    assert_close_to_reference(reused, expected, atol=1e-6, name="reused cross-attention")


def test_cache_grows_and_keeps_every_entry():
    cache = KVCache()
    parts = [torch.randn(2, 3, n, 4) for n in (1, 20, 1, 50)]
    for part in parts:
        keys, values = cache.append(part, -part)
    expected = torch.cat(parts, dim=2)
    assert torch.equal(keys, expected) and torch.equal(values, -expected) and len(cache) == 72
    cache.reset()
    assert len(cache) == 0 and cache.keys is None


def test_cache_grows_by_doubling():
    """1,000 single-token appends reallocate about log2(1000) times, not once per token.

    A reallocation is seen as a new storage address: the new buffer is taken while the old
    one is still alive, so it never shares its address.
    """
    cache = KVCache()
    tokens, reallocations, address = 1000, 0, None
    with torch.no_grad():
        for t in range(tokens):
            step = torch.full((1, 2, 1, 4), float(t))
            keys, _ = cache.append(step, step)
            if address is not None and keys.data_ptr() != address:
                reallocations += 1
            address = keys.data_ptr()
    assert len(cache) == tokens and torch.equal(keys[0, 0, :, 0], torch.arange(1000.0))
    assert 1 <= reallocations <= math.ceil(math.log2(tokens)), reallocations


def test_cache_keeps_gradients_when_tracked():
    attention = MultiHeadAttention(D, H)
    x = torch.randn(B, 3, D, requires_grad=True)
    cache = KVCache()
    out = torch.cat([attention(x[:, t : t + 1], cache=cache) for t in range(3)], dim=1)
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert_close_to_reference(out, attention(x, is_causal=True), atol=1e-5, name="tracked")


def test_bad_cache_use():
    cache = KVCache()
    cache.append(torch.randn(2, 3, 1, 4), torch.randn(2, 3, 1, 4))
    with pytest.raises(ValueError, match="do not match the cached"):
        cache.append(torch.randn(2, 2, 1, 4), torch.randn(2, 2, 1, 4))
    with pytest.raises(ValueError, match="differ in shape"):
        cache.append(torch.randn(2, 3, 1, 4), torch.randn(2, 3, 2, 4))
    with pytest.raises(ValueError, match=r"\(B, H, t, head_dim\)"):
        cache.append(torch.randn(3, 1, 4), torch.randn(3, 1, 4))
    static = KVCache(static=True)
    static.append(torch.randn(2, 3, 5, 4), torch.randn(2, 3, 5, 4))
    with pytest.raises(ValueError, match="already filled"):
        static.append(torch.randn(2, 3, 5, 4), torch.randn(2, 3, 5, 4))


def test_reorder_keeps_the_chosen_rows_and_decoding_continues_as_if_run_on_them():
    """Reordered mid-sequence, the cache gives what decoding those rows from scratch gives."""
    decoder = TransformerDecoder(2, D, H, F).eval()
    x, memory = torch.randn(B, T, D), torch.randn(B, S, D)
    indices = torch.tensor([2, 0, 0, 1])  # rows may repeat (a beam kept twice) or vanish
    cache = decoder.new_cache()
    with torch.no_grad():
        decoder(x[:, :4], memory, cache=cache)  # the first 4 tokens of the original rows
        cache.reorder(indices)
        assert cache.offset == 4
        assert cache.layers[0].self_attn.keys.shape[0] == len(indices)
        tail = decoder(x[indices, 4:], memory[indices], cache=cache)
        full = decoder(x[indices], memory[indices])
    assert_close_to_reference(tail, full[:, 4:], atol=1e-5, name="reordered cache")


def test_reorder_of_an_empty_cache_and_bad_indices():
    cache = KVCache()
    cache.reorder(torch.tensor([0, 0]))  # nothing cached yet: nothing to do
    assert len(cache) == 0
    keys = torch.arange(2 * 5 * 1 * 3, dtype=torch.float).view(2, 5, 1, 3)
    cache.append(keys, -keys)
    cache.reorder(torch.tensor([1, 1, 0]))
    assert torch.equal(cache.keys, keys[[1, 1, 0]]) and torch.equal(cache.values, -keys[[1, 1, 0]])
    with pytest.raises(IndexError, match=r"\[0, 2\]"):
        cache.reorder(torch.tensor([3]))
    with pytest.raises(ValueError, match="1-d integer"):
        cache.reorder(torch.tensor([[0]]))
    with pytest.raises(ValueError, match="1-d integer"):
        cache.reorder(torch.tensor([0.0]))
