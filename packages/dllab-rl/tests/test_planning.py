"""Tests of dllab.rl.planning against exact solves, loop references and gymnasium's optimum."""

from __future__ import annotations

import numpy as np
import pytest

from dllab.rl.mdp import MDP
from dllab.rl.planning import (
    finite_horizon_value,
    greedy_policy,
    optimal_success_probability,
    policy_evaluation,
    policy_iteration,
    q_values,
    success_probability,
    value_iteration,
)
from dllab.rl.reference import reference_policy_evaluation, reference_value_iteration


def assert_close(actual, expected, atol, name):
    """Element-wise ``|actual - expected| <= atol``; the failure names max abs/rel errors."""
    np.testing.assert_allclose(actual, expected, rtol=0.0, atol=atol, err_msg=name)


@pytest.mark.parametrize("gamma", [0.9, 0.99])
def test_value_iteration_equals_exact_evaluation_of_its_greedy_policy(lake8, gamma):
    _, mdp = lake8
    result = value_iteration(mdp, gamma, tol=1e-12)
    assert result.converged and result.residual < 1e-12
    exact = policy_evaluation(mdp, result.policy, gamma)
    assert_close(result.V, exact, atol=1e-8, name="V vs exact V_pi")


def test_value_iteration_matches_the_python_loop_reference(lake4):
    env, mdp = lake4
    result = value_iteration(mdp, 0.95, tol=1e-12)
    V_ref, sweeps = reference_value_iteration(env.unwrapped.P, 0.95, tol=1e-12)
    assert_close(result.V, V_ref, atol=1e-11, name="V vs loop reference")
    assert result.iterations == sweeps


def test_policy_evaluation_matches_iterative_reference(lake4):
    env, mdp = lake4
    policy = np.random.default_rng(0).integers(4, size=mdp.n_states)
    V_ref = reference_policy_evaluation(env.unwrapped.P, policy, 0.9)
    assert_close(policy_evaluation(mdp, policy, 0.9), V_ref, atol=1e-11, name="V")


def test_stochastic_policy_evaluation_is_the_mixture_of_its_q_values(lake4):
    _, mdp = lake4
    pi = np.random.default_rng(1).dirichlet(np.ones(4), size=mdp.n_states)  # (S, A)
    V = policy_evaluation(mdp, pi, 0.9)
    # V_pi satisfies its own Bellman equation: V = sum_a pi(a|s) Q_pi(s, a)
    assert_close(V, (pi * q_values(mdp, V, 0.9)).sum(1), atol=1e-12, name="V")


@pytest.mark.parametrize("gamma", [0.9, 0.99])
def test_policy_iteration_and_value_iteration_agree(lake8, gamma):
    _, mdp = lake8
    vi = value_iteration(mdp, gamma, tol=1e-12)
    pi = policy_iteration(mdp, gamma)
    assert pi.iterations > 1
    assert_close(pi.V, policy_evaluation(mdp, vi.policy, gamma), atol=1e-8, name="V")


@pytest.mark.parametrize(
    ("fixture", "optimum", "readme"), [("lake4", 0.74, 0.7442), ("lake8", 0.91, 0.9132)]
)
def test_best_success_within_time_limit_matches_gymnasium(request, fixture, optimum, readme):
    # gymnasium/envs/__init__.py: FrozenLake-v1 "optimum = 0.74", FrozenLake8x8-v1 "= 0.91";
    # the README quotes 4 decimals. One step more or less moves the optimum by about 2e-3
    # (4x4) and 1.2e-3 (8x8), so a horizon off by one fails the 5e-5 tolerance.
    env, mdp = request.getfixturevalue(fixture)
    assert mdp.max_episode_steps == env.spec.max_episode_steps
    best = optimal_success_probability(mdp)
    assert round(best, 2) == optimum
    assert best == pytest.approx(readme, abs=5e-5)
    plan = value_iteration(mdp, gamma=1.0).plan  # (H, S): the time-dependent optimum
    assert plan.shape == (env.spec.max_episode_steps, mdp.n_states)
    assert success_probability(mdp, plan) == pytest.approx(best, abs=1e-12)


# README "Success within the time limit": the greedy policy of discounted value iteration.
# 4x4 scores 0.7402 for every gamma; on 8x8 gamma 0.995 is best, hence Q-learning's default.
GREEDY_SUCCESS = {
    ("lake4", 0.99): 0.7402,
    ("lake4", 0.995): 0.7402,
    ("lake4", 0.999): 0.7402,
    ("lake8", 0.99): 0.8630,
    ("lake8", 0.995): 0.8936,
    ("lake8", 0.999): 0.8857,
}


@pytest.mark.parametrize(("fixture", "gamma"), list(GREEDY_SUCCESS))
def test_greedy_value_iteration_success_per_gamma_is_the_readme_figure(request, fixture, gamma):
    _, mdp = request.getfixturevalue(fixture)
    policy = value_iteration(mdp, gamma, tol=1e-10).policy
    expected = GREEDY_SUCCESS[fixture, gamma]
    assert success_probability(mdp, policy) == pytest.approx(expected, abs=5e-5)


