# %% [markdown]
# # Gaussian processes: priors, exact posteriors and confidence regions
#
# A Gaussian process (GP) is a distribution over functions: any finite set of function
# values is jointly Gaussian, with a mean and a covariance given by a **kernel**. This
# notebook builds GP regression from scratch with `dllab.gp`, checks it against GPyTorch,
# and uses it to draw confidence regions.
#
# 1. Priors: what kernels and lengthscales say about functions.
# 2. The posterior, step by step, with a Cholesky factorisation.
# 3. The log marginal likelihood and learning hyperparameters (L-BFGS, Adam).
# 4. Confidence regions, and whether they cover what they claim.
# 5. From scratch against GPyTorch.
#
# Run it as a script; `DLLAB_QUICK=1` makes it small. Plots go to PNG files here.

# %%
import json
import math

import numpy as np
import torch

from dllab.core.cli.options import quick_mode
from dllab.core.plotting import new_figure, save_figure
from dllab.gp import GaussianProcess, SpecKernel, fit_hyperparameters, sample_prior, synthetic
from dllab.gp.kernels import LinearKernel, MaternKernel, PeriodicKernel, RBFKernel
from dllab.gp.plots import plot_posterior_1d, plot_prior_samples

QUICK = quick_mode()
N_TRAIN = 60 if QUICK else 150
N_HELD_OUT = 2000 if QUICK else 5000
torch.manual_seed(0)
results = {}

# %% [markdown]
# ## 1. Priors
#
# Before seeing data, a GP with the RBF kernel $k(x, x') = \exp(-|x - x'|^2 / 2\ell^2)$
# draws smooth functions that vary on the scale of the lengthscale $\ell$. Matérn kernels
# are rougher (ν = 1/2 gives continuous but nowhere-differentiable paths), the periodic
# kernel repeats itself, and the linear kernel draws straight lines.

# %%
x_plot = torch.linspace(0, 10, 150 if QUICK else 300, dtype=torch.float64)[:, None]
g = torch.Generator().manual_seed(0)
priors = [
    ("RBF, ℓ = 0.5", RBFKernel(lengthscale=0.5)),
    ("RBF, ℓ = 1", RBFKernel(lengthscale=1.0)),
    ("RBF, ℓ = 3", RBFKernel(lengthscale=3.0)),
    ("Matérn ν=1/2, ℓ = 1", MaternKernel(0.5, lengthscale=1.0)),
    ("Matérn ν=5/2, ℓ = 1", MaternKernel(2.5, lengthscale=1.0)),
    ("periodic, p = 3", PeriodicKernel(lengthscale=1.0, period=3.0)),
    ("linear", LinearKernel(variance=0.02)),
    ("RBF · periodic", RBFKernel(lengthscale=4.0) * PeriodicKernel(period=2.0)),
    ("RBF + linear", RBFKernel(lengthscale=1.0) + LinearKernel(variance=0.02)),
]
panels = [(name, x_plot[:, 0], sample_prior(k, x_plot, 4, generator=g)) for name, k in priors]
plot_prior_samples(panels, "gp_priors.png")

# %% [markdown]
# ## 2. The posterior, step by step
#
# Observations $y = f(x) + \varepsilon$ with $\varepsilon \sim N(0, \sigma^2)$. Conditioning
# the joint Gaussian of $(y, f_*)$ on $y$ gives (Rasmussen & Williams, Algorithm 2.1):
#
# $$L = \mathrm{chol}(K + \sigma^2 I), \quad \alpha = L^\top \backslash (L \backslash y),$$
# $$\mu_* = K_*^\top \alpha, \quad v = L \backslash K_*, \quad
#   \Sigma_* = K_{**} - v^\top v.$$
#
# The Cholesky factor is computed once; each prediction costs triangular solves.

# %%
data = synthetic("sin-1d", N_TRAIN, noise=0.2, seed=0)
x, y = torch.tensor(data.x), torch.tensor(data.y)
kernel = SpecKernel("rbf")
kernel.kernels[0].outputscale, kernel.term_factors(0)[0].lengthscale = 1.0, 1.0
noise = 0.04

with torch.no_grad():
    K = kernel(x)  # (n, n)
    L = torch.linalg.cholesky(K + noise * torch.eye(len(x), dtype=torch.float64))
    alpha = torch.cholesky_solve(y[:, None], L)[:, 0]  # (n,)
    K_star = kernel(x, x_plot)  # (n, t)
    mean_by_hand = K_star.T @ alpha  # (t,)
    v = torch.linalg.solve_triangular(L, K_star, upper=False)  # (n, t)
    var_by_hand = kernel.diag(x_plot) - v.pow(2).sum(0)  # (t,)

gp = GaussianProcess(kernel, noise=noise)
mean, var = gp.posterior(x, y).predict(x_plot)
results["by_hand_vs_library_max_diff"] = max(
    float((mean - mean_by_hand).abs().max()), float((var - var_by_hand).abs().max())
)
print("by hand vs GaussianProcess, max difference:", results["by_hand_vs_library_max_diff"])

std, std_y = var.sqrt(), (var + noise).sqrt()  # latent f*, and a noisy y* = f* + ε
plot_posterior_1d(
    x, y, x_plot, mean, mean - 1.96 * std_y, mean + 1.96 * std_y, "gp_posterior_steps.png",
    truth=data.true_function(x_plot.numpy()), title="Posterior with ℓ = 1, σ² = 0.04",
    latent=(mean - 1.96 * std, mean + 1.96 * std),
)  # fmt: skip

