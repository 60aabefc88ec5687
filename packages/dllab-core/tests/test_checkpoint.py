"""Checkpoint files: digests, damage detection, and checkpoints that are not what they claim."""

from __future__ import annotations

import os
import subprocess

import pytest
import torch
from torch import nn

from dllab.core import CheckpointError, Module, load_checkpoint
from dllab.core.checkpoint import (
    RESUME_KEYS,
    checkpoints_newest_first,
    digest_path,
    verify_digest,
    write_digest,
)
from dllab.core.testing import BoringDataModule, BoringModel, quick_trainer


class Wide(Module):
    """A regression model with a weight big enough to damage in the middle."""

    def __init__(self, hidden: int = 64, lr: float = 0.05) -> None:
        super().__init__(lr=lr)
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(8, hidden), nn.ReLU(), nn.Linear(hidden, 1))


def _train(tmp_path, model=None, epochs=2, **kwargs):
    trainer = quick_trainer(tmp_path, max_epochs=epochs, curves=False, **kwargs)
    trainer.fit(model or Wide(), BoringDataModule(n=96))
    return trainer


def _flip_inside_weight(path, weight: torch.Tensor, count: int = 64) -> None:
    """Flip ``count`` bytes in the middle of ``weight``'s stored bytes (the zip stays valid)."""
    raw = bytearray(path.read_bytes())
    stored = weight.detach().contiguous().numpy().tobytes()
    at = raw.find(stored)
    assert at > 0, "weight bytes not found in the checkpoint"
    middle = at + len(stored) // 2 - count // 2
    raw[middle : middle + count] = bytes(b ^ 0xFF for b in raw[middle : middle + count])
    path.write_bytes(bytes(raw))


# ---- digests -------------------------------------------------------------------------------
def test_every_checkpoint_has_a_sha256sum_digest_and_last_is_an_atomic_link(tmp_path):
    trainer = _train(tmp_path)
    folder = trainer.run_dir / "checkpoints"
    last = folder / "last.ckpt"
    assert last.is_symlink()
    target = folder / os.readlink(last)
    assert target.is_file() and target.name.startswith("epoch=1-step=")
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(["last.ckpt", target.name, target.name + ".sha256"])  # old one gone
    assert digest_path(last) == folder / (target.name + ".sha256")
    check = subprocess.run(
        ["sha256sum", "-c", target.name + ".sha256"], cwd=folder, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    state = load_checkpoint(last, required=RESUME_KEYS)
    assert state["dllab_model"] == {"module": Wide.__module__, "qualname": "Wide"}


def test_changed_bytes_are_detected_and_the_previous_checkpoint_is_offered(tmp_path):
    older, newer = tmp_path / "epoch=0-step=3.ckpt", tmp_path / "epoch=1-step=6.ckpt"
    weight = torch.arange(256, dtype=torch.float32)
    for path in (older, newer):
        torch.save({"state_dict": {"w": weight}}, path)
        write_digest(path)
    assert verify_digest(newer) is True
    _flip_inside_weight(newer, weight)
    assert torch.load(newer, weights_only=True)["state_dict"]["w"].shape == (256,)  # loads!
    with pytest.raises(CheckpointError, match=r"does not match its digest") as info:
        load_checkpoint(newer)
    assert str(newer) in str(info.value) and str(older) in str(info.value)


def test_a_checkpoint_without_a_digest_loads_with_a_warning_when_asked(tmp_path):
    path = tmp_path / "old.ckpt"
    torch.save({"state_dict": {}}, path)
    assert verify_digest(path) is False
    with pytest.warns(UserWarning, match="no digest"):
        load_checkpoint(path, warn_if_unverified=True)


def test_checkpoints_are_listed_newest_first_with_dangling_links(tmp_path):
    for name in ["epoch=0-step=8.ckpt", "epoch=2-step=24.ckpt", "epoch=1-step=16.ckpt"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "last.ckpt").symlink_to("epoch=3-step=32.ckpt")  # removed: dangling
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    names = [p.name for p in checkpoints_newest_first(tmp_path)]
    assert names == ["last.ckpt", "epoch=2-step=24.ckpt", "epoch=1-step=16.ckpt", names[-1]]
    assert names[-1] == "epoch=0-step=8.ckpt"


# ---- what a checkpoint holds ---------------------------------------------------------------
class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def _forged(tmp_path, kind: str):
    path = tmp_path / f"{kind}.ckpt"
    good = torch.load(_train(tmp_path / "good", epochs=1).checkpoint_callback.last_model_path)
    payload = {
        "evil": {**good, "extra": Evil()},
        "list": [1, 2, 3],
        "missing": {"state_dict": good["state_dict"], "epoch": 0},
    }[kind]
    torch.save(payload, path)
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("evil", r"refused by the safe loader: .*posix\.system"),
        ("list", r"holds a list, not a dict"),
        ("missing", r"lacks 'global_step', 'optimizer_states', 'loops'"),
    ],
)
def test_a_forged_checkpoint_gives_a_clear_error_and_no_folder(tmp_path, kind, message):
    path = _forged(tmp_path, kind)
    trainer = quick_trainer(tmp_path / "new", max_epochs=2)
    assert trainer.run_dir.is_dir()  # claimed before fit, as a command that writes hparams does
    with pytest.raises(CheckpointError, match=message) as info:
        trainer.fit(Wide(), BoringDataModule(n=96), ckpt_path=path)
    assert "weights_only=False" not in str(info.value) and str(path) in str(info.value)
    if kind == "evil":  # torch's advice to load unsafely is not chained into the traceback
        assert info.value.__cause__ is None and info.value.__suppress_context__
    assert not (tmp_path / "pwned.txt").exists()
    assert not (tmp_path / "new" / "runs").exists()  # nor the parents its claim created


def test_a_checkpoint_of_another_architecture_names_the_mismatched_keys(tmp_path):
    path = _train(tmp_path / "a", epochs=1).checkpoint_callback.last_model_path
    trainer = quick_trainer(tmp_path / "b", max_epochs=2)
    with pytest.raises(CheckpointError, match=r"net\.0\.weight: checkpoint \(64, 8\), model"):
        trainer.fit(Wide(hidden=16), BoringDataModule(n=96), ckpt_path=path)
    mismatch = r"missing keys \[net\.bias, net\.weight\]; unexpected keys \[net\.0\.bias"
    with pytest.raises(CheckpointError, match=mismatch):
        trainer.fit(BoringModel(), BoringDataModule(n=96), ckpt_path=path)
    runs = tmp_path / "b" / "runs" / "test"
    assert not runs.exists() or not any(runs.iterdir())  # no empty version_N left


def test_a_damaged_last_checkpoint_is_not_resumed(tmp_path):
    trainer = _train(tmp_path)
    last = trainer.run_dir / "checkpoints" / "last.ckpt"
    model = torch.load(last, weights_only=True)["state_dict"]["net.0.weight"]
    _flip_inside_weight(last, model)
    resumed = quick_trainer(tmp_path, max_epochs=3, curves=False)
    with pytest.raises(CheckpointError, match=r"does not match its digest") as info:
        resumed.fit(Wide(), BoringDataModule(n=96), ckpt_path="last")
    assert str(last) in str(info.value)
    assert sorted(p.name for p in (tmp_path / "runs" / "test").iterdir()) == ["version_0"]
