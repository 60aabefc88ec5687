"""Property tests of the CSV loader: any file fails only with ValueError, valid files round-trip.

Hypothesis writes each generated file to ``tmp_path`` (overwritten per example) and runs the
real reader on it.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dllab.gp.data import RegressionData, load_csv, load_inputs, subsample, write_csv

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,7}", fullmatch=True)
FINITE = st.floats(allow_nan=False, allow_infinity=False)
# text that looks like CSV: separators, quotes, line breaks, numbers and the words NaN/inf
CSV_LIKE = st.lists(
    st.one_of(
        st.sampled_from([",", ",", "\n", "\r\n", '"', " ", "nan", "inf", "-", "e", ".", "a", "b"]),
        FINITE.map(repr),
        st.text(max_size=3),
    ),
    max_size=40,
).map("".join)


@SETTINGS
@given(text=st.one_of(st.text(), CSV_LIKE), columns=st.sampled_from(["a", "a,b", "x1"]))
def test_any_text_loads_or_fails_with_value_error(tmp_path, text, columns):
    path = tmp_path / "data.csv"
    path.write_text(text, encoding="utf-8")
    try:
        data = load_csv(path, columns, "y")
    except ValueError as err:
        assert str(err)  # a message, never an empty error
    else:
        assert isinstance(data, RegressionData)
        assert np.isfinite(data.x).all() and np.isfinite(data.y).all()
    try:
        x = load_inputs(path, columns)
    except ValueError as err:
        assert str(err)
    else:
        assert x.dtype == np.float64 and np.isfinite(x).all()


@SETTINGS
@given(raw=st.binary(max_size=200))
def test_any_bytes_load_or_fail_with_value_error(tmp_path, raw):
    path = tmp_path / "data.csv"
    path.write_bytes(b"a,y\n" + raw)
    with pytest.raises(ValueError):
        try:
            load_csv(path, "a", "y")
        except ValueError:
            raise
        else:  # a file of valid rows: nothing to refuse, so say so to pytest.raises
            raise ValueError("loaded")


@st.composite
def numeric_tables(draw) -> tuple[list[str], np.ndarray, str]:
    """Unique column names, a finite float64 table (target last, not constant), a format."""
    columns = draw(st.lists(NAMES, min_size=2, max_size=4, unique=True))
    rows = draw(st.integers(min_value=3, max_value=12))
    values = np.array(
        draw(st.lists(FINITE, min_size=rows * len(columns), max_size=rows * len(columns))),
        dtype=np.float64,
    ).reshape(rows, len(columns))
    assume(values[:, -1].max() > values[:, -1].min())  # a target that is not constant
    style = draw(st.sampled_from(["repr", "17g", "padded"]))
    return columns, values, style


def _cell(value: float, style: str) -> str:
    if style == "repr":
        return repr(float(value))
    if style == "17g":
        return f"{value:.17g}"
    return f"  {float(value)!r} "  # spaces around a cell are ignored


@SETTINGS
@given(table=numeric_tables())
def test_valid_numeric_csvs_round_trip_exactly(tmp_path, table):
    columns, values, style = table
    lines = [",".join(columns)] + [",".join(_cell(v, style) for v in row) for row in values]
    path = tmp_path / "table.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = load_csv(path, columns[:-1], columns[-1])
    assert np.array_equal(data.x, values[:, :-1]) and np.array_equal(data.y, values[:, -1])
    assert data.x_columns == columns[:-1] and data.y_column == columns[-1]
    assert np.array_equal(load_inputs(path, ",".join(columns)), values)


@SETTINGS
@given(table=numeric_tables())
def test_write_csv_then_load_round_trips_exactly(tmp_path, table):
    columns, values, _ = table
    path = write_csv(tmp_path / "out.csv", {c: values[:, j] for j, c in enumerate(columns)})
    assert np.array_equal(load_inputs(path, columns), values)


@given(n=st.integers(1, 300), max_points=st.integers(1, 400), seed=st.integers(0, 2**32 - 1))
def test_subsample_keeps_distinct_rows_in_order(n, max_points, seed):
    x = np.arange(n, dtype=np.float64)[:, None]
    y = np.arange(n, dtype=np.float64) * 2
    sx, sy = subsample(x, y, max_points, seed)
    assert len(sx) == len(sy) == min(n, max_points)
    assert np.array_equal(sy, sx[:, 0] * 2)  # rows stay paired
    assert (np.diff(sx[:, 0]) > 0).all()  # distinct, in their original order
    again, _ = subsample(x, y, max_points, seed)
    assert np.array_equal(again, sx)  # seeded
