"""Data for GP regression: seeded synthetic functions plus noise, and a checked CSV loader.

The embedded datasets need no download: ``sin-1d`` is ``sin(x)`` on ``[0, 10]`` and
``bumps-2d`` is ``sin(x₁)·cos(x₂) + 0.3 x₁`` on ``[0, 5]²``, each with Gaussian noise.
The CSV loader reads named columns (UTF-8) and rejects NaNs, non-numeric cells, too few rows
and a constant target with an error that names the column; whatever the file holds, the only
error it raises is ``ValueError``.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from dllab.core.checks import check_choice, check_float, check_positive_int

ArrayT = TypeVar("ArrayT")

MIN_ROWS = 3
"""Fewest rows a training CSV may hold."""

_MISSING = {"", "nan", "na", "n/a", "null", "none"}


def _sin_1d(x: np.ndarray) -> np.ndarray:
    return np.sin(x[:, 0])


def _bumps_2d(x: np.ndarray) -> np.ndarray:
    return np.sin(x[:, 0]) * np.cos(x[:, 1]) + 0.3 * x[:, 0]


SYNTHETIC: dict[str, tuple[Callable[[np.ndarray], np.ndarray], tuple[float, float], int]] = {
    "sin-1d": (_sin_1d, (0.0, 10.0), 1),
    "bumps-2d": (_bumps_2d, (0.0, 5.0), 2),
}
"""name -> (true function, input range, input dims)."""


@dataclass
class RegressionData:
    """Inputs ``x (n, d)``, targets ``y (n,)`` and the column names they came from.

    Attributes:
        x: float64 inputs.
        y: float64 targets.
        x_columns: one name per input column.
        y_column: the target's name.
        true_function: the noise-free function, for synthetic data (None for CSV data).
    """

    x: np.ndarray
    y: np.ndarray
    x_columns: list[str]
    y_column: str
    true_function: Callable[[np.ndarray], np.ndarray] | None = None


def synthetic(name: str = "sin-1d", n: int = 100, noise: float = 0.2, seed: int = 0):
    """A seeded draw of ``n`` noisy points from a named synthetic function.

    Args:
        name: ``"sin-1d"`` or ``"bumps-2d"``.
        n: number of points (>= 1).
        noise: standard deviation of the Gaussian noise (>= 0).
        seed: random seed.

    Returns:
        ``RegressionData`` with ``true_function`` set.
    """
    name = check_choice(name, "synthetic dataset name", SYNTHETIC)
    n = check_positive_int(n, "n")
    noise = check_float(noise, "noise", min=0.0)
    f, (low, high), dims = SYNTHETIC[name]
    rng = np.random.default_rng(seed)
    x = rng.uniform(low, high, size=(n, dims))
    y = f(x) + noise * rng.standard_normal(n)
    return RegressionData(x, y, [f"x{i + 1}" for i in range(dims)], "y", f)


def subsample(x: ArrayT, y: ArrayT, max_points: int, seed: int = 0) -> tuple[ArrayT, ArrayT]:
    """At most ``max_points`` rows of ``(x, y)``: a seeded random subset, in the original order.

    Exact GP work costs O(n²) memory and O(n³) time, so a random subsample is the simple way
    to fit on data too large for the machine. With ``n <= max_points`` every row is kept.
    Works on numpy arrays and torch tensors alike.

    Raises:
        ValueError: if ``max_points < 1`` or ``x`` and ``y`` differ in length.
    """
    max_points = check_positive_int(max_points, "max_points")
    n = len(x)
    if len(y) != n:
        raise ValueError(f"x has {n} rows but y has {len(y)}")
    if n <= max_points:
        return x, y
    rows = np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))
    if not isinstance(x, np.ndarray):  # a tensor: index with a tensor of the same device
        import torch

        index = torch.as_tensor(rows, device=x.device)
        return x[index], y[index]
    return x[rows], y[rows]


def grid(name: str, points: int = 200) -> np.ndarray:
    """Evenly spaced inputs over a synthetic dataset's range (a square grid in 2-D)."""
    _, (low, high), dims = SYNTHETIC[name]
    axis = np.linspace(low, high, points)
    if dims == 1:
        return axis[:, None]
    return np.stack([a.ravel() for a in np.meshgrid(axis, axis, indexing="xy")], axis=1)


