"""Tests of dllab.rl.schedules."""

from __future__ import annotations

import math

import pytest

from dllab.rl.schedules import Schedule


def test_linear_schedule_reaches_end_at_fraction_and_stays():
    s = Schedule(1.0, 0.1, fraction=0.5)
    assert s(0.0) == pytest.approx(1.0)
    assert s(0.25) == pytest.approx(0.55)
    assert s(0.5) == pytest.approx(0.1)
    assert s(0.9) == pytest.approx(0.1)
    assert s(-1.0) == pytest.approx(1.0)  # progress is clipped


def test_exponential_schedule_is_geometric():
    s = Schedule(0.2, 0.002, kind="exponential")
    assert s(0.5) == pytest.approx(math.sqrt(0.2 * 0.002), rel=1e-12)
    assert s(1.0) == pytest.approx(0.002, rel=1e-12)


def test_constant_schedule():
    s = Schedule.constant(0.3)
    assert s(0.0) == s(0.7) == 0.3


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"start": 1.0, "end": 0.1, "kind": "cosine"}, ValueError, "schedule kind must be one of"),
        ({"start": 1.0, "end": 0.1, "fraction": 0.0}, ValueError, "fraction"),
        ({"start": -1.0, "end": 0.1}, ValueError, ">= 0"),
        ({"start": 1.0, "end": 0.0, "kind": "exponential"}, ValueError, "exponential"),
        ({"start": "1", "end": 0.1}, TypeError, "start must be a number"),
    ],
)
def test_bad_schedules(kwargs, error, message):
    with pytest.raises(error, match=message):
        Schedule(**kwargs)


def test_check_range():
    with pytest.raises(ValueError, match=r"epsilon schedule values must be in \[0.0, 1.0\]"):
        Schedule(1.5, 0.1).check_range("epsilon", 0.0, 1.0)
