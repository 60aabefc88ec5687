"""Tabular Q-learning (Watkins, 1989) with ε-greedy exploration and scheduled step sizes.

The update after a step ``(s, a, r, s')`` is

    Q[s, a] += α * (r + γ * (1 - terminated) * max_a' Q[s', a'] - Q[s, a])

Truncation by the time limit is not termination, so a truncated step still bootstraps. The same
algorithm runs two ways:

- :func:`q_learning_gym` learns from gymnasium episodes, one step at a time;
- :func:`q_learning_vectorized` learns through :class:`~dllab.rl.simulator.VectorizedMDP`,
  ``num_envs`` environments at once. All environments share one table; when several of them
  update the same ``(s, a)`` in one step, their TD errors are averaged.

The behaviour policy breaks ties between greedy actions at random (so a fresh all-zeros table
still explores); the learned policy is read with the deterministic
:func:`~dllab.rl.planning.greedy_policy`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dllab.core.checks import check_float, check_int, check_positive_int
from dllab.rl.mdp import MDP
from dllab.rl.planning import greedy_policy, success_probability
from dllab.rl.schedules import Schedule
from dllab.rl.simulator import VectorizedMDP


@dataclass
class QLearningConfig:
    """Settings of a Q-learning run (the defaults are the full run).

    Attributes:
        episodes: number of training episodes, summed over all environments.
        gamma: discount factor in ``[0, 1]``.
        lr: learning-rate schedule α over training progress.
        epsilon: exploration schedule ε over training progress.
        num_envs: environments stepped together by the vectorised runner.
        seed: seed of the behaviour policy and of the environments.
        max_episode_steps: time limit; ``None`` keeps the environment's.
        curve_points: how many times during training the greedy policy's exact success
            probability is computed from the model (0: never).
    """

    episodes: int = 100_000
    gamma: float = 0.995
    lr: Schedule = field(default_factory=lambda: Schedule(0.2, 0.005, 1.0, "exponential"))
    epsilon: Schedule = field(default_factory=lambda: Schedule(1.0, 0.1, 0.5))
    num_envs: int = 256
    seed: int = 0
    max_episode_steps: int | None = None
    curve_points: int = 50

    def __post_init__(self) -> None:
        check_positive_int(self.episodes, "episodes")
        check_float(self.gamma, "gamma", min=0.0, max=1.0)
        for name in ("lr", "epsilon"):
            if not isinstance(getattr(self, name), Schedule):
                raise TypeError(f"{name} must be a Schedule, got {getattr(self, name)!r}")
        self.lr.check_range("lr", 0.0, 1.0)
        self.epsilon.check_range("epsilon", 0.0, 1.0)
        check_positive_int(self.num_envs, "num_envs")
        if self.max_episode_steps is not None:
            check_positive_int(self.max_episode_steps, "max_episode_steps")
        check_int(self.curve_points, "curve_points", min=0)

    @classmethod
    def quick(cls, **overrides: Any) -> QLearningConfig:
        """The quick run: few episodes, enough for the 4x4 lake."""
        settings: dict[str, Any] = {"episodes": 10_000, "num_envs": 128}
        settings.update(overrides)
        return cls(**settings)


@dataclass
class QLearningResult:
    """A learned table and the per-episode record of training.

    Attributes:
        Q: the action values (S, A).
        returns: undiscounted return of each training episode, in order of completion.
        successes: whether each training episode entered a goal state.
        lengths: steps of each training episode.
        env_steps: environment steps taken in total.
        seconds: wall time of training.
        curve_episodes: episodes done when the greedy policy was measured.
        curve_success: exact success probability of the greedy policy at those points
            (within the time limit; empty when no model was available).
    """

    Q: np.ndarray
    returns: np.ndarray
    successes: np.ndarray
    lengths: np.ndarray
    env_steps: int
    seconds: float
    curve_episodes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    curve_success: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def policy(self) -> np.ndarray:
        """The greedy policy of ``Q`` (S,), ties to the lowest action."""
        return greedy_policy(self.Q)


class _GreedyCurve:
    """Exact success probability of the greedy policy at evenly spaced points of training."""

    def __init__(self, mdp: MDP | None, episodes: int, points: int) -> None:
        usable = mdp is not None and mdp.max_episode_steps is not None and mdp.goal.any()
        self.mdp = mdp
        self.marks = np.linspace(0, episodes, points + 1).round()[1:] if usable and points else []
        self.episodes: list[int] = []
        self.success: list[float] = []

    def update(self, done: int, Q: np.ndarray) -> None:
        while len(self.episodes) < len(self.marks) and done >= self.marks[len(self.episodes)]:
            self.episodes.append(done)
            self.success.append(success_probability(self.mdp, greedy_policy(Q)))

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.array(self.episodes, dtype=np.int64), np.array(self.success)


def _epsilon_greedy(
    Q: np.ndarray, states: np.ndarray, epsilon: float, rng: np.random.Generator
) -> np.ndarray:
    """ε-greedy actions for a batch of states (N,), greedy ties broken at random."""
    q = Q[states]  # (N, A)
    best = q >= q.max(axis=1, keepdims=True)  # (N, A)
    greedy = np.argmax(best * rng.random(q.shape), axis=1)  # a random one of the best
    explore = rng.random(len(states)) < epsilon
    return np.where(explore, rng.integers(Q.shape[1], size=len(states)), greedy)


def _epsilon_greedy_one(q: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    """ε-greedy action for one state's values (A,); the scalar twin of ``_epsilon_greedy``."""
    if rng.random() < epsilon:
        return int(rng.integers(len(q)))
    best = np.flatnonzero(q >= q.max())
    return int(best[0]) if len(best) == 1 else int(rng.choice(best))


