"""``dllab.core.bench``: interleaved samples, printed minimums, rounded ratios."""

from __future__ import annotations

import pytest

from dllab.core.bench import interleaved, paired_ratio, ratio, report, round_ratios


def test_interleaved_runs_warmup_then_alternates(capsys):
    calls: list[str] = []
    samples = interleaved(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
        repeats=2,
        inner=3,
        warmup=1,
    )
    assert calls == ["a", "b"] + ["a"] * 3 + ["b"] * 3 + ["a"] * 3 + ["b"] * 3
    assert {k: len(v) for k, v in samples.items()} == {"a": 2, "b": 2}
    best = report("title", {"a": [0.003, 0.001], "b": [0.002]})
    assert best == {"a": 0.001, "b": 0.002}
    out = capsys.readouterr().out
    assert "title" in out and "3.00" in out and "1.00" in out
    assert ratio(best, "a", "b") == 0.5


def test_interleaved_can_alternate_which_contender_runs_first():
    calls: list[str] = []
    contenders = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    samples = interleaved(contenders, repeats=3, warmup=0, alternate=True)
    assert calls == list("abccbaabc")
    assert {k: len(v) for k, v in samples.items()} == dict.fromkeys("abc", 3)


def test_bad_repeats_refused():
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        interleaved({"a": lambda: None}, repeats=0)


def test_paired_ratio_is_the_median_of_the_per_round_ratios():
    samples = {"ours": [1.1, 3.0, 1.2], "ref": [1.0, 1.0, 1.0]}  # round 1: a slow spell
    assert round_ratios(samples, "ours", "ref") == [1.1, 3.0, 1.2]
    assert paired_ratio(samples, "ours", "ref") == 1.2
    assert ratio({k: min(v) for k, v in samples.items()}, "ours", "ref") == 1.1


def test_paired_ratio_refuses_unpaired_samples():
    with pytest.raises(ValueError, match="same number of rounds"):
        paired_ratio({"a": [1.0, 2.0], "b": [1.0]}, "a", "b")
    with pytest.raises(ValueError, match="same number of rounds"):
        paired_ratio({"a": [], "b": []}, "a", "b")
