"""Tests of dllab.rl.evaluation: the Wilson interval against scipy, and both evaluators."""

from __future__ import annotations

import numpy as np
import pytest

from dllab.rl.evaluation import evaluate_policy, evaluate_policy_simulated, wilson_interval
from dllab.rl.planning import success_probability, value_iteration


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (740, 1000), (10_000, 10_000)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.999])
def test_wilson_interval_matches_scipy(k, n, confidence):
    from scipy.stats import binomtest

    expected = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    low, high = wilson_interval(k, n, confidence)
    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)


def test_gym_and_simulated_evaluations_agree_with_the_exact_success(lake4):
    env, mdp = lake4
    policy = value_iteration(mdp, 0.99).policy
    exact = success_probability(mdp, policy)
    simulated = evaluate_policy_simulated(mdp, policy, episodes=20_000, seed=0, confidence=0.999)
    assert simulated.episodes == 20_000
    assert simulated.ci_low <= exact <= simulated.ci_high
    played = evaluate_policy(env, policy, episodes=300, seed=0, confidence=0.999)
    assert played.ci_low <= exact <= played.ci_high
    assert played.mean_return == pytest.approx(played.success_rate)  # reward 1 only at the goal
    assert played.as_dict("eval_")["eval_episodes"] == 300


def test_simulated_evaluation_keeps_long_episodes(lake4):
    # each environment plays a fixed quota, so the slow successes are not cut off at the end
    _, mdp = lake4
    policy = value_iteration(mdp, 0.99).policy
    a = evaluate_policy_simulated(mdp, policy, episodes=4_096, seed=0, num_envs=4_096)
    b = evaluate_policy_simulated(mdp, policy, episodes=4_096, seed=0, num_envs=64)
    assert abs(a.mean_length - b.mean_length) < 3.0


def test_a_bad_policy_fails(lake4):
    env, mdp = lake4
    always_left = np.zeros(16, dtype=np.int64)
    assert evaluate_policy(env, always_left, episodes=50).success_rate < 0.2
    assert evaluate_policy_simulated(mdp, always_left, episodes=500).success_rate < 0.2


def test_bad_evaluation_inputs(lake4):
    env, mdp = lake4
    good = np.zeros(16, dtype=np.int64)
    with pytest.raises(ValueError, match=r"policy must be integer actions of shape \(16,\)"):
        evaluate_policy(env, np.zeros(16), episodes=1)
    with pytest.raises(ValueError, match="episodes"):
        evaluate_policy(env, good, episodes=0)
    with pytest.raises(ValueError, match="confidence"):
        evaluate_policy_simulated(mdp, good, confidence=1.0)
    with pytest.raises(TypeError, match="expected an MDP"):
        evaluate_policy_simulated(env, good)
    with pytest.raises(ValueError, match="successes <= trials"):
        wilson_interval(5, 4)
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 4, confidence=0.0)
