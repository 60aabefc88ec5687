# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Natural language processing: sentiment with TextCNN, a BiRNN and BERT
#
# This notebook
#
# 1. tokenizes the same sentences with a **word-level vocabulary** and with **WordPiece**;
# 2. looks at the embedded **synthetic reviews**, and at the **negation split** on which a
#    bag-of-words model is no better than a coin;
# 3. trains a **TextCNN** and a **bidirectional LSTM** on them;
# 4. **pretrains BERT** (masked language modelling and next-sentence prediction) and
#    **fine-tunes** it, against the same BERT trained from scratch with the same budget;
# 5. draws the curves and reads the **predictions**, negations included.
#
# Quick mode (`DLLAB_QUICK=1`) trains on a thousand reviews for a few epochs, and pretrains
# BERT on a third of the corpus, to check that everything runs and learns in about a minute;
# the full run uses the quick CPU settings of `dllab.nlp.sentiment.QUICK` and
# `dllab.nlp.pretraining.QUICK` (a few minutes on a CPU) and reaches over 90% on held-out
# reviews.

# %%
import json
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback

from dllab.core import Trainer
from dllab.core.cli.options import quick_mode
from dllab.core.plotting import new_figure, save_figure
from dllab.nlp import (
    SentimentData,
    Vocab,
    WordTokenizer,
    make_negation_reviews,
    make_reviews,
    tokenize,
    train_tokenizer,
)
from dllab.nlp.pretraining import QUICK as PRETRAIN
from dllab.nlp.pretraining import BERTPretrainData, BERTPretrainer, mask_tokens, synthetic_corpus
from dllab.nlp.sentiment import QUICK, QUICK_DATA, SentimentClassifier

QUICK_MODE = quick_mode()
N_TRAIN = 1000 if QUICK_MODE else QUICK_DATA["n_train"]
PARAGRAPHS = PRETRAIN["paragraphs"] // (3 if QUICK_MODE else 1)
PRETRAIN_EPOCHS = PRETRAIN["epochs"] // (2 if QUICK_MODE else 1)
MAX_LEN = QUICK_DATA["max_len"]


def epochs(model: str) -> int:
    """The epochs of a run: the quick CPU setting (3 for TextCNN and the BiRNN in quick mode)."""
    return 3 if QUICK_MODE and model != "bert" else QUICK[model]["epochs"]


FIGURES = Path("figures")
FIGURES.mkdir(exist_ok=True)
metrics: dict[str, float] = {}
torch.manual_seed(0)

# %% [markdown]
# ## 1. Words against word pieces
#
# The word-level tokenizer lowercases, turns IMDb's `<br />` into a space and splits words and
# punctuation with one regular expression; the vocabulary keeps the words of the training
# texts, and anything else becomes `<unk>`. WordPiece (BERT's tokenizer, trained here with HF
# `tokenizers`) splits an unseen word into known pieces (`##` marks a continuation), so
# nothing is lost. Both start with the same seven special tokens, `<pad>` = 0 to `<mask>` = 6.

# %%
corpus, _ = make_reviews(2000, seed=0)
vocab = Vocab.build([tokenize(text) for text in corpus])
words = WordTokenizer(vocab)
pieces = train_tokenizer(corpus, "wordpiece", vocab_size=PRETRAIN["vocab_size"])
sentences = [
    "The plot was not dull, and the acting was superb!",
    "I would never recommend this unwatchable mess.<br />Avoid.",
    "A heartwarming and beautifully shot film.",
]
unknown = {"word": 0, "wordpiece": 0}
for sentence in sentences:
    as_words = vocab.to_tokens(vocab[tokenize(sentence)])
    as_pieces = pieces.tokenize(sentence)
    unknown["word"] += as_words.count("<unk>")
    unknown["wordpiece"] += as_pieces.count("<unk>")
    print(sentence)
    print("  word     ", as_words)
    print("  wordpiece", as_pieces)
