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
# # The attention mechanism: queries, keys and values
#
# Attention pools a set of **values** $v_i$ with weights that depend on how well a **query**
# $q$ matches each value's **key** $k_i$:
# $\mathrm{attention}(q) = \sum_i \alpha(q, k_i)\, v_i$, with weights $\alpha \ge 0$ that sum
# to one. This notebook:
#
# 1. starts from the oldest instance, Nadaraya–Watson kernel regression, in its
#    non-parametric and parametric (learned width) forms, and draws its attention weights;
# 2. masks the softmax so that padding gets exactly zero weight;
# 3. compares the two scoring functions, additive and scaled dot-product, and proves the
#    readable from-scratch path equal to PyTorch's fused `scaled_dot_product_attention`;
# 4. builds multi-head attention and checks it against `nn.MultiheadAttention`.
#
# `DLLAB_QUICK=1` keeps every step to a few seconds. Figures go to `figures/`.

# %%
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from dllab.core.cli.options import quick_mode
from dllab.core.nn.attention import AdditiveAttention, attend, dot_product_attention
from dllab.core.nn.heatmaps import plot_attention_heatmaps
from dllab.core.nn.kernel_regression import (
    NadarayaWatson,
    leave_one_out_mask,
    nadaraya_watson,
)
from dllab.core.nn.masking import masked_softmax
from dllab.core.nn.multihead import MultiHeadAttention, load_from_torch_mha
from dllab.core.plotting import new_figure, save_figure

QUICK = quick_mode()
FIGURES = Path("figures")
torch.manual_seed(0)
print(f"quick mode: {QUICK}")

# %% [markdown]
# ## 1. Attention pooling by similarity: Nadaraya–Watson regression
#
# Training pairs $(x_i, y_i)$ come from $y = 2\sin x + x^{0.8} + \epsilon$. To predict at a
# new $x$ (the query) we average the training targets (the values), weighting each by a
# kernel of the distance between $x$ and the training input $x_i$ (the key):
# $$f(x) = \sum_i \frac{K(x - x_i)}{\sum_j K(x - x_j)}\, y_i.$$
# With the Gaussian kernel $K(u) = \exp(-u^2/2)$ the weights are a softmax of
# $-(x - x_i)^2 / 2$: attention with a fixed, parameter-free score.


# %%
def truth(x: torch.Tensor) -> torch.Tensor:
    return 2 * torch.sin(x) + x**0.8


n_train = 50
x_train, _ = torch.sort(torch.rand(n_train) * 5)
y_train = truth(x_train) + 0.5 * torch.randn(n_train)
x_val = torch.arange(0, 5, 0.1)
y_val = truth(x_val)

kernels = ["gaussian", "boxcar", "constant", "epanechnikov"]
fig, axes = new_figure(1, 4, figsize=(13, 3), sharey=True)
kernel_errors = {}
for ax, kernel in zip(axes, kernels, strict=True):
    y_hat, weights = nadaraya_watson(x_val, x_train, y_train, kernel=kernel, width=0.5)
    kernel_errors[kernel] = F.mse_loss(y_hat, y_val).item()
    ax.plot(x_val, y_val, label="truth")
    ax.plot(x_val, y_hat, label="prediction")
    ax.plot(x_train, y_train, "o", alpha=0.4, markersize=3, label="training data")
    ax.set_title(f"{kernel} (mse {kernel_errors[kernel]:.2f})")
axes[0].legend(fontsize=8)
save_figure(fig, FIGURES / "kernel_regression.png")
print({k: round(v, 3) for k, v in kernel_errors.items()})

# %% [markdown]
# Each row of the weight matrix is one query's attention over the 50 training keys. The
# inputs are sorted, so the mass sits near the diagonal; a narrow kernel concentrates it,
# a wide one spreads it out.

# %%
widths = [0.1, 0.5, 1.0]
weight_grid = torch.stack([nadaraya_watson(x_val, x_train, y_train, width=w)[1] for w in widths])
plot_attention_heatmaps(
    weight_grid,
    FIGURES / "kernel_weights.png",
    xlabel="training inputs (keys)",
    ylabel="validation inputs (queries)",
    titles=[f"width {w}" for w in widths],
)

# %% [markdown]
# ### The parametric form: learning the width
#
# Put a learnable inverse width $w$ into the score: $-((x - x_i) w)^2 / 2$. Training it on the
# training set itself needs care: a query that can see its own key would learn $w \to \infty$
# and copy $y_i$. Leave-one-out masking hides each point's own key.

# %%
model = NadarayaWatson(init_w=1.0)
optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
loo = leave_one_out_mask(n_train)
nw_losses = []
for _ in range(60 if QUICK else 200):
    loss = F.mse_loss(model(x_train, x_train, y_train, mask=loo), y_train)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    nw_losses.append(loss.item())
with torch.no_grad():
    y_param = model(x_val, x_train, y_train)
param_error = F.mse_loss(y_param, y_val).item()
print(f"learned w = {model.w.item():.2f}, validation mse {param_error:.3f}")
print(f"leave-one-out loss {nw_losses[0]:.3f} -> {nw_losses[-1]:.3f}")

fig, (ax_fit, ax_loss) = new_figure(1, 2, figsize=(9, 3))
ax_fit.plot(x_val, y_val, label="truth")
ax_fit.plot(x_val, y_param, label="learned width")
ax_fit.plot(x_train, y_train, "o", alpha=0.4, markersize=3)
ax_fit.legend(fontsize=8)
ax_loss.plot(nw_losses)
ax_loss.set_xlabel("step")
ax_loss.set_ylabel("leave-one-out mse")
save_figure(fig, FIGURES / "parametric_regression.png")
plot_attention_heatmaps(
    model.attention_weights,
    FIGURES / "parametric_weights.png",
    xlabel="training inputs (keys)",
    ylabel="validation inputs (queries)",
)

