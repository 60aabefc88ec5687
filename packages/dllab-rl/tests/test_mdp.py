"""Tests of dllab.rl.mdp: MDPs from gymnasium tables and from arrays, and their validation."""

from __future__ import annotations

import numpy as np
import pytest

from dllab.rl.mdp import MDP


def _merged_reference(P, n_states, n_actions):
    """Dense T and expected R from P with dictionaries, as a reader would sum them by hand."""
    T = np.zeros((n_states, n_actions, n_states))
    R = np.zeros((n_states, n_actions))
    for s in P:
        for a in P[s]:
            merged: dict[int, float] = {}
            for p, s2, r, _ in P[s][a]:
                merged[s2] = merged.get(s2, 0.0) + p
                R[s, a] += p * r
            for s2, p in merged.items():
                T[s, a, s2] = p
    return T, R


@pytest.mark.parametrize("env_id", ["FrozenLake-v1", "FrozenLake8x8-v1", "CliffWalking-v1"])
def test_from_gym_matches_the_transition_table(env_id):
    import gymnasium as gym

    env = gym.make(env_id)
    mdp = MDP.from_gym(env)
    T, R = _merged_reference(env.unwrapped.P, mdp.n_states, mdp.n_actions)
    np.testing.assert_allclose(mdp.T, T, rtol=0, atol=1e-15)
    np.testing.assert_allclose(mdp.R, R, rtol=0, atol=1e-12)
    assert mdp.max_episode_steps == env.spec.max_episode_steps


def test_from_gym_merges_duplicate_transitions(lake4):
    env, mdp = lake4
    listed = env.unwrapped.P[0][0]  # LEFT in the corner: two of the three moves stay put
    assert [s2 for _, s2, _, _ in listed].count(0) == 2
    assert mdp.T[0, 0, 0] == pytest.approx(2 / 3, abs=1e-15)
    assert np.count_nonzero(mdp.T[0, 0]) == 2


def test_frozen_lake_terminal_goal_and_start(lake4):
    _, mdp = lake4
    grid = "".join(mdp.grid)
    assert mdp.grid == ("SFFF", "FHFH", "FFFH", "HFFG")
    np.testing.assert_array_equal(mdp.terminal, [c in "HG" for c in grid])
    np.testing.assert_array_equal(mdp.goal, [c == "G" for c in grid])
    assert mdp.start_state == 0 and mdp.initial[0] == 1.0
    goal = grid.index("G")
    # the only reward is 1 on entering the goal: R[14, RIGHT] is the chance of sliding into it
    assert mdp.R_sas[14, 2, goal] == 1.0
    assert mdp.R[14, 2] == pytest.approx(1 / 3, abs=1e-15)


def test_taxi_terminal_states_are_the_delivered_ones():
    mdp = MDP.from_gym("Taxi-v4")
    assert mdp.n_states == 500 and mdp.n_actions == 6
    assert mdp.terminal.sum() == 4  # the taxi at each destination, passenger dropped there
    assert (mdp.initial[mdp.terminal] == 0).all()


def test_tables_are_read_only(lake4):
    _, mdp = lake4
    with pytest.raises(ValueError, match="read-only"):
        mdp.T[0, 0, 0] = 1.0


def test_from_arrays_accepts_both_reward_shapes():
    T = np.array([[[0.5, 0.5], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    R_sa = np.array([[1.0, 2.0], [0.0, 0.0]])
    a = MDP.from_arrays(T, R_sa, terminal=[1])
    R_sas = np.zeros((2, 2, 2))
    R_sas[0, 0] = [0.0, 2.0]  # expectation 1.0
    R_sas[0, 1, 1] = 2.0
    b = MDP.from_arrays(T, R_sas, terminal=np.array([False, True]), initial=0)
    np.testing.assert_allclose(a.R, b.R, atol=1e-15)
    assert a.terminal.tolist() == [False, True] and a.goal.tolist() == [False, True]
    assert a.with_time_limit(5).max_episode_steps == 5


@pytest.mark.parametrize(
    ("T", "R", "message"),
    [
        ([[[0.5, 0.4]], [[0.0, 1.0]]], [[0.0], [0.0]], r"T\[0, 0, :\] sums to 0.9"),
        ([[[1.2, -0.2]], [[0.0, 1.0]]], [[0.0], [0.0]], r"negative probability T\[0, 0, 1\]"),
        ([[[1.0, 0.0]], [[0.0, 1.0]]], [[0.0, 0.0]], r"R must have shape \(S, A\) = \(2, 1\)"),
        ([[1.0, 0.0], [0.0, 1.0]], [[0.0], [0.0]], r"T must have shape \(S, A, S\)"),
        ([[[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]]], [[0.0], [0.0]], r"shape \(S, A, S\)"),
        ([[[np.nan, 1.0]], [[0.0, 1.0]]], [[0.0], [0.0]], "NaN"),
    ],
)
def test_malformed_arrays_are_rejected(T, R, message):
    with pytest.raises(ValueError, match=message):
        MDP.from_arrays(T, R)


def test_malformed_masks_and_types_are_rejected():
    T, R = np.eye(2).reshape(2, 1, 2), np.zeros((2, 1))
    with pytest.raises(TypeError, match="T must be an array of numbers"):
        MDP.from_arrays("abc", R)
    with pytest.raises(ValueError, match="terminal must be a boolean mask"):
        MDP.from_arrays(T, R, terminal=[True])
    with pytest.raises(ValueError, match="outside"):
        MDP.from_arrays(T, R, terminal=[5])
    with pytest.raises(ValueError, match="initial state 3"):
        MDP.from_arrays(T, R, initial=3)
    with pytest.raises(ValueError, match="probability distribution"):
        MDP.from_arrays(T, R, initial=[0.5, 0.6])
    with pytest.raises(ValueError, match="max_episode_steps"):
        MDP.from_arrays(T, R, max_episode_steps=0)


def test_from_gym_rejects_environments_without_a_table():
    with pytest.raises(TypeError, match="no transition table P"):
        MDP.from_gym("CartPole-v1")
