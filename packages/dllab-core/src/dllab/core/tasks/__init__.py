"""Embedded toy tasks: seeded, offline data that a small model learns in a minute.

- ``reversal``: reverse a run of digits (``make_reversal_data``, ``ReversalData``), for
  sequence-to-sequence models.

Names load lazily, so ``import dllab.core.tasks`` does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dllab.core.lazy import lazy_exports

if TYPE_CHECKING:
    from dllab.core.tasks.reversal import ReversalData, make_reversal_data

_LAZY = {
    "make_reversal_data": "dllab.core.tasks.reversal",
    "ReversalData": "dllab.core.tasks.reversal",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY)
