"""Schedules for the exploration rate ε and the learning rate α of Q-learning.

A :class:`Schedule` maps training progress ``p`` in ``[0, 1]`` (episodes done / episodes
planned) to a value. It moves from ``start`` to ``end`` over the first ``fraction`` of training
and then stays at ``end``:

- ``"linear"``: straight-line interpolation;
- ``"exponential"``: geometric interpolation, ``start * (end / start) ** (p / fraction)``;
- ``"constant"``: always ``start``.
"""

from __future__ import annotations

from dataclasses import dataclass

from dllab.core.checks import check_choice, check_float

KINDS = ("linear", "exponential", "constant")


@dataclass(frozen=True)
class Schedule:
    """A value that moves from ``start`` to ``end`` over the first ``fraction`` of training.

    Attributes:
        start: value at progress 0.
        end: value from progress ``fraction`` on.
        fraction: share of training over which the value moves, in ``(0, 1]``.
        kind: ``"linear"``, ``"exponential"`` or ``"constant"``.
    """

    start: float
    end: float
    fraction: float = 1.0
    kind: str = "linear"

    def __post_init__(self) -> None:
        check_choice(self.kind, "schedule kind", KINDS)
        check_float(self.start, "schedule start", min=0.0)
        check_float(self.end, "schedule end", min=0.0)
        check_float(self.fraction, "schedule fraction", min=0.0, min_open=True, max=1.0)
        if self.kind == "exponential" and (self.start == 0 or self.end == 0):
            raise ValueError("an exponential schedule needs start and end > 0")

    @classmethod
    def constant(cls, value: float) -> Schedule:
        """A schedule that always returns ``value``."""
        return cls(value, value, 1.0, "constant")

    def __call__(self, progress: float) -> float:
        """The value at ``progress`` (clipped to ``[0, 1]``)."""
        if self.kind == "constant":
            return float(self.start)
        t = min(max(float(progress), 0.0), 1.0) / self.fraction
        t = min(t, 1.0)
        if self.kind == "linear":
            return float(self.start + t * (self.end - self.start))
        return float(self.start * (self.end / self.start) ** t)

    def check_range(self, name: str, low: float, high: float) -> None:
        """Raise ``ValueError`` unless both ends lie in ``[low, high]``."""
        for value in (self.start, self.end):
            if not low <= value <= high:
                raise ValueError(f"{name} schedule values must be in [{low}, {high}], got {value}")
