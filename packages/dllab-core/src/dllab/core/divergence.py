"""``DivergenceGuard``: tell a diverging loss from a noisy one, one float per step.

A run at far too high a learning rate need not produce a NaN: its loss can climb to 1e7 and
stay there while the weights grow to 1e23, and the run "finishes". The guard follows an
exponential moving average (EMA) of the training loss and calls the run diverged when, after
``warmup`` steps, the EMA stays for ``patience`` steps in a row both

- above ``best + (factor - 1) * |best|`` (``factor`` times its best EMA, for a positive loss),
- and above the first loss of the fit (where training started).

The second condition keeps a converged run whose tiny loss wobbles tenfold (1e-5 to 1e-4)
from being stopped. Each loss enters the EMA clipped to ``factor`` times the threshold, so
one wild batch cannot hold the EMA up for dozens of steps; a run that stays wild still does. What it does not catch: a loss that climbs less than ``factor`` times its
best, or stays below where it started. Non-finite parameters are caught by a separate check
(at each epoch end, and every ``every_n_steps`` steps if set). The guard itself is plain
Python on one float per step; dllab's Trainer reads that float once for both this guard and
the NaN check (``NonFiniteLossGuard``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dllab.core.checks import check_float, check_int


class DivergenceError(RuntimeError):
    """Raised when training diverges: the loss runs away or the parameters stop being finite."""


@dataclass
class DivergenceGuard:
    """Settings and running state of the divergence check.

    Attributes:
        factor: how many times its best smoothed value the loss must exceed (> 1).
        patience: consecutive steps over the threshold before the run is stopped.
        warmup: steps at the start of a fit that are never judged.
        smoothing: EMA weight of the past, in [0, 1); 0 judges raw losses.
        check_parameters: also stop on non-finite parameters (checked at each epoch end).
        every_n_steps: check the parameters every this many steps as well; ``None``: epoch
            ends only (each check costs one pass over the weights).
    """

    factor: float = 10.0
    patience: int = 10
    warmup: int = 10
    smoothing: float = 0.9
    check_parameters: bool = True
    every_n_steps: int | None = None
    ema: float | None = field(default=None, init=False, repr=False)
    best: float = field(default=float("inf"), init=False, repr=False)
    start: float | None = field(default=None, init=False, repr=False)
    steps: int = field(default=0, init=False, repr=False)
    over: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        check_float(self.factor, "factor", min=1.0, min_open=True)
        check_int(self.patience, "patience", min=1)
        check_int(self.warmup, "warmup", min=0)
        check_float(self.smoothing, "smoothing", min=0.0, max=1.0, max_open=True)
        if not isinstance(self.check_parameters, bool):
            raise TypeError(f"check_parameters must be a bool, got {self.check_parameters!r}")
        if self.every_n_steps is not None:
            check_int(self.every_n_steps, "every_n_steps", min=1)

    def reset(self) -> None:
        """Forget the history (a new fit starts)."""
        self.ema, self.best, self.start, self.steps, self.over = None, float("inf"), None, 0, 0

    def threshold(self) -> float:
        """The smoothed loss above which a step counts toward ``patience``."""
        start = self.best if self.start is None else self.start
        return max(self.best + (self.factor - 1.0) * abs(self.best), start)

    def update(self, loss: float) -> str | None:
        """Record one finite training loss; return why the run diverged, or ``None``."""
        self.steps += 1
        if self.start is None:
            self.start = loss
        s = self.smoothing
        clipped = min(loss, self.factor * self.threshold())
        self.ema = loss if self.ema is None else s * self.ema + (1.0 - s) * clipped
        self.best = min(self.best, self.ema)
        if self.steps <= self.warmup or self.ema <= self.threshold():
            self.over = 0
            return None
        self.over += 1
        if self.over < self.patience:
            return None
        return (
            f"the loss is {loss:.4g} and its moving average has stayed over {self.factor:g}x "
            f"its best ({self.best:.4g}) and over its start ({self.start:.4g}) for "
            f"{self.over} steps"
        )
