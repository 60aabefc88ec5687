"""Key/value caches for incremental (token-by-token) decoding.

When a decoder produces one token at a time, the keys and values of earlier tokens do not
change, so each attention layer keeps its projected keys and values ``(B, H, T, head_dim)``
and only projects the new token. A *static* cache holds the cross-attention keys and values
of the encoder output, computed once. Storage grows by doubling, so appending ``T`` tokens
one by one copies ``O(T)`` elements in all, not ``O(T^2)``. ``reorder(indices)`` selects and
reorders the batch rows, so beam search can keep the caches of the beams that survive pruning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor


class KVCache:
    """Projected keys and values of one attention layer.

    Args:
        static: the keys and values are set once (cross-attention over an encoder output)
            and reused; ``append`` on a filled static cache is an error.
    """

    def __init__(self, static: bool = False) -> None:
        self.static = static
        self._keys: Tensor | None = None  # (B, H, capacity, hd)
        self._values: Tensor | None = None  # (B, H, capacity, hd)
        self.length = 0

    def __len__(self) -> int:
        return self.length

    def __repr__(self) -> str:
        return f"KVCache(length={self.length}, static={self.static})"

    @property
    def keys(self) -> Tensor | None:
        """Cached keys ``(B, H, length, hd)``, or None when empty."""
        return None if self._keys is None else self._keys[:, :, : self.length]

    @property
    def values(self) -> Tensor | None:
        """Cached values ``(B, H, length, hd)``, or None when empty."""
        return None if self._values is None else self._values[:, :, : self.length]

    def reset(self) -> None:
        """Forget everything (start a new sequence)."""
        self._keys = self._values = None
        self.length = 0

    def reorder(self, indices: Tensor) -> None:
        """Keep batch rows ``indices`` ``(N,)`` in that order (beam search: the surviving beams).

        Row ``i`` of the new cache is row ``indices[i]`` of the old one; rows may repeat.
        """
        if indices.dim() != 1 or indices.dtype not in (torch.int64, torch.int32):
            raise ValueError(
                f"indices must be a 1-d integer tensor, got {indices.dtype} {tuple(indices.shape)}"
            )
        if self._keys is None or self._values is None:
            return
        batch = self._keys.shape[0]
        if len(indices) and (int(indices.min()) < 0 or int(indices.max()) >= batch):
            raise IndexError(f"indices must lie in [0, {batch - 1}] (the cached batch)")
        indices = indices.to(self._keys.device)
        self._keys = self._keys.index_select(0, indices)  # (N, H, capacity, hd)
        self._values = self._values.index_select(0, indices)  # (N, H, capacity, hd)

    def append(self, keys: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
        """Add ``t`` new keys and values ``(B, H, t, hd)``; return all of them so far."""
        if keys.shape != values.shape:
            raise ValueError(
                f"new keys {tuple(keys.shape)} and values {tuple(values.shape)} differ in shape"
            )
        if keys.dim() != 4:
            raise ValueError(f"keys must be (B, H, t, head_dim), got {tuple(keys.shape)}")
        if self.static and self.length:
            raise ValueError("this static cache is already filled; reset() it first")
        if self._keys is None or self._values is None:
            return self._start(keys, values)
        if keys.shape[:2] != self._keys.shape[:2] or keys.shape[3] != self._keys.shape[3]:
            raise ValueError(
                f"new keys {tuple(keys.shape)} do not match the cached "
                f"{tuple(self._keys.shape[:2])} batch/heads and head_dim {self._keys.shape[3]}"
            )
        if torch.is_grad_enabled() and (keys.requires_grad or values.requires_grad):
            # keep autograd correct: no in-place writes while gradients are tracked
            self._keys = torch.cat((self.keys, keys), dim=2)  # type: ignore[arg-type]
            self._values = torch.cat((self.values, values), dim=2)  # type: ignore[arg-type]
            self.length = self._keys.shape[2]
            return self._keys, self._values
        new_length = self.length + keys.shape[2]
        if new_length > self._keys.shape[2]:
            self._grow(new_length)
        self._keys[:, :, self.length : new_length] = keys
        self._values[:, :, self.length : new_length] = values
        self.length = new_length
        return self.keys, self.values  # type: ignore[return-value]

    def _start(self, keys: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
        if self.static or (torch.is_grad_enabled() and keys.requires_grad):
            self._keys, self._values = keys, values
        else:
            capacity = max(keys.shape[2], 16)
            self._keys = keys.new_empty((*keys.shape[:2], capacity, keys.shape[3]))
            self._values = values.new_empty((*values.shape[:2], capacity, values.shape[3]))
            self._keys[:, :, : keys.shape[2]] = keys
            self._values[:, :, : values.shape[2]] = values
        self.length = keys.shape[2]
        return self.keys, self.values  # type: ignore[return-value]

    def _grow(self, needed: int) -> None:
        assert self._keys is not None and self._values is not None
        capacity = max(needed, 2 * self._keys.shape[2])
        for name in ("_keys", "_values"):
            old = getattr(self, name)
            new = old.new_empty((*old.shape[:2], capacity, old.shape[3]))  # (B, H, cap, hd)
            new[:, :, : self.length] = old[:, :, : self.length]
            setattr(self, name, new)


@dataclass
class LayerCache:
    """The caches of one decoder block."""

    self_attn: KVCache = field(default_factory=KVCache)
    cross_attn: KVCache = field(default_factory=lambda: KVCache(static=True))

    def reorder(self, indices: Tensor) -> None:
        """Reorder both caches' batch rows (see ``KVCache.reorder``)."""
        self.self_attn.reorder(indices)
        self.cross_attn.reorder(indices)


@dataclass
class DecoderCache:
    """The caches of a decoder stack; ``offset`` is the number of tokens decoded so far."""

    layers: list[LayerCache]

    @property
    def offset(self) -> int:
        return len(self.layers[0].self_attn) if self.layers else 0

    def reset(self) -> None:
        for layer in self.layers:
            layer.self_attn.reset()
            layer.cross_attn.reset()

    def reorder(self, indices: Tensor) -> None:
        """Keep batch rows ``indices`` ``(N,)`` of every layer's caches, in that order."""
        for layer in self.layers:
            layer.reorder(indices)
