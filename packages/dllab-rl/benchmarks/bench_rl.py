"""Benchmark dllab-rl against straightforward references, side by side in one process.

1. Value iteration to 1e-10 on the 8x8 lake: the vectorised ``value_iteration`` against
   ``reference_value_iteration``, which loops over ``env.unwrapped.P`` in Python.
2. Q-learning environment steps per second: ``q_learning_vectorized`` (the numpy simulator)
   against ``q_learning_gym`` (one gymnasium step at a time), same algorithm and settings.
3. Large lakes on the sparse tables: building the MDP with ``frozen_lake_mdp`` and value
   iteration on a 100x100 lake (to the tolerance) and a 1000x1000 lake (a fixed number of
   sweeps), with the peak memory the 1000x1000 lake takes (numpy allocations, tracemalloc).

Each contender runs once to warm up, then ``--repeats`` times, interleaved
(``dllab.core.bench``); the minimums are compared and every sample is printed. The last line
is one JSON object of ratios and seconds.

Run: ``uv run --frozen python packages/dllab-rl/benchmarks/bench_rl.py``
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from collections.abc import Sequence
from typing import Any

from dllab.core.bench import interleaved, ratio, report


def bench_value_iteration(lake: str, tol: float, gamma: float, repeats: int) -> float:
    """Seconds of the reference over seconds of the vectorised solver (minimums)."""
    import numpy as np

    from dllab.rl.maps import make_frozen_lake
    from dllab.rl.mdp import MDP
    from dllab.rl.planning import value_iteration
    from dllab.rl.reference import reference_value_iteration

    env = make_frozen_lake(lake)
    P = env.unwrapped.P
    MDP.from_gym(env)  # the first call pays numpy's one-time imports
    start = time.perf_counter()
    mdp = MDP.from_gym(env)
    build = time.perf_counter() - start
    V_ref, sweeps = reference_value_iteration(P, gamma, tol)
    result = value_iteration(mdp, gamma, tol)
    assert result.iterations == sweeps and np.abs(result.V - V_ref).max() < 1e-9
    samples = interleaved(
        {
            "reference": lambda: reference_value_iteration(P, gamma, tol),
            "dllab": lambda: value_iteration(mdp, gamma, tol),
        },
        repeats,
    )
    best = report(
        f"value iteration, {mdp.name}, gamma={gamma}, tol={tol:g}: {sweeps} sweeps each "
        "(reference: python loops over P; dllab: numpy on the sparse tables)",
        samples,
    )
    print(f"  MDP.from_gym (one call, warm): {build * 1e3:.2f} ms")
    return ratio(best, "reference", "dllab", digits=2)


def bench_q_learning(
    lake: str, gym_episodes: int, vec_episodes: int, num_envs: int, repeats: int
) -> float:
    """Environment steps/s of the vectorised runner over the gymnasium runner (best runs)."""
    from dllab.rl.maps import make_frozen_lake
    from dllab.rl.mdp import MDP
    from dllab.rl.qlearning import QLearningConfig, q_learning_gym, q_learning_vectorized

    env = make_frozen_lake(lake)
    mdp = MDP.from_gym(env)
    gym_config = QLearningConfig(episodes=gym_episodes, curve_points=0)
    vec_config = QLearningConfig(episodes=vec_episodes, num_envs=num_envs, curve_points=0)
    steps = {  # the runs are seeded: every repeat takes the same number of steps
        "gymnasium": q_learning_gym(env, gym_config).env_steps,
        "vectorised": q_learning_vectorized(mdp, vec_config).env_steps,
    }
    samples = interleaved(
        {
            "gymnasium": lambda: q_learning_gym(env, gym_config),
            "vectorised": lambda: q_learning_vectorized(mdp, vec_config),
        },
        repeats,
        warmup=0,
    )
    report(
        f"Q-learning on {mdp.name}: gym {gym_episodes} episodes ({steps['gymnasium']} steps), "
        f"vectorised {vec_episodes} episodes x {num_envs} envs ({steps['vectorised']} steps)",
        samples,
    )
    rates = {name: steps[name] / min(times) for name, times in samples.items()}
    for name, rate in rates.items():
        print(f"  {name:>12}: {rate:12,.0f} env steps/s (best)")
    return round(rates["vectorised"] / rates["gymnasium"], 2)


def open_lake(side: int, holes: float = 0.1, seed: int = 0) -> list[str]:
    """A ``side`` x ``side`` lake with random holes, S top-left and G bottom-right."""
    import numpy as np

    rng = np.random.default_rng(seed)
    tiles = np.where(rng.random((side, side)) < holes, "H", "F")
    tiles[0, 0], tiles[-1, -1] = "S", "G"
    return ["".join(row) for row in tiles]


def bench_large_lake(side: int, tol: float, sweeps: int | None, repeats: int) -> dict[str, Any]:
    """Build and plan on a ``side`` x ``side`` lake: seconds (minimums) and peak memory.

    ``sweeps`` fixes the number of value-iteration sweeps (``None``: run to ``tol``). The
    first repeat runs under tracemalloc, which numpy reports its allocations to; its peak is
    what the lake's tables and the planning take.
    """
    from dllab.rl.maps import frozen_lake_mdp
    from dllab.rl.planning import value_iteration

    rows = open_lake(side)
    samples: dict[str, list[float]] = {"build": [], "plan": []}
    for repeat in range(repeats):  # build and plan in turn
        if repeat == 0:
            tracemalloc.start()
        start = time.perf_counter()
        mdp = frozen_lake_mdp(rows, max_episode_steps=4 * side)
        built = time.perf_counter()
        result = value_iteration(mdp, 0.99, tol, max_iters=sweeps or 100_000)
        samples["build"].append(built - start)
        samples["plan"].append(time.perf_counter() - built)
        if repeat == 0:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        del mdp
    stop = f"{sweeps} sweeps" if sweeps else f"tol={tol:g}: {result.iterations} sweeps"
    best = report(
        f"{side}x{side} lake ({side * side:,} states): frozen_lake_mdp, then value iteration "
        f"(gamma=0.99, {stop}); peak memory {peak / 2**20:.0f} MiB",
        samples,
        unit=1.0,
        unit_name="s",
    )
    key = f"{side}x{side}"
    return {
        f"build_{key}_s": round(best["build"], 3),
        f"vi_{key}_s": round(best["plan"], 3),
        f"vi_{key}_sweeps": result.iterations,
        f"peak_{key}_mib": round(peak / 2**20),
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmarks; print every sample and, last, one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--map", default="8x8", help="4x4 or 8x8")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tol", type=float, default=1e-10)
    parser.add_argument("--gamma", type=float, default=0.99)
    parser.add_argument("--gym-episodes", type=int, default=300)
    parser.add_argument("--vec-episodes", type=int, default=20_000)
    parser.add_argument("--num-envs", type=int, default=256)
    parser.add_argument("--medium", type=int, default=100, help="side of the lake solved to tol")
    parser.add_argument("--large", type=int, default=1000, help="side of the large lake")
    parser.add_argument("--large-sweeps", type=int, default=20, help="sweeps on the large lake")
    args = parser.parse_args(argv)
    if min(args.repeats, args.medium, args.large, args.large_sweeps) < 1:
        parser.error("--repeats, --medium, --large and --large-sweeps must be >= 1")
    results: dict[str, Any] = {
        "vi_speedup": bench_value_iteration(args.map, args.tol, args.gamma, args.repeats),
        "qlearning_steps_speedup": bench_q_learning(
            args.map, args.gym_episodes, args.vec_episodes, args.num_envs, args.repeats
        ),
    }
    results |= bench_large_lake(args.medium, args.tol, None, args.repeats)
    results |= bench_large_lake(args.large, args.tol, args.large_sweeps, 1)
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
