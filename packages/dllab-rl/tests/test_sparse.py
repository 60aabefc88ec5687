"""Sparse (S, A, K) tables: parity with gymnasium and the dense form, large maps, memory checks."""

from __future__ import annotations

import numpy as np
import pytest

import dllab.core.memory
from dllab.rl.maps import frozen_lake_mdp, make_frozen_lake, random_map
from dllab.rl.mdp import MDP
from dllab.rl.planning import (
    policy_evaluation,
    q_values,
    success_probability,
    value_iteration,
)
from dllab.rl.reference import reference_value_iteration

FIELDS = ["successors", "probs", "rewards", "R", "terminal", "goal", "initial"]


def _open_lake(n, holes=0.1, seed=0):
    """An ``n`` x ``n`` lake with random holes, S in the top-left and G in the bottom-right."""
    rng = np.random.default_rng(seed)
    tiles = np.where(rng.random((n, n)) < holes, "H", "F")
    tiles[0, 0], tiles[-1, -1] = "S", "G"
    return ["".join(row) for row in tiles]


@pytest.mark.parametrize(
    ("lake", "slippery", "kwargs"),
    [
        ("4x4", True, {}),
        ("8x8", True, {}),
        ("8x8", False, {}),
        (random_map(9, seed=1), True, {}),
        (["SFFHG"], True, {}),  # one row: three moves can end in the same cell
        (["SHG", "FSF"], True, {"success_rate": 0.5, "reward_schedule": (2.0, -1.0, 0.1)}),
        ("4x4", True, {"max_episode_steps": 7}),
    ],
)
def test_frozen_lake_mdp_equals_the_gymnasium_table_exactly(lake, slippery, kwargs):
    ours = frozen_lake_mdp(lake, slippery, **kwargs)
    gym = MDP.from_gym(make_frozen_lake(lake, slippery, **kwargs))
    for name in FIELDS:  # bit for bit: merged in gymnasium's listing order
        np.testing.assert_array_equal(getattr(ours, name), getattr(gym, name), err_msg=name)
    assert (ours.name, ours.grid, ours.max_episode_steps) == (
        gym.name,
        gym.grid,
        gym.max_episode_steps,
    )


def test_tables_are_canonical(lake8):
    _, mdp = lake8
    assert mdp.successors.shape == mdp.probs.shape == (64, 4, 3)
    real = mdp.probs > 0
    assert real[..., 0].all()
    for k in range(1, mdp.n_successors):
        follows = real[..., k]
        assert (mdp.successors[..., k][follows] > mdp.successors[..., k - 1][follows]).all()
        assert (~follows | real[..., k - 1]).all()  # padding only after the real successors
        assert (mdp.rewards[..., k][~follows] == 0).all()
    np.testing.assert_allclose(mdp.probs.sum(axis=2), 1.0, rtol=0, atol=1e-15)


def test_dense_tables_round_trip_through_from_arrays(lake4):
    _, mdp = lake4
    again = MDP.from_arrays(mdp.T, mdp.R_sas, mdp.terminal, mdp.initial, mdp.goal)
    for name in ["successors", "probs", "rewards", "R"]:
        np.testing.assert_array_equal(getattr(again, name), getattr(mdp, name), err_msg=name)
    assert mdp.T.shape == (16, 4, 16) and mdp.T is mdp.T  # built once


def test_sparse_construction_merges_repeats_and_checks_rows():
    successors = np.array([[[1, 1, 0]], [[1, 1, 1]]])  # (S=2, A=1, K=3), repeats listed
    probs = np.array([[[0.25, 0.25, 0.5]], [[1.0, 0.0, 0.0]]])
    rewards = np.array([[[2.0, 4.0, 0.0]], [[0.0, 0.0, 0.0]]])
    mdp = MDP(successors, probs, rewards, [False, True], [1.0, 0.0], [False, True])
    np.testing.assert_array_equal(mdp.successors[0, 0], [0, 1])  # sorted, merged, K = 2
    np.testing.assert_array_equal(mdp.probs[0, 0], [0.5, 0.5])
    np.testing.assert_array_equal(mdp.rewards[0, 0], [0.0, 3.0])  # probability-weighted mean
    assert mdp.R[0, 0] == 1.5
    with pytest.raises(ValueError, match=r"probs\[0, 0, :\] sums to 0.9"):
        MDP(successors, probs * 0.9, rewards, [False, True], [1.0, 0.0], [False, True])
    with pytest.raises(ValueError, match=r"successors lists a state outside 0\.\.1"):
        MDP(successors + 1, probs, rewards, [False, True], [1.0, 0.0], [False, True])
    with pytest.raises(TypeError, match="successors must be integer states"):
        MDP(successors * 1.0, probs, rewards, [False, True], [1.0, 0.0], [False, True])


