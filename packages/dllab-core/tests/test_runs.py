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


def test_run_versions_ignore_foreign_names(tmp_path):
    from dllab.core.runs import latest_run_dir, run_versions

    for name in ("version_2", "version_x", "version_10", "other"):
        (tmp_path / "r" / name).mkdir(parents=True)
    assert [n for n, _ in run_versions(tmp_path / "r")] == [2, 10]
    assert latest_run_dir(tmp_path, "r") == tmp_path / "r" / "version_10"


def test_run_folder_success_writes_hparams_and_summary(tmp_path):
    from dllab.core.runs import run_folder, run_status

    with run_folder(tmp_path, "demo-cmd", {"gamma": 0.9}) as run:
        run.path("plot.png").write_bytes(b"png")
        run.write_summary({"value": 1.5})
    assert (run.dir / "hparams.yaml").read_text() == "gamma: 0.9\n"
    assert run_status(run.dir) == "complete"
    assert run.dir == tmp_path / "demo-cmd" / "version_0"


def test_run_folder_failure_before_any_output_leaves_no_folder(tmp_path):
    from dllab.core.runs import run_folder

    with pytest.raises(RuntimeError, match="boom"), run_folder(tmp_path, "demo", {"a": 1}):
        raise RuntimeError("boom")
    assert list((tmp_path / "demo").iterdir()) == []


def test_run_folder_failure_after_output_marks_the_folder_failed(tmp_path):
    import json

    from dllab.core.runs import run_folder, run_status

    with pytest.raises(KeyboardInterrupt), run_folder(tmp_path, "demo", {"a": 1}) as run:
        run.path("plot.png").write_bytes(b"png")
        run.write_summary({"value": 1})
        raise KeyboardInterrupt
    assert run_status(run.dir) == "failed"
    assert not (run.dir / "summary.json").exists()
    assert json.loads((run.dir / "failed.json").read_text())["error"] == "interrupted"


def test_run_folder_refuses_paths_that_leave_it(tmp_path):
    from dllab.core.runs import run_folder

    with pytest.raises(ValueError, match="not a plain file name"), run_folder(tmp_path, "d") as run:
        run.path("../escape.txt")


def test_save_figure_is_atomic_and_uses_unique_temp_names(tmp_path):
    from dllab.core.plotting import new_figure, save_figure

    fig, ax = new_figure()
    ax.plot([0, 1])
    path = save_figure(fig, tmp_path / "f.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png"]