def q_learning_gym(
    env: Any, config: QLearningConfig | None = None, progress: Callable[[int], Any] | None = None
) -> QLearningResult:
    """Q-learning from gymnasium episodes, one environment step at a time.

    Args:
        env: a gymnasium environment with discrete observations and actions.
        config: run settings; ``num_envs`` is ignored.
        progress: called with the number of finished episodes after each episode.
    """
    import time

    config = QLearningConfig() if config is None else config
    if not isinstance(config, QLearningConfig):
        raise TypeError(f"config must be a QLearningConfig, got {type(config).__name__}")
    n_states = getattr(env.observation_space, "n", None)
    n_actions = getattr(env.action_space, "n", None)
    if n_states is None or n_actions is None:
        raise TypeError("q_learning_gym needs discrete observation and action spaces")
    mdp = MDP.from_gym(env, config.max_episode_steps) if hasattr(env.unwrapped, "P") else None
    goal = None if mdp is None else mdp.goal
    curve = _GreedyCurve(mdp, config.episodes, config.curve_points)
    limit = config.max_episode_steps
    rng = np.random.default_rng(config.seed)
    Q = np.zeros((int(n_states), int(n_actions)))
    returns, successes, lengths = [], [], []
    start = time.perf_counter()
    env_steps = 0
    for episode in range(config.episodes):
        fraction = episode / config.episodes
        epsilon, lr = config.epsilon(fraction), config.lr(fraction)
        state, _ = env.reset(seed=config.seed if episode == 0 else None)
        total, steps, success = 0.0, 0, False
        while True:
            action = _epsilon_greedy_one(Q[state], epsilon, rng)
            next_state, reward, terminated, truncated, _ = env.step(action)
            steps += 1
            truncated = truncated or (limit is not None and steps >= limit)
            future = 0.0 if terminated else config.gamma * Q[next_state].max()
            Q[state, action] += lr * (reward + future - Q[state, action])
            total += float(reward)
            state = next_state
            if terminated or truncated:
                success = bool(terminated and (goal[state] if goal is not None else reward > 0))
                break
        env_steps += steps
        returns.append(total)
        successes.append(success)
        lengths.append(steps)
        curve.update(episode + 1, Q)
        if progress is not None:
            progress(episode + 1)
    seconds = time.perf_counter() - start
    return QLearningResult(
        Q,
        np.array(returns),
        np.array(successes),
        np.array(lengths),
        env_steps,
        seconds,
        *curve.arrays(),
    )


def q_learning_vectorized(
    mdp: MDP, config: QLearningConfig | None = None, progress: Callable[[int], Any] | None = None
) -> QLearningResult:
    """Q-learning through the vectorised simulator of ``mdp``.

    Args:
        mdp: the model to simulate.
        config: run settings; episodes count over all ``num_envs`` environments.
        progress: called with the number of finished episodes whenever some finish.
    """
    import time

    config = QLearningConfig() if config is None else config
    if not isinstance(config, QLearningConfig):
        raise TypeError(f"config must be a QLearningConfig, got {type(config).__name__}")
    if not isinstance(mdp, MDP):
        raise TypeError(f"expected an MDP, got {type(mdp).__name__}")
    rng = np.random.default_rng(config.seed)
    num_envs = min(config.num_envs, config.episodes)
    sim = VectorizedMDP(mdp, num_envs, config.max_episode_steps, seed=config.seed + 1)
    S, A = mdp.n_states, mdp.n_actions
    Q = np.zeros((S, A))
    flat_Q = Q.reshape(-1)  # a view: updates land in Q
    returns, successes, lengths = [], [], []
    running = np.zeros(num_envs)
    states = sim.reset()
    done, env_steps = 0, 0
    limited = (
        mdp if config.max_episode_steps is None else mdp.with_time_limit(config.max_episode_steps)
    )
    curve = _GreedyCurve(limited, config.episodes, config.curve_points)
    start = time.perf_counter()
    while done < config.episodes:
        fraction = done / config.episodes
        actions = _epsilon_greedy(Q, states, config.epsilon(fraction), rng)
        step = sim.step(actions)
        env_steps += num_envs
        future = config.gamma * Q[step.next_states].max(axis=1) * ~step.terminated  # (N,)
        index = states * A + actions  # (N,) flat (s, a)
        td = step.rewards + future - flat_Q[index]
        td_sum = np.bincount(index, weights=td, minlength=S * A)
        visits = np.bincount(index, minlength=S * A)
        flat_Q += config.lr(fraction) * td_sum / np.maximum(visits, 1)
        running += step.rewards
        ended = step.terminated | step.truncated
        if ended.any():
            returns.append(running[ended])
            successes.append(step.success[ended] & step.terminated[ended])
            lengths.append(sim.elapsed[ended].copy())
            running[ended] = 0.0
            done += int(ended.sum())
            curve.update(min(done, config.episodes), Q)
            if progress is not None:
                progress(min(done, config.episodes))
        states = sim.reset_where(ended)
    seconds = time.perf_counter() - start
    n = config.episodes
    return QLearningResult(
        Q,
        np.concatenate(returns)[:n],
        np.concatenate(successes)[:n],
        np.concatenate(lengths)[:n],
        env_steps,
        seconds,
        *curve.arrays(),
    )