print(f"vocabulary sizes: word {words.vocab_size}, wordpiece {pieces.vocab_size}; "
      f"<unk> tokens: {unknown}")  # fmt: skip
metrics["word_unk_tokens"], metrics["wordpiece_unk_tokens"] = unknown["word"], unknown["wordpiece"]
encoded = pieces.encode_batch(sentences[:2], max_len=16, add_cls_sep=True)
print("ids (padded to 16):\n", encoded.ids, "\nattention mask:\n", encoded.attention_mask.int())

# %% [markdown]
# ## 2. The synthetic reviews and the negation split
#
# Reviews are built from sentiment clauses with intensifiers (`the plot was very dull`),
# negations that flip the polarity (`not good`, `never boring`), contrasts where the clause
# after *but* decides, and neutral filler. In the **negation split** every review holds one
# positive and one negative adjective and one negator, whatever its label: only word order
# (`not dull` against `not superb`) separates the classes.

# %%
texts, labels = make_reviews(4, seed=1)
for text, label in zip(texts, labels, strict=True):
    print(f"{'positive' if label else 'negative'}: {text}")
negation_texts, negation_labels = make_negation_reviews(4, seed=1)
for text, label in zip(negation_texts, negation_labels, strict=True):
    print(f"{'positive' if label else 'negative'} (negation split): {text}")

# %% [markdown]
# A bag of words, logistic regression on word counts, shows why the negation split is hard:
# it does well on ordinary reviews and falls to chance there.


# %%
def bag_of_words(texts: list[str]) -> torch.Tensor:
    """Word counts ``(N, V)`` over the word vocabulary."""
    counts = torch.zeros(len(texts), len(vocab))
    for i, text in enumerate(texts):
        for index in vocab[tokenize(text)]:
            counts[i, index] += 1
    return counts


train_x, train_y = make_reviews(2000, seed=2)
test_x, test_y = make_reviews(1000, seed=3)
neg_x, neg_y = make_negation_reviews(1000, seed=3)
bow = torch.nn.Linear(len(vocab), 2)
optimizer = torch.optim.Adam(bow.parameters(), lr=0.05)
X, y = bag_of_words(train_x), torch.tensor(train_y)
for _ in range(300):
    optimizer.zero_grad()
    torch.nn.functional.cross_entropy(bow(X), y).backward()
    optimizer.step()
with torch.no_grad():
    for name, (xs, ys) in {"test": (test_x, test_y), "negation": (neg_x, neg_y)}.items():
        acc = (bow(bag_of_words(xs)).argmax(1) == torch.tensor(ys)).float().mean()
        metrics[f"bow_{name}_acc"] = float(acc)
print(f"bag of words: test {metrics['bow_test_acc']:.3f}, "
      f"negation {metrics['bow_negation_acc']:.3f}")  # fmt: skip

# %% [markdown]
# ## 3. TextCNN and a bidirectional LSTM
#
# **TextCNN** slides convolutions of widths 3, 4 and 5 over the word embeddings and keeps
# each channel's strongest response anywhere in the text (max-over-time pooling): a
# detector for `not dull` fires wherever the phrase is. The **BiRNN** reads the text both ways
# with an LSTM over *packed* sequences, so padding never reaches its state, and classifies
# the concatenated final states.
#
# Both read fixed-length batches `(ids, valid_lens, y)` from `SentimentData`, on core's
# in-memory loader.


