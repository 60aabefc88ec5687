"""BiRNN: a bidirectional LSTM over packed sequences, so padding never reaches the state."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from dllab.core.testing import assert_close_to_reference
from dllab.nlp.models import BiRNN


def _birnn(**kwargs) -> BiRNN:
    torch.manual_seed(0)
    return BiRNN(40, embed_size=6, num_hiddens=5, num_layers=2, **kwargs).eval()


def test_padding_ids_and_extra_padding_leave_the_logits_unchanged():
    model = _birnn()
    lens = torch.tensor([8, 5, 1])
    ids = torch.randint(7, 40, (3, 8)).masked_fill(torch.arange(8) >= lens.unsqueeze(1), 0)
    base = model(ids, lens)
    junk = ids.masked_fill(torch.arange(8) >= lens.unsqueeze(1), 21)
    assert_close_to_reference(model(junk, lens), base, atol=1e-6, name="junk padding")
    assert_close_to_reference(model(F.pad(ids, (0, 9)), lens), base, atol=1e-6, name="padding")


def test_each_text_is_encoded_as_if_it_were_alone_and_unpadded():
    """The packed batch equals the LSTM run on each text by itself (the reference path)."""
    model = _birnn()
    lens = torch.tensor([7, 3])
    ids = torch.randint(7, 40, (2, 7))
    batch = model(ids, lens)
    for row, n in enumerate(lens.tolist()):
        outputs, _ = model.encoder(model.embedding(ids[row : row + 1, :n]))  # (1, n, 2H)
        ends = torch.cat([outputs[:, 0], outputs[:, -1]], dim=1)  # (1, 4H)
        assert_close_to_reference(batch[row], model.decoder(ends)[0], atol=1e-6, name=f"row {row}")


def test_the_lstm_is_bidirectional_and_its_encoding_has_both_ends():
    model = _birnn()
    assert model.encoder.bidirectional and model.encoder.num_layers == 2
    assert model.decoder.in_features == 4 * 5
    ids = torch.randint(7, 40, (1, 6))
    flipped_last = ids.clone()
    flipped_last[0, -1] = 7 if ids[0, -1] != 7 else 8
    # the forward direction ends at the last token: changing it changes the logits
    assert not torch.allclose(model(ids, torch.tensor([6])), model(flipped_last, torch.tensor([6])))
