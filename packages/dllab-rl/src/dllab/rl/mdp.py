"""Finite Markov decision processes as dense float64 tables.

An :class:`MDP` holds the transition tensor ``T[s, a, s']``, the expected reward ``R[s, a]``,
the reward of each transition ``R_sas[s, a, s']``, the terminal states and the start
distribution. It is built from any gymnasium toy-text environment's transition table
(``env.unwrapped.P``, see :meth:`MDP.from_gym`) or by hand from arrays (:meth:`MDP.from_arrays`).

Episode semantics follow gymnasium: an episode ends when it *enters* a terminal state, so the
value of a terminal state is 0 and the Bellman backup never looks past one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

PROBABILITY_ATOL = 1e-8
"""How far a row of ``T`` (or the start distribution) may sum from 1."""


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


def _check_termination(
    terminal: np.ndarray, alive_edge: np.ndarray, T: np.ndarray, initial: np.ndarray | None
) -> None:
    """Raise unless, from every reachable state, entering a terminal state always ends.

    Taxi, for instance, enters its "delivered" states without termination only from states
    that no episode reaches, so treating them as terminal changes nothing.
    """
    reachable = initial > 0 if initial is not None else np.ones(len(terminal), dtype=bool)
    while True:
        frontier = reachable & ~terminal
        grown = reachable | (T[frontier].sum(axis=(0, 1)) > 0)
        if (grown == reachable).all():
            break
        reachable = grown
    conflict = alive_edge[reachable & ~terminal][:, terminal]
    if conflict.any():
        state = np.flatnonzero(terminal)[np.argwhere(conflict)[0][1]]
        raise ValueError(
            f"state {state} is entered both with and without termination from reachable "
            "states; MDP needs termination to depend on the next state only"
        )


@dataclass(frozen=True, eq=False)
class MDP:
    """A finite MDP with dense float64 tables; every field is checked on construction.

    Attributes:
        T: transition probabilities ``T[s, a, s']``, shape (S, A, S); each row sums to 1.
        R_sas: reward of each transition ``R_sas[s, a, s']``, shape (S, A, S).
        terminal: states that end an episode when entered, bool shape (S,).
        initial: start-state distribution, shape (S,).
        goal: states that count as success when entered, bool shape (S,).
        max_episode_steps: the environment's time limit, or ``None``.
        grid: the map rows when the MDP is a grid world (FrozenLake), else ``None``.
        name: a label for plots and summaries.
        R: expected immediate reward ``R[s, a] = sum_s' T[s, a, s'] R_sas[s, a, s']``, (S, A).
    """

    T: np.ndarray
    R_sas: np.ndarray
    terminal: np.ndarray
    initial: np.ndarray
    goal: np.ndarray
    max_episode_steps: int | None = None
    grid: tuple[str, ...] | None = None
    name: str = "mdp"
    R: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        T = _as_float_array("T", self.T)
        if T.ndim != 3 or T.shape[0] != T.shape[2] or 0 in T.shape:
            raise ValueError(f"T must have shape (S, A, S) with S, A >= 1, got {T.shape}")
        n_states = T.shape[0]
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
        R_sas = _as_float_array("R_sas", self.R_sas)
        if R_sas.shape != T.shape:
            raise ValueError(f"R_sas must have T's shape {T.shape}, got {R_sas.shape}")
        terminal = _as_state_mask("terminal", self.terminal, n_states)
        goal = _as_state_mask("goal", self.goal, n_states)
        initial = _as_float_array("initial", self.initial)
        if initial.shape != (n_states,):
            raise ValueError(f"initial must have shape ({n_states},), got {initial.shape}")
        if (initial < 0).any() or abs(initial.sum() - 1.0) > PROBABILITY_ATOL:
            raise ValueError("initial must be a probability distribution over the states")
        steps = self.max_episode_steps
        if steps is not None and (
            isinstance(steps, bool) or not isinstance(steps, int) or steps < 1
        ):
            raise ValueError(f"max_episode_steps must be a positive integer or None, got {steps!r}")
        grid = None if self.grid is None else tuple(self.grid)
        if grid is not None and sum(len(r) for r in grid) != n_states:
            raise ValueError(f"grid has {sum(len(r) for r in grid)} cells but the MDP {n_states}")
        for name, value in [
            ("T", T),
            ("R_sas", R_sas),
            ("terminal", terminal),
            ("goal", goal),
            ("initial", initial),
            ("grid", grid),
            ("R", (T * R_sas).sum(axis=2)),  # (S, A)
        ]:
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
            object.__setattr__(self, name, value)

    @property
    def n_states(self) -> int:
        """Number of states S."""
        return self.T.shape[0]

    @property
    def n_actions(self) -> int:
        """Number of actions A."""
        return self.T.shape[1]

    @property
    def start_state(self) -> int:
        """The most likely start state (the only one for FrozenLake)."""
        return int(np.argmax(self.initial))

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
        """Build an MDP by hand.

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
        if T.ndim != 3:
            raise ValueError(f"T must have shape (S, A, S), got {T.shape}")
        if R.shape == T.shape[:2]:
            R_sas = np.broadcast_to(R[:, :, None], T.shape).copy()  # (S, A, S)
        elif R.shape == T.shape:
            R_sas = R
        else:
            raise ValueError(
                f"R must have shape (S, A) = {T.shape[:2]} or (S, A, S) = {T.shape}, got {R.shape}"
            )
        n_states = T.shape[0]
        terminal = np.zeros(n_states, dtype=bool) if terminal is None else terminal
        if initial is None or np.ndim(initial) == 0:
            start = 0 if initial is None else int(initial)
            if not 0 <= start < n_states:
                raise ValueError(f"initial state {start} is outside 0..{n_states - 1}")
            initial = np.eye(n_states)[start]
        goal = terminal if goal is None else goal
        return cls(T, R_sas, terminal, initial, goal, max_episode_steps, None, name)

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
        T = np.zeros((n_states, n_actions, n_states))
        weighted_reward = np.zeros_like(T)
        entered_done = np.zeros(n_states, dtype=bool)
        alive_edge = np.zeros((n_states, n_states), dtype=bool)  # (S, S'): entered, not done
        for s, by_action in P.items():
            for a, transitions in by_action.items():
                for p, s2, r, done in transitions:
                    T[s, a, s2] += p
                    weighted_reward[s, a, s2] += p * r
                    if p > 0 and done:
                        entered_done[s2] = True
                    elif p > 0:
                        alive_edge[s, s2] = True
        _check_termination(
            entered_done,
            alive_edge,
            T,
            np.asarray(base.initial_state_distrib)
            if hasattr(base, "initial_state_distrib")
            else None,
        )
        R_sas = np.divide(weighted_reward, T, out=np.zeros_like(T), where=T > 0)
        desc = getattr(base, "desc", None)
        grid = None
        goal = entered_done
        if desc is not None and np.asarray(desc).size == n_states:
            grid = tuple(b"".join(row).decode() for row in np.asarray(desc, dtype="c"))
            goal = np.asarray(desc, dtype="c").ravel() == b"G"
        initial = getattr(base, "initial_state_distrib", None)
        if initial is None:
            start, _ = env.reset(seed=0)
            initial = np.eye(n_states)[int(start)]
        spec = getattr(env, "spec", None)
        if max_episode_steps is None and spec is not None:
            max_episode_steps = spec.max_episode_steps
        name = spec.id if spec is not None else type(base).__name__
        return cls(
            T, R_sas, entered_done, initial, goal, max_episode_steps, grid if grid else None, name
        )

    def with_time_limit(self, max_episode_steps: int | None) -> MDP:
        """A copy of this MDP with another time limit."""
        return MDP(
            self.T,
            self.R_sas,
            self.terminal,
            self.initial,
            self.goal,
            max_episode_steps,
            self.grid,
            self.name,
        )
