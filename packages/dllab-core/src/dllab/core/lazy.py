"""Lazy public names for package ``__init__`` files.

``import torch`` costs seconds and ``import lightning`` more, so dllab's packages expose
their API through a module-level ``__getattr__`` that imports a submodule on first use::

    __getattr__, __dir__, __all__ = lazy_exports(__name__, {"Trainer": "dllab.core.trainer"})

Type checkers and IDEs do not run ``__getattr__``, so the same names are also imported in an
``if TYPE_CHECKING:`` block of the package's ``__init__``; ``dllab.core.testing``'s
``assert_lazy_names`` checks that the block and the table agree.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, table: Mapping[str, str], eager: tuple[str, ...] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """Return ``(__getattr__, __dir__, __all__)`` serving ``table``'s ``{name: module}``.

    ``eager`` lists names the package defines itself (for example ``__version__``).
    """
    names = sorted([*table, *eager])

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # cache: the next lookup is direct
        return value

    def __dir__() -> list[str]:
        return names

    __getattr__.table = dict(table)  # type: ignore[attr-defined]  # read by assert_lazy_names
    return __getattr__, __dir__, names
