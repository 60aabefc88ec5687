"""TextCNN: max-over-time pooling of several kernel widths, blind to padding."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from dllab.core.testing import assert_close_to_reference
from dllab.nlp.models import TextCNN


def _textcnn(**kwargs) -> TextCNN:
    torch.manual_seed(0)
    return TextCNN(50, embed_size=8, kernel_sizes=(2, 3, 5), num_channels=(3, 4, 5), **kwargs)


def test_logits_are_max_over_time_of_each_width_then_the_linear_layer():
    model = _textcnn().eval()
    ids = torch.randint(7, 50, (3, 9))
    lens = torch.full((3,), 9)
    e = model.embedding(ids).transpose(1, 2)  # (B, E, T)
    pooled = [F.relu(F.conv1d(e, c.weight, c.bias)).max(dim=2).values for c in model.convs]
    expected = model.decoder(torch.cat(pooled, dim=1))
    assert_close_to_reference(model(ids, lens), expected, atol=1e-6, name="TextCNN logits")
    assert [c.kernel_size[0] for c in model.convs] == [2, 3, 5]
    assert model.decoder.in_features == 3 + 4 + 5


def test_padding_ids_and_extra_padding_leave_the_logits_unchanged():
    model = _textcnn().eval()
    ids = torch.randint(7, 50, (4, 10))
    lens = torch.tensor([10, 6, 2, 1])  # shorter than the widest kernel too
    ids = ids.masked_fill(torch.arange(10) >= lens.unsqueeze(1), 0)
    base = model(ids, lens)
    other_pads = ids.masked_fill(torch.arange(10) >= lens.unsqueeze(1), 13)  # junk, not <pad>
    longer = F.pad(ids, (0, 7))  # 7 more pad positions
    assert_close_to_reference(model(other_pads, lens), base, atol=1e-6, name="junk padding")
    assert_close_to_reference(model(longer, lens), base, atol=1e-6, name="longer padding")


def test_dropout_acts_in_training_only():
    model = _textcnn(dropout=0.5)
    ids, lens = torch.randint(7, 50, (8, 9)), torch.full((8,), 9)
    model.train()
    assert not torch.equal(model(ids, lens), model(ids, lens))
    model.eval()
    assert torch.equal(model(ids, lens), model(ids, lens))


def test_frozen_pretrained_embeddings_stay_put_and_trainable_ones_move():
    vectors = torch.randn(50, 8)
    for freeze in (True, False):
        model = _textcnn(embeddings=vectors, freeze_embeddings=freeze)
        assert torch.equal(model.embedding.weight, vectors)
        optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1.0)
        ids, lens = torch.randint(7, 50, (4, 9)), torch.full((4,), 9)
        F.cross_entropy(model(ids, lens), torch.tensor([0, 1, 0, 1])).backward()
        optimizer.step()
        assert torch.equal(model.embedding.weight, vectors) == freeze
