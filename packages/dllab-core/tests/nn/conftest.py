"""Fixtures for the attention and Transformer tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def seeded() -> None:
    """Every test starts from the same torch seed, whatever ran before it in the worker."""
    torch.manual_seed(0)
