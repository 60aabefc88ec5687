"""Scaled dot-product attention (scratch and SDPA paths) and additive attention."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from dllab.core.nn.attention import (
    AdditiveAttention,
    DotProductAttention,
    attend,
    dot_product_attention,
    sdpa_attention,
)
from dllab.core.nn.masking import causal_mask, lengths_to_mask
from dllab.core.testing import assert_close_to_reference


def qkv(batch=2, heads=3, tq=5, tk=7, d=8, dv=6, dtype=torch.float64, grad=False):
    shapes = ((batch, heads, tq, d), (batch, heads, tk, d), (batch, heads, tk, dv))
    return [torch.randn(s, dtype=dtype, requires_grad=grad) for s in shapes]


def padding_keep(valid_lens, tk):
    return lengths_to_mask(valid_lens, tk)[:, None, None, :]  # (B, 1, 1, Tk)


@pytest.mark.parametrize("case", ["none", "padding", "causal", "padding+causal", "float"])
def test_scratch_matches_torch_sdpa_in_float64(case):
    q, k, v = qkv(tq=6, tk=6)
    valid_lens = torch.tensor([4, 6])
    keep = None
    if "padding" in case:
        keep = padding_keep(valid_lens, 6)
    if "causal" in case:
        tri = causal_mask(6)
        keep = tri if keep is None else keep & tri
    mask = keep
    if case == "float":
        mask = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    out, weights = dot_product_attention(q, k, v, mask=mask)
    assert_close_to_reference(out, expected, atol=1e-12, name=f"output ({case})")
    assert_close_to_reference(weights.sum(-1), torch.ones(2, 3, 6), atol=1e-12, name="sums")


@pytest.mark.parametrize("impl", ["scratch", "sdpa"])
def test_valid_lens_and_is_causal_equal_explicit_masks(impl):
    q, k, v = qkv(tq=6, tk=6)
    valid_lens = torch.tensor([3, 5])
    keep = padding_keep(valid_lens, 6) & causal_mask(6)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
    out, _ = attend(q, k, v, impl=impl, valid_lens=valid_lens, is_causal=True)
    assert_close_to_reference(out, expected, atol=1e-12, name=impl)


def test_scratch_and_sdpa_paths_agree_to_1e5_in_float32_with_gradients():
    """Tolerance 1e-5 (float32) on outputs and on the gradients of q, k and v."""
    results = []
    for impl in ("scratch", "sdpa"):
        torch.manual_seed(1)
        q, k, v = qkv(batch=3, heads=2, tq=9, tk=9, d=16, dv=16, dtype=torch.float32, grad=True)
        out, _ = attend(q, k, v, impl=impl, valid_lens=torch.tensor([9, 4, 1]), is_causal=True)
        out.backward(torch.ones_like(out))
        results.append((out.detach(), q.grad, k.grad, v.grad))
    for name, a, b in zip(("output", "dq", "dk", "dv"), *results, strict=True):
        assert_close_to_reference(a, b, atol=1e-5, name=name)


@pytest.mark.parametrize("impl", ["scratch", "sdpa"])
def test_causal_with_fewer_queries_treats_them_as_the_last_positions(impl):
    q, k, v = qkv(tq=2, tk=5)
    out, _ = attend(q, k, v, impl=impl, is_causal=True)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(5)[3:])
    assert_close_to_reference(out, expected, atol=1e-12, name="tail queries")


@pytest.mark.parametrize("impl", ["scratch", "sdpa"])
def test_fully_masked_queries_give_zeros_not_nan(impl):
    q, k, v = qkv(grad=True)
    valid_lens = torch.tensor([[0, 3, 7, 0, 1], [7, 7, 0, 2, 2]])  # per query
    out, _ = attend(q, k, v, impl=impl, valid_lens=valid_lens)
    assert torch.isfinite(out).all()
    assert torch.all(out[0, :, 0] == 0) and torch.all(out[1, :, 2] == 0)
    out.sum().backward()
    assert all(torch.isfinite(t.grad).all() for t in (q, k, v))


def test_dropout_zeroes_some_weights_and_rescales():
    q, k, v = qkv(batch=1, heads=1, tq=50, tk=50, dv=50)
    v = torch.eye(50, dtype=torch.float64)[None, None]  # output rows are the dropped weights
    out, weights = dot_product_attention(q, k, v, dropout_p=0.5)
    dropped = out == 0
    assert 0.3 < dropped.double().mean() < 0.7
    assert_close_to_reference(out[~dropped], 2 * weights[~dropped], atol=1e-12, name="rescale")


def test_dot_product_attention_module_keeps_masked_weights():
    attention = DotProductAttention()
    q, k, v = (torch.randn(2, n, 4) for n in (3, 5, 5))
    out = attention(q, k, v, valid_lens=torch.tensor([2, 5]))
    assert out.shape == (2, 3, 4)
    weights = attention.attention_weights
    assert torch.all(weights[0, :, 2:] == 0) and torch.all(weights[0, :, :2] > 0)
    fast = DotProductAttention(impl="sdpa")
    assert_close_to_reference(fast(q, k, v, torch.tensor([2, 5])), out, atol=1e-6, name="sdpa")
    assert fast.attention_weights is None


def additive_reference(attention, queries, keys, values, valid_lens):
    """Additive attention written element by element in numpy (float64)."""
    wq = attention.W_q.weight.detach().numpy()
    wk = attention.W_k.weight.detach().numpy()
    wv = attention.w_v.weight.detach().numpy()[0]
    q, k, v = (t.detach().numpy() for t in (queries, keys, values))
    out = np.zeros((q.shape[0], q.shape[1], v.shape[2]))
    for b in range(q.shape[0]):
        n = int(valid_lens[b])
        for i in range(q.shape[1]):
            scores = np.array([wv @ np.tanh(wq @ q[b, i] + wk @ k[b, j]) for j in range(n)])
            alpha = np.exp(scores - scores.max())
            out[b, i] = (alpha / alpha.sum()) @ v[b, :n]
    return out


def test_additive_attention_matches_an_elementwise_reference():
    attention = AdditiveAttention(query_size=5, key_size=3, num_hiddens=4).double().eval()
    queries = torch.randn(2, 4, 5, dtype=torch.float64)
    keys = torch.randn(2, 6, 3, dtype=torch.float64)
    values = torch.randn(2, 6, 2, dtype=torch.float64)
    valid_lens = torch.tensor([2, 6])
    out = attention(queries, keys, values, valid_lens)
    expected = additive_reference(attention, queries, keys, values, valid_lens)
    assert_close_to_reference(out, expected, atol=1e-12, name="additive attention")
    assert torch.all(attention.attention_weights[0, :, 2:] == 0)


def test_additive_attention_learns_to_pick_the_matching_key():
    """Seeded: values are one-hot key ids; the target is the value of the key equal to the query."""
    torch.manual_seed(0)
    attention = AdditiveAttention(query_size=4, key_size=4, num_hiddens=16)
    optimizer = torch.optim.Adam(attention.parameters(), lr=0.05)
    keys = torch.randn(64, 5, 4)
    values = torch.eye(5).expand(64, 5, 5)
    pick = torch.randint(0, 5, (64,))
    queries = keys[torch.arange(64), pick].unsqueeze(1)  # (64, 1, 4)
    losses = []
    for _ in range(150):
        out = attention(queries, keys, values).squeeze(1)  # (64, 5) probabilities
        loss = F.nll_loss(torch.log(out + 1e-9), pick)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0] and losses[-1] < math.log(5) / 2, losses[::30]


@pytest.mark.parametrize(
    ("shapes", "message"),
    [
        (((2, 3, 4), (2, 5, 6), (2, 5, 4)), "same feature size"),
        (((2, 3, 4), (2, 5, 4), (2, 6, 4)), "same length"),
        (((2, 3, 4), (3, 5, 4), (3, 5, 4)), "batch dimensions differ"),
        (((3, 4), (2, 5, 4), (2, 5, 4)), "same number of dimensions"),
        (((4,), (5, 4), (5, 4)), "length, features"),
    ],
)
@pytest.mark.parametrize("fn", [dot_product_attention, sdpa_attention])
def test_bad_shapes_raise_value_error(fn, shapes, message):
    q, k, v = (torch.randn(s) for s in shapes)
    with pytest.raises(ValueError, match=message):
        fn(q, k, v)


@pytest.mark.parametrize("fn", [dot_product_attention, sdpa_attention])
def test_bad_dtypes_masks_and_options(fn):
    q, k, v = (torch.randn(2, n, 4) for n in (3, 5, 5))
    with pytest.raises(ValueError, match="floating-point"):
        fn(q.long(), k, v)
    with pytest.raises(ValueError, match="one dtype"):
        fn(q.double(), k, v)
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        fn(q.numpy(), k, v)
    with pytest.raises(ValueError, match="bool tensor"):
        fn(q, k, v, mask=torch.ones(3, 5, dtype=torch.int32))
    with pytest.raises(ValueError, match="does not broadcast"):
        fn(q, k, v, mask=torch.ones(3, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="valid_lens must have shape"):
        fn(q, k, v, valid_lens=torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="dropout_p"):
        fn(q, k, v, dropout_p=1.5)


def test_bad_module_arguments():
    with pytest.raises(ValueError, match="impl"):
        attend(*qkv(), impl="flash")
    with pytest.raises(ValueError, match="impl"):
        DotProductAttention(impl="fast")
    with pytest.raises(ValueError, match="num_hiddens"):
        AdditiveAttention(3, 3, 0)
    attention = AdditiveAttention(query_size=5, key_size=3, num_hiddens=4)
    with pytest.raises(ValueError, match="queries must have 5 features"):
        attention(torch.randn(2, 4, 3), torch.randn(2, 6, 3), torch.randn(2, 6, 2))
    with pytest.raises(ValueError, match="keys and values"):
        attention(torch.randn(2, 4, 5), torch.randn(2, 6, 3), torch.randn(2, 5, 2))
