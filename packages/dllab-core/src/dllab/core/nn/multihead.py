"""Multi-head attention from scratch (Vaswani et al. 2017, d2l 11.5), and weight loading.

``MultiHeadAttention`` projects queries, keys and values with separate ``W_q``, ``W_k``,
``W_v``, splits ``d = num_heads * head_dim`` into heads, attends per head and merges the heads
through ``W_o``. Two paths compute the same thing:

- ``impl="scratch"``: three projections, then ``dot_product_attention`` (readable, and it
  keeps the attention weights);
- ``impl="sdpa"`` (default): for self-attention one fused in-projection (``W_q``, ``W_k``,
  ``W_v`` concatenated into one matmul), then ``F.scaled_dot_product_attention``.

Masks use ``nn.MultiheadAttention``'s spelling so the module is a drop-in: a boolean
``key_padding_mask`` or ``attn_mask`` is True where attention is *blocked*; float masks are
added to the scores. ``load_from_torch_mha`` copies an ``nn.MultiheadAttention``'s weights.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from dllab.core.checks import check_float_tensor, check_positive_int, check_probability
from dllab.core.nn.attention import IMPLS, Impl, attend
from dllab.core.nn.kv_cache import KVCache
from dllab.core.nn.masking import merge_masks
from dllab.core.nn.positional import RotaryEmbedding


def _fused_linear(x: Tensor, layers: tuple[nn.Linear, ...]) -> Tensor:
    """``x`` through several Linear layers in one matmul: ``(B, T, d) -> (B, T, n * d_out)``."""
    weight = torch.cat([layer.weight for layer in layers])  # (n * d_out, d)
    biases = [layer.bias for layer in layers]
    bias = None if biases[0] is None else torch.cat(biases)  # type: ignore[arg-type]
    return F.linear(x, weight, bias)


class MultiHeadAttention(nn.Module):
    """Multi-head attention with separate projections and a fast SDPA path.

    Args:
        embed_dim: model size ``d`` of queries, keys, values and output.
        num_heads: number of heads; must divide ``embed_dim``.
        dropout: dropout on the attention weights (training mode only).
        bias: add biases to the projections.
        impl: ``"sdpa"`` (fast, default) or ``"scratch"``.
        rope: optional rotary embedding applied to self-attention queries and keys.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        impl: Impl = "sdpa",
        rope: RotaryEmbedding | None = None,
    ) -> None:
        super().__init__()
        check_positive_int(embed_dim, "embed_dim")
        check_positive_int(num_heads, "num_heads")
        if embed_dim % num_heads:
            raise ValueError(
                f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})"
            )
        if impl not in IMPLS:
            raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        if rope is not None and rope.head_dim != self.head_dim:
            raise ValueError(f"rope.head_dim ({rope.head_dim}) != head_dim ({self.head_dim})")
        self.dropout = check_probability(dropout, "dropout")
        self.impl: Impl = impl
        self.rope = rope
        self.W_q = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.W_k = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.W_v = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.W_o = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.attention_weights: Tensor | None = None

    # ---- heads -----------------------------------------------------------------------------
    def split_heads(self, x: Tensor) -> Tensor:
        """``(B, T, d) -> (B, H, T, hd)``."""
        batch, length, _ = x.shape
        return x.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    def merge_heads(self, x: Tensor) -> Tensor:
        """``(B, H, T, hd) -> (B, T, d)``."""
        batch, _, length, _ = x.shape
        return x.transpose(1, 2).reshape(batch, length, self.embed_dim)

    def project(
        self, queries: Tensor, keys: Tensor, values: Tensor, self_attention: bool
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Project and split heads: three ``(B, H, T, hd)`` tensors."""
        if self.impl == "sdpa" and self_attention:
            qkv = _fused_linear(queries, (self.W_q, self.W_k, self.W_v))  # (B, T, 3d)
            batch, length, _ = qkv.shape
            qkv = qkv.view(batch, length, 3, self.num_heads, self.head_dim)  # (B, T, 3, H, hd)
            q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (B, H, T, hd)
            return q, k, v
        q = self.split_heads(self.W_q(queries))  # (B, H, Tq, hd)
        if self.impl == "sdpa" and keys is values:
            kv = _fused_linear(keys, (self.W_k, self.W_v))  # (B, Tk, 2d)
            batch, length, _ = kv.shape
            kv = kv.view(batch, length, 2, self.num_heads, self.head_dim)  # (B, Tk, 2, H, hd)
            k, v = kv.permute(2, 0, 3, 1, 4).unbind(0)  # 2 x (B, H, Tk, hd)
            return q, k, v
        k = self.split_heads(self.W_k(keys))  # (B, H, Tk, hd)
        v = self.split_heads(self.W_v(values))  # (B, H, Tk, hd)
        return q, k, v

    # ---- forward ---------------------------------------------------------------------------
    def forward(
        self,
        queries: Tensor,
        keys: Tensor | None = None,
        values: Tensor | None = None,
        *,
        key_padding_mask: Tensor | None = None,
        attn_mask: Tensor | None = None,
        valid_lens: Tensor | None = None,
        is_causal: bool = False,
        need_weights: bool = False,
        cache: KVCache | None = None,
    ) -> Tensor:
        """Attend from ``queries`` to ``keys``/``values`` (self-attention when they are None).

        Args:
            queries: ``(B, Tq, d)``.
            keys: ``(B, Tk, d)``; None for self-attention.
            values: ``(B, Tk, d)``; None for self-attention.
            key_padding_mask: ``(B, Tk)``, True (or ``-inf``) at padded keys. With a cache,
                ``Tk`` counts the cached keys too.
            attn_mask: ``(Tq, Tk)`` or ``(B * H, Tq, Tk)``, True (or ``-inf``) where blocked.
            valid_lens: ``(B,)`` or ``(B, Tq)`` numbers of valid keys (d2l's spelling).
            is_causal: each query sees only keys at or before its position; queries are the
                last ``Tq`` positions, so it also holds for new tokens after a cache.
            need_weights: keep the weights ``(B, H, Tq, Tk)`` in ``attention_weights`` (runs
                the from-scratch attention).
            cache: a ``KVCache``; new keys/values are appended to it (a static one is filled
                once and then reused, for cross-attention).

        Returns:
            ``(B, Tq, d)``.
        """
        self_attention = keys is None and values is None
        if self_attention or (keys is queries and values is queries):
            keys = values = queries
            self_attention = True
        elif keys is None or values is None:
            raise ValueError("pass both keys and values, or neither for self-attention")
        self._check_inputs(queries, keys, values)
        if cache is not None and cache.static and len(cache) > 0:  # cross-attention, reused
            q = self.split_heads(self.W_q(queries))  # (B, H, Tq, hd)
            k, v = cache.keys, cache.values  # (B, H, Tk, hd) each
        else:
            q, k, v = self.project(queries, keys, values, self_attention)
            if self.rope is not None and self_attention:
                offset = 0 if cache is None else len(cache)
                q, k = self.rope(q, offset), self.rope(k, offset)  # (B, H, T, hd) each
            if cache is not None:
                k, v = cache.append(k, v)  # (B, H, cached + Tk, hd) each
        assert k is not None and v is not None
        batch, num_queries, num_keys = q.shape[0], q.shape[2], k.shape[2]
        mask = self._torch_style_masks(batch, num_queries, num_keys, key_padding_mask, attn_mask)
        p = self.dropout if self.training else 0.0
        impl: Impl = "scratch" if need_weights else self.impl
        out, weights = attend(
            q, k, v, impl=impl, mask=mask, valid_lens=valid_lens, is_causal=is_causal, dropout_p=p
        )  # (B, H, Tq, hd), (B, H, Tq, Tk)
        self.attention_weights = None if weights is None else weights.detach()
        return self.W_o(self.merge_heads(out))  # (B, Tq, d)

    def _check_inputs(self, queries: Tensor, keys: Tensor, values: Tensor) -> None:
        for name, x in (("queries", queries), ("keys", keys), ("values", values)):
            check_float_tensor(x, name, ndim=3)
            if x.shape[-1] != self.embed_dim:
                raise ValueError(
                    f"{name} must have embed_dim={self.embed_dim} features, got shape "
                    f"{tuple(x.shape)}"
                )
        if keys.shape[1] != values.shape[1]:
            raise ValueError(
                f"keys and values must have the same length, got {keys.shape[1]} keys and "
                f"{values.shape[1]} values"
            )
        if not queries.shape[0] == keys.shape[0] == values.shape[0]:
            raise ValueError(
                f"queries, keys and values need one batch size, got {queries.shape[0]}, "
                f"{keys.shape[0]}, {values.shape[0]}"
            )

    def _torch_style_masks(
        self,
        batch: int,
        num_queries: int,
        num_keys: int,
        key_padding_mask: Tensor | None,
        attn_mask: Tensor | None,
    ) -> Tensor | None:
        """``nn.MultiheadAttention`` masks (True = blocked) -> one mask (True = attend)."""
        mask = None
        if key_padding_mask is not None:
            _check_mask_dtype(key_padding_mask, "key_padding_mask")
            if key_padding_mask.shape != (batch, num_keys):
                raise ValueError(
                    f"key_padding_mask must have shape (B, Tk) = ({batch}, {num_keys}), got "
                    f"{tuple(key_padding_mask.shape)}"
                )
            mask = _keep(key_padding_mask).view(batch, 1, 1, num_keys)  # (B, 1, 1, Tk)
        if attn_mask is not None:
            _check_mask_dtype(attn_mask, "attn_mask")
            heads = batch * self.num_heads
            if attn_mask.shape == (num_queries, num_keys):
                extra = _keep(attn_mask)  # (Tq, Tk)
            elif attn_mask.shape == (heads, num_queries, num_keys):
                extra = _keep(attn_mask).view(batch, self.num_heads, num_queries, num_keys)
            else:
                raise ValueError(
                    f"attn_mask must have shape (Tq, Tk) = ({num_queries}, {num_keys}) or "
                    f"(B * H, Tq, Tk) = ({heads}, {num_queries}, {num_keys}), got "
                    f"{tuple(attn_mask.shape)}"
                )
            mask = merge_masks(mask, extra)
        return mask


def _check_mask_dtype(mask: object, name: str) -> None:
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(mask).__name__}")
    if mask.dtype != torch.bool and not mask.is_floating_point():
        raise ValueError(
            f"{name} must be a bool tensor (True = blocked) or a float tensor added to the "
            f"scores, got dtype {mask.dtype}"
        )


def _keep(mask: Tensor) -> Tensor:
    """Flip a torch-style boolean mask (True = blocked) to a keep mask; floats pass through."""
    return ~mask if mask.dtype == torch.bool else mask


def load_from_torch_mha(module: MultiHeadAttention, torch_mha: nn.MultiheadAttention) -> None:
    """Copy the weights of ``torch_mha`` into ``module`` (in place).

    Raises:
        ValueError: if the sizes differ or ``torch_mha`` uses features ``module`` lacks
            (separate key/value sizes, ``add_bias_kv``, ``add_zero_attn``).
    """
    if not isinstance(torch_mha, nn.MultiheadAttention):
        raise TypeError(f"expected nn.MultiheadAttention, got {type(torch_mha).__name__}")
    if (torch_mha.embed_dim, torch_mha.num_heads) != (module.embed_dim, module.num_heads):
        raise ValueError(
            f"sizes differ: torch has embed_dim={torch_mha.embed_dim}, "
            f"num_heads={torch_mha.num_heads}; this module has embed_dim={module.embed_dim}, "
            f"num_heads={module.num_heads}"
        )
    if not torch_mha._qkv_same_embed_dim:
        raise ValueError("torch module uses separate kdim/vdim, which is not supported")
    if torch_mha.bias_k is not None or torch_mha.add_zero_attn:
        raise ValueError("add_bias_kv and add_zero_attn are not supported")
    has_bias = torch_mha.in_proj_bias is not None
    if has_bias != (module.W_q.bias is not None):
        raise ValueError(f"bias mismatch: torch bias={has_bias}, module bias={not has_bias}")
    d = module.embed_dim
    with torch.no_grad():
        for i, layer in enumerate((module.W_q, module.W_k, module.W_v)):
            layer.weight.copy_(torch_mha.in_proj_weight[i * d : (i + 1) * d])
            if has_bias:
                layer.bias.copy_(torch_mha.in_proj_bias[i * d : (i + 1) * d])
        module.W_o.weight.copy_(torch_mha.out_proj.weight)
        if has_bias:
            module.W_o.bias.copy_(torch_mha.out_proj.bias)
