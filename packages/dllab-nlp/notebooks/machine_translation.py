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
# # Machine translation: an encoder–decoder, Bahdanau attention and the Transformer
#
# This notebook translates numbers written in English words into French words
# ("three hundred forty-two" -> "trois cent quarante-deux"). It
#
# 1. looks at the embedded **numbers corpus**, with French's irregular forms, and at its split
#    **by the number**;
# 2. trains a GRU **encoder–decoder** (d2l's sequence to sequence model);
# 3. adds **Bahdanau attention** and draws where it looks;
# 4. trains a **Transformer** and draws its cross-attention heads;
# 5. compares **greedy decoding** with **beam search**;
# 6. scores everything with **BLEU**: d2l's sentence BLEU against corpus BLEU (sacreBLEU's).
#
# Quick mode (`DLLAB_QUICK=1`) trains on 2,000 pairs for a few epochs, to check that everything
# runs; the full run uses the quick CPU settings of `dllab.nlp.translation.QUICK`, those of
# `dllab nlp translate train --quick`. Figures go to `figures/`, the runs to `runs/`.

# %%
import json
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback

from dllab.core import Trainer
from dllab.core.cli.options import quick_mode
from dllab.core.metrics import bleu, corpus_bleu
from dllab.core.nn.heatmaps import plot_attention_heatmaps
from dllab.core.plotting import new_figure, save_figure
from dllab.nlp import TranslationData, english_number, french_number
from dllab.nlp.decoding import beam_search, greedy_decode
from dllab.nlp.special import PAD_ID
from dllab.nlp.translation import QUICK, Translator, translate

QUICK_MODE = quick_mode()
MODELS = ("seq2seq", "bahdanau", "transformer")
QUICK_EPOCHS = {"seq2seq": 4, "bahdanau": 4, "transformer": 5}
NUM_PAIRS = 2000 if QUICK_MODE else QUICK["transformer"]["num_pairs"]
NUM_STEPS = QUICK["transformer"]["num_steps"]
BATCH_SIZE = 64 if QUICK_MODE else QUICK["transformer"]["batch_size"]

FIGURES = Path("figures")
FIGURES.mkdir(exist_ok=True)
metrics: dict[str, float] = {}
torch.manual_seed(0)
print(f"quick mode: {QUICK_MODE}")

# %% [markdown]
# ## 1. The numbers corpus
#
# French counts in twenties from sixty on, so its number words are less regular than English
# ones: 71 is *sixty and eleven*, 80 *four twenties*, 99 *four twenty nineteen*. `vingt` and
# `cent` take an *s* when multiplied and last (`quatre-vingts`, `deux cents`), and *et un*
# joins the one of 21 to 71 but not of 81 or 91.

# %%
for n in (1, 16, 17, 21, 71, 80, 81, 91, 99, 200, 201, 280, 1000, 2021):
    print(f"{n:>5}  {english_number(n):<32} {french_number(n)}")

# %% [markdown]
# `TranslationData` puts each number in one of a few short sentence templates, cleans the text
# as d2l does (lowercase, a space before punctuation) and gives each language its own word
# vocabulary, built from the training pairs only. The split is by the **number**: no
# held-out number appears in any training sentence, so the model must translate numbers it
# has never seen whole, from their parts.

# %%
data = TranslationData("numbers", num_steps=NUM_STEPS, batch_size=BATCH_SIZE, num_pairs=NUM_PAIRS)
train_pairs, val_pairs = data.pairs("train"), data.pairs("val")
for english, french in val_pairs[:5]:
    print(f"{english:<50} -> {french}")
print(f"{len(train_pairs)} training pairs, {len(val_pairs)} held-out pairs; vocabularies: "
      f"{data.src_vocab_size} English, {data.tgt_vocab_size} French tokens")  # fmt: skip

# %%
NUMBER_OF = {english_number(n): n for n in range(10_000)}


