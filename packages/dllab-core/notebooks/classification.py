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
# # Classification with softmax regression
#
# Softmax regression is the simplest classifier: one affine layer produces a score (logit)
# per class, $\mathbf{o} = \mathbf{x}\mathbf{W} + \mathbf{b}$, the softmax turns the scores
# into probabilities, and training minimizes the cross-entropy between those probabilities
# and the true labels. This notebook:
#
# 1. looks at the embedded glyph images;
# 2. builds the softmax and the cross-entropy from scratch and checks them against PyTorch;
# 3. proves softmax regression from scratch equal to its concise twin;
# 4. trains both on the glyphs with `dllab.core.Trainer`;
# 5. reads the errors off a confusion matrix and sample predictions.
#
# `DLLAB_QUICK=1` shrinks the training run to a few seconds. Figures go to `figures/`.

# %%
import json
from pathlib import Path

import torch
from torch.nn import functional as F
from torchmetrics.functional import confusion_matrix

from dllab.core import Trainer
from dllab.core.cli.options import quick_mode
from dllab.core.data.glyphs import CLASSES, GlyphsData
from dllab.core.fundamentals import functional as fn
from dllab.core.fundamentals.models import (
    SoftmaxRegression,
    SoftmaxRegressionScratch,
    copy_scratch_weights,
)
from dllab.core.plotting import new_figure, save_figure

QUICK = quick_mode()
FIGURES = Path("figures")
torch.manual_seed(0)
print(f"quick mode: {QUICK}")

# %% [markdown]
# ## 1. The data
#
# Ten shapes rendered at 28x28 with random position, size, rotation, stroke width,
# brightness and pixel noise. The images have Fashion-MNIST's shape and dtype, so the same
# models train on either.

# %%
data = GlyphsData(n=1500 if QUICK else 6000, batch_size=64 if QUICK else 256)
data.setup()
X_train, y_train = data.train_tensors
X_val, y_val = data.val_tensors
print(f"train {tuple(X_train.shape)} {X_train.dtype}, validation {tuple(X_val.shape)}")

fig, axes = new_figure(2, 10, figsize=(12, 2.8))
for label, name in enumerate(CLASSES):
    examples = X_train[y_train == label][:2]
    for row in range(2):
        axes[row, label].imshow(examples[row, 0], cmap="gray_r", vmin=0, vmax=1)
        axes[row, label].axis("off")
    axes[0, label].set_title(name, fontsize=9)
save_figure(fig, FIGURES / "glyph_samples.png")

# %% [markdown]
# ## 2. Softmax and cross-entropy
#
# $\mathrm{softmax}(\mathbf{o})_j = \exp(o_j) / \sum_k \exp(o_k)$: non-negative and summing
# to 1. The cross-entropy of a label $y$ is $-\log \mathrm{softmax}(\mathbf{o})_y$, small when
# the true class gets a high probability and unbounded as that probability goes to 0.
# Computed from the logits with the log-sum-exp trick,
# $-o_y + m + \log\sum_k \exp(o_k - m)$ with $m = \max_k o_k$, it never overflows.

# %%
logits = torch.tensor([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0]], dtype=torch.float64)
labels = torch.tensor([0, 2])
probs = fn.softmax(logits)
print("probabilities:\n", probs, "\nrow sums:", probs.sum(dim=1))
manual = -torch.log(probs[torch.arange(2), labels])  # pick the true class's probability
ours = fn.cross_entropy(logits, labels, reduction="none")
reference = F.cross_entropy(logits, labels, reduction="none")
print(
    "-log p_y by hand:", manual, "\nscratch cross_entropy:", ours, "\nF.cross_entropy:", reference
)
cross_entropy_error = (ours - reference).abs().max().item()

p = torch.linspace(0.005, 1.0, 200)
fig, ax = new_figure(figsize=(5, 3.3))
ax.plot(p, -torch.log(p))
ax.set_xlabel("probability given to the true class")
ax.set_ylabel("cross-entropy  $-\\log p_y$")
ax.grid(alpha=0.3)
save_figure(fig, FIGURES / "cross_entropy.png")

# %% [markdown]
# ## 3. Softmax regression from scratch and concisely
#
# `SoftmaxRegressionScratch` holds `W` of shape `(784, 10)` and `b` as `nn.Parameter`s,
# returns the logits `X @ W + b` and trains with the scratch cross-entropy.
# `SoftmaxRegression` is `nn.Sequential(nn.Flatten(), nn.Linear(784, 10))` with
# `F.cross_entropy`. With the same weights they agree to float64 rounding.

