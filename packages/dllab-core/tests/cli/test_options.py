"""``apply_quick``: the ``--quick`` settings replace the options the user did not give, in
quick mode only."""

from __future__ import annotations

import pytest

from dllab.core.cli.options import apply_quick

QUICK = {"epochs": 2, "samples": 100}


@pytest.mark.parametrize(
    ("flag", "env", "expected"), [(False, None, False), (True, None, True), (False, "1", True)]
)
def test_apply_quick_follows_the_flag_and_the_environment(monkeypatch, flag, env, expected):
    if env is None:
        monkeypatch.delenv("DLLAB_QUICK", raising=False)
    else:
        monkeypatch.setenv("DLLAB_QUICK", env)
    options = {"epochs": 10, "samples": 5000, "lr": 0.1, "quick": flag}
    assert apply_quick(options, QUICK) is expected
    assert options["quick"] is expected
    assert options["lr"] == 0.1  # untouched either way
    assert (options["epochs"], options["samples"]) == ((2, 100) if expected else (10, 5000))


def test_an_option_given_on_the_command_line_wins_over_quick(monkeypatch):
    import typer
    from typer.testing import CliRunner

    monkeypatch.delenv("DLLAB_QUICK", raising=False)
    seen = {}
    app = typer.Typer()

    @app.command()
    def train(epochs: int = 10, samples: int = 5000, quick: bool = False) -> None:
        options = {"epochs": epochs, "samples": samples, "quick": quick}
        apply_quick(options, QUICK)
        seen.update(options)

    runner = CliRunner()
    assert runner.invoke(app, ["--quick", "--epochs", "7"]).exit_code == 0
    assert seen == {"epochs": 7, "samples": 100, "quick": True}  # given: kept; else: quick
    monkeypatch.setenv("DLLAB_QUICK", "1")
    assert runner.invoke(app, ["--samples", "300"]).exit_code == 0
    assert seen == {"epochs": 2, "samples": 300, "quick": True}
