# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Reinforcement learning on FrozenLake
#
# An agent walks on a frozen lake from the start `S` to the goal `G`; the holes `H` end the
# episode. The ice is slippery: the agent moves where it intends only a third of the time,
# and slides to one of the two perpendicular directions otherwise. Reaching the goal pays 1,
# everything else 0, and an episode is cut after a time limit (100 steps on the 4x4 lake,
# 200 on the 8x8 one).
#
# This notebook
#
# 1. writes the lake as a **Markov decision process** (MDP) with sparse tables;
# 2. solves it by **value iteration**, one Bellman backup at a time, and checks the answer by
#    an exact linear solve and by policy iteration;
# 3. measures what a policy achieves **within the time limit**, and the best that is possible;
# 4. learns the lake by **Q-learning** without the model, and compares it with the optimum.
#
# Quick mode (`DLLAB_QUICK=1`) uses the 4x4 lake and a short Q-learning run; the full run uses
# the 8x8 lake and the default settings.

# %%
import json
from pathlib import Path

import numpy as np

from dllab.core.cli.options import quick_mode
from dllab.core.plotting import new_figure, save_figure
from dllab.rl import (
    MDP,
    QLearningConfig,
    evaluate_policy,
    make_frozen_lake,
    optimal_success_probability,
    plot_learning_curves,
    plot_value_heatmap,
    policy_evaluation,
    policy_iteration,
    q_learning_vectorized,
    success_probability,
    value_iteration,
)

QUICK = quick_mode()
LAKE = "4x4" if QUICK else "8x8"
FIGURES = Path("figures")
FIGURES.mkdir(exist_ok=True)
metrics: dict[str, float] = {}

# %% [markdown]
# ## 1. The MDP
#
# gymnasium stores the dynamics as `env.unwrapped.P[s][a]`, a list of
# `(probability, next_state, reward, terminated)` tuples. `MDP.from_gym` turns it into arrays
# of shape (S, A, K): the K successors of each state and action, `successors[s, a, k]`, with
# their probabilities `probs[s, a, k]` and rewards, merging repeated next states (in a
# corner, two of the three slips bounce off the wall). On FrozenLake K = 3, so the tables grow
# with the number of states, not its square; the dense $T[s, a, s'] = P(s' \mid s, a)$ is
# still there for small lakes, and $R[s, a] = \mathbb{E}[r \mid s, a]$.

# %%
env = make_frozen_lake(LAKE, slippery=True)
mdp = MDP.from_gym(env)
print(mdp.name, "states:", mdp.n_states, "actions:", mdp.n_actions)
print("time limit:", mdp.max_episode_steps, "| terminal states:", np.flatnonzero(mdp.terminal))
print("gymnasium's list for (s=0, LEFT):", env.unwrapped.P[0][0])
print("successors of (0, LEFT):", mdp.successors[0, 0], "probabilities:", mdp.probs[0, 0].round(3))
print("the same row of the dense T:", mdp.T[0, 0].round(3))
assert np.allclose(mdp.probs.sum(axis=2), 1.0)

# %% [markdown]
# ## 2. Value iteration, step by step
#
# Value iteration repeats the Bellman optimality backup
#
# $$V_{k+1}(s) = \max_a \Big( R(s, a) + \gamma \sum_{s'} T(s, a, s')\, V_k(s') \Big),$$
#
# with $V(s) = 0$ in terminal states. One backup by hand, over all states and actions at
# once: gather $V$ at every successor, weight by the probabilities, sum over $k$:

# %%
gamma = 0.99
alive = ~mdp.terminal
V0 = np.zeros(mdp.n_states)
Q1 = mdp.R + gamma * (mdp.probs * (V0 * alive)[mdp.successors]).sum(axis=2)  # (S, A)
V1 = Q1.max(axis=1) * alive  # (S,)
print("states with value after one backup:", np.flatnonzero(V1), "->", V1[V1 > 0].round(3))

result = value_iteration(mdp, gamma=gamma, tol=1e-10, keep_history=True)
assert np.allclose(result.history[0], V1)
print(f"converged in {result.iterations} backups, residual {result.residual:.1e}")

# %% [markdown]
# The value of the goal spreads backwards through the lake, one step per backup:

# %%
grid_shape = (len(mdp.grid), len(mdp.grid[0]))
steps = [1, 5, 20, result.iterations]
fig, axes = new_figure(1, len(steps), figsize=(3.2 * len(steps), 3.2))
for ax, k in zip(axes, steps, strict=True):
    image = ax.imshow(result.history[k - 1].reshape(grid_shape), cmap="viridis", vmin=0, vmax=1)
    ax.set_title(f"V after {k} backups")
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(image, ax=list(axes), fraction=0.015, pad=0.02, label="V(s)")
save_figure(fig, FIGURES / "value_iteration_steps.png")

