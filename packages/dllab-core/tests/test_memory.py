"""``dllab.core.memory``: an allocation that cannot fit is refused before it starts."""

from __future__ import annotations

import pytest

import dllab.core.memory as memory


def test_available_memory_reads_meminfo(tmp_path, monkeypatch):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 100 kB\nMemAvailable:    2048 kB\n")
    monkeypatch.setattr(memory, "MEMINFO", meminfo)
    assert memory.available_memory() == 2048 * 1024


def test_a_plan_over_the_budget_is_refused_with_sizes_and_the_way_out(monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 10 * 2**30)
    assert memory.check_memory(7 * 2**30, "a table") == 7 * 2**30  # 70% of 10 GiB fits
    with pytest.raises(memory.MemoryBudgetError) as err:
        memory.check_memory(20 * 2**30, "a kernel matrix", "subsample with --max-points")
    assert str(err.value) == (
        "a kernel matrix needs about 20.0 GiB of memory, but only 10.0 GiB is available; "
        "subsample with --max-points"
    )
    assert isinstance(err.value, ValueError)


def test_unknown_free_memory_lets_the_plan_through(monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: None)
    assert memory.check_memory(1e18, "anything") == 1e18


@pytest.mark.parametrize(
    ("size", "text"), [(512, "512 B"), (1536, "1.5 KiB"), (3 * 2**20, "3.0 MiB")]
)
def test_format_bytes(size, text):
    assert memory.format_bytes(size) == text
