"""dllab's all-reduces against ``dist.all_reduce`` on gloo, and DDP's scaling, on CPU.

1. Bus bandwidth, ``2 (n - 1) / n · bytes / time``, of dllab's ring all-reduce, dllab's naive
   all-reduce and ``dist.all_reduce`` (gloo), on 2 processes, for float32 tensors from 1 KB
   to 64 MB (interleaved, after a warm-up round; the minimum time of each is compared). The
   16 MB size of the ratios gets more rounds (``--ratio-repeats``): on a shared machine a
   single slow round says nothing about the algorithm.
2. DDP training throughput (samples/s) of an MLP on a global batch, 1 process against 2.

The last line is one JSON object: ``ring_over_gloo_16mb`` (bandwidth ratio at 16 MB, target
>= 0.8), ``naive_over_gloo_16mb`` and ``ddp_scaling_2proc`` (throughput on 2 processes over
throughput on 1).

    uv run python packages/dllab-parallel/benchmarks/bench_allreduce.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json

from dllab.core.bench import ratio, report
from dllab.parallel.launch import run_workers
from dllab.parallel.timing import bus_bandwidth, time_all_reduces, time_ddp_steps

KB, MB = 2**10, 2**20
SIZES = [KB * 4**i for i in range(9)]  # 1 KB, 4 KB, ..., 64 MB
RATIO_BYTES = 16 * MB  # always timed: the ratios of the JSON line
WORLD_SIZE = 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per contender")
    parser.add_argument(
        "--ratio-repeats", type=int, default=15, help="timed rounds at 16 MB (the ratios)"
    )
    parser.add_argument("--max-bytes", type=int, default=64 * MB, help="largest tensor")
    parser.add_argument("--batch", type=int, default=512, help="DDP global batch")
    parser.add_argument("--steps", type=int, default=20, help="DDP steps per timed round")
    parser.add_argument("--start-method", default="spawn", choices=["spawn", "fork"])
    return parser.parse_args(argv)


def _label(nbytes: int) -> str:
    return f"{nbytes // MB} MB" if nbytes >= MB else f"{nbytes // KB} KB"


def bench_all_reduce(args: argparse.Namespace) -> dict[str, float]:
    sizes = sorted({s for s in SIZES if s <= args.max_bytes} | {RATIO_BYTES})
    plan = [(s, args.ratio_repeats if s == RATIO_BYTES else args.repeats) for s in sizes]
    timings = run_workers(
        time_all_reduces,
        WORLD_SIZE,
        (plan,),
        timeout=600,
        start_method=args.start_method,
    )[0]
    print(f"bus bandwidth on {WORLD_SIZE} processes (gloo, float32), MB/s")
    print(f"{'size':>8} " + " ".join(f"{name:>8}" for name in timings[sizes[0]]))
    for nbytes in sizes:
        best = {name: min(s) for name, s in timings[nbytes].items()}
        mbps = [bus_bandwidth(nbytes, t, WORLD_SIZE) / 1e6 for t in best.values()]
        print(f"{_label(nbytes):>8} " + " ".join(f"{m:8.1f}" for m in mbps))
    best = report(f"all-reduce of {_label(RATIO_BYTES)}", timings[RATIO_BYTES])
    return {  # a bandwidth ratio is the inverse time ratio
        "ring_over_gloo_16mb": ratio(best, "gloo", "ring"),
        "naive_over_gloo_16mb": ratio(best, "gloo", "naive"),
    }


def bench_ddp(args: argparse.Namespace) -> float:
    samples = {}
    for world_size in (1, 2):
        times = run_workers(
            time_ddp_steps,
            world_size,
            (args.batch, args.steps, args.repeats),
            timeout=600,
            start_method=args.start_method,
        )[0]
        samples[f"{world_size} proc"] = times
    best = report(f"DDP step, global batch {args.batch} (one torch thread per process)", samples)
    for name, seconds in best.items():
        print(f"  {name}: {args.batch / seconds:,.0f} samples/s")
    return ratio(best, "1 proc", "2 proc")  # throughput ratio = inverse time ratio


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    results = bench_all_reduce(args)
    results["ddp_scaling_2proc"] = bench_ddp(args)
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
