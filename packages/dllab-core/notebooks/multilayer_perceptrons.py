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
# # Multilayer perceptrons
#
# A multilayer perceptron (MLP) stacks affine layers with a nonlinearity between them:
# $\mathbf{H} = \sigma(\mathbf{X}\mathbf{W}^{(1)} + \mathbf{b}^{(1)})$,
# $\mathbf{O} = \mathbf{H}\mathbf{W}^{(2)} + \mathbf{b}^{(2)}$.
# This notebook builds one from scratch and checks it against PyTorch piece by piece:
#
# 1. activation functions and their derivatives;
# 2. the MLP from scratch and its concise `nn.Sequential` twin;
# 3. backpropagation by hand;
# 4. dropout;
# 5. numerical stability of the softmax;
# 6. Xavier initialization;
# 7. training the MLP on the embedded glyph images with `dllab.core.Trainer`.
#
# Run it as a script (`python multilayer_perceptrons.py`) or open it with jupytext.
# `DLLAB_QUICK=1` shrinks the training run to a few seconds. Figures go to `figures/`.

# %%
import json
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from dllab.core import Trainer
from dllab.core.cli.options import quick_mode
from dllab.core.data.glyphs import GlyphsData
from dllab.core.fundamentals import functional as fn
from dllab.core.fundamentals.backprop import mlp_backward
from dllab.core.fundamentals.models import MLP, MLPScratch, copy_scratch_weights
from dllab.core.plotting import new_figure, save_figure

QUICK = quick_mode()
FIGURES = Path("figures")
torch.manual_seed(0)
print(f"quick mode: {QUICK}")

# %% [markdown]
# ## 1. Activation functions and their derivatives
#
# ReLU keeps the positive part, $\max(x, 0)$; its derivative is 1 for $x > 0$ and 0 below.
# The sigmoid squashes into $(0, 1)$ with derivative $s(x)(1 - s(x))$, at most $1/4$; tanh
# squashes into $(-1, 1)$ with derivative $1 - \tanh^2(x)$. Both saturate: far from 0 their
# gradients vanish, which is one reason ReLU trains deep networks more easily.
#
# The from-scratch versions are written with `exp`/`where` only. Below, each derivative is
# compared with what autograd computes for PyTorch's own function.

# %%
x = torch.linspace(-6, 6, 241, dtype=torch.float64, requires_grad=True)
activations = {
    "ReLU": (fn.relu, fn.relu_grad, torch.relu),
    "sigmoid": (fn.sigmoid, fn.sigmoid_grad, torch.sigmoid),
    "tanh": (fn.tanh, fn.tanh_grad, torch.tanh),
}
activation_errors = {}
fig, axes = new_figure(1, 3, figsize=(11, 3.2))
for ax, (name, (f, f_grad, reference)) in zip(axes, activations.items(), strict=True):
    (autograd_slope,) = torch.autograd.grad(reference(x).sum(), x)
    activation_errors[name] = max(
        (f(x) - reference(x)).abs().max().item(),
        (f_grad(x) - autograd_slope).abs().max().item(),
    )
    xs = x.detach()
    ax.plot(xs, f(xs), label=name)
    ax.plot(xs, f_grad(xs), "--", label=f"d {name} / dx")
    ax.set_title(name)
    ax.axhline(0, color="gray", lw=0.5)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
save_figure(fig, FIGURES / "activations.png")
for name, err in activation_errors.items():
    print(f"{name:8s} max |scratch - torch| (value and derivative): {err:.1e}")

# %% [markdown]
# ## 2. The MLP from scratch and concisely
#
# `MLPScratch` holds its weights as explicit `nn.Parameter`s of shape `(in, out)` and
# computes `relu(X @ W + b)` with the scratch `relu`; its loss is the scratch cross-entropy.
# `MLP` is `nn.Sequential(Flatten, Linear, ReLU, Dropout, Linear)` trained with
# `F.cross_entropy`. Copying the scratch weights into the concise model (transposed, since
# `nn.Linear` stores `(out, in)`) must give the same outputs and the same gradients.

