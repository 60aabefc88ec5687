"""Benchmark dllab-rl against straightforward references, side by side in one process.

1. Value iteration to 1e-10 on the 8x8 lake: the vectorised ``value_iteration`` against
   ``reference_value_iteration``, which loops over ``env.unwrapped.P`` in Python.
2. Q-learning environment steps per second: ``q_learning_vectorized`` (the numpy simulator)
   against ``q_learning_gym`` (one gymnasium step at a time), same algorithm and settings.

Each contender runs once to warm up, then ``--repeats`` times, interleaved; the minimums are
compared and every sample is printed. The last line is one JSON object of ratios.

Run: ``uv run --frozen python packages/dllab-rl/benchmarks/bench_rl.py``
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from typing import Any


def _interleaved(
    contenders: dict[str, Callable[[], Any]], repeats: int
) -> dict[str, list[tuple[float, Any]]]:
    """Run each contender once to warm up, then ``repeats`` times in turn: (seconds, result)."""
    for run in contenders.values():
        run()
    samples: dict[str, list[tuple[float, Any]]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, run in contenders.items():
            start = time.perf_counter()
            out = run()
            samples[name].append((time.perf_counter() - start, out))
    return samples


def bench_value_iteration(lake: str, tol: float, gamma: float, repeats: int) -> float:
    """Seconds of the reference over seconds of the vectorised solver (minimums)."""
    import numpy as np

    from dllab.rl.maps import make_frozen_lake
    from dllab.rl.mdp import MDP
    from dllab.rl.planning import value_iteration
    from dllab.rl.reference import reference_value_iteration

    env = make_frozen_lake(lake)
    P = env.unwrapped.P
    start = time.perf_counter()
    mdp = MDP.from_gym(env)
    build = time.perf_counter() - start
    samples = _interleaved(
        {
            "reference (python loops over P)": lambda: reference_value_iteration(P, gamma, tol),
            "dllab value_iteration (numpy)": lambda: value_iteration(mdp, gamma, tol),
        },
        repeats,
    )
    ref, ours = samples.values()
    V_ref, sweeps = ref[0][1]
    result = ours[0][1]
    assert result.iterations == sweeps and np.abs(result.V - V_ref).max() < 1e-9
    print(f"value iteration, {mdp.name}, gamma={gamma}, tol={tol:g}: {sweeps} sweeps each")
    for name, runs in samples.items():
        print(f"  {name:34s} " + " ".join(f"{t * 1e3:9.2f} ms" for t, _ in runs))
    print(f"  MDP.from_gym (once)                {build * 1e3:9.2f} ms")
    return min(t for t, _ in ref) / min(t for t, _ in ours)


def bench_q_learning(
    lake: str, gym_episodes: int, vec_episodes: int, num_envs: int, repeats: int
) -> float:
    """Environment steps/s of the vectorised runner over the gymnasium runner (best runs)."""
    from dllab.rl.maps import make_frozen_lake
    from dllab.rl.mdp import MDP
    from dllab.rl.qlearning import QLearningConfig, q_learning_gym, q_learning_vectorized

    env = make_frozen_lake(lake)
    mdp = MDP.from_gym(env)

    def gym_run():
        return q_learning_gym(env, QLearningConfig(episodes=gym_episodes, curve_points=0))

    def vec_run():
        config = QLearningConfig(episodes=vec_episodes, num_envs=num_envs, curve_points=0)
        return q_learning_vectorized(mdp, config)

    samples = _interleaved({"gymnasium loop": gym_run, "vectorised simulator": vec_run}, repeats)
    print(f"Q-learning env steps/s on {mdp.name} (gym {gym_episodes} episodes, "
          f"vectorised {vec_episodes} episodes x {num_envs} envs)")  # fmt: skip
    rates = {}
    for name, runs in samples.items():
        per_run = [out.env_steps / seconds for seconds, out in runs]
        rates[name] = max(per_run)
        print(f"  {name:34s} " + " ".join(f"{r:12,.0f}" for r in per_run))
    return rates["vectorised simulator"] / rates["gymnasium loop"]


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Run both benchmarks; print every sample and, last, the JSON object of ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--map", default="8x8", help="4x4 or 8x8")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tol", type=float, default=1e-10)
    parser.add_argument("--gamma", type=float, default=0.99)
    parser.add_argument("--gym-episodes", type=int, default=300)
    parser.add_argument("--vec-episodes", type=int, default=20_000)
    parser.add_argument("--num-envs", type=int, default=256)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    ratios = {
        "vi_speedup": bench_value_iteration(args.map, args.tol, args.gamma, args.repeats),
        "qlearning_steps_speedup": bench_q_learning(
            args.map, args.gym_episodes, args.vec_episodes, args.num_envs, args.repeats
        ),
    }
    print(json.dumps({k: round(v, 2) for k, v in ratios.items()}))
    return ratios


if __name__ == "__main__":
    main()