# %% [markdown]
# ## 2. Masking
#
# Sequences in a batch have different lengths, so keys past each sequence's end are padding.
# `masked_softmax` takes valid lengths (one per sequence, or one per query) or boolean masks.
# Masked keys get **exactly** zero weight, and a query with no valid key at all gets all-zero
# weights instead of NaN.

# %%
scores = torch.randn(2, 3, 5)
masked = masked_softmax(scores, valid_lens=torch.tensor([2, 4]))
per_query = masked_softmax(scores, valid_lens=torch.tensor([[1, 3, 5], [0, 2, 4]]))
print(masked)
print("per-query lengths, with a fully masked first query in sequence 1:")
print(per_query)
mask_zero_ok = bool((masked[0, :, 2:] == 0).all() and (per_query[1, 0] == 0).all())
plot_attention_heatmaps(
    torch.stack([masked, per_query]),
    FIGURES / "masked_softmax.png",
    titles=["lengths (2,)", "lengths (4,)", "per query, seq 0", "per query, seq 1"],
)

# %% [markdown]
# ## 3. Scoring functions
#
# **Additive attention** (Bahdanau) scores with a one-hidden-layer MLP,
# $w_v^\top \tanh(W_q q + W_k k)$, and works when queries and keys have different sizes.
# **Scaled dot-product attention** scores with $q^\top k / \sqrt{d}$: cheaper, and the
# $1/\sqrt{d}$ keeps the scores' variance at one for unit-variance inputs.

# %%
queries = torch.randn(2, 1, 20)
keys = torch.randn(2, 10, 2)
values = torch.arange(40, dtype=torch.float32).reshape(1, 10, 4).repeat(2, 1, 1)
valid_lens = torch.tensor([2, 6])
additive = AdditiveAttention(query_size=20, key_size=2, num_hiddens=8).eval()
print("additive:", additive(queries, keys, values, valid_lens).shape)
plot_attention_heatmaps(
    additive.attention_weights.reshape(1, 2, 1, 10),
    FIGURES / "additive_weights.png",
    titles=["valid length 2", "valid length 6"],
)

# %% [markdown]
# The from-scratch path writes the computation out: scores, masked softmax, weighted sum.
# The fast path hands the same inputs and masks to
# `torch.nn.functional.scaled_dot_product_attention`, which fuses the steps into one kernel
# (and never materializes the weights). They agree to float rounding, with padding and with
# causal masks, in the output and in the gradients.

# %%
q, k, v = (torch.randn(4, 2, 16, 8, requires_grad=True) for _ in range(3))
lengths = torch.tensor([16, 9, 3, 1])
path_errors = {}
for case, kwargs in {
    "padding": {"valid_lens": lengths},
    "causal": {"is_causal": True},
    "padding+causal": {"valid_lens": lengths, "is_causal": True},
}.items():
    outs, grads = [], []
    for impl in ("scratch", "sdpa"):
        out, _ = attend(q, k, v, impl=impl, **kwargs)
        outs.append(out)
        grads.append(torch.autograd.grad(out.sum(), (q, k, v)))
    grad_err = max((a - b).abs().max().item() for a, b in zip(*grads, strict=True))
    path_errors[case] = max((outs[0] - outs[1]).abs().max().item(), grad_err)
print("max |scratch - sdpa| (outputs and gradients):", path_errors)
_, causal_weights = dot_product_attention(
    q[:1], k[:1], v[:1], valid_lens=lengths[2:3], is_causal=True
)
plot_attention_heatmaps(
    causal_weights[0].detach(),
    FIGURES / "causal_padding_weights.png",
    titles=["head 0: causal, 3 valid keys", "head 1"],
)

# %% [markdown]
# ## 4. Multi-head attention
#
# One attention looks for one kind of match. Multi-head attention projects queries, keys and
# values $h$ times into smaller spaces ($d/h$ features each), attends in each head in
# parallel, concatenates the heads and mixes them with $W_o$. `MultiHeadAttention` keeps
# separate $W_q, W_k, W_v$ for readability; its fast path concatenates them into one matmul
# for self-attention and calls SDPA. Loading the weights of a `torch.nn.MultiheadAttention`
# into it gives the same outputs and gradients.

# %%
d_model, num_heads = 32, 4
reference = nn.MultiheadAttention(d_model, num_heads, batch_first=True)
mha = MultiHeadAttention(d_model, num_heads)
load_from_torch_mha(mha, reference)
x = torch.randn(3, 12, d_model, requires_grad=True)
padding = torch.arange(12) >= torch.tensor([12, 7, 4])[:, None]  # True marks padding
ours = mha(x, key_padding_mask=padding, is_causal=True)
causal_blocked = torch.ones(12, 12, dtype=torch.bool).triu(1)
theirs, _ = reference(
    x, x, x, key_padding_mask=padding, attn_mask=causal_blocked, need_weights=False
)
grad_ours, grad_theirs = (torch.autograd.grad(out.sum(), x)[0] for out in (ours, theirs))
mha_error = max((ours - theirs).abs().max().item(), (grad_ours - grad_theirs).abs().max().item())
print(f"max |dllab - torch| over outputs and input gradients: {mha_error:.2e}")

mha(x, key_padding_mask=padding, need_weights=True)
plot_attention_heatmaps(
    mha.attention_weights[:2],
    FIGURES / "multihead_weights.png",
    titles=[f"seq {b}, head {h}" for b in range(2) for h in range(num_heads)],
)

# %% [markdown]
# Next: `transformers.py` puts these pieces together with positional encodings into
# encoder and decoder blocks, and trains a small encoder–decoder.
