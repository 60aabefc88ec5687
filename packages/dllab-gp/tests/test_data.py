"""Embedded synthetic data and the CSV loader's errors (fixtures written to tmp_path)."""

from __future__ import annotations

import numpy as np
import pytest

from dllab.gp.data import grid, load_csv, load_inputs, synthetic, write_csv


def test_synthetic_is_seeded_and_noisy_around_the_truth():
    a, b = synthetic("sin-1d", 500, 0.2, seed=3), synthetic("sin-1d", 500, 0.2, seed=3)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert a.x.shape == (500, 1) and a.y.shape == (500,)
    residual = a.y - a.true_function(a.x)
    assert residual.std() == pytest.approx(0.2, rel=0.15)
    two = synthetic("bumps-2d", 30, 0.0, seed=0)
    assert two.x.shape == (30, 2) and two.x_columns == ["x1", "x2"]
    assert np.allclose(two.y, two.true_function(two.x))
    assert grid("bumps-2d", 5).shape == (25, 2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "cos"}, "synthetic dataset name must be one of"),
        ({"n": 0}, "n must"),
        ({"noise": -1.0}, "noise"),
    ],
)
def test_synthetic_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        synthetic(**kwargs)


def _write(tmp_path, text: str):
    path = tmp_path / "data.csv"
    path.write_text(text)
    return path


def test_load_csv_reads_named_columns(tmp_path):
    path = _write(tmp_path, "a, b ,label,t\n1,2,x,0.5\n2,3,y,0.7\n3,5,z,0.1\n4,7,w,0.2\n")
    data = load_csv(path, "a,b", "t")
    assert data.x.shape == (4, 2) and data.x_columns == ["a", "b"] and data.y_column == "t"
    assert np.allclose(data.y, [0.5, 0.7, 0.1, 0.2])
    assert np.allclose(load_inputs(path, ["b"])[:, 0], [2, 3, 5, 7])


@pytest.mark.parametrize(
    ("text", "x", "y", "match"),
    [
        ("a,t\n1,2\n2,nan\n3,4\n", "a", "t", "column 't' has a missing/NaN value in row 3"),
        ("a,t\n1,2\n,3\n3,4\n", "a", "t", "column 'a' has a missing/NaN value in row 3"),
        ("a,t\n1,2\n2,hello\n3,4\n", "a", "t", "column 't' is not numeric: row 3 holds 'hello'"),
        ("a,t\n1,2\n2,3\n", "a", "t", "2 data rows; a GP fit needs at least 3"),
        ("a,t\n1,2\n2,2\n3,2\n", "a", "t", "target column 't' is constant"),
        ("a,t\n1,2\n2,3\n3,4\n", "a,b", "t", "no column 'b'; columns are a, t"),
        ("a,t\n1,2\n2,3\n3,4\n", "a", "a", "both an input and the target"),
        ("a,t\n1,2\n2,inf\n3,4\n", "a", "t", "column 't' has an infinite value"),
        ("a,t\n1,2\n2,3\n3,4\n", "a,", "t", "must name one or more columns"),
        ("", "a", "t", "is empty"),
    ],
)
def test_load_csv_errors_name_the_column(tmp_path, text, x, y, match):
    with pytest.raises(ValueError, match=match):
        load_csv(_write(tmp_path, text), x, y)


def test_missing_file_and_header_only(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        load_csv(tmp_path / "nope.csv", "a", "t")
    with pytest.raises(ValueError, match="no data rows"):
        load_inputs(_write(tmp_path, "a,b\n"), "a")


def test_write_csv_round_trips_exactly(tmp_path):
    values = np.random.default_rng(0).standard_normal(5)
    path = write_csv(tmp_path / "out.csv", {"x1": values, "mean": 2 * values})
    assert np.array_equal(load_inputs(path, "x1,mean"), np.stack([values, 2 * values], 1))
    with pytest.raises(ValueError, match="equal lengths"):
        write_csv(tmp_path / "bad.csv", {"a": values, "b": values[:2]})
    assert not (tmp_path / "bad.csv").exists()
