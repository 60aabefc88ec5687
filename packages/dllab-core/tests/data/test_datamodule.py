"""Data root policy, batched loaders and the epoch-seeded sampler."""

from __future__ import annotations

import pytest
import torch

from dllab.core.data.datamodule import (
    DataModule,
    EpochBatchSampler,
    TensorBatches,
    TensorDataModule,
    batched_loader,
    data_root,
)


def test_data_root_prefers_argument_then_env_then_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DLLAB_DATA_DIR", str(tmp_path / "env"))
    assert data_root(tmp_path / "arg") == tmp_path / "arg"
    assert data_root() == tmp_path / "env"
    assert DataModule().root == tmp_path / "env"
    monkeypatch.delenv("DLLAB_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data_root() == tmp_path / ".cache" / "dllab"


def test_batched_loader_yields_every_sample_once_per_epoch():
    X = torch.arange(103).float().unsqueeze(1)
    loader = batched_loader(X, X.long().squeeze(1), batch_size=10, shuffle=True, seed=3)
    batches = list(loader)
    assert len(batches) == len(loader) == 11
    seen = torch.cat([y for _, y in batches])
    assert torch.equal(seen.sort().values, torch.arange(103))
    assert all(torch.equal(x.squeeze(1).long(), y) for x, y in batches)  # rows stay paired


def test_epoch_order_depends_only_on_seed_and_epoch():
    a, b = EpochBatchSampler(50, 8, True, seed=1), EpochBatchSampler(50, 8, True, seed=1)
    first = [t.tolist() for t in a]
    a.set_epoch(1)
    second = [t.tolist() for t in a]
    b.set_epoch(1)
    assert second == [t.tolist() for t in b]
    assert first != second
    unshuffled = EpochBatchSampler(5, 2, False, drop_last=True)
    assert [t.tolist() for t in unshuffled] == [[0, 1], [2, 3]] and len(unshuffled) == 2


def test_split_is_seeded_and_disjoint():
    X, y = torch.randn(100, 3), torch.arange(100)
    data = TensorDataModule((X, y), batch_size=16, val_fraction=0.25, seed=7)
    data.setup()
    train_y, val_y = data.train_tensors[1], data.val_tensors[1]
    assert len(train_y) == 75 and len(val_y) == 25
    assert not set(train_y.tolist()) & set(val_y.tolist())
    again = TensorDataModule((X, y), val_fraction=0.25, seed=7)
    again.setup()
    assert torch.equal(again.val_tensors[1], val_y)


def test_without_a_validation_split_training_reads_the_tensors_without_a_copy():
    X, y = torch.randn(50, 3), torch.arange(50)
    data = TensorDataModule((X, y), batch_size=16, val_fraction=0.0)
    data.setup()
    assert data.train_tensors[0] is X and data.train_tensors[1] is y
    assert data.val_tensors is None and data.val_dataloader() == []
    seen = torch.cat([batch_y for _, batch_y in data.train_dataloader()])
    assert sorted(seen.tolist()) == list(range(50)) and seen.tolist() != list(range(50))


@pytest.mark.parametrize("val_fraction", [0.0, 0.2])
def test_tensors_of_different_lengths_are_refused_before_any_split(val_fraction):
    data = TensorDataModule((torch.randn(10, 3), torch.arange(12)), val_fraction=val_fraction)
    with pytest.raises(ValueError, match=r"same length, got \[10, 12\]"):
        data.setup()
    assert data.train_tensors is None and data.val_tensors is None


def test_any_number_of_tensors_split_and_batch_together():
    ids, lens, y = torch.arange(40).view(20, 2), torch.arange(20), torch.arange(20) % 2
    data = TensorDataModule((ids, lens, y), batch_size=4, val_fraction=0.25, seed=1)
    batch_ids, batch_lens, batch_y = next(iter(data.train_dataloader()))
    assert torch.equal(batch_ids[:, 0], 2 * batch_lens) and torch.equal(batch_y, batch_lens % 2)
    assert len(data.val_tensors) == 3 and len(data.val_tensors[2]) == 5


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: TensorBatches(torch.zeros(0, 2), torch.zeros(0)), "empty"),
        (lambda: TensorBatches(torch.zeros(3, 2), torch.zeros(4)), "same length"),
        (lambda: TensorBatches(), "at least one"),
        (lambda: DataModule(batch_size=0), "batch_size"),
        (lambda: TensorDataModule(val_fraction=1.0), "val_fraction"),
        (lambda: EpochBatchSampler(0, 4, True), "empty"),
    ],
)
def test_bad_input(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_empty_dataset_is_refused_at_setup():
    data = TensorDataModule((torch.zeros(0, 2), torch.zeros(0)))
    with pytest.raises(ValueError, match="empty"):
        data.setup()


@pytest.mark.parametrize(("n", "world"), [(5, 2), (3, 2), (1, 4), (8, 4), (9, 3)])
def test_every_rank_gets_the_same_number_of_batches(monkeypatch, n, world):
    from dllab.core.data.datamodule import EpochBatchSampler

    per_rank = []
    seen = set()
    for rank in range(world):
        sampler = EpochBatchSampler(n, batch_size=1, shuffle=True, seed=0)
        monkeypatch.setattr(sampler, "_rank", lambda rank=rank: (rank, world))
        batches = list(sampler)
        assert len(batches) == len(sampler)
        per_rank.append(len(batches))
        seen.update(int(i) for b in batches for i in b)
    # equal counts, or a rank would wait forever in a collective; every sample still served
    assert len(set(per_rank)) == 1 and per_rank[0] == -(-n // world)
    assert seen == set(range(n))