@pytest.mark.parametrize(("fixture", "stationary"), [("lake4", 0.7402), ("lake8", 0.8857)])
def test_first_step_of_the_plan_played_at_every_step(request, fixture, stationary):
    _, mdp = request.getfixturevalue(fixture)
    first = value_iteration(mdp, gamma=1.0).policy
    assert success_probability(mdp, first) == pytest.approx(stationary, abs=5e-5)


def test_default_q_learning_gamma_is_the_best_greedy_gamma_on_8x8():
    from dllab.rl.qlearning import QLearningConfig

    scores = {g: v for (lake, g), v in GREEDY_SUCCESS.items() if lake == "lake8"}
    assert QLearningConfig().gamma == max(scores, key=scores.get) == 0.995


def test_success_probability_bounds_and_horizon(lake4):
    _, mdp = lake4
    policy = value_iteration(mdp, 0.99).policy
    p100 = success_probability(mdp, policy)
    assert p100 <= optimal_success_probability(mdp) + 1e-12
    assert (
        success_probability(mdp, policy, horizon=5)
        < p100
        < success_probability(mdp, policy, 10_000)
    )
    # on FrozenLake the return is 1 exactly when the goal is reached
    returns = finite_horizon_value(mdp, policy)
    assert returns[mdp.start_state] == pytest.approx(p100, abs=1e-12)


def test_finite_horizon_success_matches_gymnasium_episodes(lake4):
    from dllab.rl.evaluation import evaluate_policy

    env, mdp = lake4
    policy = value_iteration(mdp, 0.99).policy
    exact = success_probability(mdp, policy)
    played = evaluate_policy(env, policy, episodes=1500, seed=3, confidence=0.999)
    assert played.ci_low <= exact <= played.ci_high


def test_ties_go_to_the_lowest_action():
    Q = np.array([[1.0, 1.0, 0.0], [0.0, 2.0, 2.0], [3.0, 3.0 + 1e-15, 1.0], [0.0, 0.5, 1.0]])
    np.testing.assert_array_equal(greedy_policy(Q), [0, 1, 0, 2])
    np.testing.assert_array_equal(greedy_policy(Q, tie_atol=0.0), [0, 1, 1, 2])


def test_tie_rule_is_independent_of_summation_order(lake4):
    _, mdp = lake4
    vi = value_iteration(mdp, 0.99)
    assert (vi.policy[mdp.terminal] == 0).all()  # every action ties in a terminal state
    # a symmetric lake: from the start, DOWN and RIGHT tie exactly; the rule picks DOWN (1)
    sym = MDP.from_gym(_make(["SF", "FG"], slippery=False))
    assert value_iteration(sym, 0.9).policy[0] == 1


def _make(rows, slippery):
    from dllab.rl.maps import make_frozen_lake

    return make_frozen_lake(rows, slippery=slippery)


def test_value_iteration_reports_iteration_cap(lake4):
    _, mdp = lake4
    result = value_iteration(mdp, 0.99, tol=1e-10, max_iters=5, keep_history=True)
    assert not result.converged and result.iterations == 5 and len(result.history) == 5
    assert result.residual == result.residuals[-1] > 1e-10


def test_deterministic_lake_has_certain_success():
    mdp = MDP.from_gym(_make("4x4", slippery=False))
    assert optimal_success_probability(mdp) == pytest.approx(1.0, abs=1e-12)
    assert success_probability(mdp, value_iteration(mdp, 0.9).policy) == pytest.approx(1.0)


def test_bad_planning_inputs(lake4):
    _, mdp = lake4
    with pytest.raises(TypeError, match="expected an MDP"):
        value_iteration("FrozenLake-v1")
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\]"):
        value_iteration(mdp, gamma=1.5)
    with pytest.raises(TypeError, match="gamma must be a number"):
        value_iteration(mdp, gamma="0.9")
    with pytest.raises(ValueError, match="tol"):
        value_iteration(mdp, tol=0.0)
    with pytest.raises(ValueError, match="max_iters"):
        value_iteration(mdp, max_iters=0)
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\)"):
        policy_iteration(mdp, gamma=1.0)
    with pytest.raises(ValueError, match=r"policy must be integer actions of shape \(16,\)"):
        policy_evaluation(mdp, np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match=r"outside 0\.\.3"):
        success_probability(mdp, np.full(16, 4))
    with pytest.raises(ValueError, match="probability distributions"):
        policy_evaluation(mdp, np.full((16, 4), 0.5))
    with pytest.raises(ValueError, match="horizon"):
        success_probability(mdp, np.zeros(16, dtype=int), horizon=0)
    with pytest.raises(ValueError, match="no max_episode_steps"):
        optimal_success_probability(mdp.with_time_limit(None))
    with pytest.raises(ValueError, match=r"Q must have shape \(S, A\)"):
        greedy_policy(np.zeros(4))


def test_undiscounted_evaluation_of_a_looping_policy_is_refused():
    mdp = MDP.from_gym(_make("4x4", slippery=False))
    with pytest.raises(ValueError, match="gamma = 1"):
        policy_evaluation(mdp, np.zeros(16, dtype=int), gamma=1.0)  # LEFT forever never ends
