"""Planning with a known model: value iteration, policy iteration and exact policy evaluation.

Everything is vectorised over states and actions in float64 (Sutton & Barto, 2nd ed., ch. 4):

- :func:`value_iteration` repeats the Bellman optimality backup until the largest change is
  below a tolerance, and reports its iterations and residual;
- :func:`policy_evaluation` solves ``(I - gamma P_pi) V = R_pi`` exactly;
- :func:`policy_iteration` alternates exact evaluation and greedy improvement;
- :func:`finite_horizon_value`, :func:`success_probability` and
  :func:`optimal_success_probability` measure what happens within the time limit.

**Ties.** :func:`greedy_policy` picks, in every state, the *lowest-numbered* action whose value
is within ``tie_atol`` of the best (FrozenLake: LEFT=0 < DOWN=1 < RIGHT=2 < UP=3). Values that
differ only by float rounding are therefore ties, and the result does not depend on the order
in which sums were taken.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dllab.rl.mdp import MDP

TIE_ATOL = 1e-12
"""Two action values closer than this are treated as equal by :func:`greedy_policy`."""


def _check_mdp(mdp: Any) -> MDP:
    if not isinstance(mdp, MDP):
        raise TypeError(f"expected an MDP, got {type(mdp).__name__}")
    return mdp


def _check_gamma(gamma: float, allow_one: bool = True) -> float:
    if isinstance(gamma, bool) or not isinstance(gamma, int | float | np.floating):
        raise TypeError(f"gamma must be a number, got {type(gamma).__name__}")
    upper_ok = gamma <= 1.0 if allow_one else gamma < 1.0
    if not (gamma >= 0.0 and upper_ok):
        interval = "[0, 1]" if allow_one else "[0, 1)"
        raise ValueError(f"gamma must be in {interval}, got {gamma}")
    return float(gamma)


def _check_policy(mdp: MDP, policy: Any) -> np.ndarray:
    """Return the policy as probabilities ``pi[s, a]`` of shape (S, A)."""
    if hasattr(policy, "detach"):
        policy = policy.detach().cpu().numpy()
    array = np.asarray(policy)
    S, A = mdp.n_states, mdp.n_actions
    if array.shape == (S,) and np.issubdtype(array.dtype, np.integer):
        if array.min() < 0 or array.max() >= A:
            raise ValueError(f"policy has an action outside 0..{A - 1}")
        return np.eye(A)[array]  # (S, A)
    if array.shape == (S, A) and np.issubdtype(array.dtype, np.floating):
        if (array < 0).any() or np.abs(array.sum(axis=1) - 1.0).max() > 1e-8:
            raise ValueError("a stochastic policy's rows must be probability distributions")
        return array.astype(np.float64)
    raise ValueError(
        f"policy must be integer actions of shape ({S},) or probabilities of shape ({S}, {A}), "
        f"got dtype {array.dtype} and shape {array.shape}"
    )


def _continuation(mdp: MDP) -> np.ndarray:
    """``T`` with the columns of terminal states zeroed: nothing follows entering them."""
    return mdp.T * ~mdp.terminal  # (S, A, S)


def q_values(mdp: MDP, V: np.ndarray, gamma: float) -> np.ndarray:
    """One Bellman backup: ``Q[s, a] = R[s, a] + gamma * sum_s' T[s, a, s'] V[s']``.

    Terminal states contribute no future value, and their own rows are zero.
    """
    V = np.where(mdp.terminal, 0.0, V)
    Q = mdp.R + gamma * (mdp.T @ V)  # (S, A)
    Q[mdp.terminal] = 0.0
    return Q


def greedy_policy(Q: Any, tie_atol: float = TIE_ATOL) -> np.ndarray:
    """The greedy actions of ``Q`` (S, A), ties going to the lowest-numbered action.

    Actions whose value is within ``tie_atol`` of the state's best are tied.
    """
    if hasattr(Q, "detach"):
        Q = Q.detach().cpu().numpy()
    Q = np.asarray(Q, dtype=np.float64)
    if Q.ndim != 2 or 0 in Q.shape:
        raise ValueError(f"Q must have shape (S, A), got {Q.shape}")
    near_best = Q.max(axis=1, keepdims=True) - Q <= tie_atol  # (S, A)
    return np.argmax(near_best, axis=1)  # first True in each row


@dataclass
class ValueIterationResult:
    """What :func:`value_iteration` found.

    Attributes:
        V: state values (S,).
        Q: action values (S, A).
        policy: greedy policy of ``Q`` (S,), ties to the lowest action.
        iterations: number of backups performed.
        residual: ``max |V_k - V_{k-1}|`` at the last backup.
        converged: whether the residual fell below the tolerance.
        residuals: the residual after every backup.
        history: ``V`` after every backup when ``keep_history`` was set, else empty.
    """

    V: np.ndarray
    Q: np.ndarray
    policy: np.ndarray
    iterations: int
    residual: float
    converged: bool
    residuals: list[float] = field(default_factory=list)
    history: list[np.ndarray] = field(default_factory=list)


def value_iteration(
    mdp: MDP,
    gamma: float = 0.99,
    tol: float = 1e-10,
    max_iters: int = 100_000,
    keep_history: bool = False,
) -> ValueIterationResult:
    """Vectorised value iteration from ``V = 0``.

    Args:
        mdp: the model.
        gamma: discount factor in ``[0, 1]`` (1 converges only when all rewards lead somewhere
            absorbing, as in FrozenLake, and then slowly).
        tol: stop once ``max |V_k - V_{k-1}| < tol``.
        max_iters: the cap on backups; ``converged`` is False when it is reached.
        keep_history: keep a copy of ``V`` after each backup (for step-by-step plots).
    """
    mdp = _check_mdp(mdp)
    gamma = _check_gamma(gamma)
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    if isinstance(max_iters, bool) or not isinstance(max_iters, int) or max_iters < 1:
        raise ValueError(f"max_iters must be a positive integer, got {max_iters!r}")
    S, A = mdp.n_states, mdp.n_actions
    # One backup is one matrix-vector product: rows of terminal states are zero, so their
    # values stay 0, and columns of terminal states are zero, so nothing follows them.
    G = (gamma * _continuation(mdp) * ~mdp.terminal[:, None, None]).reshape(S * A, S)
    R = (mdp.R * ~mdp.terminal[:, None]).reshape(S * A)
    V = np.zeros(S)
    residuals: list[float] = []
    history: list[np.ndarray] = []
    residual = np.inf
    for _ in range(max_iters):
        V_new = (R + G @ V).reshape(S, A).max(axis=1)  # (S,)
        residual = float(np.abs(V_new - V).max())
        V = V_new
        residuals.append(residual)
        if keep_history:
            history.append(V.copy())
        if residual < tol:
            break
    Q = q_values(mdp, V, gamma)
    return ValueIterationResult(
        V, Q, greedy_policy(Q), len(residuals), residual, residual < tol, residuals, history
    )


def policy_evaluation(mdp: MDP, policy: Any, gamma: float = 0.99) -> np.ndarray:
    """Exact values of a policy by a linear solve.

    Solves ``(I - gamma T_pi) V = R_pi`` over the non-terminal states (terminal states have
    value 0).

    Args:
        mdp: the model.
        policy: actions (S,) of a deterministic policy or probabilities (S, A).
        gamma: discount factor in ``[0, 1]``; with 1 the policy must end every episode.

    Raises:
        ValueError: bad policy or gamma, or ``gamma = 1`` and the policy can run forever.
    """
    mdp = _check_mdp(mdp)
    gamma = _check_gamma(gamma)
    pi = _check_policy(mdp, policy)  # (S, A)
    alive = np.flatnonzero(~mdp.terminal)
    T_pi = np.einsum("sa,sat->st", pi, mdp.T)[np.ix_(alive, alive)]  # (S_alive, S_alive)
    R_pi = np.einsum("sa,sa->s", pi, mdp.R)[alive]  # (S_alive,)
    A = np.eye(alive.size) - gamma * T_pi
    V = np.zeros(mdp.n_states)
    try:
        V[alive] = np.linalg.solve(A, R_pi)
    except np.linalg.LinAlgError:
        raise ValueError(
            "policy evaluation is singular: with gamma = 1 the policy never ends some episodes; "
            "use gamma < 1 or finite_horizon_value"
        ) from None
    if not np.isfinite(V).all() or np.linalg.cond(A) > 1e14:
        raise ValueError("policy evaluation is ill-conditioned; use gamma < 1")
    return V


@dataclass
class PolicyIterationResult:
    """What :func:`policy_iteration` found: values (S,), policy (S,) and iterations."""

    V: np.ndarray
    policy: np.ndarray
    iterations: int


def policy_iteration(
    mdp: MDP, gamma: float = 0.99, max_iters: int = 1_000, tie_atol: float = 1e-10
) -> PolicyIterationResult:
    """Policy iteration from the all-zeros policy with exact evaluation.

    An action is only replaced by one that is better by more than ``tie_atol``, so the loop
    stops instead of cycling between equally good policies.
    """
    mdp = _check_mdp(mdp)
    gamma = _check_gamma(gamma, allow_one=False)
    if isinstance(max_iters, bool) or not isinstance(max_iters, int) or max_iters < 1:
        raise ValueError(f"max_iters must be a positive integer, got {max_iters!r}")
    policy = np.zeros(mdp.n_states, dtype=np.int64)
    states = np.arange(mdp.n_states)
    for iteration in range(1, max_iters + 1):
        V = policy_evaluation(mdp, policy, gamma)
        Q = q_values(mdp, V, gamma)
        candidate = greedy_policy(Q, tie_atol)
        better = Q[states, candidate] > Q[states, policy] + tie_atol
        if not better.any():
            return PolicyIterationResult(V, policy, iteration)
        policy = np.where(better, candidate, policy)
    raise RuntimeError(f"policy iteration did not settle in {max_iters} iterations")


def _horizon(mdp: MDP, horizon: int | None) -> int:
    horizon = mdp.max_episode_steps if horizon is None else horizon
    if horizon is None:
        raise ValueError("the MDP has no max_episode_steps; pass horizon")
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    return horizon


def finite_horizon_value(mdp: MDP, policy: Any, horizon: int | None = None) -> np.ndarray:
    """Expected undiscounted return from each state within ``horizon`` steps (S,).

    ``horizon`` defaults to the MDP's ``max_episode_steps``.
    """
    mdp = _check_mdp(mdp)
    pi = _check_policy(mdp, policy)
    T_pi = np.einsum("sa,sat->st", pi, _continuation(mdp))  # (S, S)
    R_pi = np.einsum("sa,sa->s", pi, mdp.R) * ~mdp.terminal  # (S,)
    V = np.zeros(mdp.n_states)
    for _ in range(_horizon(mdp, horizon)):
        V = R_pi + T_pi @ V
    return V


def _success_backup(mdp: MDP) -> tuple[np.ndarray, np.ndarray]:
    """``(P_goal[s, a], T_on[s, a, s'])``: chance to enter a goal now, and to carry on."""
    alive = ~mdp.terminal
    P_goal = mdp.T @ mdp.goal.astype(np.float64) * alive[:, None]  # (S, A)
    T_on = mdp.T * (alive & ~mdp.goal) * alive[:, None, None]  # (S, A, S)
    return P_goal, T_on


def success_probability(mdp: MDP, policy: Any, horizon: int | None = None) -> float:
    """Probability that ``policy`` enters a goal state within ``horizon`` steps from the start.

    ``horizon`` defaults to the MDP's ``max_episode_steps`` (100 for FrozenLake-v1).
    """
    mdp = _check_mdp(mdp)
    pi = _check_policy(mdp, policy)  # (S, A)
    P_goal, T_on = _success_backup(mdp)
    p_now = (pi * P_goal).sum(axis=1)  # (S,)
    T_pi = np.einsum("sa,sat->st", pi, T_on)  # (S, S)
    p = np.zeros(mdp.n_states)
    for _ in range(_horizon(mdp, horizon)):
        p = p_now + T_pi @ p
    return float(mdp.initial @ p)


def optimal_success_probability(mdp: MDP, horizon: int | None = None) -> float:
    """The best probability of entering a goal within ``horizon`` steps (backward induction).

    The optimum is over all policies, including ones that depend on the steps left.
    """
    mdp = _check_mdp(mdp)
    P_goal, T_on = _success_backup(mdp)
    p = np.zeros(mdp.n_states)
    for _ in range(_horizon(mdp, horizon)):
        p = np.max(P_goal + T_on @ p, axis=1)  # (S,)
    return float(mdp.initial @ p)