def number_in(sentence: str) -> int:
    """The number of a sentence: its longest run of words that spells one."""
    words = sentence.split()
    spans = (" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1))
    return NUMBER_OF[max((s for s in spans if s in NUMBER_OF), key=len)]


train_numbers = {number_in(english) for english, _ in train_pairs}
val_numbers = {number_in(english) for english, _ in val_pairs}
metrics["numbers_in_both_splits"] = len(train_numbers & val_numbers)
train_words = {word for _, french in train_pairs for word in french.split()}
unseen = sorted({word for _, french in val_pairs for word in french.split()} - train_words)
metrics["unseen_french_words"] = len(unseen)
print(f"numbers in both splits: {metrics['numbers_in_both_splits']}")
print(f"held-out French words never seen whole in training: {len(unseen)}, e.g. {unseen[:4]}")

# %% [markdown]
# Those unseen compounds are no problem for the word vocabulary: the tokenizer splits
# hyphens, so `soixante-dix-sept` is `soixante - dix - sept`, three known words. A batch is
# `(src, src_valid_lens, tgt_in, tgt_out)`, each padded to `num_steps`: the source ends with
# `<eos>`, the decoder reads `<bos> y` (teacher forcing) and predicts `y <eos>`.

# %%
src, src_valid_lens, tgt_in, tgt_out = (t[:1] for t in data.tensors("val"))
print(val_pairs[0])
print("src    ", src[0].tolist(), "valid length", int(src_valid_lens[0]))
print("tgt_in ", tgt_in[0].tolist())
print("tgt_out", tgt_out[0].tolist())
print("French tokens", data.tgt_encoder.vocab.to_tokens(tgt_out[0].tolist()))


# %% [markdown]
# ## 2. The encoder–decoder
#
# A GRU **encoder** reads the source; its final hidden state is the context. The GRU
# **decoder** starts from that state and reads the context concatenated to every input
# embedding, predicting the next French token. Training is teacher-forced, with a
# cross-entropy that ignores padding; every validation epoch also decodes the held-out set
# greedily and logs its corpus BLEU as `val_bleu`.


# %%
class ValBLEU(Callback):
    """The validation corpus BLEU after each epoch."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def on_validation_end(self, trainer, pl_module) -> None:  # after the module's epoch end
        if not trainer.sanity_checking:
            self.values.append(float(trainer.callback_metrics["val_bleu"]))


def train(name: str) -> Translator:
    """Train one model on ``data`` (QUICK settings, fewer epochs in quick mode)."""
    settings = QUICK[name]
    epochs = QUICK_EPOCHS[name] if QUICK_MODE else settings["epochs"]
    torch.manual_seed(0)
    model = Translator(name, data.src_vocab_size, data.tgt_vocab_size,
                       network=settings["network"], **settings["recipe"])  # fmt: skip
    curve = ValBLEU()
    trainer = Trainer(max_epochs=epochs, name=f"translate-{name}", runs_dir="runs",
                      progress_bar=False, accelerator="cpu", callbacks=[curve])  # fmt: skip
    trainer.fit(model, data)
    curves[name] = curve.values
    metrics[f"{name}_val_bleu"] = curve.values[-1]
    bleus = [round(v, 1) for v in curve.values]
    print(f"{name}: {epochs} epochs, validation BLEU by epoch {bleus}")
    return model


def show(name: str, texts: list[str], beam: int = 1) -> list[str]:
    """Translate ``texts`` and print them beside their references."""
    outputs = translate(models[name], data, texts, beam=beam)
    for text, output in zip(texts, outputs, strict=True):
        print(f"  {text:<46} -> {output}")
    return outputs


curves: dict[str, list[float]] = {}
models: dict[str, Translator] = {"seq2seq": train("seq2seq")}
examples = [english for english, _ in val_pairs[:6]]
_ = show("seq2seq", examples)

# %% [markdown]
# ## 3. Bahdanau attention
#
# The plain decoder squeezes the whole source into one vector. Bahdanau's decoder instead
# looks back at every encoder state at every step: with its previous hidden state as the
# query, additive attention
# $a(q, k) = w_v^\top \tanh(W_q q + W_k k)$ scores each source position, a masked softmax
# turns the scores into weights over the valid positions, and the weighted sum of the encoder
# states is the context of that step.

# %%
models["bahdanau"] = train("bahdanau")
_ = show("bahdanau", examples)


# %% [markdown]
# The weights of one held-out sentence: a row per French token the decoder produced (fed its
# own translation, teacher-forced), a column per English token. A well-trained decoder looks
# at the English word it is translating, so the map is nearly diagonal, with French's word
# order (`quatre-vingt-dix` for *ninety*) bending it; after a few quick epochs it still looks
# mostly at one place.


# %%
def attention(name: str, english: str) -> tuple[torch.Tensor, list[str], list[str]]:
    """``(heads, T, S)`` attention of ``name`` on its own translation of ``english``."""
    src, src_valid_lens = data.encode_source([english])  # (1, S), (1,)
    output = translate(models[name], data, [english])[0]
    tgt_in, tgt_out = data.encode_target([output])  # (1, num_steps) each
    tgt_in = tgt_in[:, : int((tgt_out != PAD_ID).sum())]  # (1, T): <bos> and the translation
    weights = models[name].attention_weights(src, src_valid_lens, tgt_in)  # (H, T, S)
    source = data.src_encoder.vocab.to_tokens(src[0, : int(src_valid_lens[0])].tolist())
    return weights, source, data.tgt_encoder.vocab.to_tokens(tgt_in[0].tolist())


def plot_attention(name: str, english: str, titles: list[str]) -> torch.Tensor:
    """Save ``figures/{name}_attention.png``: one panel per head, the sentence over one panel."""
    weights, source, target = attention(name, english)
    print("x (source):", list(enumerate(source)))
    print("y (target input):", list(enumerate(target)))
    plot_attention_heatmaps(weights, FIGURES / f"{name}_attention.png",
                            xlabel="English position", ylabel="French position (input)",
                            titles=titles, panel_size=3.2,
                            suptitle=english if len(titles) == 1 else None)  # fmt: skip
    return weights


probe = max(val_pairs, key=lambda pair: len(pair[0].split()))[0]
bahdanau_weights = plot_attention("bahdanau", probe, ["Bahdanau"])
metrics["attention_row_sum_error"] = float((bahdanau_weights.sum(-1) - 1).abs().max())

# %% [markdown]
# ## 4. The Transformer
#
# The Transformer replaces recurrence by attention: the encoder's self-attention, the
# decoder's causal self-attention and its **cross-attention** on the encoder output, each
# with several heads, plus positional encodings. It is core's `Seq2SeqTransformer` with
# separate English and French vocabularies; decoding keeps a key/value cache, so each new
# token attends to the stored keys and values of the prefix instead of recomputing them.

# %%
models["transformer"] = train("transformer")
_ = show("transformer", examples)
heads = models["transformer"].hparams["network"]["num_heads"]
transformer_weights = plot_attention("transformer", probe, [f"head {h}" for h in range(heads)])
metrics["transformer_heads"] = transformer_weights.shape[0]

# %%
fig, ax = new_figure(figsize=(6, 4))
for name, values in curves.items():
    ax.plot(range(1, len(values) + 1), values, marker="o", label=name)
ax.set(xlabel="epoch", ylabel="validation corpus BLEU", ylim=(0, 100),
       title="Held-out numbers, greedy decoding")  # fmt: skip
ax.xaxis.get_major_locator().set_params(integer=True)
ax.legend()
save_figure(fig, FIGURES / "bleu_curves.png")

# %% [markdown]
# ## 5. Greedy decoding against beam search
#
# Greedy decoding takes the most likely token at every step. **Beam search** keeps the `k`
# most likely prefixes, extends each with every token, and keeps the best `k` of those
# `k * V` candidates; a beam ends at `<eos>`. The finished beams are ranked by
# $\log P(y \mid x) / L^\alpha$ (d2l's length normalisation, $\alpha = 0.75$), so short
# outputs are not favoured just for having fewer factors below one. With `k = 1` it is greedy
# decoding, token for token. Both decode the whole held-out set in batches.

# %%
src, src_valid_lens, _, _ = data.tensors("val")
references = [french for _, french in val_pairs]
outputs: dict[str, dict[str, list[str]]] = {}
for name in MODELS:
    net = models[name].net
    greedy = greedy_decode(net, src, src_valid_lens, NUM_STEPS)  # (N, num_steps)
    beam1, _ = beam_search(net, src, src_valid_lens, 1, NUM_STEPS)
    beam4, scores4 = beam_search(net, src, src_valid_lens, 4, NUM_STEPS)
    metrics[f"{name}_beam1_equals_greedy"] = bool(torch.equal(beam1, greedy))
    texts = {"greedy": data.decode_target(greedy), "beam4": data.decode_target(beam4)}
    outputs[name] = texts
    differ = [i for i, (g, b) in enumerate(zip(*texts.values(), strict=True)) if g != b]
    metrics[f"{name}_beam4_differs"] = len(differ)
    print(f"{name}: beam 1 == greedy: {metrics[f'{name}_beam1_equals_greedy']}; beam 4 differs "
          f"from greedy on {len(differ)} of {len(references)} sentences")  # fmt: skip
    for i in differ[:3]:
        print(f"  {val_pairs[i][0]}\n    reference {references[i]}\n    greedy    "
              f"{texts['greedy'][i]}\n    beam 4    {texts['beam4'][i]} "
              f"(score {float(scores4[i]):.3f})")  # fmt: skip

# %% [markdown]
# Beam search finds outputs the model finds more likely, which is not the same as better: a
# well-trained model gains a little, and the normalised score can still prefer a short, wrong
# output over a long, right one. A weak model's likelier outputs are mostly other wrong
# numbers. The best beam of one sentence, and its normalised log-probability:

# %%
_ = show("seq2seq", [probe], beam=4)
one_src, one_len = data.encode_source([probe])
_, best_score = beam_search(models["seq2seq"].net, one_src, one_len, 4, NUM_STEPS)
print(f"best normalised log-probability {float(best_score[0]):.3f}")

# %% [markdown]
# ## 6. BLEU: sentence against corpus
#
# d2l's **sentence BLEU** scores one sentence on a 0–1 scale: the n-gram precisions
# $p_n$ (each reference n-gram matched at most as often as it occurs), weighted
# $p_n^{1/2^n}$ up to $n = k$, times a brevity penalty $\exp(\min(0, 1 - L_{ref}/L_{pred}))$.
# **Corpus BLEU** (sacreBLEU's, the standard for reporting) pools the n-gram counts of all
# sentences before taking the geometric mean of the four precisions, with a corpus-wide brevity
# penalty, on a 0–100 scale. Averaging sentence scores is not the same: one wrong word sinks a
# short sentence, but only a few n-grams of a corpus.

# %%
greedy_seq2seq = outputs["seq2seq"]["greedy"]
wrong = [i for i, output in enumerate(greedy_seq2seq) if output != references[i]]
for i in (wrong or range(len(references)))[:3]:
    output, reference = greedy_seq2seq[i], references[i]
    print(f"reference {reference}\noutput    {output}\n  d2l BLEU (k=2) "
          f"{bleu(output, reference, k=2):.3f}, corpus BLEU of this sentence alone "
          f"{corpus_bleu([output], [reference]).score:.1f}")  # fmt: skip

# %%
rows = []
for name in MODELS:
    row = {"model": name}
    for method, hypotheses in outputs[name].items():
        row[f"corpus_{method}"] = corpus_bleu(hypotheses, [references]).score
        sentence_scores = [bleu(h, r, k=2) for h, r in zip(hypotheses, references, strict=True)]
        row[f"sentence_{method}"] = 100 * sum(sentence_scores) / len(sentence_scores)
        row[f"exact_{method}"] = sum(h == r for h, r in zip(hypotheses, references, strict=True))
    rows.append(row)
    for key, value in row.items():
        if key != "model":
            metrics[f"{name}_{key}"] = value
print(f"held-out BLEU ({len(references)} sentences; sentence BLEU is d2l's k=2, averaged, x100)")
print(f"{'model':<12}{'corpus greedy':>15}{'corpus beam 4':>15}{'sentence greedy':>17}"
      f"{'exact greedy':>14}")  # fmt: skip
for row in rows:
    print(f"{row['model']:<12}{row['corpus_greedy']:>15.1f}{row['corpus_beam4']:>15.1f}"
          f"{row['sentence_greedy']:>17.1f}{row['exact_greedy']:>14}")  # fmt: skip

# %% [markdown]
# The greedy corpus BLEU here is the `val_bleu` each run logged in its last validation epoch:
# the same decodes, scored the same way.

# %%
for name in MODELS:
    print(f"{name}: val_bleu {metrics[f'{name}_val_bleu']:.2f}, "
          f"recomputed {metrics[f'{name}_corpus_greedy']:.2f}")  # fmt: skip
Path("metrics.json").write_text(json.dumps(metrics, indent=2))
print(json.dumps(metrics))
