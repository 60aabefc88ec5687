"""``TrainingCommand`` / ``fit_and_report`` on a tiny model: what a command can pass, what a
run records, how a failed run ends, and what a rank other than 0 leaves alone."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import pytest
import typer
import yaml
from lightning.pytorch.callbacks import Callback

from dllab.core.callbacks import DivergenceError, NonFiniteLossError
from dllab.core.checkpoint import CheckpointError
from dllab.core.cli.training import TrainingCommand, fit_and_report
from dllab.core.runs import run_status
from dllab.core.testing import BoringDataModule, BoringModel

OPTIONS = {"lr": 0.05, "batch_size": 32, "epochs": 1}


class BoringWithTest(BoringDataModule):
    def test_dataloader(self):
        return self.val_dataloader()


def _fit(tmp_path: Path, model=None, data=None, **kwargs):
    settings = {
        "run_name": "test-run",
        "options": OPTIONS,
        "epochs": 1,
        "seed": 0,
        "runs_dir": tmp_path,
        "accelerator": "cpu",
        "progress_bar": False,
    }
    settings.update(kwargs)
    return fit_and_report(model or BoringModel(), data or BoringDataModule(), **settings)


class Recorder(Callback):
    def on_fit_end(self, trainer, pl_module):
        self.seen = {
            "precision": trainer.precision,
            "gradient_clip_val": trainer.gradient_clip_val,
            "num_nodes": trainer.num_nodes,
            "strategy": type(trainer.strategy).__name__,
        }


def test_any_trainer_argument_passes_through_and_is_recorded(tmp_path):
    recorder = Recorder()
    kwargs = {
        "precision": "bf16-mixed",
        "gradient_clip_val": 0.5,
        "strategy": "auto",
        "num_nodes": 1,
        "callbacks": [recorder],
    }
    summary = _fit(tmp_path, trainer_kwargs=kwargs)
    assert recorder.seen == {
        "precision": "bf16-mixed",
        "gradient_clip_val": 0.5,
        "num_nodes": 1,
        "strategy": "SingleDeviceStrategy",
    }
    run = Path(summary["run_dir"])
    ran = yaml.safe_load((run / "hparams.yaml").read_text())["trainer"]
    assert ran["precision"] == "bf16-mixed" and ran["gradient_clip_val"] == 0.5
    assert ran["accelerator"] == "cpu" and ran["devices"] == 1
    assert run_status(run) == "complete"


def test_a_bad_trainer_argument_is_bad_input(tmp_path):
    with pytest.raises(typer.BadParameter, match="bf17"):
        _fit(tmp_path, trainer_kwargs={"precision": "bf17"})
    assert not list(tmp_path.glob("test-run/version_*"))


def _writer(words: list[str]):
    def write(path: Path) -> None:
        path.write_text(json.dumps(words))

    return write


def test_artifacts_are_written_first_and_carried_over_on_resume(tmp_path):
    first = _fit(tmp_path, artifacts={"vocab.json": _writer(["a", "b"])})
    assert json.loads((Path(first["run_dir"]) / "vocab.json").read_text()) == ["a", "b"]
    settings = {"epochs": 2, "seed": 0, "runs_dir": tmp_path, "accelerator": "cpu"}
    with TrainingCommand("test-run", OPTIONS, resume=True, progress_bar=False, **settings) as run:
        assert run.resumed_from == Path(first["run_dir"])
        assert json.loads(run.resumed_file("vocab.json").read_text()) == ["a", "b"]
        second = run.fit(BoringModel(), BoringDataModule(), artifacts={"vocab.json": _writer([])})
    assert json.loads((Path(second["run_dir"]) / "vocab.json").read_text()) == ["a", "b"]
    assert second["epochs"] == 2 and second["resumed_from"].startswith(first["run_dir"])
    with pytest.raises(typer.BadParameter, match=r"has no tokenizer\.json"):
        _fit(tmp_path, epochs=3, resume=True, artifacts={"tokenizer.json": _writer([])})
    assert [run_status(p) for p in sorted(tmp_path.glob("test-run/version_*"))] == [
        "complete",
        "complete",
    ]


def test_after_fit_and_test_metrics_go_into_the_summary(tmp_path):
    calls = []

    def after_fit(trainer, model, data, run_dir):
        from dllab.core.plotting import new_figure, save_figure

        calls.append(run_dir)
        if trainer.is_global_zero:
            fig, ax = new_figure()
            ax.plot([0, 1], [1, 0])
            save_figure(fig, run_dir / "residuals.png")
        return {"figure": "residuals.png", "weight_norm": float(model.net.weight.norm())}

    summary = _fit(tmp_path, data=BoringWithTest(), test=True, after_fit=after_fit)
    run = Path(summary["run_dir"])
    assert calls == [run]
    written = json.loads((run / "summary.json").read_text())
    assert written == summary
    assert written["figure"] == "residuals.png" and (run / "residuals.png").stat().st_size > 1000
    assert written["weight_norm"] > 0 and written["test_loss"] < 10


def test_a_changed_model_hyperparameter_is_refused_on_resume(tmp_path):
    _fit(tmp_path)
    with pytest.raises(typer.BadParameter, match=r"lr was 0\.05, now 0\.5"):
        _fit(tmp_path, model=BoringModel(lr=0.5), epochs=2, resume=True)
    assert [run_status(p) for p in sorted(tmp_path.glob("test-run/version_*"))] == ["complete"]


class StopAt(Callback):
    """Raise ``error`` when the second epoch starts (after the first epoch's checkpoint)."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == 1:
            raise self.error


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (NonFiniteLossError("training loss is nan at epoch 1"), 1),
        (DivergenceError("training diverged at epoch 1"), 1),
        (CheckpointError("checkpoint x is truncated"), 1),
        (KeyboardInterrupt(), 130),
    ],
    ids=["nan", "divergence", "checkpoint", "interrupt"],
)
def test_a_stopped_run_says_why_in_two_lines_and_is_marked_failed(
    tmp_path, capsys, monkeypatch, error, code
):
    import lightning.pytorch.trainer.call as call

    monkeypatch.setattr(call.signal, "signal", lambda *args: None)  # Lightning's Ctrl-C hook
    with pytest.raises(typer.Exit) as stop:
        _fit(tmp_path, epochs=2, trainer_kwargs={"callbacks": [StopAt(error)]})
    assert stop.value.exit_code == code
    err = capsys.readouterr().err.strip().splitlines()
    ours = [line for line in err if line.startswith(("Error:", "run folder"))]
    assert len(ours) == 2, err
    assert ours[0].startswith("Error: ") and (str(error) or "interrupted") in ours[0]
    assert "Traceback" not in "\n".join(err)
    run = tmp_path / "test-run/version_0"
    assert ours[1] == f"run folder marked failed: {run}"
    assert run_status(run) == "failed" and not (run / "summary.json").exists()
    recorded = json.loads((run / "failed.json").read_text())
    assert recorded["error"] == ("interrupted" if code == 130 else type(error).__name__)


