"""Tests of dllab.rl.maps: built-in, custom, file and random maps, and their validation."""

from __future__ import annotations

import pytest

from dllab.rl.maps import (
    FROZEN_LAKE_MAPS,
    frozen_lake_map,
    load_map,
    make_frozen_lake,
    parse_map,
    random_map,
    resolve_map,
)


def test_builtin_maps_match_gymnasium():
    from gymnasium.envs.toy_text.frozen_lake import MAPS

    for name in ("4x4", "8x8"):
        assert frozen_lake_map(name) == MAPS[name]


@pytest.mark.parametrize(("name", "limit"), [("4x4", 100), ("8x8", 200)])
def test_builtin_maps_get_their_registered_time_limit(name, limit):
    env = make_frozen_lake(name)
    assert env.spec.max_episode_steps == limit
    assert env.unwrapped.desc.shape == (len(FROZEN_LAKE_MAPS[name]),) * 2


def test_custom_map_from_string_and_file(tmp_path):
    rows = parse_map("  sfh\nFFG \n\n")
    assert rows == ["SFH", "FFG"]
    path = tmp_path / "lake.txt"
    path.write_text("SFH\nFFG\n")
    assert load_map(path) == rows
    assert resolve_map(str(path)) == (rows, None)
    env = make_frozen_lake(path, slippery=False, max_episode_steps=7)
    assert env.spec.max_episode_steps == 7
    assert env.unwrapped.desc.tolist() == [[b"S", b"F", b"H"], [b"F", b"F", b"G"]]


def test_rows_equal_to_a_builtin_map_resolve_to_it():
    assert resolve_map(list(FROZEN_LAKE_MAPS["8x8"]))[1] == "8x8"
    assert make_frozen_lake(list(FROZEN_LAKE_MAPS["8x8"])).spec.max_episode_steps == 200


def test_random_map_is_seeded_valid_and_sized():
    a, b, c = random_map(6, seed=3), random_map(6, seed=3), random_map(6, seed=4)
    assert a == b
    assert a != c
    assert len(a) == 6 and all(len(r) == 6 for r in a)
    assert a[0][0] == "S" and a[-1][-1] == "G"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("", "empty"),
        (["SF", "FFG"], "not rectangular"),
        (["SX", "FG"], r"unknown tile 'X' at row 0, column 1"),
        (["FF", "FG"], "no start"),
        (["SF", "FH"], "no goal"),
    ],
)
def test_bad_maps_are_rejected_with_a_clear_message(rows, message):
    with pytest.raises(ValueError, match=message):
        parse_map(rows)


def test_bad_map_arguments():
    with pytest.raises(TypeError, match="list of strings"):
        parse_map([1, 2])
    with pytest.raises(ValueError, match="unknown built-in map"):
        frozen_lake_map("5x5")
    with pytest.raises(ValueError, match="size"):
        random_map(1)
    with pytest.raises(ValueError, match="frozen-tile probability"):
        random_map(4, p=0.0)
    with pytest.raises(ValueError, match="neither a built-in map"):
        resolve_map("nowhere.txt")
    with pytest.raises(ValueError, match="does not exist"):
        load_map("nowhere.txt")
    with pytest.raises(TypeError, match="slippery"):
        make_frozen_lake("4x4", slippery="yes")
    with pytest.raises(ValueError, match="max_episode_steps"):
        make_frozen_lake("4x4", max_episode_steps=0)


def test_bad_map_file_names_the_file(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("SFQ\nFFG\n")
    with pytest.raises(ValueError, match=r"bad\.txt: unknown tile 'Q'"):
        load_map(path)
