"""Run folders and atomic writes."""

from __future__ import annotations

import json

import pytest
import yaml

from dllab.core.runs import (
    atomic_write_text,
    latest_run_dir,
    new_run_dir,
    write_hparams,
    write_summary,
)


def test_versions_count_up(tmp_path):
    assert latest_run_dir(tmp_path, "x") is None
    first, second = new_run_dir(tmp_path, "x"), new_run_dir(tmp_path, "x")
    assert (first.name, second.name) == ("version_0", "version_1")
    assert latest_run_dir(tmp_path, "x") == second


@pytest.mark.parametrize("name", ["", "a/b", ".hidden"])
def test_run_name_must_be_a_plain_folder(tmp_path, name):
    with pytest.raises(ValueError, match="run name"):
        new_run_dir(tmp_path, name)


def test_summary_and_hparams_round_trip(tmp_path):
    import numpy as np

    write_summary(tmp_path, {"acc": np.float64(0.5), "path": tmp_path})
    write_hparams(tmp_path, {"lr": 0.1, "hidden": (256, 128)})
    assert json.loads((tmp_path / "summary.json").read_text()) == {
        "acc": 0.5,
        "path": str(tmp_path),
    }
    assert yaml.safe_load((tmp_path / "hparams.yaml").read_text()) == {
        "hidden": [256, 128],
        "lr": 0.1,
    }


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "old")

    with pytest.raises(TypeError):
        atomic_write_text(target, 123)  # not text: the write fails half-way
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
