"""The ``Curves`` callback redraws curves.png only while drawing stays under 3% of the run.

A fake clock and a fake drawing make the rule exact: every epoch takes 20 s of training, and
a drawing costs what the test says.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import dllab.core.callbacks as callbacks
from dllab.core.callbacks import Curves

EPOCH_SECONDS = 20.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


def run_epochs(monkeypatch, tmp_path, epochs: int, draw_seconds: float) -> tuple[list, Curves]:
    """Fit ``epochs`` fake epochs; return ``(epoch, overhead so far, elapsed)`` per drawing."""
    clock = FakeClock()
    monkeypatch.setattr(callbacks, "time", clock)
    drawings: list[tuple[int, float, float]] = []
    curves = Curves()
    trainer = SimpleNamespace(
        sanity_checking=False,
        is_global_zero=True,
        current_epoch=0,
        max_epochs=epochs,
        should_stop=False,
        callback_metrics={"train_loss": 1.0},
        logger=object(),
        log_dir=str(tmp_path),
    )

    def fake_plot(history, path):
        clock.now += draw_seconds
        overhead = draw_seconds * (len(drawings) + 1)
        drawings.append((trainer.current_epoch + 1, overhead, clock.now))
        return path

    monkeypatch.setattr(callbacks, "plot_history", fake_plot)
    curves.on_fit_start(trainer, None)
    for epoch in range(epochs):
        trainer.current_epoch = epoch
        clock.now += EPOCH_SECONDS
        curves.on_train_epoch_end(trainer, None)
    curves.on_fit_end(trainer, None)
    return drawings, curves


def test_cheap_drawing_is_redrawn_every_epoch(monkeypatch, tmp_path):
    drawings, curves = run_epochs(monkeypatch, tmp_path, epochs=6, draw_seconds=0.01)
    assert [epoch for epoch, _, _ in drawings] == [1, 2, 3, 4, 5, 6]  # the last one at fit end
    assert curves.max_overhead == 0.03


def test_costly_drawing_is_skipped_above_3_percent_of_the_run(monkeypatch, tmp_path):
    # 3 s a drawing against 20 s epochs: 3% of the run pays for a redraw every ~5 epochs
    drawings, _ = run_epochs(monkeypatch, tmp_path, epochs=12, draw_seconds=3.0)
    epochs = [epoch for epoch, _, _ in drawings]
    assert epochs[-1] == 12  # the final curves are always drawn
    assert 2 <= len(epochs) - 1 <= 3, epochs  # a few redraws, far from one per epoch


@pytest.mark.parametrize("draw_seconds", [0.5, 1.0, 3.0, 20.0])
def test_redraws_stay_under_3_percent_once_the_cost_is_measured(
    monkeypatch, tmp_path, draw_seconds
):
    """The first redraw relies on a guessed cost; every later one keeps the total under 3%."""
    drawings, _ = run_epochs(monkeypatch, tmp_path, epochs=20, draw_seconds=draw_seconds)
    redraws = drawings[:-1]  # the final drawing at fit end is outside the rule
    assert redraws and redraws[0][0] == 1
    for epoch, overhead, elapsed in redraws[1:]:
        assert overhead <= 0.03 * elapsed + 1e-9, (epoch, overhead, elapsed)
    if draw_seconds == 20.0:  # over 3% of the whole run: nothing after the first guess
        assert [epoch for epoch, _, _ in drawings] == [1, 20]
