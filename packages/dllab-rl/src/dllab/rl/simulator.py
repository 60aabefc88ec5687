"""A vectorised simulator of a tabular MDP: many environments stepped at once with numpy.

It samples from the sparse tables of an :class:`~dllab.rl.mdp.MDP` (the same as gymnasium's
``env.unwrapped.P``), with gymnasium's episode rules: an episode *terminates* when it enters a
terminal state and is *truncated* when it reaches the time limit. Sampling uses one uniform
number per environment and step, looked up in the cumulative probabilities of the (at most K)
successors of each ``(s, a)``, so a step costs O(num_envs * K).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dllab.core.checks import check_positive_int
from dllab.rl.mdp import MDP


@dataclass
class Step:
    """The outcome of one vectorised step, one entry per environment.

    Attributes:
        next_states: the states entered (N,), before any reset.
        rewards: the rewards (N,).
        terminated: entered a terminal state (N,).
        truncated: reached the time limit without terminating (N,).
        success: entered a goal state (N,).
    """

    next_states: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    success: np.ndarray


class VectorizedMDP:
    """``num_envs`` copies of an MDP, stepped together.

    Args:
        mdp: the model to simulate.
        num_envs: how many environments run side by side.
        max_episode_steps: time limit; defaults to the MDP's (``None``: no limit).
        seed: seed of the simulator's random generator.

    Example:
        >>> sim = VectorizedMDP(mdp, num_envs=64, seed=0)
        >>> states = sim.reset()
        >>> step = sim.step(np.zeros(64, dtype=np.int64))
        >>> states = sim.reset_where(step.terminated | step.truncated)
    """

    def __init__(
        self, mdp: MDP, num_envs: int, max_episode_steps: int | None = None, seed: int | None = None
    ) -> None:
        if not isinstance(mdp, MDP):
            raise TypeError(f"expected an MDP, got {type(mdp).__name__}")
        num_envs = check_positive_int(num_envs, "num_envs")
        limit = mdp.max_episode_steps if max_episode_steps is None else max_episode_steps
        if limit is not None:
            limit = check_positive_int(limit, "max_episode_steps")
        self.mdp, self.num_envs, self.max_episode_steps = mdp, num_envs, limit
        self.rng = np.random.default_rng(seed)
        self.successors, self.cdf, self.successor_rewards = _successor_tables(mdp)
        self.initial_cdf = np.cumsum(mdp.initial)
        self.states = np.zeros(num_envs, dtype=np.int64)
        self.elapsed = np.zeros(num_envs, dtype=np.int64)

    def _sample_start(self, n: int) -> np.ndarray:
        u = self.rng.random(n)
        starts = np.searchsorted(self.initial_cdf, u, side="right")
        return np.minimum(starts, self.mdp.n_states - 1)

    def reset(self) -> np.ndarray:
        """Start a new episode in every environment; returns the start states (N,)."""
        self.states = self._sample_start(self.num_envs)
        self.elapsed[:] = 0
        return self.states.copy()

    def reset_where(self, mask: np.ndarray) -> np.ndarray:
        """Start new episodes where ``mask`` is True; returns all current states (N,)."""
        count = int(mask.sum())
        if count:
            self.states[mask] = self._sample_start(count)
            self.elapsed[mask] = 0
        return self.states.copy()

    def step(self, actions: np.ndarray) -> Step:
        """Take ``actions`` (N,) in every environment."""
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"actions must have shape ({self.num_envs},), got {actions.shape}")
        s = self.states
        u = self.rng.random(self.num_envs)
        k = (u[:, None] >= self.cdf[s, actions]).sum(axis=1)  # (N,) index of the successor
        next_states = self.successors[s, actions, k]  # (N,)
        rewards = self.successor_rewards[s, actions, k]  # (N,)
        self.elapsed += 1
        terminated = self.mdp.terminal[next_states]
        if self.max_episode_steps is None:
            truncated = np.zeros_like(terminated)
        else:
            truncated = (self.elapsed >= self.max_episode_steps) & ~terminated
        success = self.mdp.goal[next_states]
        self.states = next_states
        return Step(next_states, rewards, terminated, truncated, success)


def _successor_tables(mdp: MDP) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The MDP's successor lists of every ``(s, a)``: states, cumulative probabilities, rewards.

    Each is (S, A, K). Padding (probability 0, the last successor repeated) and the last real
    successor get a cumulative probability of 2, which a uniform number never reaches, so the
    last real successor catches every ``u`` that rounding left beyond the sum.
    """
    real = mdp.probs > 0
    cdf = np.where(real, np.cumsum(mdp.probs, axis=2), 2.0)
    last = real.sum(axis=2) - 1  # (S, A) index of the last real successor
    np.put_along_axis(cdf, last[:, :, None], 2.0, axis=2)
    return mdp.successors.astype(np.int64), cdf, np.asarray(mdp.rewards)
