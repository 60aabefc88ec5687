"""Planning with a known model: value iteration, policy iteration and exact policy evaluation.

Everything is vectorised over states and actions in float64 (Sutton & Barto, 2nd ed., ch. 4)
and works on the MDP's sparse tables, so one backup costs O(S·A·K):

- :func:`value_iteration` repeats the Bellman optimality backup until the largest change is
  below a tolerance; with ``gamma = 1`` it plans over the time limit instead (see below);
- :func:`policy_evaluation` solves ``(I - gamma P_pi) V = R_pi`` exactly (a dense solve);
- :func:`policy_iteration` alternates exact evaluation and greedy improvement;
- :func:`finite_horizon_value`, :func:`success_probability` and
  :func:`optimal_success_probability` measure what happens within the time limit.

**Ties.** :func:`greedy_policy` picks, in every state, the *lowest-numbered* action whose value
is within ``tie_atol`` of the best (FrozenLake: LEFT=0 < DOWN=1 < RIGHT=2 < UP=3). Values that
differ only by float rounding are therefore ties, and the result does not depend on the order
in which sums were taken.

**gamma = 1.** Undiscounted, FrozenLake's values converge to the probability of *ever* reaching
the goal, which is 1 in many states for many actions, including actions that only bounce off a
wall: the greedy policy of those values can loop forever. What gymnasium scores is reaching the
goal within the time limit, so with ``gamma = 1`` value iteration solves that problem exactly,
by backward induction over the limit's H steps. Its answer is a *plan*, an action for each
state and each step of the episode (``ValueIterationResult.plan``, shape (H, S)): the best
action depends on the steps left. :func:`success_probability` evaluates plans as well as
stationary policies.

Plans and policies: a *policy* is integer actions (S,) or probabilities (S, A); a *plan* is
integer actions (H, S) whose row ``t`` is played after ``t`` steps.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dllab.core.checks import check_float, check_positive, check_positive_int
from dllab.core.memory import check_memory
from dllab.rl.mdp import MDP

TIE_ATOL = 1e-12
"""Two action values closer than this are treated as equal by :func:`greedy_policy`."""


def _check_mdp(mdp: Any) -> MDP:
    if not isinstance(mdp, MDP):
        raise TypeError(f"expected an MDP, got {type(mdp).__name__}")
    return mdp


def _check_gamma(gamma: Any, allow_one: bool = True) -> float:
    return check_float(gamma, "gamma", min=0.0, max=1.0, max_open=not allow_one)


def _is_plan(mdp: MDP, array: np.ndarray) -> bool:
    integer = array.dtype != bool and np.issubdtype(array.dtype, np.integer)
    return integer and array.ndim == 2 and array.shape[1] == mdp.n_states


def _check_actions(mdp: MDP, actions: np.ndarray) -> np.ndarray:
    A = mdp.n_actions
    if actions.size and (actions.min() < 0 or actions.max() >= A):
        raise ValueError(f"policy has an action outside 0..{A - 1}")
    return actions.astype(np.intp)


def _check_policy(mdp: MDP, policy: Any) -> np.ndarray:
    """Integer actions (S,) or probabilities ``pi[s, a]`` (S, A), checked."""
    if hasattr(policy, "detach"):
        policy = policy.detach().cpu().numpy()
    array = np.asarray(policy)
    S, A = mdp.n_states, mdp.n_actions
    if array.shape == (S,) and array.dtype != bool and np.issubdtype(array.dtype, np.integer):
        return _check_actions(mdp, array)
    if array.shape == (S, A) and np.issubdtype(array.dtype, np.floating):
        if (array < 0).any() or np.abs(array.sum(axis=1) - 1.0).max() > 1e-8:
            raise ValueError("a stochastic policy's rows must be probability distributions")
        return array.astype(np.float64)
    raise ValueError(
        f"policy must be integer actions of shape ({S},) or probabilities of shape ({S}, {A}), "
        f"got dtype {array.dtype} and shape {array.shape}"
    )


def _rules(mdp: MDP, policy: Any, horizon: int) -> Iterator[np.ndarray]:
    """The rule played after t steps, for t = horizon - 1 down to 0 (backward order)."""
    array = np.asarray(policy.detach().cpu().numpy() if hasattr(policy, "detach") else policy)
    if _is_plan(mdp, array):
        if array.shape[0] < horizon:
            raise ValueError(f"a plan of {array.shape[0]} steps cannot cover {horizon} steps")
        plan = _check_actions(mdp, array[:horizon])
        yield from plan[::-1]
    else:
        rule = _check_policy(mdp, policy)
        for _ in range(horizon):
            yield rule


def _under(mdp: MDP, rule: np.ndarray, now: np.ndarray, onward: np.ndarray):
    """One step under ``rule``: ``now`` (S, A) and ``onward`` (S, A, K) as (S,), (S, M), (S, M).

    Returns the expected ``now``, the successors and their weights ``onward``.
    """
    S = mdp.n_states
    if rule.ndim == 1:  # deterministic: pick each state's action
        states = np.arange(S)
        return now[states, rule], mdp.successors[states, rule], onward[states, rule]
    mixed = (rule[:, :, None] * onward).reshape(S, -1)  # (S, A*K)
    return (rule * now).sum(axis=1), mdp.successors.reshape(S, -1), mixed


def _backward(mdp: MDP, policy: Any, horizon: int, now: np.ndarray, onward: np.ndarray):
    """``x_t = now_pi + onward_pi @ x_{t+1}`` from ``x_H = 0`` back to ``x_0`` (S,)."""
    x = np.zeros(mdp.n_states)
    last, tables = None, None
    for rule in _rules(mdp, policy, horizon):
        if rule is not last:
            last, tables = rule, _under(mdp, rule, now, onward)
        now_pi, successors, weights = tables
        x = now_pi + np.einsum("sm,sm->s", weights, x[successors])
    return x


def _continuation(mdp: MDP) -> np.ndarray:
    """``probs`` (S, A, K) without the transitions into or out of terminal states."""
    alive = ~mdp.terminal
    return mdp.probs * alive[mdp.successors] * alive[:, None, None]


def q_values(mdp: MDP, V: np.ndarray, gamma: float) -> np.ndarray:
    """One Bellman backup: ``Q[s, a] = R[s, a] + gamma * sum_s' T[s, a, s'] V[s']``.

    Terminal states contribute no future value, and their own rows are zero.
    """
    V = np.where(mdp.terminal, 0.0, V)
    Q = mdp.R + gamma * np.einsum("sak,sak->sa", mdp.probs, V[mdp.successors])  # (S, A)
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


def _backup(V: np.ndarray, successors: np.ndarray, weights: np.ndarray, R: np.ndarray):
    """``R + sum_k weights[..., k] V[successors[..., k]]`` (S, A), summed slice by slice."""
    gathered = V[successors]  # (S, A, K)
    gathered *= weights
    Q = R + gathered[..., 0]
    for k in range(1, gathered.shape[2]):  # faster than a reduction over a short last axis
        Q += gathered[..., k]
    return Q


def _row_max(Q: np.ndarray) -> np.ndarray:
    """``Q.max(axis=1)`` (S,), column by column (faster for a few actions)."""
    best = Q[:, 0].copy()
    for a in range(1, Q.shape[1]):
        np.maximum(best, Q[:, a], out=best)
    return best


@dataclass
class ValueIterationResult:
    """What :func:`value_iteration` found.

    Attributes:
        V: state values (S,); for a finite horizon, the values with all H steps left.
        Q: action values (S, A), likewise.
        policy: greedy policy of ``Q`` (S,), ties to the lowest action; for a finite horizon,
            the first row of ``plan`` (what to do with all H steps left).
        iterations: number of backups performed.
        residual: ``max |V_k - V_{k-1}|`` at the last backup.
        converged: whether the residual fell below the tolerance; for a finite horizon,
            True (backward induction is exact after H backups).
        residuals: the residual after every backup.
        history: ``V`` after every backup when ``keep_history`` was set, else empty.
        horizon: H for a finite-horizon plan, else ``None``.
        plan: for a finite horizon, the actions (H, S): row ``t`` is played after ``t`` steps.
    """

    V: np.ndarray
    Q: np.ndarray
    policy: np.ndarray
    iterations: int
    residual: float
    converged: bool
    residuals: list[float] = field(default_factory=list)
    history: list[np.ndarray] = field(default_factory=list)
    horizon: int | None = None
    plan: np.ndarray | None = None


def value_iteration(
    mdp: MDP,
    gamma: float = 0.99,
    tol: float = 1e-10,
    max_iters: int = 100_000,
    keep_history: bool = False,
    horizon: int | None = None,
) -> ValueIterationResult:
    """Vectorised value iteration from ``V = 0``.

    Args:
        mdp: the model.
        gamma: discount factor in ``[0, 1]``.
        tol: stop once ``max |V_k - V_{k-1}| < tol`` (infinite horizon only).
        max_iters: the cap on backups; ``converged`` is False when it is reached.
        keep_history: keep a copy of ``V`` after each backup (for step-by-step plots).
        horizon: plan over this many steps by backward induction, exactly ``horizon`` backups
            (the result's ``plan``). Defaults to the MDP's time limit when ``gamma = 1`` (see
            the module docstring); otherwise the horizon is infinite. For undiscounted values
            over an infinite horizon, pass ``mdp.with_time_limit(None)``.
    """
    mdp = _check_mdp(mdp)
    gamma = _check_gamma(gamma)
    tol = check_positive(tol, "tol")
    max_iters = check_positive_int(max_iters, "max_iters")
    if horizon is None and gamma == 1.0:
        horizon = mdp.max_episode_steps
    if horizon is not None:
        horizon = check_positive_int(horizon, "horizon")
        if horizon > max_iters:
            raise ValueError(f"a {horizon}-step plan takes {horizon} backups > max_iters")
    S, A, K = mdp.n_states, mdp.n_actions, mdp.n_successors
    plan_bytes = 0 if horizon is None else horizon * S
    check_memory(8.0 * S * (3 * A * K + 4 * A + 6) + plan_bytes, f"value iteration on {S} states")
    # Transitions into or out of terminal states are zeroed, so their values stay 0 and
    # nothing follows them.
    weights = gamma * _continuation(mdp)  # (S, A, K)
    R = mdp.R * ~mdp.terminal[:, None]  # (S, A)
    V = np.zeros(S)
    plan = None if horizon is None else np.empty((horizon, S), np.min_scalar_type(A - 1))
    residuals: list[float] = []
    history: list[np.ndarray] = []
    residual = np.inf
    for sweep in range(horizon or max_iters):
        Q = _backup(V, mdp.successors, weights, R)  # (S, A)
        V_new = _row_max(Q)  # (S,)
        residual = float(np.abs(V_new - V).max())
        V = V_new
        residuals.append(residual)
        if keep_history:
            history.append(V.copy())
        if plan is not None:
            plan[horizon - 1 - sweep] = np.argmax(V[:, None] - Q <= TIE_ATOL, axis=1)
        elif residual < tol:
            break
    if plan is not None:
        return ValueIterationResult(
            V,
            Q,
            plan[0].astype(np.intp),
            horizon,
            residual,
            True,
            residuals,
            history,
            horizon,
            plan,
        )
    Q = q_values(mdp, V, gamma)
    return ValueIterationResult(
        V, Q, greedy_policy(Q), len(residuals), residual, residual < tol, residuals, history
    )


def policy_evaluation(mdp: MDP, policy: Any, gamma: float = 0.99) -> np.ndarray:
    """Exact values of a policy by a linear solve.

    Solves ``(I - gamma T_pi) V = R_pi`` over the non-terminal states (terminal states have
    value 0). The solve is dense: O(S^2) memory and O(S^3) time, estimated before it starts.

    Args:
        mdp: the model.
        policy: actions (S,) of a deterministic policy or probabilities (S, A).
        gamma: discount factor in ``[0, 1]``; with 1 the policy must end every episode.

    Raises:
        ValueError: bad policy or gamma, too many states for a dense solve, or ``gamma = 1``
            and the policy can run forever.
    """
    mdp = _check_mdp(mdp)
    gamma = _check_gamma(gamma)
    rule = _check_policy(mdp, policy)
    S = mdp.n_states
    alive = np.flatnonzero(~mdp.terminal)
    check_memory(
        8.0 * (S * S + 3 * alive.size**2),
        f"an exact policy evaluation of {S} states",
        "use value_iteration or finite_horizon_value, which work on the sparse tables",
    )
    R_pi, successors, weights = _under(mdp, rule, mdp.R, _continuation(mdp))
    rows = np.repeat(np.arange(S), successors.shape[1])
    flat = np.bincount(rows * S + successors.ravel(), weights.ravel(), minlength=S * S)
    T_pi = flat.reshape(S, S)[np.ix_(alive, alive)]  # (S_alive, S_alive)
    A = np.eye(alive.size) - gamma * T_pi
    V = np.zeros(S)
    try:
        V[alive] = np.linalg.solve(A, R_pi[alive])
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
    max_iters = check_positive_int(max_iters, "max_iters")
    policy = np.zeros(mdp.n_states, dtype=np.intp)
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
    return check_positive_int(horizon, "horizon")


def finite_horizon_value(mdp: MDP, policy: Any, horizon: int | None = None) -> np.ndarray:
    """Expected undiscounted return from each state within ``horizon`` steps (S,).

    ``policy`` is a policy or a plan; ``horizon`` defaults to the MDP's ``max_episode_steps``.
    """
    mdp = _check_mdp(mdp)
    horizon = _horizon(mdp, horizon)
    R = mdp.R * ~mdp.terminal[:, None]  # (S, A)
    return _backward(mdp, policy, horizon, R, _continuation(mdp))


def _success_backup(mdp: MDP) -> tuple[np.ndarray, np.ndarray]:
    """``(P_goal[s, a], on[s, a, k])``: chance to enter a goal now, and to carry on."""
    alive = ~mdp.terminal
    into_goal = mdp.goal[mdp.successors]  # (S, A, K)
    P_goal = (mdp.probs * into_goal).sum(axis=2) * alive[:, None]  # (S, A)
    on = mdp.probs * (alive[mdp.successors] & ~into_goal) * alive[:, None, None]  # (S, A, K)
    return P_goal, on


def success_probability(mdp: MDP, policy: Any, horizon: int | None = None) -> float:
    """Probability that ``policy`` (or a plan) enters a goal within ``horizon`` steps.

    ``horizon`` defaults to the MDP's ``max_episode_steps`` (100 for FrozenLake-v1). The
    probability is exact, from the start distribution, by backward induction over the steps.
    """
    mdp = _check_mdp(mdp)
    horizon = _horizon(mdp, horizon)
    P_goal, on = _success_backup(mdp)
    return float(mdp.initial @ _backward(mdp, policy, horizon, P_goal, on))


def optimal_success_probability(mdp: MDP, horizon: int | None = None) -> float:
    """The best probability of entering a goal within ``horizon`` steps (backward induction).

    The optimum is over all policies, including ones that depend on the steps left.
    """
    mdp = _check_mdp(mdp)
    horizon = _horizon(mdp, horizon)
    P_goal, on = _success_backup(mdp)
    p = np.zeros(mdp.n_states)
    for _ in range(horizon):
        p = np.max(P_goal + np.einsum("sak,sak->sa", on, p[mdp.successors]), axis=1)  # (S,)
    return float(mdp.initial @ p)
