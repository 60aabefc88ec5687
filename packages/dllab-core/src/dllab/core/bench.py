"""The benchmark timer every package's ``benchmarks/`` shares.

This machine class is shared and noisy, so contenders run in turn (interleaved) after a
warm-up, each sample is printed, and ratios compare the best samples::

    samples = interleaved({"dllab": run_ours, "torch": run_ref}, repeats=5)
    best = report("attention", samples)
    print(json.dumps({"ours_over_torch": ratio(best, "dllab", "torch")}))

``ratio`` compares the best samples; ``paired_ratio`` takes the median of the ratios of the
samples of each round, which a slow spell of the machine during one round cannot swing.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def interleaved(
    contenders: Mapping[str, Callable[[], Any]],
    repeats: int = 3,
    inner: int = 1,
    warmup: int = 1,
    alternate: bool = False,
) -> dict[str, list[float]]:
    """Seconds per call of each contender: ``repeats`` samples of ``inner`` calls, in turn.

    With ``alternate``, every other round runs the contenders in reverse order (A B, B A, ...),
    so that no contender always runs first, on a machine just left by the one before it.
    """
    from dllab.core.checks import check_int, check_positive_int

    check_positive_int(repeats, "repeats")
    check_positive_int(inner, "inner")
    check_int(warmup, "warmup", min=0)
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    order = list(contenders.items())
    for round_ in range(repeats):
        for name, fn in reversed(order) if alternate and round_ % 2 else order:
            tic = time.perf_counter()
            for _ in range(inner):
                fn()
            samples[name].append((time.perf_counter() - tic) / inner)
    return samples


def report(
    title: str, samples: Mapping[str, list[float]], unit: float = 1e3, unit_name: str = "ms"
) -> dict[str, float]:
    """Print every sample and the minimum of each contender; returns the minimums (seconds)."""
    print(title)
    best = {}
    for name, values in samples.items():
        best[name] = min(values)
        shown = " ".join(f"{v * unit:.2f}" for v in values)
        print(f"  {name:>12}: min {best[name] * unit:9.2f} {unit_name}   samples [{shown}]")
    return best


def ratio(best: Mapping[str, float], numerator: str, denominator: str, digits: int = 3) -> float:
    """``best[numerator] / best[denominator]``, rounded for the JSON line."""
    return round(best[numerator] / best[denominator], digits)


def round_ratios(
    samples: Mapping[str, Sequence[float]], numerator: str, denominator: str
) -> list[float]:
    """``samples[numerator][i] / samples[denominator][i]`` for each round ``i``.

    For samples taken by ``interleaved`` (round ``i`` of each contender runs back to back), so
    that both sides of each ratio saw the same state of the machine.
    """
    top, bottom = samples[numerator], samples[denominator]
    if len(top) != len(bottom) or not top:
        raise ValueError(
            f"paired samples need the same number of rounds (at least one): {numerator!r} has "
            f"{len(top)}, {denominator!r} has {len(bottom)}"
        )
    return [a / b for a, b in zip(top, bottom, strict=True)]


def paired_ratio(
    samples: Mapping[str, Sequence[float]], numerator: str, denominator: str, digits: int = 3
) -> float:
    """The median of ``round_ratios``, rounded for the JSON line."""
    return round(statistics.median(round_ratios(samples, numerator, denominator)), digits)
