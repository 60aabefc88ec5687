"""Tests of dllab.rl.simulator: its transitions are gymnasium's, in distribution.

The statistical test samples every (state, action) pair of the slippery 4x4 lake many times
in gymnasium and in the simulator and runs a chi-square test of homogeneity per pair. The
statistics are summed into one test with the summed degrees of freedom; it must not reject at
the 0.001 level. A negative control with a changed slip probability must be rejected.
"""

from __future__ import annotations

import numpy as np
import pytest

from dllab.rl.mdp import MDP
from dllab.rl.simulator import VectorizedMDP

SAMPLES = 400  # per (state, action) pair and per side


def _gym_counts(env, pairs, n_states, rng_seed):
    base = env.unwrapped
    base.reset(seed=rng_seed)
    counts = np.zeros((len(pairs), n_states), dtype=np.int64)
    for i, (s, a) in enumerate(pairs):
        for _ in range(SAMPLES):
            base.s = s
            s2, *_ = base.step(a)
            counts[i, s2] += 1
    return counts


def _simulator_counts(mdp, pairs, seed):
    sim = VectorizedMDP(mdp, num_envs=SAMPLES, max_episode_steps=None, seed=seed)
    counts = np.zeros((len(pairs), mdp.n_states), dtype=np.int64)
    for i, (s, a) in enumerate(pairs):
        sim.states = np.full(SAMPLES, s)
        step = sim.step(np.full(SAMPLES, a))
        counts[i] = np.bincount(step.next_states, minlength=mdp.n_states)
    return counts


def _homogeneity_pvalue(a, b):
    """One chi-square test over all pairs: sum of per-pair statistics and degrees of freedom."""
    from scipy.stats import chi2, chi2_contingency

    statistic, dof = 0.0, 0
    for row_a, row_b in zip(a, b, strict=True):
        seen = (row_a + row_b) > 0
        if seen.sum() < 2:
            assert (row_a[seen] == row_b[seen]).all()  # one successor: counts must agree
            continue
        stat, _, df, _ = chi2_contingency(np.stack([row_a[seen], row_b[seen]]), correction=False)
        statistic, dof = statistic + stat, dof + df
    return chi2.sf(statistic, dof)


@pytest.fixture(scope="module")
def gym_counts(lake4):
    env, mdp = lake4
    pairs = [(s, a) for s in np.flatnonzero(~mdp.terminal) for a in range(4)]
    return pairs, _gym_counts(env, pairs, mdp.n_states, rng_seed=0)


def test_simulator_transition_frequencies_match_gymnasium(lake4, gym_counts):
    _, mdp = lake4
    pairs, from_gym = gym_counts
    from_sim = _simulator_counts(mdp, pairs, seed=1)
    assert _homogeneity_pvalue(from_gym, from_sim) > 1e-3


def test_a_wrong_slip_probability_is_detected(gym_counts):
    from dllab.rl.maps import make_frozen_lake

    pairs, from_gym = gym_counts
    wrong = MDP.from_gym(make_frozen_lake("4x4", success_rate=0.45))
    assert _homogeneity_pvalue(from_gym, _simulator_counts(wrong, pairs, seed=1)) < 1e-6


def test_frequencies_converge_to_the_table(lake4):
    _, mdp = lake4
    sim = VectorizedMDP(mdp, num_envs=20_000, seed=0)
    sim.states = np.full(20_000, 6)
    freq = np.bincount(sim.step(np.full(20_000, 2)).next_states, minlength=16) / 20_000
    np.testing.assert_allclose(freq, mdp.T[6, 2], atol=0.015)  # 4.5 standard errors


def test_episode_rules_terminate_truncate_and_reset():
    from dllab.rl.maps import make_frozen_lake

    mdp = MDP.from_gym(make_frozen_lake(["SFH", "FFG"], slippery=False, max_episode_steps=3))
    sim = VectorizedMDP(mdp, num_envs=2, seed=0)
    assert sim.reset().tolist() == [0, 0]
    step = sim.step(np.array([2, 0]))  # RIGHT to 1 / LEFT into the wall
    assert step.next_states.tolist() == [1, 0] and not step.terminated.any()
    step = sim.step(np.array([2, 0]))  # RIGHT into the hole / wall again
    assert step.terminated.tolist() == [True, False] and step.success.tolist() == [False, False]
    assert sim.reset_where(step.terminated).tolist() == [0, 0]
    step = sim.step(np.array([1, 0]))  # third step of env 1: truncated by the limit of 3
    assert step.truncated.tolist() == [False, True] and not step.terminated.any()
    step = sim.step(np.array([2, 2]))
    step = sim.step(np.array([2, 2]))  # env 0: DOWN, RIGHT, RIGHT reaches the goal
    assert step.terminated[0] and step.success[0] and step.rewards[0] == 1.0


def test_simulator_is_seeded(lake4):
    _, mdp = lake4
    runs = []
    for seed in (5, 5, 6):
        sim = VectorizedMDP(mdp, num_envs=64, seed=seed)
        sim.reset()
        runs.append(np.stack([sim.step(np.full(64, 1)).next_states for _ in range(10)]))
    assert (runs[0] == runs[1]).all() and (runs[0] != runs[2]).any()


def test_bad_simulator_inputs(lake4):
    _, mdp = lake4
    with pytest.raises(TypeError, match="expected an MDP"):
        VectorizedMDP("FrozenLake-v1", 4)
    with pytest.raises(ValueError, match="num_envs"):
        VectorizedMDP(mdp, 0)
    with pytest.raises(ValueError, match="max_episode_steps"):
        VectorizedMDP(mdp, 4, max_episode_steps=-1)
    sim = VectorizedMDP(mdp, 4)
    sim.reset()
    with pytest.raises(ValueError, match=r"actions must have shape \(4,\)"):
        sim.step(np.zeros(3, dtype=int))