def _read_table(path: str | os.PathLike[str]) -> tuple[list[str], list[list[str]]]:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"CSV file not found: {path}")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not UTF-8 text: {err.reason} at byte {err.start}") from None
    except csv.Error as err:  # a NUL byte, an over-long field, ...
        raise ValueError(f"{path} is not a readable CSV: {err}") from None
    except OSError as err:  # no permission, a folder, ...
        raise ValueError(f"cannot read {path}: {err.strerror or err}") from None
    if not rows:
        raise ValueError(f"{path} is empty; expected a header row of column names")
    header = [h.strip() for h in rows[0]]
    return header, rows[1:]


def _column(path: Path, header: list[str], rows: list[list[str]], name: str) -> np.ndarray:
    if name not in header:
        raise ValueError(f"{path}: no column {name!r}; columns are {', '.join(header)}")
    j = header.index(name)
    values = np.empty(len(rows))
    for i, row in enumerate(rows):
        cell = row[j].strip() if j < len(row) else ""
        if cell.lower() in _MISSING:
            raise ValueError(f"{path}: column {name!r} has a missing/NaN value in row {i + 2}")
        try:
            values[i] = float(cell)
        except ValueError:
            raise ValueError(
                f"{path}: column {name!r} is not numeric: row {i + 2} holds {cell!r}"
            ) from None
        if math.isnan(values[i]):
            raise ValueError(f"{path}: column {name!r} has a missing/NaN value in row {i + 2}")
        if math.isinf(values[i]):
            raise ValueError(f"{path}: column {name!r} has an infinite value in row {i + 2}")
    return values


def _names(columns: str | Sequence[str], what: str) -> list[str]:
    if isinstance(columns, str):
        columns = columns.split(",")
    if not all(isinstance(c, str) for c in columns):
        raise TypeError(f"{what} must be a string 'a,b' or a list of names, got {columns!r}")
    names = [c.strip() for c in columns]
    if not names or any(not c for c in names):
        raise ValueError(f"{what} must name one or more columns, e.g. 'a' or 'a,b'")
    return names


def load_inputs(path: str | os.PathLike[str], x_columns: str | Sequence[str]) -> np.ndarray:
    """Read input columns from a CSV with a header row, as a float64 ``(n, d)`` array.

    Raises:
        ValueError: if the file cannot be read as UTF-8 CSV, a column is missing, or a cell
            is empty, NaN, infinite or not a number (the message names the column and row).
        TypeError: if ``x_columns`` is neither a string nor a list of strings.
    """
    names = _names(x_columns, "x columns")
    header, rows = _read_table(path)
    if not rows:
        raise ValueError(f"{path} has a header but no data rows")
    return np.stack([_column(Path(path), header, rows, c) for c in names], axis=1)


def load_csv(
    path: str | os.PathLike[str], x_columns: str | Sequence[str], y_column: str
) -> RegressionData:
    """Read a regression dataset: input columns ``x_columns`` and target ``y_column``.

    Args:
        path: CSV file with a header row.
        x_columns: ``"a"``, ``"a,b"`` or a list of names.
        y_column: name of the target column.

    Raises:
        ValueError: as ``load_inputs``; also for fewer than ``MIN_ROWS`` rows, a constant
            target, or a target that is also an input.
    """
    names = _names(x_columns, "x columns")
    y_name = _names(y_column, "y column")
    if len(y_name) != 1:
        raise ValueError(f"y column must be a single column, got {y_column!r}")
    if y_name[0] in names:
        raise ValueError(f"column {y_name[0]!r} cannot be both an input and the target")
    header, rows = _read_table(path)
    if len(rows) < MIN_ROWS:
        raise ValueError(f"{path} has {len(rows)} data rows; a GP fit needs at least {MIN_ROWS}")
    x = np.stack([_column(Path(path), header, rows, c) for c in names], axis=1)
    y = _column(Path(path), header, rows, y_name[0])
    if y.max() == y.min():
        raise ValueError(
            f"{path}: target column {y_name[0]!r} is constant ({y[0]}); nothing to fit"
        )
    return RegressionData(x, y, names, y_name[0])


def write_csv(path: str | os.PathLike[str], columns: dict[str, np.ndarray]) -> Path:
    """Write equal-length columns to a CSV with a header, atomically."""
    import io

    from dllab.core.runs import atomic_write_text

    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise ValueError(f"columns must have equal lengths, got {sorted(lengths)}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(columns))
    for row in zip(*columns.values(), strict=True):
        writer.writerow([repr(float(v)) for v in row])
    return atomic_write_text(path, buffer.getvalue())
