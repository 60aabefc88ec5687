"""A vectorised simulator of a tabular MDP: many environments stepped at once with numpy.

It samples from the same tables as :class:`~dllab.rl.mdp.MDP` (built from gymnasium's
``env.unwrapped.P``), with gymnasium's episode rules: an episode *terminates* when it enters a
terminal state and is *truncated* when it reaches the time limit. Sampling uses one uniform
number per environment and step, looked up in the cumulative probabilities of the (at most K)
successors of each ``(s, a)``, so a step costs O(num_envs * K).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        limit = mdp.max_episode_steps if max_episode_steps is None else max_episode_steps
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            raise ValueError(f"max_episode_steps must be a positive integer, got {limit!r}")
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
    """Padded successor lists of every ``(s, a)``: states, cumulative probabilities, rewards.

    Each is (S, A, K) with K the largest number of successors. Padding repeats the last
    successor with a cumulative probability of 2, which a uniform number never reaches.
    """
    positive = mdp.T > 0  # (S, A, S)
    K = int(positive.sum(axis=2).max())
    order = np.argsort(~positive, axis=2, kind="stable")[:, :, :K]  # successors first, by index
    probs = np.take_along_axis(mdp.T, order, axis=2)  # (S, A, K)
    rewards = np.take_along_axis(mdp.R_sas, order, axis=2)  # (S, A, K)
    real = probs > 0
    cdf = np.cumsum(probs, axis=2)
    last = real.sum(axis=2) - 1  # (S, A) index of the last real successor
    cdf = np.where(real, cdf, 2.0)
    np.put_along_axis(cdf, last[:, :, None], 2.0, axis=2)  # the last real one always catches u
    successors = np.where(real, order, np.take_along_axis(order, last[:, :, None], axis=2))
    return successors.astype(np.int64), cdf, rewards
