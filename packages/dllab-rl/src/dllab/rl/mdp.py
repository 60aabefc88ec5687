"""Finite Markov decision processes with sparse transition tables.

An :class:`MDP` lists, for every state ``s`` and action ``a``, its at most ``K`` successors:
``successors[s, a, k]``, their probabilities ``probs[s, a, k]`` and the reward of each
transition ``rewards[s, a, k]``, all of shape (S, A, K). FrozenLake has K = 3 (the intended
move and two slips), so a 1000x1000 lake needs 12 million entries per table where a dense
``T[s, a, s']`` would need 4·10^12. The dense ``T`` and ``R_sas`` are still offered, built on
first use, for MDPs small enough to hold them.

The tables are kept in one canonical form: the successors of each ``(s, a)`` are distinct,
sorted by state and have positive probabilities; the remaining slots are padding, with
probability 0, reward 0 and the last successor repeated, so sums over ``k`` need no mask.

An MDP is built from any gymnasium toy-text environment's transition table
(``env.unwrapped.P``, see :meth:`MDP.from_gym`), from dense arrays (:meth:`MDP.from_arrays`),
directly from sparse arrays (the constructor), or from a FrozenLake map without gymnasium
(:func:`dllab.rl.maps.frozen_lake_mdp`).

Episode semantics follow gymnasium: an episode ends when it *enters* a terminal state, so the
value of a terminal state is 0 and the Bellman backup never looks past one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from dllab.core.checks import check_int
from dllab.core.memory import check_memory
from dllab.rl.sparse import canonical

PROBABILITY_ATOL = 1e-8
"""How far the probabilities of an ``(s, a)`` (or the start distribution) may sum from 1."""


def _as_float_array(name: str, value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}") from None
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite entries")
    return array


def _as_state_mask(name: str, value: Any, n_states: int) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.ndim == 1 and array.dtype != bool and np.issubdtype(array.dtype, np.integer):
        if array.size and (array.min() < 0 or array.max() >= n_states):
            raise ValueError(f"{name} lists a state outside 0..{n_states - 1}")
        mask = np.zeros(n_states, dtype=bool)
        mask[array] = True
        return mask
    if array.shape != (n_states,) or array.dtype != bool:
        raise ValueError(
            f"{name} must be a boolean mask of shape ({n_states},) or a list of state indices, "
            f"got dtype {array.dtype} and shape {array.shape}"
        )
    return array.copy()


@dataclass(frozen=True, eq=False)
class MDP:
    """A finite MDP with sparse float64 tables; every field is checked on construction.

    Attributes:
        successors: next states ``successors[s, a, k]``, integer shape (S, A, K).
        probs: their probabilities, shape (S, A, K); each ``probs[s, a, :]`` sums to 1.
        rewards: the reward of each transition, shape (S, A, K).
        terminal: states that end an episode when entered, bool shape (S,).
        initial: start-state distribution, shape (S,).
        goal: states that count as success when entered, bool shape (S,).
        max_episode_steps: the environment's time limit, or ``None``.
        grid: the map rows when the MDP is a grid world (FrozenLake), else ``None``.
        name: a label for plots and summaries.
        R: expected immediate reward ``R[s, a] = sum_k probs[s, a, k] rewards[s, a, k]``, (S, A).
    """

    successors: np.ndarray
    probs: np.ndarray
    rewards: np.ndarray
    terminal: np.ndarray
    initial: np.ndarray
    goal: np.ndarray
    max_episode_steps: int | None = None
    grid: tuple[str, ...] | None = None
    name: str = "mdp"
    R: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        successors = np.asarray(self.successors)
        if successors.ndim != 3 or 0 in successors.shape:
            raise ValueError(f"successors must have shape (S, A, K) >= 1, got {successors.shape}")
        if successors.dtype == bool or not np.issubdtype(successors.dtype, np.integer):
            raise TypeError(f"successors must be integer states, got dtype {successors.dtype}")
        n_states = successors.shape[0]
        if successors.min() < 0 or successors.max() >= n_states:
            raise ValueError(f"successors lists a state outside 0..{n_states - 1}")
        probs = _as_float_array("probs", self.probs)
        rewards = _as_float_array("rewards", self.rewards)
        for name, array in [("probs", probs), ("rewards", rewards)]:
            if array.shape != successors.shape:
                raise ValueError(f"{name} must have shape {successors.shape}, got {array.shape}")
        if (probs < 0).any():
            s, a, k = np.argwhere(probs < 0)[0]
            raise ValueError(f"probs[{s}, {a}, {k}] = {probs[s, a, k]} is negative")
        sums = probs.sum(axis=2)  # (S, A)
        bad = np.abs(sums - 1.0) > PROBABILITY_ATOL
        if bad.any():
            s, a = np.argwhere(bad)[0]
            raise ValueError(
                f"probs[{s}, {a}, :] sums to {sums[s, a]:.12g}, not 1 "
                f"({int(bad.sum())} state-action pairs are not probability distributions)"
            )
        successors, probs, rewards = canonical(successors, probs, rewards)
        terminal = _as_state_mask("terminal", self.terminal, n_states)
        goal = _as_state_mask("goal", self.goal, n_states)
        initial = _as_float_array("initial", self.initial)
        if initial.shape != (n_states,):
            raise ValueError(f"initial must have shape ({n_states},), got {initial.shape}")
        if (initial < 0).any() or abs(initial.sum() - 1.0) > PROBABILITY_ATOL:
            raise ValueError("initial must be a probability distribution over the states")
        if self.max_episode_steps is not None:
            check_int(self.max_episode_steps, "max_episode_steps", min=1)
        grid = None if self.grid is None else tuple(self.grid)
        if grid is not None and sum(len(r) for r in grid) != n_states:
            raise ValueError(f"grid has {sum(len(r) for r in grid)} cells but the MDP {n_states}")
        for name, value in [
            ("successors", successors),
            ("probs", probs),
            ("rewards", rewards),
            ("terminal", terminal),
            ("goal", goal),
            ("initial", initial),
            ("grid", grid),
            ("R", np.einsum("sak,sak->sa", probs, rewards)),  # (S, A)
        ]:
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
            object.__setattr__(self, name, value)

    @property
    def n_states(self) -> int:
        """Number of states S."""
        return self.successors.shape[0]

    @property
    def n_actions(self) -> int:
        """Number of actions A."""
        return self.successors.shape[1]

    @property
    def n_successors(self) -> int:
        """K, the most successors any ``(s, a)`` has."""
        return self.successors.shape[2]

    @property
    def start_state(self) -> int:
        """The most likely start state (the only one for FrozenLake's maps with one ``S``)."""
        return int(np.argmax(self.initial))

    def _dense(self, values: np.ndarray, what: str) -> np.ndarray:
        S, A = self.n_states, self.n_actions
        check_memory(8.0 * S * A * S, f"the dense {what} of {S} states", "use the sparse tables")
        dense = np.zeros((S, A, S))
        real = self.probs > 0
        s, a, _ = np.nonzero(real)
        dense[s, a, self.successors[real]] = values[real]  # no repeats in the canonical form
        dense.flags.writeable = False
        return dense

    @cached_property
    def T(self) -> np.ndarray:
        """Dense transition probabilities ``T[s, a, s']``, (S, A, S), built on first use."""
        return self._dense(self.probs, "table T[s, a, s']")

    @cached_property
    def R_sas(self) -> np.ndarray:
        """Dense reward of each transition ``R_sas[s, a, s']``, (S, A, S), built on first use."""
        return self._dense(self.rewards, "table R_sas[s, a, s']")

    @classmethod
    def from_arrays(
        cls,
        T: Any,
        R: Any,
        terminal: Any = None,
        initial: Any = None,
        goal: Any = None,
        *,
        max_episode_steps: int | None = None,
        name: str = "mdp",
    ) -> MDP:
        """Build an MDP by hand from dense tables.

        Args:
            T: transition probabilities, shape (S, A, S).
            R: rewards, either expected per action (S, A) or per transition (S, A, S).
            terminal: boolean mask (S,) or list of terminal states; default none.
            initial: start distribution (S,), a single start state, or ``None`` for state 0.
            goal: boolean mask or list of goal states; default the terminal states.
            max_episode_steps: the time limit used by finite-horizon evaluation.
            name: a label.

        Raises:
            TypeError: an argument is not numeric.
            ValueError: shapes disagree, a probability is negative, or a row of ``T`` does not
                sum to 1.
        """
        T = _as_float_array("T", T)
        R = _as_float_array("R", R)
        if T.ndim != 3 or T.shape[0] != T.shape[2] or 0 in T.shape:
            raise ValueError(f"T must have shape (S, A, S) with S, A >= 1, got {T.shape}")
        if R.shape == T.shape[:2]:
            R_sas = np.broadcast_to(R[:, :, None], T.shape)  # (S, A, S)
        elif R.shape == T.shape:
            R_sas = R
        else:
            raise ValueError(
                f"R must have shape (S, A) = {T.shape[:2]} or (S, A, S) = {T.shape}, got {R.shape}"
            )
        if (T < 0).any():
            s, a, s2 = np.argwhere(T < 0)[0]
            raise ValueError(f"T has a negative probability T[{s}, {a}, {s2}] = {T[s, a, s2]}")
        sums = T.sum(axis=2)  # (S, A)
        bad = np.abs(sums - 1.0) > PROBABILITY_ATOL
        if bad.any():
            s, a = np.argwhere(bad)[0]
            raise ValueError(
                f"T[{s}, {a}, :] sums to {sums[s, a]:.12g}, not 1 "
                f"({int(bad.sum())} rows of T are not probability distributions)"
            )
        n_states = T.shape[0]
        positive = T > 0
        K = max(int(positive.sum(axis=2).max()), 1)
        order = np.argsort(~positive, axis=2, kind="stable")[:, :, :K]  # (S, A, K) successors
        probs = np.take_along_axis(T, order, axis=2)
        rewards = np.take_along_axis(R_sas, order, axis=2)
        terminal = np.zeros(n_states, dtype=bool) if terminal is None else terminal
        if initial is None or np.ndim(initial) == 0:
            start = 0 if initial is None else int(initial)
            if not 0 <= start < n_states:
                raise ValueError(f"initial state {start} is outside 0..{n_states - 1}")
            initial = np.eye(n_states)[start]
        goal = terminal if goal is None else goal
        return cls(order, probs, rewards, terminal, initial, goal, max_episode_steps, None, name)

    @classmethod
    def from_gym(cls, env: Any, max_episode_steps: int | None = None) -> MDP:
        """Build the MDP of a gymnasium toy-text environment from ``env.unwrapped.P``.

        Duplicate ``(s, a, s')`` entries are merged: their probabilities add up and their
        rewards are averaged with those probabilities as weights. A state is terminal when a
        transition enters it with ``terminated=True``; goal states are the map's ``G`` tiles
        when the environment has a map, otherwise the terminal states.

        Args:
            env: a gymnasium environment or a registered id such as ``"FrozenLake-v1"``.
            max_episode_steps: override of the environment's registered time limit.
        """
        if isinstance(env, str):
            import gymnasium as gym

            env = gym.make(env)
        base = getattr(env, "unwrapped", env)
        P = getattr(base, "P", None)
        if not isinstance(P, dict):
            raise TypeError(
                f"{type(base).__name__} has no transition table P; "
                "from_gym needs a toy-text environment such as FrozenLake, Taxi or CliffWalking"
            )
        n_states, n_actions = int(base.observation_space.n), int(base.action_space.n)
        successors, probs, rewards, done = _read_table(P, n_states, n_actions)
        entered_done = np.zeros(n_states, dtype=bool)
        entered_done[successors[(probs > 0) & done]] = True
        initial = getattr(base, "initial_state_distrib", None)
        _check_termination(successors, probs, done, entered_done, initial)
        desc = getattr(base, "desc", None)
        grid = None
        goal = entered_done
        if desc is not None and np.asarray(desc).size == n_states:
            grid = tuple(b"".join(row).decode() for row in np.asarray(desc, dtype="c"))
            goal = np.asarray(desc, dtype="c").ravel() == b"G"
        if initial is None:
            start, _ = env.reset(seed=0)
            initial = np.eye(n_states)[int(start)]
        spec = getattr(env, "spec", None)
        if max_episode_steps is None and spec is not None:
            max_episode_steps = spec.max_episode_steps
        name = spec.id if spec is not None else type(base).__name__
        return cls(
            successors,
            probs,
            rewards,
            entered_done,
            initial,
            goal,
            max_episode_steps,
            grid if grid else None,
            name,
        )

    def with_time_limit(self, max_episode_steps: int | None) -> MDP:
        """A copy of this MDP with another time limit."""
        return dataclasses.replace(self, max_episode_steps=max_episode_steps)


def _read_table(
    P: dict[int, dict[int, list[tuple[float, int, float, bool]]]], n_states: int, n_actions: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """gymnasium's lists as (S, A, M) arrays in listing order, padded with probability 0."""
    M = max((len(t) for by_action in P.values() for t in by_action.values()), default=1)
    pad = (0.0, 0, 0.0, False)
    rows = [[pad] * M for _ in range(n_states * n_actions)]
    for s, by_action in P.items():
        for a, transitions in by_action.items():
            if not (0 <= s < n_states and 0 <= a < n_actions):
                raise ValueError(f"P lists (s={s}, a={a}) outside its spaces")
            row = [tuple(t) for t in transitions]
            rows[s * n_actions + a] = row + [pad] * (M - len(row))
    table = np.array(rows, dtype=object).reshape(n_states, n_actions, M, 4)
    probs = table[..., 0].astype(np.float64)
    successors = table[..., 1].astype(np.intp)
    rewards = table[..., 2].astype(np.float64)
    done = table[..., 3].astype(bool)
    return successors, probs, rewards, done


def _check_termination(
    successors: np.ndarray,
    probs: np.ndarray,
    done: np.ndarray,
    terminal: np.ndarray,
    initial: Any,
) -> None:
    """Raise unless, from every reachable state, entering a terminal state always ends.

    Taxi, for instance, enters its "delivered" states without termination only from states
    that no episode reaches, so treating them as terminal changes nothing.
    """
    n_states = len(terminal)
    reachable = np.asarray(initial) > 0 if initial is not None else np.ones(n_states, dtype=bool)
    frontier = np.flatnonzero(reachable & ~terminal)
    while frontier.size:  # breadth-first: each state is expanded once
        entered = np.unique(successors[frontier][probs[frontier] > 0])
        new = entered[~reachable[entered]]
        reachable[new] = True
        frontier = new[~terminal[new]]
    from_alive = (reachable & ~terminal)[:, None, None]  # (S, 1, 1)
    conflict = from_alive & (probs > 0) & ~done & terminal[successors]  # (S, A, M)
    if conflict.any():
        state = successors[conflict][0]
        raise ValueError(
            f"state {state} is entered both with and without termination from reachable "
            "states; MDP needs termination to depend on the next state only"
        )