# %%
scratch = SoftmaxRegressionScratch(sigma=0.1).double()
concise = SoftmaxRegression().double()
copy_scratch_weights(scratch, concise)
batch, batch_labels = X_train[:32].double(), y_train[:32]
out_scratch, out_concise = scratch(batch), concise(batch)
scratch.loss(out_scratch, batch_labels).backward()
concise.loss(out_concise, batch_labels).backward()
softmax_output_error = (out_scratch - out_concise).abs().max().item()
softmax_grad_error = (scratch.W.grad - concise.net[1].weight.grad.T).abs().max().item()
print(f"max |output difference|   = {softmax_output_error:.1e}")
print(f"max |gradient difference| = {softmax_grad_error:.1e}")

# %% [markdown]
# ## 4. Training
#
# Both models train with minibatch SGD from the same initial weights (copied across), so
# their runs should match to float32 rounding. Each run gets its own folder under
# `runs/notebook-softmax-*/` with `metrics.csv`, `curves.png` and `summary.json`.

# %%
epochs = 3 if QUICK else 20
torch.manual_seed(0)
trained = {"scratch": SoftmaxRegressionScratch(lr=0.3), "concise": SoftmaxRegression(lr=0.3)}
copy_scratch_weights(trained["scratch"], trained["concise"])
summaries = {}
for name, model in trained.items():
    trainer = Trainer(
        max_epochs=epochs, runs_dir="runs", name=f"notebook-softmax-{name}", progress_bar=False
    )
    trainer.fit(model, data)
    summaries[name] = json.loads((trainer.run_dir / "summary.json").read_text())
    print(f"{name:8s} val_acc {summaries[name]['val_acc']:.3f}  run folder {trainer.run_dir}")
val_acc = summaries["scratch"]["val_acc"]

# %% [markdown]
# ## 5. Where it goes wrong
#
# The confusion matrix counts, for each true class (row), how often each class was
# predicted (column); the off-diagonal cells show which shapes a linear model mixes up.
# Each class's weight vector, drawn as an image, is the template that the class's score
# correlates the input with.

# %%
model = trained["scratch"]
predictions = model.predict(X_val)
matrix = confusion_matrix(predictions, y_val, task="multiclass", num_classes=len(CLASSES))
per_class = (matrix.diag() / matrix.sum(dim=1).clamp(min=1)).tolist()
print("per-class recall:", {c: round(r, 2) for c, r in zip(CLASSES, per_class, strict=True)})

fig, ax = new_figure(figsize=(6, 5))
image = ax.imshow(matrix, cmap="Blues")
ax.set_xticks(range(len(CLASSES)), CLASSES, rotation=60, fontsize=8)
ax.set_yticks(range(len(CLASSES)), CLASSES, fontsize=8)
ax.set_xlabel("predicted")
ax.set_ylabel("true")
for i in range(len(CLASSES)):
    for j in range(len(CLASSES)):
        if matrix[i, j]:
            color = "white" if matrix[i, j] > matrix.max() / 2 else "black"
            ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=7, color=color)
fig.colorbar(image, ax=ax, shrink=0.8)
ax.set_title(f"softmax regression, validation accuracy {val_acc:.2f}")
save_figure(fig, FIGURES / "confusion_matrix.png")

fig, axes = new_figure(3, 8, figsize=(12, 5))
for ax, image, label, pred in zip(axes.flat, X_val, y_val, predictions, strict=False):
    ax.imshow(image[0], cmap="gray_r", vmin=0, vmax=1)
    color = "green" if pred == label else "red"
    ax.set_title(f"{CLASSES[pred]}\n({CLASSES[label]})", fontsize=8, color=color)
    ax.axis("off")
fig.suptitle("sample predictions: predicted (true); red = wrong", fontsize=10)
save_figure(fig, FIGURES / "predictions.png")

fig, axes = new_figure(1, 10, figsize=(12, 1.8))
templates = model.W.detach().T.reshape(len(CLASSES), 28, 28)  # (classes, H, W)
for ax, template, name in zip(axes, templates, CLASSES, strict=True):
    ax.imshow(template, cmap="RdBu_r", vmin=-templates.abs().max(), vmax=templates.abs().max())
    ax.set_title(name, fontsize=9)
    ax.axis("off")
save_figure(fig, FIGURES / "weights.png")
