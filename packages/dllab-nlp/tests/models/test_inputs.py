"""Every text network refuses malformed batches with an error that names the problem."""

from __future__ import annotations

import pytest
import torch

from dllab.nlp.models import BERTClassifier, BERTConfig, BiRNN, TextCNN

V = 30


def _networks():
    return {
        "textcnn": TextCNN(V, embed_size=8, num_channels=4),
        "birnn": BiRNN(V, embed_size=8, num_hiddens=4, num_layers=1),
        "bert": BERTClassifier(BERTConfig(V, d_model=8, ffn_hidden=16, num_layers=1, max_len=12)),
    }


IDS = torch.tensor([[4, 9, 10, 5, 0], [4, 11, 5, 0, 0]])
LENS = torch.tensor([4, 3])

BAD = [
    ("float ids", IDS.float(), LENS, ValueError, "integer tensor"),
    ("bool ids", IDS > 0, LENS, ValueError, "integer tensor"),
    ("a list", IDS.tolist(), LENS, TypeError, "torch.Tensor"),
    ("1-D ids", IDS[0], LENS[:1], ValueError, r"shape \(B, T\)"),
    (
        "id too large",
        IDS.clamp(max=V - 1) + torch.tensor([[0, 0, V - 9, 0, 0], [0] * 5]),
        LENS,
        ValueError,
        rf"\[0, {V - 1}\].*another tokenizer",
    ),
    ("negative id", IDS - 5, LENS, ValueError, r"token ids must lie"),
    ("zero length", IDS, torch.tensor([4, 0]), ValueError, r"valid_lens must lie in \[1, 5\]"),
    ("length > T", IDS, torch.tensor([6, 3]), ValueError, r"valid_lens must lie in \[1, 5\]"),
    ("float lengths", IDS, LENS.float(), ValueError, "valid_lens must be an integer"),
    ("one length", IDS, LENS[:1], ValueError, r"valid_lens must have shape \(B,\)"),
]


@pytest.mark.parametrize("name", ["textcnn", "birnn", "bert"])
@pytest.mark.parametrize(("case", "ids", "lens", "error", "match"), BAD, ids=[b[0] for b in BAD])
def test_networks_refuse_malformed_batches(name, case, ids, lens, error, match):
    network = _networks()[name]
    with pytest.raises(error, match=match):
        network(ids, lens)


@pytest.mark.parametrize("name", ["textcnn", "birnn", "bert"])
def test_a_well_formed_batch_gives_one_row_of_logits_per_text(name):
    logits = _networks()[name](IDS, LENS)
    assert logits.shape == (2, 2) and torch.isfinite(logits).all()


def test_bert_refuses_texts_longer_than_its_positions_and_bad_segments():
    bert = _networks()["bert"]
    long_ids = torch.full((1, 13), 7)
    with pytest.raises(ValueError, match="more than the model's max_len 12"):
        bert(long_ids, torch.tensor([13]))
    with pytest.raises(ValueError, match="segments must be 0"):
        bert.encoder(IDS, torch.full_like(IDS, 2), LENS)
    with pytest.raises(ValueError, match="segments must have the ids' shape"):
        bert.encoder(IDS, IDS[:, :3], LENS)


@pytest.mark.parametrize("name", ["textcnn", "birnn"])
def test_pretrained_embeddings_must_match_the_vocabulary(name):
    network = TextCNN if name == "textcnn" else BiRNN
    with pytest.raises(ValueError, match=r"embeddings must have shape \(vocab_size, embed_size\)"):
        network(V, embed_size=8, embeddings=torch.zeros(V + 1, 8))
    with pytest.raises(ValueError, match="floating-point"):
        network(V, embed_size=8, embeddings=torch.zeros(V, 8, dtype=torch.long))
