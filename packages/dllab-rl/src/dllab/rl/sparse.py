"""The canonical form of sparse transition tables, shared by every way an MDP is built.

Tables of shape (S, A, K) list, for each state and action, the successors, their
probabilities and rewards. In canonical form the successors of each ``(s, a)`` are distinct,
sorted by state and have positive probabilities; the remaining slots are padding, with
probability 0, reward 0 and the last successor repeated, so sums over ``k`` need no mask and
the same MDP always has the same tables.
"""

from __future__ import annotations

import numpy as np

_PAD = np.iinfo(np.intp).max


def canonical(
    successors: np.ndarray, probs: np.ndarray, rewards: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The canonical form of (S, A, M) tables: merged, sorted, padded, K <= M slots.

    Repeated successors are merged in listing order: probabilities add up and rewards are
    averaged with them as weights, exactly as summing gymnasium's list into a dense table.
    """
    S, A, M = successors.shape
    succ = successors.astype(np.intp)  # copies: the caller's arrays stay untouched
    p = probs.copy()
    weighted = probs * rewards
    for k in range(1, M):
        for j in range(k):
            same = np.nonzero(succ[..., j] == succ[..., k])  # rare: walls and corners
            if same[0].size:
                p[..., j][same] += p[..., k][same]
                weighted[..., j][same] += weighted[..., k][same]
                p[..., k][same] = 0.0
                succ[..., k][same] = -1  # merged away; matches nothing any more
    succ[p <= 0] = _PAD  # the sort key: zero-probability slots go last
    if M <= 8:  # a few slots: a sorting network over (S, A) slices beats a per-row argsort
        _sort_slots(succ, p, weighted)
    else:
        order = np.argsort(succ, axis=2, kind="stable")
        flat = order + np.arange(0, S * A * M, M).reshape(S, A, 1)  # indices into .ravel()
        succ, p, weighted = (x.ravel()[flat] for x in (succ, p, weighted))
    real = succ < _PAD
    counts = real.sum(axis=2)  # (S, A): real successors, at least 1 (probabilities sum to 1)
    K = int(counts.max())
    if K < M:  # drop the slots that hold padding everywhere
        succ, p, weighted, real = (
            np.ascontiguousarray(x[..., :K]) for x in (succ, p, weighted, real)
        )
    rewards = np.divide(weighted, p, out=weighted, where=real)
    rewards[~real] = 0.0
    last = counts - 1  # the last real successor
    for k in range(1, K):  # padding repeats it, with probability 0
        pad = np.nonzero(~real[..., k])
        succ[..., k][pad] = succ[(*pad, last[pad])]
        p[..., k][pad] = 0.0
    return succ, p, rewards


def _sort_slots(key: np.ndarray, *payload: np.ndarray) -> None:
    """Sort the last axis of ``key`` in place (odd-even transposition), carrying ``payload``.

    Only the slots that swap are touched, so no temporary is as large as the arrays.
    """
    M = key.shape[-1]
    for round_ in range(M):
        for i in range(round_ % 2, M - 1, 2):
            swap = np.nonzero(key[..., i] > key[..., i + 1])
            for x in (key, *payload):
                first = x[..., i][swap]
                x[..., i][swap] = x[..., i + 1][swap]
                x[..., i + 1][swap] = first