def test_value_iteration_on_a_20x20_lake_matches_the_python_loop_reference():
    lake = random_map(20, seed=5)
    env = make_frozen_lake(lake)
    result = value_iteration(frozen_lake_mdp(lake), 0.95, tol=1e-12)
    V_ref, sweeps = reference_value_iteration(env.unwrapped.P, 0.95, tol=1e-12)
    np.testing.assert_allclose(result.V, V_ref, rtol=0, atol=1e-11)
    assert result.iterations == sweeps


def test_a_100x100_lake_plans_on_the_sparse_tables():
    mdp = frozen_lake_mdp(_open_lake(100), max_episode_steps=400)
    assert mdp.probs.nbytes == 10_000 * 4 * 3 * 8  # a dense T would take 3.2 GB
    result = value_iteration(mdp, 0.99, tol=1e-9)
    assert result.converged and result.V[mdp.start_state] > 0
    # the fixed point: one more backup moves V by less than tol / (1 - gamma)
    assert np.abs(q_values(mdp, result.V, 0.99).max(axis=1) - result.V).max() < 1e-7
    assert 0 < success_probability(mdp, result.policy) <= 1


@pytest.mark.parametrize(("fixture", "steps"), [("lake4", 100), ("lake8", 200)])
@pytest.mark.parametrize("tol", [1e-3, 1e-8, 1e-13])
def test_undiscounted_value_iteration_plans_for_the_time_limit(request, fixture, steps, tol):
    from dllab.rl.planning import optimal_success_probability

    _, mdp = request.getfixturevalue(fixture)
    result = value_iteration(mdp, 1.0, tol=tol)
    assert result.horizon == steps and result.plan.shape == (steps, mdp.n_states)
    np.testing.assert_array_equal(result.policy, result.plan[0])
    optimum = optimal_success_probability(mdp)
    assert success_probability(mdp, result.plan) == pytest.approx(optimum, abs=1e-12)
    assert mdp.initial @ result.V == pytest.approx(optimum, abs=1e-12)
    # a stationary rule cannot do as well on 8x8: the best action depends on the steps left
    assert success_probability(mdp, result.policy) <= optimum + 1e-12


def test_a_plan_of_identical_rows_is_the_stationary_policy(lake4):
    _, mdp = lake4
    policy = value_iteration(mdp, 0.99).policy
    plan = np.tile(policy, (100, 1))
    assert success_probability(mdp, plan) == pytest.approx(
        success_probability(mdp, policy), abs=1e-15
    )
    with pytest.raises(ValueError, match="a plan of 100 steps cannot cover 150 steps"):
        success_probability(mdp, plan, horizon=150)
    with pytest.raises(ValueError, match=r"outside 0\.\.3"):
        success_probability(mdp, plan + 4)


def test_explicit_horizon_and_its_checks(lake4):
    _, mdp = lake4
    short = value_iteration(mdp, 0.9, horizon=3)
    assert short.plan.shape == (3, 16) and short.iterations == 3 and short.converged
    with pytest.raises(ValueError, match="max_iters"):
        value_iteration(mdp, 1.0, max_iters=10)  # a 100-step plan needs 100 backups
    with pytest.raises(ValueError, match="horizon must be >= 1"):
        value_iteration(mdp, 0.9, horizon=0)


def test_memory_is_estimated_before_allocating(monkeypatch, lake4):
    _, mdp = lake4
    with pytest.raises(ValueError, match=r"the MDP of a 3000x3000 lake needs about \d"):
        dllab.core.memory.check_memory(1e18, "the MDP of a 3000x3000 lake")
    monkeypatch.setattr(dllab.core.memory, "available_memory", lambda: 1000)
    with pytest.raises(ValueError, match="the MDP of a 4x4 lake needs about"):
        frozen_lake_mdp("4x4")
    with pytest.raises(ValueError, match="gymnasium's transition lists for a 4x4 lake"):
        make_frozen_lake("4x4")
    with pytest.raises(ValueError, match="value iteration on 16 states needs about"):
        value_iteration(mdp, 0.9)
    with pytest.raises(ValueError, match="exact policy evaluation of 16 states"):
        policy_evaluation(mdp, np.zeros(16, dtype=int))
    monkeypatch.setattr(dllab.core.memory, "available_memory", lambda: None)  # unknown: allowed
    assert frozen_lake_mdp("4x4").n_states == 16


def test_dense_tables_of_a_large_mdp_are_refused(monkeypatch):
    mdp = frozen_lake_mdp(_open_lake(50))
    monkeypatch.setattr(dllab.core.memory, "available_memory", lambda: 100 * 2**20)
    with pytest.raises(
        ValueError, match=r"dense table T\[s, a, s'\] of 2500 states needs about 190.7 MiB"
    ):
        _ = mdp.T  # 2500 * 4 * 2500 * 8 bytes
    assert mdp.probs.shape == (2500, 4, 3)  # the sparse tables are all it holds
