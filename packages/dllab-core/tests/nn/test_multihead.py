"""MultiHeadAttention against nn.MultiheadAttention: outputs, gradients and weights."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from dllab.core.nn.masking import causal_mask
from dllab.core.nn.multihead import MultiHeadAttention, load_from_torch_mha
from dllab.core.nn.positional import RotaryEmbedding
from dllab.core.testing import assert_close_to_reference

B, T, S, D, H = 3, 6, 7, 16, 4


def pair(impl="sdpa", dtype=torch.float64, bias=True):
    reference = nn.MultiheadAttention(D, H, batch_first=True, bias=bias).to(dtype)
    ours = MultiHeadAttention(D, H, impl=impl, bias=bias).to(dtype)
    load_from_torch_mha(ours, reference)
    return ours, reference


def padding(lengths, total):
    return torch.arange(total) >= torch.tensor(lengths)[:, None]  # True = pad, (B, total)


def mask_cases(dtype):
    causal_blocked = ~causal_mask(T)
    float_mask = torch.randn(T, T, dtype=dtype)
    per_head = torch.rand(B * H, T, T) > 0.6
    per_head[..., 0] = False  # every query keeps one key
    return {
        "none": ({}, {}),
        "key_padding": (
            {"key_padding_mask": padding([6, 3, 1], T)},
            {"key_padding_mask": padding([6, 3, 1], T)},
        ),
        "causal_bool": ({"attn_mask": causal_blocked}, {"attn_mask": causal_blocked}),
        "is_causal": ({"is_causal": True}, {"attn_mask": causal_blocked, "is_causal": True}),
        "float_attn_mask": ({"attn_mask": float_mask}, {"attn_mask": float_mask}),
        "per_head": ({"attn_mask": per_head}, {"attn_mask": per_head}),
        "padding+causal": (
            {"key_padding_mask": padding([6, 4, 2], T), "is_causal": True},
            {"key_padding_mask": padding([6, 4, 2], T), "attn_mask": causal_blocked},
        ),
        "valid_lens": (
            {"valid_lens": torch.tensor([6, 3, 1])},
            {"key_padding_mask": padding([6, 3, 1], T)},
        ),
    }


def run_both(ours, reference, x, ours_kwargs, torch_kwargs):
    x_ours = x.clone().requires_grad_()
    x_ref = x.clone().requires_grad_()
    out = ours(x_ours, **ours_kwargs)
    expected, _ = reference(x_ref, x_ref, x_ref, need_weights=False, **torch_kwargs)
    grad = torch.randn_like(out)
    out.backward(grad)
    expected.backward(grad)
    return out, expected, x_ours.grad, x_ref.grad


@pytest.mark.parametrize("impl", ["scratch", "sdpa"])
@pytest.mark.parametrize("case", list(mask_cases(torch.float64)))
def test_self_attention_matches_torch_in_float64(impl, case):
    """Tolerance 1e-10 (float64) on outputs, input gradients and projection gradients."""
    ours, reference = pair(impl)
    ours_kwargs, torch_kwargs = mask_cases(torch.float64)[case]
    x = torch.randn(B, T, D, dtype=torch.float64)
    out, expected, dx, dx_ref = run_both(ours, reference, x, ours_kwargs, torch_kwargs)
    assert_close_to_reference(out, expected, atol=1e-10, name=f"{case} output")
    assert_close_to_reference(dx, dx_ref, atol=1e-10, name=f"{case} input grad")
    in_grad = torch.cat([ours.W_q.weight.grad, ours.W_k.weight.grad, ours.W_v.weight.grad])
    assert_close_to_reference(in_grad, reference.in_proj_weight.grad, atol=1e-10, name="dW_in")
    assert_close_to_reference(ours.W_o.weight.grad, reference.out_proj.weight.grad, atol=1e-10)


@pytest.mark.parametrize("impl", ["scratch", "sdpa"])
@pytest.mark.parametrize("case", ["key_padding", "is_causal", "padding+causal"])
def test_self_attention_matches_torch_to_1e5_in_float32(impl, case):
    ours, reference = pair(impl, torch.float32)
    ours_kwargs, torch_kwargs = mask_cases(torch.float32)[case]
    x = torch.randn(B, T, D)
    out, expected, dx, dx_ref = run_both(ours, reference, x, ours_kwargs, torch_kwargs)
    assert_close_to_reference(out, expected, atol=1e-5, name="output")
    assert_close_to_reference(dx, dx_ref, atol=1e-5, name="input grad")


@pytest.mark.parametrize("impl", ["scratch", "sdpa"])
@pytest.mark.parametrize("same_kv", [True, False])
def test_cross_attention_matches_torch(impl, same_kv):
    ours, reference = pair(impl, bias=False)
    queries = torch.randn(B, T, D, dtype=torch.float64, requires_grad=True)
    memory = torch.randn(B, S, D, dtype=torch.float64, requires_grad=True)
    values = memory if same_kv else torch.randn(B, S, D, dtype=torch.float64)
    kpm = padding([7, 2, 5], S)
    out = ours(queries, memory, values, key_padding_mask=kpm)
    expected, _ = reference(queries, memory, values, key_padding_mask=kpm, need_weights=False)
    assert_close_to_reference(out, expected, atol=1e-10, name="cross-attention")
    grads = torch.autograd.grad(out.sum(), (queries, memory))
    expected_grads = torch.autograd.grad(expected.sum(), (queries, memory))
    for got, want in zip(grads, expected_grads, strict=True):
        assert_close_to_reference(got, want, atol=1e-10, name="cross-attention grads")


def test_need_weights_returns_torch_per_head_weights():
    ours, reference = pair("sdpa")
    x = torch.randn(B, T, D, dtype=torch.float64)
    kpm = padding([6, 3, 1], T)
    ours(x, key_padding_mask=kpm, need_weights=True)
    _, expected = reference(x, x, x, key_padding_mask=kpm, average_attn_weights=False)
    assert ours.attention_weights.shape == (B, H, T, T)
    assert_close_to_reference(ours.attention_weights, expected, atol=1e-12, name="weights")
    ours(x)
    assert ours.attention_weights is None


def test_fully_masked_batch_element_gives_finite_output():
    ours, _ = pair("sdpa")
    kpm = padding([6, 0, 2], T)
    for impl in ("sdpa", "scratch"):
        ours.impl = impl
        out = ours(torch.randn(B, T, D, dtype=torch.float64), key_padding_mask=kpm)
        assert torch.isfinite(out).all(), impl


def test_rope_breaks_permutation_equivariance():
    """Plain self-attention is permutation-equivariant; rotary positions make order matter."""
    plain = MultiHeadAttention(D, H).double()
    rotary = MultiHeadAttention(D, H, rope=RotaryEmbedding(D // H)).double()
    rotary.load_state_dict(plain.state_dict())
    x = torch.randn(B, T, D, dtype=torch.float64)
    order = torch.randperm(T)
    assert_close_to_reference(plain(x[:, order]), plain(x)[:, order], atol=1e-12, name="plain")
    assert not torch.allclose(rotary(x[:, order]), rotary(x)[:, order], atol=1e-6)


def test_student_learns_a_teacher_attention():
    """Seeded learning test: a randomly initialized MHA fits a teacher nn.MultiheadAttention."""
    torch.manual_seed(0)
    teacher = nn.MultiheadAttention(D, H, batch_first=True)
    student = MultiHeadAttention(D, H)
    optimizer = torch.optim.Adam(student.parameters(), lr=2e-2)
    x = torch.randn(32, T, D)
    with torch.no_grad():
        target, _ = teacher(x, x, x, need_weights=False)
    losses = []
    for _ in range(80):
        loss = F.mse_loss(student(x), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0], (losses[0], losses[-1])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key_padding_mask": torch.zeros(B, T + 1, dtype=torch.bool)}, "key_padding_mask must"),
        ({"key_padding_mask": torch.zeros(B, T, dtype=torch.int64)}, "bool tensor"),
        ({"attn_mask": torch.zeros(T, T + 1, dtype=torch.bool)}, "attn_mask must have shape"),
        ({"attn_mask": torch.zeros(B, T, T, dtype=torch.bool)}, "attn_mask must have shape"),
        ({"attn_mask": torch.zeros(T, T, dtype=torch.uint8)}, "bool tensor"),
        ({"valid_lens": torch.tensor([1.0, 2.0, 3.0])}, "integer tensor"),
        ({"valid_lens": torch.tensor([1, 2])}, "valid_lens must have shape"),
    ],
)
def test_bad_masks_raise_value_error(kwargs, message):
    ours, _ = pair()
    with pytest.raises(ValueError, match=message):
        ours(torch.randn(B, T, D, dtype=torch.float64), **kwargs)


def test_bad_inputs_and_sizes():
    with pytest.raises(ValueError, match="divisible by num_heads"):
        MultiHeadAttention(10, 4)
    with pytest.raises(ValueError, match="num_heads must be >= 1"):
        MultiHeadAttention(8, 0)
    with pytest.raises(ValueError, match="impl"):
        MultiHeadAttention(8, 2, impl="flash")
    with pytest.raises(ValueError, match=r"rope\.head_dim"):
        MultiHeadAttention(8, 2, rope=RotaryEmbedding(8))
    ours = MultiHeadAttention(D, H)
    x = torch.randn(B, T, D)
    with pytest.raises(ValueError, match="embed_dim=16"):
        ours(torch.randn(B, T, D + 1))
    with pytest.raises(ValueError, match="same length"):
        ours(x, torch.randn(B, S, D), torch.randn(B, S + 1, D))
    with pytest.raises(ValueError, match="one batch size"):
        ours(x, torch.randn(B + 1, S, D), torch.randn(B + 1, S, D))
    with pytest.raises(ValueError, match="both keys and values"):
        ours(x, torch.randn(B, S, D))
    with pytest.raises(ValueError, match="3 dimensions"):
        ours(torch.randn(T, D))
    with pytest.raises(ValueError, match="floating-point"):
        ours(torch.ones(B, T, D, dtype=torch.long))


def test_load_from_torch_rejects_mismatches():
    ours = MultiHeadAttention(D, H)
    with pytest.raises(ValueError, match="sizes differ"):
        load_from_torch_mha(ours, nn.MultiheadAttention(D, 2))
    with pytest.raises(ValueError, match="kdim"):
        load_from_torch_mha(ours, nn.MultiheadAttention(D, H, kdim=8, vdim=8))
    with pytest.raises(ValueError, match="add_bias_kv"):
        load_from_torch_mha(ours, nn.MultiheadAttention(D, H, add_bias_kv=True))
    with pytest.raises(ValueError, match="bias mismatch"):
        load_from_torch_mha(ours, nn.MultiheadAttention(D, H, bias=False))
    with pytest.raises(TypeError, match="MultiheadAttention"):
        load_from_torch_mha(ours, nn.Linear(D, D))