# %%
class ValAccuracy(Callback):
    """The validation accuracy after each epoch."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self.values.append(float(trainer.callback_metrics["val_acc"]))


def split_accuracy(model: SentimentClassifier, data: SentimentData, split: str) -> float:
    ids, valid_lens, y = data.tensors(split)
    return float((model.predict(ids, valid_lens) == y).float().mean())


def train_sentiment(name: str, model: SentimentClassifier, data: SentimentData) -> dict:
    """Fit ``model``; returns its curve and its test and negation accuracies."""
    curve = ValAccuracy()
    trainer = Trainer(max_epochs=epochs(model.model_name), name=name, runs_dir="runs",
                      progress_bar=False, accelerator="cpu", callbacks=[curve])  # fmt: skip
    trainer.fit(model, data)
    result = {"curve": curve.values, "model": model, "run_dir": trainer.run_dir}
    for split in ("test", "negation"):
        result[split] = split_accuracy(model, data, split)
        metrics[f"{name}_{split}_acc"] = result[split]
    metrics[f"{name}_val_acc"] = curve.values[-1]
    print(f"{name}: val {curve.values[-1]:.3f}, test {result['test']:.3f}, "
          f"negation {result['negation']:.3f}")  # fmt: skip
    return result


word_data = SentimentData(dataset="synthetic", n_train=N_TRAIN, max_len=MAX_LEN,
                          batch_size=QUICK["textcnn"]["batch_size"])  # fmt: skip
results = {}
for name in ("textcnn", "birnn"):
    torch.manual_seed(0)
    model = SentimentClassifier(name, word_data.vocab_size, **QUICK[name]["recipe"])
    results[name] = train_sentiment(name, model, word_data)

# %% [markdown]
# ## 4. BERT: pretraining, then fine-tuning
#
# BERT sums token, segment and learned position embeddings and runs them through a
# Transformer encoder with GELU. **Pretraining** needs no labels. It feeds sentence pairs
# `<cls> a <sep> b <sep>`, where half the time `b` really follows `a` (next-sentence
# prediction, NSP), and corrupts 15% of the tokens: 80% of those become `<mask>`, 10% a random
# token, 10% stay as they are; the model predicts the original tokens (masked language
# modelling, MLM). Here the paragraphs come from the same review generator, unlabelled:
# paragraphs of one genre and one polarity, and paragraphs strung from reviews of one
# polarity, half of them full of negations (`synthetic_corpus`). Keeping a paragraph's
# polarity is what gives NSP and MLM a reason to read which way each sentence leans.

# %%
example = pieces.encode_batch(["the plot was not dull and the acting was superb"], 16)
masked = mask_tokens(example.ids, example.valid_lens, pieces.vocab_size,
                     torch.Generator().manual_seed(3), prob=0.3)  # fmt: skip
length = int(example.valid_lens[0])
print("input  ", [pieces.hf.id_to_token(i) for i in example.ids[0, :length].tolist()])
print("masked ", [pieces.hf.id_to_token(i) for i in masked.ids[0, :length].tolist()])


# %%
class PretrainingCurves(Callback):
    """MLM accuracy, NSP accuracy and perplexity after each validation epoch."""

    def __init__(self) -> None:
        self.values: dict[str, list[float]] = {"mlm_acc": [], "nsp_acc": [], "perplexity": []}

    def on_validation_end(self, trainer, pl_module) -> None:  # after the module's epoch end
        if not trainer.sanity_checking:
            for key, values in self.values.items():
                values.append(float(trainer.callback_metrics[key]))


paragraphs = synthetic_corpus(PARAGRAPHS, seed=0)
tokenizer = train_tokenizer((s for p in paragraphs for s in p), "wordpiece",
                            vocab_size=PRETRAIN["vocab_size"])  # fmt: skip
pretrain_data = BERTPretrainData(paragraphs, tokenizer, max_len=PRETRAIN["max_len"],
                                 batch_size=PRETRAIN["batch_size"])  # fmt: skip
torch.manual_seed(0)
pretrainer = BERTPretrainer(tokenizer.vocab_size, max_len=PRETRAIN["max_len"])
pretraining = PretrainingCurves()
trainer = Trainer(max_epochs=PRETRAIN_EPOCHS, name="bert-pretrain",
                  runs_dir="runs", progress_bar=False, accelerator="cpu",
                  callbacks=[pretraining])  # fmt: skip
trainer.fit(pretrainer, pretrain_data)
pretrain_run = trainer.run_dir
for key, values in pretraining.values.items():
    metrics[f"pretrain_{key}"] = values[-1]
print({k: round(v[-1], 3) for k, v in pretraining.values.items()})

# %% [markdown]
# Fine-tuning reuses the pretrained encoder and pooler (read back from the run folder through
# `load_run`) under a new classification head on the `<cls>` state. The comparison is a BERT
# of the same size, with the same tokenizer, data, learning rate and epochs, trained from
# random weights.

# %%
bert_train = QUICK["bert"]["n_train"]  # quick mode too: BERT needs these reviews to learn
bert_data = SentimentData(tokenizer, dataset="synthetic", n_train=bert_train, max_len=MAX_LEN,
                          batch_size=QUICK["bert"]["batch_size"], add_cls_sep=True)  # fmt: skip
torch.manual_seed(0)
fine_tuned = SentimentClassifier.from_pretrained(pretrain_run, **QUICK["bert"]["recipe"])
results["bert_pretrained"] = train_sentiment("bert_pretrained", fine_tuned, bert_data)
torch.manual_seed(0)
sizes = fine_tuned.hparams["network"]
scratch = SentimentClassifier("bert", tokenizer.vocab_size, network=sizes,
                              **QUICK["bert"]["recipe"])  # fmt: skip
results["bert_scratch"] = train_sentiment("bert_scratch", scratch, bert_data)

# %% [markdown]
# ## 5. Curves and predictions

# %%
fig, (left, right) = new_figure(1, 2, figsize=(11, 4))
for name, result in results.items():
    curve = result["curve"]
    left.plot(range(1, len(curve) + 1), curve, marker="o",
              label=f"{name} (negation {result['negation']:.2f})")  # fmt: skip
left.set(xlabel="epoch", ylabel="validation accuracy", ylim=(0.4, 1.0),
         title="Sentiment on the synthetic reviews")  # fmt: skip
left.xaxis.get_major_locator().set_params(integer=True)
left.legend(fontsize=8)
steps = range(1, len(pretraining.values["mlm_acc"]) + 1)
right.plot(steps, pretraining.values["mlm_acc"], marker="o", label="MLM accuracy")
right.plot(steps, pretraining.values["nsp_acc"], marker="o", label="NSP accuracy")
right.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1), title="BERT pretraining")
right.xaxis.get_major_locator().set_params(integer=True)
twin = right.twinx()
twin.plot(steps, pretraining.values["perplexity"], color="gray", linestyle="--", marker="x",
          label="perplexity")  # fmt: skip
twin.set_ylabel("MLM perplexity")
lines = right.get_legend_handles_labels()
more = twin.get_legend_handles_labels()
right.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="center right")
save_figure(fig, FIGURES / "curves.png")

# %%
probes = [
    "the acting was superb",
    "the acting was not superb",
    "the plot was never boring",
    "the plot was dull but the music was wonderful",
    "i did not like it",
    "i would not recommend it",
]
table = {}
for name, result in results.items():
    model = result["model"]
    encoder = tokenizer if name.startswith("bert") else word_data.encoder
    encoded = encoder.encode_batch(probes, MAX_LEN, add_cls_sep=name.startswith("bert"))
    table[name] = model.predict_proba(encoded.ids, encoded.valid_lens)[:, 1].tolist()
print(f"{'P(positive)':<48}" + "".join(f"{name:>16}" for name in table))
for i, probe in enumerate(probes):
    print(f"{probe:<48}" + "".join(f"{table[name][i]:>16.3f}" for name in table))
expected = [1, 0, 1, 1, 0, 0]
for name, probabilities in table.items():
    right_answers = sum((p >= 0.5) == bool(e) for p, e in zip(probabilities, expected, strict=True))
    metrics[f"{name}_probes_right"] = right_answers
Path("metrics.json").write_text(json.dumps(metrics, indent=2))
print(json.dumps(metrics))
