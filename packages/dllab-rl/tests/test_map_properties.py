"""Property-based tests of the map parser: any text either parses or fails with a ValueError."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dllab.rl.maps import TILES, frozen_lake_mdp, make_frozen_lake, parse_map
from dllab.rl.mdp import MDP

MAP_ALPHABET = st.sampled_from(list(TILES + TILES.lower() + " \t\r\nxZ0ß\u00a0"))


@st.composite
def valid_maps(draw, max_side=6, min_cols=1):
    """A rectangular map over SFHG with exactly one S and at least one G."""
    n_rows = draw(st.integers(1, max_side))
    n_cols = draw(st.integers(min_cols, max_side))
    if n_rows * n_cols < 2:
        n_cols = 2
    cells = draw(
        st.lists(st.sampled_from("FHG"), min_size=n_rows * n_cols, max_size=n_rows * n_cols)
    )
    start, goal = draw(
        st.lists(st.integers(0, n_rows * n_cols - 1), min_size=2, max_size=2, unique=True)
    )
    cells[start], cells[goal] = "S", "G"
    return ["".join(cells[r * n_cols : (r + 1) * n_cols]) for r in range(n_rows)]


def _parse_or_value_error(rows):
    try:
        return parse_map(rows)
    except ValueError as err:
        assert str(err) and "\n" not in str(err)  # one line that says what is wrong
        return None


@given(st.text())
def test_any_text_parses_or_raises_a_value_error(text):
    _parse_or_value_error(text)


@given(st.text(MAP_ALPHABET, max_size=60))
def test_map_like_text_parses_to_a_valid_map_or_raises_a_value_error(text):
    rows = _parse_or_value_error(text)
    if rows is not None:  # what is accepted is a valid map, tile for tile what was written
        assert len({len(r) for r in rows}) == 1 and set("".join(rows)) <= set(TILES)
        assert "S" in "".join(rows) and "G" in "".join(rows)
        written = [line.strip() for line in text.splitlines() if line.strip()]
        assert [len(r) for r in rows] == [len(w) for w in written]  # "ß".upper() is "SS"
        assert rows == [w.upper() for w in written]


@given(st.lists(st.text(MAP_ALPHABET, max_size=8), max_size=6))
def test_a_list_of_rows_parses_or_raises_a_value_error(rows):
    _parse_or_value_error(rows)


@given(st.one_of(st.integers(), st.lists(st.integers(), min_size=1), st.none()))
def test_what_is_not_text_is_a_type_error(value):
    with pytest.raises(TypeError, match="a map is a list of strings"):
        parse_map(value)


@given(valid_maps(), st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_valid_maps_round_trip(rows, newline, lower):
    text = newline.join(f"  {r.lower() if lower else r} " for r in rows) + newline
    assert parse_map(text) == rows
    assert parse_map(rows) == rows
    assert parse_map(parse_map(rows)) == rows


@given(valid_maps())
def test_the_mdp_of_a_valid_map_has_its_shape_start_and_goals(rows):
    mdp = frozen_lake_mdp(rows)
    flat = "".join(rows)
    assert mdp.n_states == len(rows) * len(rows[0]) and mdp.grid == tuple(rows)
    assert mdp.start_state == flat.index("S") and mdp.initial[mdp.start_state] == 1.0
    assert mdp.goal.sum() == flat.count("G") >= 1
    assert mdp.terminal.sum() == flat.count("G") + flat.count("H")


@settings(max_examples=25, deadline=None)
@given(valid_maps(max_side=5, min_cols=2), st.booleans())
def test_the_mdp_of_a_valid_map_equals_gymnasiums(rows, slippery):
    ours = frozen_lake_mdp(rows, slippery)
    gym = MDP.from_gym(make_frozen_lake(rows, slippery))
    for name in ["successors", "probs", "rewards", "terminal", "goal", "initial"]:
        np.testing.assert_array_equal(getattr(ours, name), getattr(gym, name), err_msg=name)
