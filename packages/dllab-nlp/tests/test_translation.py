"""Translator: core's fast training path, val_bleu equal to core's corpus BLEU of its own greedy
translations, load_run, attention maps, translate(), and a learning test on the numbers."""

from __future__ import annotations

import time

import pytest
import torch

from dllab.core.load import load_run
from dllab.core.metrics import corpus_bleu
from dllab.core.module import Module
from dllab.core.testing import quick_trainer
from dllab.nlp.data.translation import TranslationData
from dllab.nlp.translation import MODELS, QUICK, Translator, translate

SMALL = {
    "seq2seq": {"embed_size": 16, "num_hiddens": 32, "num_layers": 1},
    "bahdanau": {"embed_size": 16, "num_hiddens": 32, "num_layers": 1},
    "transformer": {"d_model": 32, "num_heads": 4, "ffn_hidden": 64, "num_layers": 1},
}


@pytest.fixture(scope="module")
def data():
    numbers = TranslationData("numbers", num_steps=14, batch_size=64, num_pairs=300, seed=0)
    numbers.setup()
    return numbers


def make(name: str, data: TranslationData, **recipe) -> Translator:
    torch.manual_seed(0)
    return Translator(name, data.src_vocab_size, data.tgt_vocab_size, SMALL[name], **recipe)


@pytest.mark.parametrize("name", ["bahdanau", "transformer"])
def test_fit_logs_the_corpus_bleu_of_its_greedy_translations_and_reloads(name, data, tmp_path):
    model = make(name, data, lr=1e-2)
    trainer = quick_trainer(tmp_path, max_epochs=2, curves=False)
    trainer.fit(model, data)
    assert model.supports_direct_step(trainer)  # core's fast path: the recipe, no own step
    metrics = trainer.callback_metrics
    assert {"val_loss", "val_acc", "val_bleu", "train_loss"} <= set(metrics)
    src, lens, _, tgt_out = data.tensors("val")
    hypotheses = data.decode_target(model.decode(src, lens, tgt_out.shape[1]))
    expected = corpus_bleu(hypotheses, [data.decode_target(tgt_out)]).score
    assert float(metrics["val_bleu"]) == pytest.approx(expected, abs=1e-3)
    again = load_run(trainer.run_dir)
    assert isinstance(again, Translator) and again.model_name == name
    assert translate(again, data, ["three apples"]) == translate(model, data, ["three apples"])


def test_without_a_text_decoder_the_ids_are_scored_as_words():
    model = Translator("seq2seq", 10, 10, SMALL["seq2seq"])
    ids = torch.tensor([[7, 8, 2, 9], [1, 9, 9, 0]])
    assert model._texts(ids) == ["7 8", "9 9"]  # stop at <eos>, drop <bos>/<pad>
    model.target_decoder = lambda t: ["x"] * len(t)
    assert model._texts(ids) == ["x", "x"]


def test_translate_greedy_and_beam_from_data_or_from_the_two_encoders(data):
    model = make("transformer", data)
    texts = ["i have three apples .", "here are forty-two trees ."]
    greedy = translate(model, data, texts)
    assert len(greedy) == 2 and all(isinstance(t, str) for t in greedy)
    assert translate(model, (data.src_encoder, data.tgt_encoder), texts, max_len=14) == greedy
    assert translate(model, data, texts, beam=1) == greedy
    assert len(translate(model, data, texts, beam=3)) == 2


def test_attention_maps_for_plotting(data):
    src, lens, tgt_in, _ = data.tensors("val")
    one = (src[:1], lens[:1], tgt_in[:1])
    bahdanau = make("bahdanau", data).attention_weights(*one)
    assert bahdanau.shape == (1, tgt_in.shape[1], int(lens[0]))  # (heads, T, valid S)
    transformer = make("transformer", data)
    weights = transformer.attention_weights(*one)
    assert weights.shape == (4, tgt_in.shape[1], int(lens[0]))
    assert torch.allclose(weights.sum(-1), torch.ones(4, tgt_in.shape[1]), atol=1e-5)
    with pytest.raises(ValueError, match="no attention"):
        make("seq2seq", data).attention_weights(*one)
    with pytest.raises(ValueError, match="one sentence"):
        transformer.attention_weights(src[:2], lens[:2], tgt_in[:2])


def test_quick_settings_name_every_model():
    assert set(QUICK) == set(MODELS)
    for settings in QUICK.values():
        assert {"network", "recipe", "epochs", "batch_size", "num_pairs", "num_steps"} <= set(
            settings
        )
    assert Translator.configure_optimizers is Module.configure_optimizers
    assert Translator.training_step is Module.training_step


def test_bad_input(data):
    with pytest.raises(ValueError, match="model must be one of"):
        Translator("lstm", 20, 20)
    with pytest.raises(ValueError, match="src_vocab_size"):
        Translator("seq2seq", 3, 20)
    with pytest.raises(ValueError, match="do not fit"):
        Translator("transformer", 20, 20, {"num_hiddens": 3})
    with pytest.raises(ValueError, match="lr"):
        Translator("transformer", 20, 20, lr=-1.0)
    model = make("transformer", data)
    with pytest.raises(TypeError, match="must be a Translator"):
        translate(model.net, data, ["three"])
    with pytest.raises(ValueError, match="non-empty sequence"):
        translate(model, data, "three")
    with pytest.raises(ValueError, match="non-empty sequence"):
        translate(model, data, [])
    with pytest.raises(ValueError, match="beam"):
        translate(model, data, ["three"], beam=0)
    with pytest.raises(ValueError, match="max_len"):
        translate(model, data, ["three"], max_len=0)
    with pytest.raises(ValueError):
        translate(model, data, [""])


@pytest.mark.slow
def test_a_small_transformer_learns_to_translate_held_out_numbers(tmp_path):
    """Seeded; the held-out numbers never occur in training (split by the number)."""
    torch.manual_seed(0)
    tic = time.perf_counter()
    numbers = TranslationData("numbers", num_steps=16, batch_size=128, num_pairs=4000, seed=0)
    network = {"d_model": 48, "num_heads": 4, "ffn_hidden": 96, "num_layers": 2}
    model = Translator("transformer", numbers.src_vocab_size, numbers.tgt_vocab_size, network)
    trainer = quick_trainer(tmp_path, max_epochs=4, curves=False, checkpoint=False)
    trainer.fit(model, numbers)
    val = numbers.pairs("val")
    hypotheses = translate(model, numbers, [en for en, _ in val])
    score = corpus_bleu(hypotheses, [[fr for _, fr in val]]).score
    print(f"held-out corpus BLEU {score:.1f} in {time.perf_counter() - tic:.0f} s")
    assert score >= 75.0  # measured: 86.0 (4 epochs of 3,600 pairs, about 20 s on a free CPU)
    assert float(trainer.callback_metrics["val_bleu"]) >= 75.0
