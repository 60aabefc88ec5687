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
from typing import TYPE_CHECKING, Any

from dllab.core.checks import check_float, check_int, check_positive_int, check_probability
from dllab.core.memory import check_memory

if TYPE_CHECKING:
    from dllab.rl.mdp import MDP

TILES = "SFHG"
"""The four FrozenLake tiles: start, frozen, hole, goal."""

_LETTERS = frozenset(TILES + TILES.lower())

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

REGISTERED_MAX_EPISODE_STEPS = {"4x4": 100, "8x8": 200}
"""The time limit of each registered environment."""

DEFAULT_MAX_EPISODE_STEPS = 100
"""Time limit of ``FrozenLake-v1``, used for custom maps unless told otherwise."""

GYM_BYTES_PER_STATE = 2000
"""What gymnasium's ``P`` lists take per FrozenLake state (measured: about 1.9 kB)."""

MDP_BYTES_PER_ENTRY = 80
"""Peak bytes per (state, action, successor) entry while :func:`frozen_lake_mdp` builds."""


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
    grid = [r.strip() for r in rows if r.strip()]
    if not grid:
        raise ValueError("the map is empty: give at least one row such as 'SFFG'")
    width = len(grid[0])
    for i, row in enumerate(grid):
        if len(row) != width:
            raise ValueError(
                f"the map is not rectangular: row {i} has {len(row)} tiles, row 0 has {width}"
            )
        for j, tile in enumerate(row):
            if tile not in _LETTERS:  # checked before upper(), which turns "ß" into "SS"
                raise ValueError(
                    f"unknown tile {tile!r} at row {i}, column {j}; "
                    f"tiles are S (start), F (frozen), H (hole), G (goal)"
                )
    grid = [row.upper() for row in grid]
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

    size = check_int(size, "size", min=2)
    p = check_float(p, "p (the frozen-tile probability)", min=0.0, min_open=True, max=1.0)
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
    if max_episode_steps is not None:
        max_episode_steps = check_positive_int(max_episode_steps, "max_episode_steps")
    rows, builtin = resolve_map(lake)
    if len(rows[0]) < 2:  # gymnasium reads a one-column map as one row of single letters
        raise ValueError("gymnasium's FrozenLake needs a map at least 2 tiles wide")
    check_memory(
        GYM_BYTES_PER_STATE * len(rows) * len(rows[0]),
        f"gymnasium's transition lists for a {len(rows)}x{len(rows[0])} lake",
        "plan on it with frozen_lake_mdp, which needs no gymnasium environment",
    )
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


_RANK = (1, 3, 2, 0)
"""LEFT, DOWN, RIGHT, UP ranked by the state they reach, row-major: UP < LEFT < RIGHT < DOWN.

Listing the moves in this order lists successors sorted, except beside walls, which saves
the MDP most of its sorting on a large lake.
"""


def frozen_lake_mdp(
    lake: str | os.PathLike[str] | Sequence[str] = "4x4",
    slippery: bool = True,
    max_episode_steps: int | None = None,
    success_rate: float = 1.0 / 3.0,
    reward_schedule: tuple[float, float, float] = (1.0, 0.0, 0.0),
) -> MDP:
    """The MDP of a FrozenLake map, built with numpy, without a gymnasium environment.

    It equals ``MDP.from_gym(make_frozen_lake(lake, slippery, max_episode_steps))`` table for
    table, but costs O(S) numpy work instead of gymnasium's Python lists (about 2 kB and
    20 µs per state), so a 1000x1000 lake builds in seconds. The memory it needs is estimated
    before anything is allocated.

    Args:
        lake: ``"4x4"``, ``"8x8"``, a path to a map file, or the rows themselves.
        slippery: whether the ice is slippery.
        max_episode_steps: the time limit (default: the registered environment's).
        success_rate: on slippery ice, the chance of moving as intended (gymnasium's default
            1/3); each perpendicular slip gets half of the rest.
        reward_schedule: rewards for entering a goal, a hole and a frozen tile.
    """
    import numpy as np

    from dllab.rl.mdp import MDP

    if not isinstance(slippery, bool):
        raise TypeError(f"slippery must be True or False, got {slippery!r}")
    if max_episode_steps is not None:
        max_episode_steps = check_positive_int(max_episode_steps, "max_episode_steps")
    success_rate = check_probability(success_rate, "success_rate", allow_one=True)
    if len(reward_schedule) != 3:
        raise ValueError(f"reward_schedule is (goal, hole, frozen), got {reward_schedule!r}")
    r_goal, r_hole, r_frozen = (check_float(r, "reward_schedule") for r in reward_schedule)
    rows, builtin = resolve_map(lake)
    n_rows, n_cols = len(rows), len(rows[0])
    S, K = n_rows * n_cols, 3 if slippery else 1
    check_memory(
        MDP_BYTES_PER_ENTRY * S * 4 * K, f"the MDP of a {n_rows}x{n_cols} lake", "use a smaller map"
    )
    tiles = np.frombuffer("".join(rows).encode(), dtype="S1")  # (S,)
    row, col = np.divmod(np.arange(S), n_cols)
    moves = np.stack(  # (S, 4): the cell reached by LEFT, DOWN, RIGHT, UP (walls stop)
        [
            row * n_cols + np.maximum(col - 1, 0),
            np.minimum(row + 1, n_rows - 1) * n_cols + col,
            row * n_cols + np.minimum(col + 1, n_cols - 1),
            np.maximum(row - 1, 0) * n_cols + col,
        ],
        axis=1,
    )
    actions = np.arange(4)
    if slippery:  # the move and the two slips beside it, each listed once
        fail_rate = (1.0 - success_rate) / 2.0
        directions = (actions[:, None] + np.array([-1, 0, 1])) % 4  # (A, K): slip, move, slip
        order = np.argsort(np.array(_RANK)[directions], axis=1)
        directions = np.take_along_axis(directions, order, axis=1)
        p = np.array([fail_rate, success_rate, fail_rate])[order]  # (A, K)
    else:
        directions, p = actions[:, None], np.ones((4, 1))
    successors = moves[:, directions]  # (S, A, K), in order of the cells reached (mostly)
    probs = np.broadcast_to(p, successors.shape).copy()
    reward_of_tile = np.where(tiles == b"G", r_goal, np.where(tiles == b"H", r_hole, r_frozen))
    rewards = reward_of_tile[successors]
    terminal = (tiles == b"G") | (tiles == b"H")
    successors[terminal] = np.flatnonzero(terminal)[:, None, None]  # stay, with reward 0
    probs[terminal] = np.eye(1, K)[0]
    rewards[terminal] = 0.0
    initial = (tiles == b"S").astype(np.float64)
    initial /= initial.sum()
    if max_episode_steps is None:
        max_episode_steps = REGISTERED_MAX_EPISODE_STEPS.get(builtin, DEFAULT_MAX_EPISODE_STEPS)
    name = REGISTERED_IDS.get(builtin, "FrozenLake-v1")
    goal = tiles == b"G"
    return MDP(
        successors, probs, rewards, terminal, initial, goal, max_episode_steps, tuple(rows), name
    )
