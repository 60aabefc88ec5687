"""dllab.rl: MDPs, value and policy iteration, exact policy evaluation and tabular Q-learning.

The public names load lazily on first access, so ``import dllab.rl`` and ``dllab --help`` do not
import gymnasium or numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dllab.core.lazy import lazy_exports

__version__ = "0.2.0"

if TYPE_CHECKING:
    from dllab.rl.evaluation import (
        EvaluationResult,
        evaluate_policy,
        evaluate_policy_simulated,
        wilson_interval,
    )
    from dllab.rl.maps import (
        FROZEN_LAKE_MAPS,
        frozen_lake_map,
        load_map,
        make_frozen_lake,
        parse_map,
        random_map,
    )
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
    from dllab.rl.plots import plot_learning_curves, plot_value_heatmap
    from dllab.rl.qlearning import (
        QLearningConfig,
        QLearningResult,
        q_learning_gym,
        q_learning_vectorized,
    )
    from dllab.rl.schedules import Schedule
    from dllab.rl.simulator import VectorizedMDP

_LAZY = {
    "MDP": "dllab.rl.mdp",
    "FROZEN_LAKE_MAPS": "dllab.rl.maps",
    "frozen_lake_map": "dllab.rl.maps",
    "load_map": "dllab.rl.maps",
    "make_frozen_lake": "dllab.rl.maps",
    "parse_map": "dllab.rl.maps",
    "random_map": "dllab.rl.maps",
    "finite_horizon_value": "dllab.rl.planning",
    "greedy_policy": "dllab.rl.planning",
    "optimal_success_probability": "dllab.rl.planning",
    "policy_evaluation": "dllab.rl.planning",
    "policy_iteration": "dllab.rl.planning",
    "q_values": "dllab.rl.planning",
    "success_probability": "dllab.rl.planning",
    "value_iteration": "dllab.rl.planning",
    "Schedule": "dllab.rl.schedules",
    "VectorizedMDP": "dllab.rl.simulator",
    "QLearningConfig": "dllab.rl.qlearning",
    "QLearningResult": "dllab.rl.qlearning",
    "q_learning_gym": "dllab.rl.qlearning",
    "q_learning_vectorized": "dllab.rl.qlearning",
    "EvaluationResult": "dllab.rl.evaluation",
    "evaluate_policy": "dllab.rl.evaluation",
    "evaluate_policy_simulated": "dllab.rl.evaluation",
    "wilson_interval": "dllab.rl.evaluation",
    "plot_learning_curves": "dllab.rl.plots",
    "plot_value_heatmap": "dllab.rl.plots",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY, eager=("__version__",))
