"""Bad input through the ``dllab`` CLI, in-process: one table, one rule.

Each row runs a command with one bad value and checks three things: the exit code (2 for bad
input, 1 for a run that failed in training), the error on ONE line naming the problem (no
traceback), and the run folders (none at all, or none that looks complete).
"""

from __future__ import annotations

import os
from pathlib import Path

import lightning.pytorch  # noqa: F401  (binds Lightning's log handler before CliRunner runs)
import pytest
from typer.testing import CliRunner

from dllab.core.cli.app import app
from dllab.core.runs import run_status

runner = CliRunner()
CORE = ["core", "mlp", "--epochs", "1", "--samples", "400", "--batch-size", "50"]


def _csv_with_huge_x(folder: Path) -> str:
    rows = "\n".join(f"{(i + 1) * 1e200},{(-1) ** i * 0.5 + i * 0.01}" for i in range(20))
    path = folder / "huge.csv"
    path.write_text("x,y\n" + rows + "\n")
    return str(path)


def _a_file(folder: Path) -> str:
    path = folder / "a-file"
    path.write_text("not a folder\n")
    return str(path)


def _read_only(folder: Path) -> str:
    path = folder / "read-only"
    path.mkdir()
    path.chmod(0o555)
    return str(path)


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


# id: (args, runs-dir maker, exit code, text the error line must hold, folder name, state)
# state: "none" (no version folder at all) or "not complete" (kept, but never looks finished)
CASES = {
    "lr-inf": ([*CORE, "--lr", "inf"], None, 2, "--lr", "core-mlp", "none"),
    "lr-nan": ([*CORE, "--lr", "nan"], None, 2, "--lr", "core-mlp", "none"),
    "hidden-0": ([*CORE, "--hidden", "0"], None, 2, "--hidden", "core-mlp", "none"),
    "seed-negative": ([*CORE, "--seed", "-1"], None, 2, "--seed", "core-mlp", "none"),
    "dropout-nan": ([*CORE, "--dropout", "nan"], None, 2, "--dropout", "core-mlp", "none"),
    "accelerator-banana": (
        [*CORE, "--accelerator", "banana"], None, 2, "--accelerator", "core-mlp", "none"),
    "accelerator-gpu-missing": (
        [*CORE, "--accelerator", "gpu"], None, 2, "cpu", "core-mlp", "none"),
    "runs-dir-is-a-file": (CORE, _a_file, 2, "--runs-dir", "core-mlp", "none"),
    "runs-dir-under-a-file": (CORE, "under-file", 2, "--runs-dir", "core-mlp", "none"),
    "runs-dir-read-only": (CORE, _read_only, 2, "--runs-dir", "core-mlp", "none"),
    "gp-fit-x-1e200": (["gp", "fit", "HUGE_CSV", "--x", "x", "--y", "y", "--quick"],
                       None, 2, "Error", "gp-fit", "not complete"),
    "gp-prior-xmax-inf": (["gp", "prior", "--xmax", "inf"], None, 2, "--xmax", "gp-prior",
                          "not complete"),
    "translate-lr-nan": (["nlp", "translate", "train", "--lr", "nan"], None, 2, "--lr",
                         "nlp-translate-train", "none"),
    "translate-num-steps-1": (["nlp", "translate", "train", "--num-steps", "1"], None, 2,
                              "--num-steps", "nlp-translate-train", "none"),
    "translate-fra-eng-missing": (
        ["nlp", "translate", "train", "--dataset", "fra-eng", "--data-dir", "/nonexistent/dllab"],
        None, 2, "--download", "nlp-translate-train", "none"),
    "sentiment-lr-nan": (["nlp", "sentiment", "train", "--lr", "nan"], None, 2, "--lr",
                         "nlp-sentiment-train", "none"),
    "sentiment-glove-missing": (
        ["nlp", "sentiment", "train", "--glove", "/nonexistent/glove.txt"], None, 2, "--glove",
        "nlp-sentiment-train", "none"),
    "sentiment-imdb-missing": (
        ["nlp", "sentiment", "train", "--dataset", "imdb", "--data-dir", "/nonexistent/dllab"],
        None, 2, "--download", "nlp-sentiment-train", "none"),
    "sentiment-from-pretrained-missing": (
        ["nlp", "sentiment", "train", "--model", "bert", "--from-pretrained", "/nonexistent/run"],
        None, 2, "--from-pretrained", "nlp-sentiment-train", "none"),
    "bert-pretrain-lr-inf": (["nlp", "bert", "pretrain", "--lr", "inf"], None, 2, "--lr",
                             "nlp-bert-pretrain", "none"),
    "bert-pretrain-wikitext2-missing": (
        ["nlp", "bert", "pretrain", "--corpus", "wikitext2", "--data-dir", "/nonexistent/dllab"],
        None, 2, "--download", "nlp-bert-pretrain", "none"),
    "mlp-lr-1e8-diverges": (
        ["core", "mlp", "--epochs", "4", "--samples", "800", "--batch-size", "32", "--lr", "1e8"],
        None, 1, "lower the learning rate", "core-mlp", "not complete"),
}  # fmt: skip

SKIPS = {
    "runs-dir-read-only": (
        hasattr(os, "geteuid") and os.geteuid() == 0,
        "root writes through a read-only mode bit; runs-dir-under-a-file covers the case",
    ),
}
XFAILS: dict[str, str] = {}  # case id -> reason, for a case another package has yet to fix


def _params():
    for case_id, case in CASES.items():
        marks = []
        if case_id in SKIPS and SKIPS[case_id][0]:
            marks.append(pytest.mark.skip(reason=SKIPS[case_id][1]))
        if case_id in XFAILS:
            marks.append(pytest.mark.xfail(strict=True, reason=XFAILS[case_id]))
        yield pytest.param(*case, id=case_id, marks=marks)


@pytest.mark.parametrize(("args", "make_runs_dir", "code", "text", "name", "state"), _params())
def test_bad_input_gives_one_line_and_no_finished_run(
    tmp_path, args, make_runs_dir, code, text, name, state
):
    if "gpu" in args and _cuda_available():
        pytest.skip("this machine has a GPU")
    if make_runs_dir == "under-file":
        runs_dir = Path(_a_file(tmp_path)) / "runs"
    elif make_runs_dir is not None:
        runs_dir = Path(make_runs_dir(tmp_path))
    else:
        runs_dir = tmp_path / "runs"
    args = [_csv_with_huge_x(tmp_path) if a == "HUGE_CSV" else a for a in args]
    result = runner.invoke(app, [*args, "--runs-dir", str(runs_dir)])
    output = result.output
    assert result.exit_code == code, output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.lower().startswith("error")]
    assert len(errors) == 1, output
    assert text in errors[0], output
    folders = list(runs_dir.glob(f"{name}/version_*")) if runs_dir.is_dir() else []
    if state == "none":
        assert folders == [], folders
    assert all(run_status(f) != "complete" for f in folders), folders
