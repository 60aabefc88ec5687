"""A run killed with SIGKILL and resumed ends with the same weights as an uninterrupted one."""

from __future__ import annotations

import os
import runpy
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import lightning as L
    import torch
    from torch import nn
    from dllab.core import Classifier, Trainer
    from dllab.core.data.glyphs import GlyphsData

    runs, epochs, kill_at, resume, out = sys.argv[1:6]

    class Net(Classifier):
        def __init__(self):
            super().__init__(num_classes=10, lr=0.2)
            self.net = nn.Sequential(
                nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 10)
            )

    class KillAt(L.Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            if trainer.global_step == int(kill_at):
                os.kill(os.getpid(), signal.SIGKILL)

    torch.manual_seed(0)
    model = Net()
    trainer = Trainer(max_epochs=int(epochs), runs_dir=runs, name="kill", progress_bar=False,
                      accelerator="cpu", curves=False, callbacks=[KillAt()])
    trainer.fit(model, GlyphsData(n=400, batch_size=32), ckpt_path="last" if resume == "1" else None)
    torch.save(model.state_dict(), out)
    """
)


def _run(tmp_path, runs: str, kill_at: int, resume: bool, out: str) -> subprocess.CompletedProcess:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    args = [sys.executable, str(script), str(tmp_path / runs), "4", str(kill_at), str(int(resume))]
    return subprocess.run([*args, str(tmp_path / out)], capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_sigkill_then_resume_gives_identical_weights(tmp_path):
    # 10 batches per epoch: step 25 is in the middle of the third epoch (index 2).
    killed = _run(tmp_path, "a", kill_at=25, resume=False, out="never.pt")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not (tmp_path / "never.pt").exists()
    assert (tmp_path / "a" / "kill" / "version_0" / "checkpoints" / "last.ckpt").exists()

    resumed = _run(tmp_path, "a", kill_at=-1, resume=True, out="resumed.pt")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    # the uninterrupted reference runs in this process (same code, same thread count)
    args = [str(tmp_path / "b"), "4", "-1", "0", str(tmp_path / "full.pt")]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", ["train.py", *args])
        runpy.run_path(str(tmp_path / "train.py"), run_name="__main__")

    got = torch.load(tmp_path / "resumed.pt", weights_only=True)
    expected = torch.load(tmp_path / "full.pt", weights_only=True)
    assert got.keys() == expected.keys()
    for key in expected:
        assert torch.equal(got[key], expected[key]), key
    assert sorted(os.listdir(tmp_path / "a" / "kill")) == ["version_0", "version_1"]


KILLED_WHILE_SAVING = textwrap.dedent(
    """
    import os, signal, sys
    from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
    from dllab.core.testing import BoringDataModule, BoringModel, quick_trainer

    remove = TorchCheckpointIO.remove_checkpoint
    def remove_then_die(self, path):
        remove(self, path)  # the old checkpoint is gone; nothing after this line runs
        os.kill(os.getpid(), signal.SIGKILL)
    TorchCheckpointIO.remove_checkpoint = remove_then_die

    trainer = quick_trainer(sys.argv[1], max_epochs=4, curves=False)
    trainer.fit(BoringModel(lr=0.02), BoringDataModule(n=96))
    """
)


@pytest.mark.slow
def test_a_kill_while_a_checkpoint_is_replaced_resumes_the_right_file_of_the_right_run(tmp_path):
    from dllab.core.testing import BoringDataModule, BoringModel, quick_trainer

    older = quick_trainer(tmp_path, max_epochs=1, curves=False)
    older.fit(BoringModel(lr=0.05), BoringDataModule(n=96))  # version_0, other hparams
    script = tmp_path / "killed.py"
    script.write_text(KILLED_WHILE_SAVING)
    run = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=600
    )
    assert run.returncode == -signal.SIGKILL, run.stderr[-2000:]
    folder = tmp_path / "runs" / "test" / "version_1" / "checkpoints"
    # killed at the first removal: epoch 0's file, once epoch 1's was written
    assert (folder / "last.ckpt").resolve() == folder / "epoch=1-step=6.ckpt"

    resumed = quick_trainer(tmp_path, max_epochs=4, curves=False)
    model = BoringModel(lr=0.02)
    resumed.fit(model, BoringDataModule(n=96), ckpt_path="last")
    assert resumed.resumed_from == folder / "epoch=1-step=6.ckpt"
    assert resumed.global_step == 4 * 3 and model.hparams.lr == 0.02
    assert resumed.run_dir.name == "version_2"
