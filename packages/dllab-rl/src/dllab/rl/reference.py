"""Straightforward reference implementations that loop over gymnasium's ``env.unwrapped.P``.

They read the transition lists exactly as gymnasium stores them (duplicates and all), with
plain Python loops and no arrays, the way a first implementation would. The tests check the
vectorised planners against them, and the benchmark times them side by side.
"""

from __future__ import annotations

from typing import Any


def reference_value_iteration(
    P: dict[int, dict[int, list[tuple[float, int, float, bool]]]],
    gamma: float,
    tol: float = 1e-10,
    max_iters: int = 100_000,
) -> tuple[list[float], int]:
    """Value iteration over a gymnasium transition table, one state and action at a time.

    A transition flagged ``terminated`` contributes its reward and no future value.

    Returns:
        The values (one per state) and the number of sweeps.
    """
    V = [0.0] * len(P)
    for sweep in range(1, max_iters + 1):
        new_V = [0.0] * len(P)
        for s, by_action in P.items():
            best = -float("inf")
            for transitions in by_action.values():
                q = 0.0
                for p, s2, r, done in transitions:
                    q += p * (r + (0.0 if done else gamma * V[s2]))
                best = max(best, q)
            new_V[s] = best
        # a state only ever entered with termination has value 0, as in the vectorised code
        residual = max(abs(a - b) for a, b in zip(new_V, V, strict=True))
        V = new_V
        if residual < tol:
            return V, sweep
    return V, max_iters


def reference_policy_evaluation(
    P: dict[int, dict[int, list[tuple[float, int, float, bool]]]],
    policy: Any,
    gamma: float,
    tol: float = 1e-13,
    max_iters: int = 1_000_000,
) -> list[float]:
    """Iterative policy evaluation of a deterministic policy over a gymnasium table."""
    V = [0.0] * len(P)
    for _ in range(max_iters):
        new_V = [
            sum(p * (r + (0.0 if done else gamma * V[s2])) for p, s2, r, done in P[s][int(a)])
            for s, a in zip(range(len(P)), policy, strict=True)
        ]
        residual = max(abs(a - b) for a, b in zip(new_V, V, strict=True))
        V = new_V
        if residual < tol:
            break
    return V
