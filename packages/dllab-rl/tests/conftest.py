"""Shared fixtures: the two FrozenLake MDPs, built once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def lake4():
    """``FrozenLake-v1`` (4x4, slippery, 100 steps) and its MDP."""
    from dllab.rl.maps import make_frozen_lake
    from dllab.rl.mdp import MDP

    env = make_frozen_lake("4x4")
    return env, MDP.from_gym(env)


@pytest.fixture(scope="session")
def lake8():
    """``FrozenLake8x8-v1`` (8x8, slippery, 200 steps) and its MDP."""
    from dllab.rl.maps import make_frozen_lake
    from dllab.rl.mdp import MDP

    env = make_frozen_lake("8x8")
    return env, MDP.from_gym(env)