# %%
scratch = MLPScratch(num_hiddens=(64, 32)).double()
concise = MLP(num_hiddens=(64, 32)).double()
copy_scratch_weights(scratch, concise)
print(concise.net)

X = torch.rand(16, 1, 28, 28, dtype=torch.float64)
y = torch.randint(0, 10, (16,))
out_scratch, out_concise = scratch(X), concise(X)
scratch.loss(out_scratch, y).backward()
concise.loss(out_concise, y).backward()
linears = [m for m in concise.net if isinstance(m, nn.Linear)]
mlp_output_error = (out_scratch - out_concise).abs().max().item()
mlp_grad_error = max(
    (W.grad - linear.weight.grad.T).abs().max().item()
    for (W, _), linear in zip(scratch.linear_params(), linears, strict=True)
)
print(f"max |output difference|   = {mlp_output_error:.1e}")
print(f"max |gradient difference| = {mlp_grad_error:.1e}")

# %% [markdown]
# ## 3. Backpropagation by hand
#
# With one hidden layer the chain rule fits on a few lines. Write the forward pass as
# $\mathbf{Z}_1 = \mathbf{X}\mathbf{W}_1 + \mathbf{b}_1$, $\mathbf{H} = \mathrm{relu}(\mathbf{Z}_1)$,
# $\mathbf{Z}_2 = \mathbf{H}\mathbf{W}_2 + \mathbf{b}_2$, and the loss as the mean
# cross-entropy over $n$ samples with one-hot labels $\mathbf{Y}$. Going backwards, each
# gradient has the shape of what it differentiates:
#
# $$\partial\mathbf{Z}_2 = \frac{\mathrm{softmax}(\mathbf{Z}_2) - \mathbf{Y}}{n}, \quad
# \partial\mathbf{W}_2 = \mathbf{H}^\top \partial\mathbf{Z}_2, \quad
# \partial\mathbf{b}_2 = \textstyle\sum_i \partial\mathbf{Z}_{2,i},$$
#
# $$\partial\mathbf{H} = \partial\mathbf{Z}_2 \mathbf{W}_2^\top, \quad
# \partial\mathbf{Z}_1 = \partial\mathbf{H} \odot \mathrm{relu}'(\mathbf{Z}_1), \quad
# \partial\mathbf{W}_1 = \mathbf{X}^\top \partial\mathbf{Z}_1, \quad
# \partial\mathbf{b}_1 = \textstyle\sum_i \partial\mathbf{Z}_{1,i}.$$
#
# `mlp_backward` computes exactly these lines, with the scratch `softmax` and `relu_grad`.
# Below it runs on a one-hidden-layer `MLPScratch` and is compared with the gradients that
# autograd leaves in each parameter's `.grad`.

# %%
one_hidden = MLPScratch(num_hiddens=(32,)).double()
one_hidden.loss(one_hidden(X), y).backward()  # autograd, on the batch of section 2
(W1, b1), (W2, b2) = one_hidden.linear_params()
by_hand = mlp_backward(X.flatten(1), y, W1, b1, W2, b2)  # X: (16, 1, 28, 28) -> (16, 784)
backprop_errors = {
    name: (getattr(by_hand, name) - param.grad).abs().max().item()
    for name, param in {"W1": W1, "b1": b1, "W2": W2, "b2": b2}.items()
}
for name, err in backprop_errors.items():
    print(f"dL/d{name}: max |by hand - autograd| = {err:.1e}")
backprop_error = max(backprop_errors.values())
print(f"max difference over all parameters: {backprop_error:.1e}")

