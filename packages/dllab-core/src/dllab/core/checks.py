"""Input checks for every public entry point: one place, one wording.

Each check returns the value it accepted (converted to a plain ``int``/``float``/``str``), or
raises ``TypeError`` for the wrong kind of value and ``ValueError`` for a value out of range.
The message names the argument, what was expected and what came, so it says what to fix::

    steps = check_positive_int(steps, "steps")
    lr = check_float(lr, "lr", min=0, min_open=True)      # finite and > 0

Booleans are refused where a number is expected (``True`` is an ``int`` in Python), and numpy
scalars are accepted. Nothing here imports torch until a tensor check runs.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import Tensor


def _kind(value: Any) -> str:
    return type(value).__name__


def check_int(value: Any, name: str, *, min: int | None = None, max: int | None = None) -> int:
    """Return ``value`` as an ``int`` if it is an integer in ``[min, max]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {_kind(value)} {value!r}")
    value = int(value)
    if min is not None and value < min:
        raise ValueError(f"{name} must be >= {min}, got {value}")
    if max is not None and value > max:
        raise ValueError(f"{name} must be <= {max}, got {value}")
    return value


def check_float(
    value: Any,
    name: str,
    *,
    min: float | None = None,
    max: float | None = None,
    min_open: bool = False,
    max_open: bool = False,
) -> float:
    """Return ``value`` as a finite ``float`` in the interval ``min .. max``.

    ``min_open``/``max_open`` exclude the bound itself. NaN and infinities are always refused.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {_kind(value)} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    below = min is not None and (value <= min if min_open else value < min)
    above = max is not None and (value >= max if max_open else value > max)
    if (below or above) and min is not None and max is not None:
        interval = f"{'(' if min_open else '['}{min:g}, {max:g}{')' if max_open else ']'}"
        raise ValueError(f"{name} must be in {interval}, got {value}")
    if below:
        raise ValueError(f"{name} must be {'>' if min_open else '>='} {min:g}, got {value}")
    if above:
        raise ValueError(f"{name} must be {'<' if max_open else '<='} {max:g}, got {value}")
    return value


def check_positive_int(value: Any, name: str) -> int:
    """An ``int >= 1``."""
    return check_int(value, name, min=1)


def check_positive(value: Any, name: str) -> float:
    """A finite number ``> 0``."""
    return check_float(value, name, min=0.0, min_open=True)


def check_probability(value: Any, name: str, *, allow_one: bool = False) -> float:
    """A number in ``[0, 1)`` (``[0, 1]`` with ``allow_one``): a dropout or smoothing rate."""
    return check_float(value, name, min=0.0, max=1.0, max_open=not allow_one)


def check_choice(value: Any, name: str, choices: Collection[str]) -> str:
    """One of ``choices`` (strings; a ``StrEnum`` member counts as its value)."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return str(value)


def check_float_tensor(x: Any, name: str, ndim: int | tuple[int, ...] | None = None) -> Tensor:
    """A floating-point tensor with ``ndim`` dimensions (one of them, for a tuple)."""
    from torch import Tensor

    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {_kind(x)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if allowed is not None and x.dim() not in allowed:
        want = " or ".join(str(n) for n in allowed)
        raise ValueError(f"{name} must have {want} dimensions, got shape {tuple(x.shape)}")
    return x


def check_int_tensor(x: Any, name: str) -> Tensor:
    """An integer tensor (not float, complex or bool)."""
    import torch

    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {_kind(x)}")
    if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
        raise ValueError(f"{name} must be an integer tensor, got dtype {x.dtype}")
    return x
