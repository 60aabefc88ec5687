"""``load_run``: a trained model back from its run folder, and refusals that say why."""

from __future__ import annotations

import os

import pytest
import torch

from dllab.core import CheckpointError, load_run
from dllab.core.checkpoint import write_digest
from dllab.core.data.glyphs import GlyphsData
from dllab.core.fundamentals.models import MLP
from dllab.core.runs import run_folder
from dllab.core.testing import quick_trainer


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small glyph MLP trained for two epochs, and its run folder."""
    tmp_path = tmp_path_factory.mktemp("mlp")
    torch.manual_seed(0)
    model = MLP(num_hiddens=(32,), dropout=0.2, lr=0.2)
    data = GlyphsData(n=400, batch_size=50)
    trainer = quick_trainer(tmp_path, max_epochs=2, curves=False, name="core-mlp")
    trainer.fit(model, data)
    data.setup()
    return model.eval(), trainer.run_dir, data.val_tensors[0]


def test_load_run_rebuilds_class_hyperparameters_and_weights(trained):
    model, run_dir, X = trained
    loaded = load_run(run_dir)
    assert type(loaded) is MLP and not loaded.training
    assert list(loaded.hparams["num_hiddens"]) == [32] and loaded.hparams["dropout"] == 0.2
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert torch.equal(loaded(X), model(X))  # identical predictions, not merely close
    assert torch.equal(loaded.predict(X), model.predict(X))
    file = run_dir / "checkpoints" / "last.ckpt"
    assert torch.equal(load_run(file)(X), model(X))


def test_a_run_folder_without_checkpoints_is_refused(tmp_path):
    with run_folder(tmp_path, "gp-fit", {"kernel": "rbf"}) as run:
        run.write_summary({"rmse": 0.1})
    with pytest.raises(CheckpointError, match=r"no checkpoints/ folder.*do not train"):
        load_run(run.dir)
    with pytest.raises(FileNotFoundError, match="no run folder"):
        load_run(tmp_path / "missing")


def _copy_run(run_dir, tmp_path):
    import shutil

    target = tmp_path / "copy"
    shutil.copytree(run_dir, target, symlinks=True)
    last = target / "checkpoints" / "last.ckpt"
    return target, target / "checkpoints" / os.readlink(last)


def test_a_damaged_checkpoint_is_refused(trained, tmp_path):
    run, file = _copy_run(trained[1], tmp_path)
    raw = bytearray(file.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 64] = bytes(64)
    file.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=f"link to {file.name}.*does not match its digest"):
        load_run(run)


@pytest.mark.parametrize(
    "record",
    [
        {"module": "os", "qualname": "system"},
        {"module": "subprocess", "qualname": "Popen"},
        {"module": "dllab.core.runs", "qualname": "shutil.rmtree"},  # reached through dllab
        {"module": "dllab.core.fundamentals.models", "qualname": "Module"},  # re-exported
        {"module": "dllab.evil", "qualname": "Model"},  # no dllab-evil distribution
        {"module": "test_load", "qualname": "Local.<locals>.Net"},
        "os.system",
    ],
)
def test_a_forged_class_path_is_refused(trained, tmp_path, record):
    run, file = _copy_run(trained[1], tmp_path)
    checkpoint = torch.load(file, weights_only=True)
    checkpoint["dllab_model"] = record
    torch.save(checkpoint, file)
    write_digest(file)  # a consistent forgery: only the class check stands in the way
    with pytest.raises(CheckpointError, match=r"not in a dllab package|not installed|not a model"):
        load_run(run)