# %% [markdown]
# ## 4. Dropout
#
# During training, dropout zeroes each hidden unit with probability $p$ and scales the
# survivors by $1/(1-p)$, so every unit keeps its expected value:
# $E[h'] = (1-p) \cdot h/(1-p) = h$. At evaluation it is the identity. The scratch
# `dropout_layer` draws its mask like `F.dropout`, so under the same seed both drop the same
# units.

# %%
ones = torch.ones(24, 24)
fig, axes = new_figure(1, 3, figsize=(9, 3.2))
for ax, p in zip(axes, (0.2, 0.5, 0.8), strict=True):
    dropped = fn.dropout_layer(ones, p, generator=torch.Generator().manual_seed(0))
    ax.imshow(dropped, cmap="viridis", vmin=0, vmax=5)
    kept = (dropped > 0).float().mean()
    ax.set_title(f"p = {p}\nkept {kept:.2f}, mean {dropped.mean():.2f}", fontsize=10)
    ax.axis("off")
save_figure(fig, FIGURES / "dropout.png")

h = torch.randn(1000, 100)
torch.manual_seed(1)
ours = fn.dropout_layer(h, 0.5)
torch.manual_seed(1)
theirs = F.dropout(h, 0.5, training=True)
print("same mask as F.dropout under the same seed:", torch.equal(ours, theirs))
print("identity in eval mode:", torch.equal(fn.dropout_layer(h, 0.5, training=False), h))

# %% [markdown]
# ## 5. Numerical stability of the softmax
#
# The textbook softmax $\exp(o_j) / \sum_k \exp(o_k)$ overflows once a logit passes about 88
# in float32 ($e^{89} > 3.4 \times 10^{38}$) and returns NaN. Subtracting the largest logit
# first changes nothing mathematically but keeps every exponent $\le 0$. The same trick
# (log-sum-exp) gives a stable log-softmax, hence a stable cross-entropy.

# %%
scales = torch.logspace(0, 4, 81)  # the largest logit, from 1 to 1e4
base = torch.tensor([[1.0, 0.5, -0.3, -1.0]])
naive_errors, stable_errors = [], []
for scale in scales:
    logits = base * scale  # float32
    reference = F.softmax(logits.double(), dim=-1)
    naive_errors.append((fn.softmax_naive(logits).double() - reference).abs().max().item())
    stable_errors.append((fn.softmax(logits).double() - reference).abs().max().item())
naive_errors, stable_errors = torch.tensor(naive_errors), torch.tensor(stable_errors)
overflow = naive_errors.isnan()
first_nan = scales[overflow].min().item()
exp_limit = torch.log(torch.tensor(torch.finfo(torch.float32).max)).item()  # about 88.7

fig, ax = new_figure(figsize=(6.5, 3.8))
ax.plot(scales[~overflow], naive_errors[~overflow], "o-", markersize=4, label="naive softmax")
nan_marks = torch.ones(int(overflow.sum()))
ax.plot(scales[overflow], nan_marks, "x", color="red", label="naive softmax: NaN (drawn at 1)")
ax.plot(scales, stable_errors, "s-", markersize=3, label="stable softmax")
ax.axvline(exp_limit, color="gray", ls=":", label=f"exp overflows float32 at {exp_limit:.1f}")
ax.set_xscale("log")
ax.set_yscale("symlog", linthresh=1e-8)  # linear near 0, so exact (0) errors show
ax.set_ylim(0, 3)
ax.set_xlabel("largest logit (float32)")
ax.set_ylabel("max |error| vs float64 softmax")
ax.legend(fontsize=8, loc="center right")
ax.grid(alpha=0.3)
save_figure(fig, FIGURES / "softmax_stability.png")
print(f"naive softmax returns NaN from a largest logit of {first_nan:.0f}")
print(f"stable softmax: max error {stable_errors.max():.1e} up to logits of 1e4")

