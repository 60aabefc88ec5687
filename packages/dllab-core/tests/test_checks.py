"""``dllab.core.checks``: accepted values come back converted, everything else is refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dllab.core.checks import (
    check_choice,
    check_float,
    check_float_tensor,
    check_int,
    check_int_tensor,
    check_positive,
    check_positive_int,
    check_probability,
)


def test_ints_accept_numpy_and_refuse_bools_floats_and_out_of_range():
    assert check_int(np.int64(3), "n") == 3 and type(check_int(np.int64(3), "n")) is int
    assert check_positive_int(1, "n") == 1
    with pytest.raises(TypeError, match=r"n must be an int, got bool"):
        check_int(True, "n")
    with pytest.raises(TypeError, match="got float"):
        check_int(2.0, "n")
    with pytest.raises(ValueError, match=r"n must be >= 1, got 0"):
        check_positive_int(0, "n")
    with pytest.raises(ValueError, match=r"n must be <= 5, got 6"):
        check_int(6, "n", max=5)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_floats_refuse_non_finite_values(bad):
    with pytest.raises(ValueError, match="lr must be a finite number"):
        check_positive(bad, "lr")


def test_float_bounds_open_and_closed():
    assert check_float(0, "x", min=0) == 0.0
    with pytest.raises(ValueError, match=r"x must be > 0"):
        check_float(0, "x", min=0, min_open=True)
    assert check_probability(0.0, "p") == 0.0
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\), got 1.0"):
        check_probability(1.0, "p")
    assert check_probability(1.0, "p", allow_one=True) == 1.0
    with pytest.raises(TypeError, match="must be a number, got str"):
        check_float("1", "x")
    with pytest.raises(TypeError):
        check_float(False, "x")


def test_choice_names_the_options():
    assert check_choice("sgd", "optimizer", {"sgd", "adam"}) == "sgd"
    with pytest.raises(ValueError, match=r"optimizer must be one of \['adam', 'sgd'\], got 'x'"):
        check_choice("x", "optimizer", {"sgd", "adam"})


def test_tensor_checks():
    x = torch.zeros(2, 3)
    assert check_float_tensor(x, "x", ndim=(2, 3)) is x
    with pytest.raises(ValueError, match="must have 3 dimensions"):
        check_float_tensor(x, "x", ndim=3)
    with pytest.raises(ValueError, match="floating-point"):
        check_float_tensor(x.long(), "x")
    with pytest.raises(ValueError, match="integer tensor"):
        check_int_tensor(x.bool(), "t")
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        check_int_tensor([1], "t")