def test_a_bug_keeps_its_traceback_and_leaves_no_complete_folder(tmp_path):
    with pytest.raises(ZeroDivisionError):
        _fit(tmp_path, epochs=2, trainer_kwargs={"callbacks": [StopAt(ZeroDivisionError())]})
    assert run_status(tmp_path / "test-run/version_0") == "failed"


def test_only_rank_zero_writes_and_prints(tmp_path, capsys, monkeypatch):
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    monkeypatch.setattr(L.Trainer, "is_global_zero", property(lambda self: False))
    monkeypatch.setattr(L.Trainer, "global_rank", property(lambda self: 1))
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    calls = []

    def after_fit(trainer, model, data, run_dir):
        calls.append(trainer.global_rank)
        return {"extra": 1.0}

    summary = _fit(tmp_path, data=BoringWithTest(), test=True, after_fit=after_fit)
    assert calls == [1]  # extra metrics are computed on every rank
    assert summary["extra"] == 1.0 and "test_loss" in summary and "val_loss" in summary
    out = capsys.readouterr()
    assert out.out == "" and "run folder" not in out.err
    written = {p.name for p in tmp_path.rglob("*") if p.is_file()}
    assert not written & {"summary.json", "hparams.yaml", "metrics.csv", "curves.png"}, written