# %% [markdown]
# ## 3. The log marginal likelihood, and learning hyperparameters
#
# $$\log p(y) = -\tfrac12 y^\top \alpha - \textstyle\sum_i \log L_{ii} - \tfrac n2 \log 2\pi$$
#
# trades data fit against complexity. Too short a lengthscale explains the noise, too long
# a one misses the signal; the evidence peaks in between. Its gradient is analytic,
# $\partial \log p / \partial K = \tfrac12(\alpha\alpha^\top - K^{-1})$, so we can climb it
# with L-BFGS or Adam.

# %%
lengthscales = np.geomspace(0.05, 20, 40 if QUICK else 80)
evidence = []
for ls in lengthscales:
    kernel.term_factors(0)[0].lengthscale = float(ls)
    with torch.no_grad():
        evidence.append(float(gp.log_marginal_likelihood(x, y)))
fig, ax = new_figure(figsize=(6, 3.5))
ax.semilogx(lengthscales, evidence)
ax.set_xlabel("lengthscale ℓ")
ax.set_ylabel("log p(y)")
ax.set_title("Evidence against lengthscale (σ² = 0.04, s = 1)")
ax.grid(alpha=0.3)
save_figure(fig, "gp_evidence.png")

histories = {}
for optimizer in ("lbfgs", "adam"):
    learner = GaussianProcess(SpecKernel("rbf"))
    steps = 100 if optimizer == "adam" else 50
    fit = fit_hyperparameters(
        learner, x, y, optimizer=optimizer, restarts=1, max_iter=steps, lr=0.1
    )
    histories[optimizer] = fit.history
    print(optimizer, {k: round(float(v), 3) for k, v in learner.hyperparameters().items()})
fig, ax = new_figure(figsize=(6, 3.5))
for name, history in histories.items():
    ax.plot(history, label=name)
ax.set_xlabel("evaluation")
ax.set_ylabel("log p(y)")
ax.set_ylim(min(min(h) for h in histories.values()), max(max(h) for h in histories.values()) + 2)
ax.legend()
ax.grid(alpha=0.3)
save_figure(fig, "gp_learning.png")
results["lbfgs_evidence"] = histories["lbfgs"][-1]
results["adam_evidence"] = histories["adam"][-1]

# %% [markdown]
# ## 4. Confidence regions
#
# With learned hyperparameters (three L-BFGS restarts), the 95% predictive interval for a
# new observation is $\mu_* \pm 1.96\sqrt{\sigma_*^2 + \sigma^2}$. If the model is right,
# about 95% of fresh observations fall inside it. We check on held-out points. With few
# training points expect a little less: the maximum-likelihood noise estimate is biased low,
# so the interval comes out slightly too narrow.

# %%
model = GaussianProcess(SpecKernel("rbf"))
fit_hyperparameters(model, x, y, restarts=3)
posterior = model.posterior(x, y)
held_out = synthetic("sin-1d", N_HELD_OUT, noise=0.2, seed=1)
mean_y, var_y = posterior.predict(torch.tensor(held_out.x), include_noise=True)
inside = (torch.tensor(held_out.y) - mean_y).abs() <= 1.96 * var_y.sqrt()
results["coverage_95"] = float(inside.double().mean())
print(f"95% interval covers {results['coverage_95']:.1%} of {N_HELD_OUT} held-out points")

mean_f, var_f = posterior.predict(x_plot)
mean_n, var_n = posterior.predict(x_plot, include_noise=True)
truth = data.true_function(x_plot.numpy())
results["rmse_true_function"] = float(np.sqrt(np.mean((mean_f.numpy() - truth) ** 2)))
plot_posterior_1d(
    x, y, x_plot, mean_n, mean_n - 1.96 * var_n.sqrt(), mean_n + 1.96 * var_n.sqrt(),
    "gp_confidence.png", truth=truth, title="Learned hyperparameters: 95% regions",
    latent=(mean_f - 1.96 * var_f.sqrt(), mean_f + 1.96 * var_f.sqrt()),
)  # fmt: skip

# %% [markdown]
# ## 5. From scratch against GPyTorch
#
# GPyTorch's `ExactGP` computes the same posterior. With equal hyperparameters in float64
# (and exact Cholesky solves), the two agree to round-off. `GPRegressor` puts both behind one
# API: `backend="scratch"` or `backend="gpytorch"`.

# %%
from dllab.gp import GPRegressor, make_gpytorch_model, predict_gpytorch

twin, likelihood = make_gpytorch_model(x, y, "rbf")
twin.set_hyperparameters(model.hyperparameters())
ref_mean, ref_var = predict_gpytorch(twin, likelihood, x_plot)
results["scratch_vs_gpytorch_max_diff"] = max(
    float((mean_f - ref_mean).abs().max()), float((var_f - ref_var).abs().max())
)
print("scratch vs GPyTorch, max difference:", results["scratch_vs_gpytorch_max_diff"])

fig, ax = new_figure(figsize=(8, 4))
for backend, style in (("scratch", "-"), ("gpytorch", "--")):
    regressor = GPRegressor("rbf", backend=backend).fit(data.x, data.y, restarts=1)
    pred = regressor.predict(x_plot, include_noise=False)
    ax.plot(x_plot[:, 0], pred.mean, style, label=f"{backend} mean")
    ax.fill_between(x_plot[:, 0], pred.lower, pred.upper, alpha=0.15)
    results[f"{backend}_log_marginal_likelihood"] = regressor.log_marginal_likelihood()
ax.scatter(data.x[:, 0], data.y, s=8, color="k", label="data")
ax.set_title("GPRegressor: both backends, each fitting its own hyperparameters")
ax.legend()
save_figure(fig, "gp_scratch_vs_gpytorch.png")

with open("gp_results.json", "w") as handle:
    json.dump(results, handle, indent=2)
print(json.dumps(results, indent=2))
assert math.isfinite(results["coverage_95"])