# %% [markdown]
# ## 6. Xavier initialization
#
# For a layer with $n_\text{in}$ inputs and $n_\text{out}$ outputs, Xavier (Glorot)
# initialization draws weights with variance $2 / (n_\text{in} + n_\text{out})$, a compromise
# that keeps both the forward activations and the backward gradients at a stable scale.
# Uniform: $U(-a, a)$ with $a = \sqrt{6 / (n_\text{in} + n_\text{out})}$. Below: the scratch
# samples match `torch.nn.init`, and in a 20-layer tanh network the activations keep their
# scale with Xavier while they vanish or saturate with fixed standard deviations.

# %%
n_in, n_out = 400, 200
ours_u = fn.xavier_uniform_(torch.empty(n_out, n_in), generator=torch.Generator().manual_seed(0))
torch_u = nn.init.xavier_uniform_(
    torch.empty(n_out, n_in), generator=torch.Generator().manual_seed(0)
)
ours_n = fn.xavier_normal_(torch.empty(n_out, n_in), generator=torch.Generator().manual_seed(0))
xavier_variance = {"target": 2 / (n_in + n_out), "uniform": ours_u.var(), "normal": ours_n.var()}
print("Xavier uniform equals torch.nn.init draw for draw:", torch.equal(ours_u, torch_u))
print({k: round(float(v), 6) for k, v in xavier_variance.items()})


def activation_scales(init, depth: int = 20, width: int = 256) -> list[float]:
    """Std of the activations after each tanh layer of a deep MLP."""
    g = torch.Generator().manual_seed(0)
    H = torch.randn(512, width, generator=g)
    stds = []
    for _ in range(depth):
        W = init(torch.empty(width, width), g)
        H = fn.tanh(H @ W)
        stds.append(H.std().item())
    return stds


inits = {
    "Xavier uniform": lambda W, g: fn.xavier_uniform_(W, generator=g),
    "N(0, 0.01)": lambda W, g: W.normal_(0, 0.01, generator=g),
    "N(0, 1)": lambda W, g: W.normal_(0, 1.0, generator=g),
}
fig, axes = new_figure(1, 2, figsize=(10, 3.5))
axes[0].hist(ours_u.flatten(), bins=60, density=True, alpha=0.6, label="xavier_uniform_")
axes[0].hist(ours_n.flatten(), bins=60, density=True, alpha=0.6, label="xavier_normal_")
axes[0].set_title(f"weights of a {n_out}x{n_in} layer")
axes[0].legend(fontsize=8)
for name, init in inits.items():
    axes[1].semilogy(range(1, 21), activation_scales(init), "o-", markersize=3, label=name)
axes[1].set_xlabel("layer")
axes[1].set_ylabel("std of tanh activations")
axes[1].set_title("a 20-layer tanh MLP: N(0, 1) saturates, N(0, 0.01) vanishes")
axes[1].legend(fontsize=8)
axes[1].grid(alpha=0.3)
save_figure(fig, FIGURES / "xavier.png")

# %% [markdown]
# ## 7. Training the MLP on the glyph images
#
# The embedded glyph data are 28x28 grayscale images of ten shapes (disk, ring, square,
# ...), rendered from a seed, so nothing is downloaded. `Trainer` writes a run folder with
# `metrics.csv`, `hparams.yaml`, `curves.png`, `summary.json` and `checkpoints/last.ckpt`.

# %%
data = GlyphsData(n=1200 if QUICK else 6000, batch_size=64 if QUICK else 256)
model = MLP(num_hiddens=(256,), dropout=0.2, lr=3e-3, optimizer="adam")
epochs = 3 if QUICK else 15
trainer = Trainer(max_epochs=epochs, runs_dir="runs", name="notebook-mlp", progress_bar=False)
trainer.fit(model, data)
summary = json.loads((trainer.run_dir / "summary.json").read_text())
val_acc = summary["val_acc"]
print(f"validation accuracy: {val_acc:.3f}")
print(f"run folder: {trainer.run_dir} (curves: {trainer.run_dir / 'curves.png'})")
