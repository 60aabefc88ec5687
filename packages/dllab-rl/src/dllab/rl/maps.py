"""FrozenLake maps: the built-in 4x4 and 8x8 lakes, custom string maps and seeded random maps.

A map is a list of equal-length strings over the alphabet ``S`` (start), ``F`` (frozen),
``H`` (hole) and ``G`` (goal), row 0 first, exactly as gymnasium's ``FrozenLakeEnv(desc=...)``
takes it. Every map that enters dllab goes through :func:`parse_map`, so a lake without a start,
without a goal or with an unknown tile is rejected with a message that says where.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TILES = "SFHG"
"""The four FrozenLake tiles: start, frozen, hole, goal."""

FROZEN_LAKE_MAPS: dict[str, tuple[str, ...]] = {
    "4x4": ("SFFF", "FHFH", "FFFH", "HFFG"),
    "8x8": (
        "SFFFFFFF",
        "FFFFFFFF",
        "FFFHFFFF",
        "FFFFFHFF",
        "FFFHFFFF",
        "FHHFFFHF",
        "FHFFHFHF",
        "FFFHFFFG",
    ),
}
"""gymnasium's two built-in lakes (``FrozenLake-v1`` and ``FrozenLake8x8-v1``)."""

REGISTERED_IDS = {"4x4": "FrozenLake-v1", "8x8": "FrozenLake8x8-v1"}
"""The registered environment behind each built-in map; they differ in their time limit."""

DEFAULT_MAX_EPISODE_STEPS = 100
"""Time limit of ``FrozenLake-v1``, used for custom maps unless told otherwise."""


def parse_map(rows: str | Sequence[str]) -> list[str]:
    """Check a FrozenLake map and return it as a list of rows.

    Args:
        rows: the rows as a sequence of strings, or one string with a row per line. Blank lines
            and surrounding whitespace are ignored.

    Returns:
        The map as a list of equal-length strings over ``SFHG``.

    Raises:
        TypeError: ``rows`` is not a string or a sequence of strings.
        ValueError: the map is empty or ragged, has an unknown tile, or has no start or no goal.
    """
    if isinstance(rows, str):
        rows = rows.splitlines()
    if not isinstance(rows, Sequence) or not all(isinstance(r, str) for r in rows):
        raise TypeError(f"a map is a list of strings, got {type(rows).__name__}")
    grid = [r.strip().upper() for r in rows if r.strip()]
    if not grid:
        raise ValueError("the map is empty: give at least one row such as 'SFFG'")
    width = len(grid[0])
    for i, row in enumerate(grid):
        if len(row) != width:
            raise ValueError(
                f"the map is not rectangular: row {i} has {len(row)} tiles, row 0 has {width}"
            )
        for j, tile in enumerate(row):
            if tile not in TILES:
                raise ValueError(
                    f"unknown tile {tile!r} at row {i}, column {j}; "
                    f"tiles are S (start), F (frozen), H (hole), G (goal)"
                )
    text = "".join(grid)
    if "S" not in text:
        raise ValueError("the map has no start tile 'S'")
    if "G" not in text:
        raise ValueError("the map has no goal tile 'G'")
    return grid


def frozen_lake_map(name: str) -> list[str]:
    """Return one of gymnasium's built-in lakes, ``"4x4"`` or ``"8x8"``."""
    if name not in FROZEN_LAKE_MAPS:
        raise ValueError(f"unknown built-in map {name!r}; choose one of {sorted(FROZEN_LAKE_MAPS)}")
    return list(FROZEN_LAKE_MAPS[name])


def random_map(size: int = 8, p: float = 0.8, seed: int | None = None) -> list[str]:
    """A random ``size`` x ``size`` lake with a path from start to goal (gymnasium's generator).

    Args:
        size: side of the square grid (at least 2).
        p: probability that a tile is frozen, in ``(0, 1]``.
        seed: seed for a reproducible map.
    """
    from gymnasium.envs.toy_text.frozen_lake import generate_random_map

    if isinstance(size, bool) or not isinstance(size, int) or size < 2:
        raise ValueError(f"size must be an integer >= 2, got {size!r}")
    if not 0.0 < p <= 1.0:
        raise ValueError(f"p (the frozen-tile probability) must be in (0, 1], got {p}")
    return parse_map(generate_random_map(size=size, p=p, seed=seed))


def load_map(path: str | os.PathLike[str]) -> list[str]:
    """Read a map from a text file with one row per line."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"map file {str(path)!r} does not exist")
    try:
        return parse_map(path.read_text())
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def resolve_map(spec: str | os.PathLike[str] | Sequence[str]) -> tuple[list[str], str | None]:
    """Turn a map given as a name, a file or rows into ``(rows, built-in name or None)``."""
    if isinstance(spec, str) and spec in FROZEN_LAKE_MAPS:
        return frozen_lake_map(spec), spec
    if isinstance(spec, str | os.PathLike):
        if isinstance(spec, str) and "\n" in spec:
            return parse_map(spec), None
        if not Path(spec).is_file():
            raise ValueError(
                f"map {str(spec)!r} is neither a built-in map {sorted(FROZEN_LAKE_MAPS)} "
                "nor an existing file"
            )
        return load_map(spec), None
    rows = parse_map(spec)
    builtin = next((k for k, v in FROZEN_LAKE_MAPS.items() if list(v) == rows), None)
    return rows, builtin


def make_frozen_lake(
    lake: str | os.PathLike[str] | Sequence[str] = "4x4",
    slippery: bool = True,
    max_episode_steps: int | None = None,
    **kwargs: Any,
) -> Any:
    """Make a gymnasium FrozenLake environment.

    The built-in maps use their registered ids, so ``"8x8"`` gets ``FrozenLake8x8-v1``'s limit of
    200 steps; custom maps get ``FrozenLake-v1``'s 100 steps unless ``max_episode_steps`` is set.

    Args:
        lake: ``"4x4"``, ``"8x8"``, a path to a map file, or the rows themselves.
        slippery: whether the ice is slippery (the agent moves as intended 1/3 of the time).
        max_episode_steps: override of the time limit.
        **kwargs: passed to ``gymnasium.make`` (``render_mode``, ``success_rate``, ...).
    """
    import gymnasium as gym

    if not isinstance(slippery, bool):
        raise TypeError(f"slippery must be True or False, got {slippery!r}")
    if max_episode_steps is not None and (
        isinstance(max_episode_steps, bool)
        or not isinstance(max_episode_steps, int)
        or max_episode_steps < 1
    ):
        raise ValueError(f"max_episode_steps must be a positive integer, got {max_episode_steps!r}")
    rows, builtin = resolve_map(lake)
    if builtin is not None:
        return gym.make(
            REGISTERED_IDS[builtin],
            is_slippery=slippery,
            max_episode_steps=max_episode_steps,
            **kwargs,
        )
    return gym.make(
        "FrozenLake-v1",
        desc=rows,
        is_slippery=slippery,
        max_episode_steps=max_episode_steps or DEFAULT_MAX_EPISODE_STEPS,
        **kwargs,
    )