fig, ax = new_figure(figsize=(5, 3.5))
ax.semilogy(np.arange(1, result.iterations + 1), result.residuals)
ax.set_xlabel("backup k")
ax.set_ylabel(r"$\max_s |V_k - V_{k-1}|$")
ax.set_title("value iteration converges geometrically")
save_figure(fig, FIGURES / "value_iteration_residuals.png")

plot_value_heatmap(result.V, mdp.grid, FIGURES / "value_heatmap.png", result.policy)

# %% [markdown]
# ## 3. Checking the answer
#
# The values of a fixed policy solve a linear system, $(I - \gamma T_\pi) V = R_\pi$.
# Value iteration's values must equal the exact values of its own greedy policy, and policy
# iteration (exact evaluation, then greedy improvement) must find a policy as good.

# %%
exact = policy_evaluation(mdp, result.policy, gamma)
pi = policy_iteration(mdp, gamma)
metrics["vi_vs_exact_max_error"] = float(np.abs(result.V - exact).max())
metrics["pi_vs_vi_max_error"] = float(np.abs(pi.V - exact).max())
print(f"max |V_VI - V_exact| = {metrics['vi_vs_exact_max_error']:.1e}")
print(f"policy iteration: {pi.iterations} iterations, max |V_PI - V_VI| = "
      f"{metrics['pi_vs_vi_max_error']:.1e}")  # fmt: skip

# %% [markdown]
# Discounted values are not what the environment scores. gymnasium counts an episode as a
# success when the goal is reached **within the time limit**. That probability follows from
# the model by iterating over the steps left; the best achievable one is found by backward
# induction over all policies (gymnasium lists it as 0.74 for the 4x4 lake, 0.91 for the 8x8).

# %%
metrics["vi_success_probability"] = success_probability(mdp, result.policy)
metrics["optimal_success_probability"] = optimal_success_probability(mdp)
print(f"greedy policy of V: P(goal within {mdp.max_episode_steps} steps) = "
      f"{metrics['vi_success_probability']:.4f}")  # fmt: skip
print(f"best possible within the limit:             {metrics['optimal_success_probability']:.4f}")

# %% [markdown]
# The gap closes with a policy that looks at the clock. With $\gamma = 1$, `value_iteration`
# plans for the time limit by backward induction: $V_h(s)$ is the best expected return with
# $h$ steps left, and the best action depends on $h$. Its answer is a *plan*, an action for
# every state and step, whose success is exactly the optimum.

# %%
finite = value_iteration(mdp, gamma=1.0)
metrics["plan_success_probability"] = success_probability(mdp, finite.plan)
print(f"{finite.horizon}-step plan {finite.plan.shape}: P(goal within the limit) = "
      f"{metrics['plan_success_probability']:.4f}")  # fmt: skip
changes = (finite.plan != finite.plan[0]).any(axis=1).sum()
print(f"steps at which some action differs from the first step's: {changes}")

# %% [markdown]
# ## 4. Q-learning, without the model
#
# Q-learning only sees transitions. After each step $(s, a, r, s')$ it moves
# $Q(s, a)$ towards $r + \gamma \max_{a'} Q(s', a')$ with a step size $\alpha$, while an
# $\varepsilon$-greedy behaviour explores. Here the episodes come from a vectorised simulator
# of the same tables (many lakes stepped at once with numpy); `q_learning_gym` runs the same
# algorithm on gymnasium itself, only slower.

# %%
config = QLearningConfig.quick() if QUICK else QLearningConfig()
learned = q_learning_vectorized(mdp, config)
print(f"{config.episodes} episodes, {learned.env_steps} steps in {learned.seconds:.1f} s")
plot_learning_curves(
    learned.successes,
    learned.returns,
    FIGURES / "q_learning_curves.png",
    optimum=metrics["optimal_success_probability"],
    greedy_episodes=learned.curve_episodes,
    greedy_success=learned.curve_success,
    title=f"Q-learning on {mdp.name}",
)
plot_value_heatmap(
    learned.Q.max(axis=1), mdp.grid, FIGURES / "q_learning_heatmap.png", learned.policy,
    title="max_a Q(s, a) and the learned greedy policy",
)  # fmt: skip

# %% [markdown]
# The learned greedy policy, played in gymnasium, against the model's exact numbers:

# %%
evaluation = evaluate_policy(env, learned.policy, episodes=2_000 if QUICK else 10_000, seed=1)
metrics["q_learning_success_rate"] = evaluation.success_rate
metrics["q_learning_exact_success"] = success_probability(mdp, learned.policy)
print(f"empirical success over {evaluation.episodes} episodes: {evaluation.success_rate:.3f} "
      f"[{evaluation.ci_low:.3f}, {evaluation.ci_high:.3f}]")  # fmt: skip
print(f"exact success of the learned policy:   {metrics['q_learning_exact_success']:.3f}")
print(f"best possible within the time limit:   {metrics['optimal_success_probability']:.3f}")
Path("metrics.json").write_text(json.dumps(metrics, indent=2))
