"""Empirical evaluation of a fixed policy, with a Wilson confidence interval on its success rate.

:func:`evaluate_policy` plays gymnasium episodes; :func:`evaluate_policy_simulated` plays the
same number through the vectorised simulator, which is much faster and samples the same
transition probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from dllab.core.checks import check_float, check_int, check_positive_int
from dllab.rl.mdp import MDP
from dllab.rl.simulator import VectorizedMDP


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson, 1927).

    Args:
        successes: number of successes, ``0 <= successes <= trials``.
        trials: number of trials (> 0).
        confidence: coverage of the interval, in ``(0, 1)``.
    """
    trials = check_positive_int(trials, "trials")
    successes = check_int(successes, "successes")
    if not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes}/{trials}")
    confidence = _check_confidence(confidence)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class EvaluationResult:
    """Outcome of playing a fixed policy for a number of episodes.

    Attributes:
        episodes: episodes played.
        successes: episodes that entered a goal state.
        success_rate: ``successes / episodes``.
        ci_low: lower end of the confidence interval on the success rate.
        ci_high: upper end of the confidence interval.
        confidence: coverage of the interval.
        mean_return: average undiscounted return.
        mean_length: average episode length in steps.
    """

    episodes: int
    successes: int
    success_rate: float
    ci_low: float
    ci_high: float
    confidence: float
    mean_return: float
    mean_length: float

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        """The fields as a flat dictionary (for summary.json)."""
        return {f"{prefix}{k}": v for k, v in self.__dict__.items()}


def _check(policy: Any, n_states: int, episodes: int, confidence: float) -> np.ndarray:
    policy = np.asarray(policy)
    if policy.shape != (n_states,) or not np.issubdtype(policy.dtype, np.integer):
        raise ValueError(
            f"policy must be integer actions of shape ({n_states},), got {policy.shape}"
        )
    check_positive_int(episodes, "episodes")
    _check_confidence(confidence)
    return policy


def _check_confidence(confidence: float) -> float:
    return check_float(confidence, "confidence", min=0.0, max=1.0, min_open=True, max_open=True)


def _result(success: np.ndarray, returns: np.ndarray, lengths: np.ndarray, confidence: float):
    k, n = int(success.sum()), len(success)
    low, high = wilson_interval(k, n, confidence)
    return EvaluationResult(
        n, k, k / n, low, high, confidence, float(returns.mean()), float(lengths.mean())
    )


def evaluate_policy(
    env: Any,
    policy: Any,
    episodes: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
    progress: Callable[[int], Any] | None = None,
) -> EvaluationResult:
    """Play the deterministic ``policy`` for ``episodes`` gymnasium episodes.

    Args:
        env: a gymnasium environment with discrete observations (with its time limit).
        policy: an action per state (S,).
        episodes: how many episodes to play.
        seed: seed of the first reset (the following resets continue its random stream).
        confidence: coverage of the interval on the success rate.
        progress: called with the number of finished episodes after each episode.
    """
    n_states = getattr(env.observation_space, "n", None)
    if n_states is None:
        raise TypeError("evaluate_policy needs a discrete observation space")
    policy = _check(policy, int(n_states), episodes, confidence)
    goal = MDP.from_gym(env).goal if hasattr(env.unwrapped, "P") else None
    actions = [int(a) for a in policy]  # python ints: faster than numpy scalars in the loop
    success = np.zeros(episodes, dtype=bool)
    returns, lengths = np.zeros(episodes), np.zeros(episodes, dtype=np.int64)
    for episode in range(episodes):
        state, _ = env.reset(seed=seed if episode == 0 else None)
        terminated = truncated = False
        reward = 0.0
        while not (terminated or truncated):
            state, reward, terminated, truncated, _ = env.step(actions[state])
            returns[episode] += reward
            lengths[episode] += 1
        success[episode] = terminated and (goal[state] if goal is not None else reward > 0)
        if progress is not None:
            progress(episode + 1)
    return _result(success, returns, lengths, confidence)


def evaluate_policy_simulated(
    mdp: MDP,
    policy: Any,
    episodes: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
    num_envs: int = 1024,
) -> EvaluationResult:
    """Play ``policy`` for ``episodes`` episodes in the vectorised simulator of ``mdp``.

    The MDP needs a time limit (``max_episode_steps``) or a policy that always terminates.
    """
    if not isinstance(mdp, MDP):
        raise TypeError(f"expected an MDP, got {type(mdp).__name__}")
    policy = _check(policy, mdp.n_states, episodes, confidence)
    sim = VectorizedMDP(mdp, min(num_envs, episodes), seed=seed)
    # Each environment plays a quota fixed in advance: keeping "the first N episodes to end"
    # instead would favour short episodes.
    quota = np.full(sim.num_envs, episodes // sim.num_envs)
    quota[: episodes % sim.num_envs] += 1
    played = np.zeros(sim.num_envs, dtype=np.int64)
    states = sim.reset()
    running = np.zeros(sim.num_envs)
    success, returns, lengths = [], [], []
    while (played < quota).any():
        step = sim.step(policy[states])
        running += step.rewards
        ended = step.terminated | step.truncated
        counted = ended & (played < quota)
        if counted.any():
            success.append(step.success[counted] & step.terminated[counted])
            returns.append(running[counted])
            lengths.append(sim.elapsed[counted].copy())
        played += ended
        running[ended] = 0.0
        states = sim.reset_where(ended)
    return _result(
        np.concatenate(success), np.concatenate(returns), np.concatenate(lengths), confidence
    )
