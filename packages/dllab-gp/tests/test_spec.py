"""Kernel spec parsing: terms, names and errors."""

from __future__ import annotations

import pytest

from dllab.gp.spec import canonical_spec, parse_kernel_spec, term_is_scaled, term_names


@pytest.mark.parametrize(
    ("spec", "terms"),
    [
        ("rbf", [["rbf"]]),
        (" RBF + Periodic ", [["rbf"], ["periodic"]]),
        ("rbf*periodic+linear", [["rbf", "periodic"], ["linear"]]),
        ("matern12+matern32+matern52", [["matern12"], ["matern32"], ["matern52"]]),
    ],
)
def test_parse(spec, terms):
    assert parse_kernel_spec(spec) == terms


def test_names_are_unique_and_linear_terms_unscaled():
    terms = parse_kernel_spec("rbf+rbf+rbf*linear")
    assert term_names(terms) == ["rbf", "rbf#1", "rbf*linear"]
    assert [term_is_scaled(t) for t in terms] == [True, True, False]
    assert canonical_spec("RBF * Linear") == "rbf*linear"


@pytest.mark.parametrize("spec", ["", "rbf+", "gaussian", "rbf**periodic", "+"])
def test_bad_spec_names_the_problem(spec):
    with pytest.raises(ValueError, match=r"kernel|empty"):
        parse_kernel_spec(spec)


def test_spec_must_be_a_string():
    with pytest.raises(TypeError, match="string"):
        parse_kernel_spec(3)
