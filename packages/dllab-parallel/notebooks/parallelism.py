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
# # Parallelism: sharding, all-reduce and data-parallel training
#
# This notebook
#
# 1. **shards** a batch across devices and a dataset across processes;
# 2. follows the **ring all-reduce** step by step, draws it, and checks dllab's ring and
#    naive all-reduce against `torch.distributed.all_reduce` on real CPU processes;
# 3. trains the same model **by hand** (per-rank gradients, ring all-reduce, step) and with
#    **DDP**, and compares both with one process on the full batch;
# 4. times **hardware acceleration**: a matrix multiply and a training step on CPU against
#    GPU, float32 against bf16 autocast, and asynchronous GPU launches.
#
# The processes are real: gloo on CPU, on a free local port. Quick mode (`DLLAB_QUICK=1`)
# shrinks the timings; everything runs on a laptop CPU in well under a minute.

# %%
import json
import sys
import time
from copy import deepcopy
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import TensorDataset

from dllab.core.cli.options import quick_mode
from dllab.core.plotting import new_figure, save_figure
from dllab.parallel import distributed_loader, run_workers, split_batch
from dllab.parallel.parity import Case, compare_all_reduces
from dllab.parallel.toy import ToyProblem, train_ddp, train_manual, train_single

QUICK = quick_mode()
FIGURES = Path("figures")
FIGURES.mkdir(exist_ok=True)
# forked ranks inherit this notebook's imports; spawn (macOS, Windows) starts them afresh
START = "fork" if sys.platform == "linux" else "spawn"
metrics: dict = {}


def workers(fn, world_size, args=()):
    """``run_workers`` with this notebook's start method and a 60 s bound on every wait."""
    return run_workers(fn, world_size, args, start_method=START, timeout=60.0)


# %% [markdown]
# ## 1. Sharding
#
# `split_batch` cuts one batch into one contiguous slice per device, as d2l's does; when the
# batch does not divide evenly the first slices take one sample more.

# %%
X, y = torch.arange(20.0).reshape(10, 2), torch.arange(10)
X_parts, y_parts = split_batch(X, y, ["cpu"] * 3)
print("slice sizes:", [len(part) for part in X_parts])
print("labels per device:", [part.tolist() for part in y_parts])

# %% [markdown]
# Across processes, each rank reads its own share of every epoch. A plain `DataLoader` gets a
# `DistributedSampler`: it pads the epoch by repeating its first samples so every rank takes
# the same number of batches. (A rank with one batch more would wait in the next all-reduce
# forever; core's in-memory loader pads the same way, with whole batches.)

# %%
dataset = TensorDataset(torch.arange(10))
for rank in range(3):
    loader = distributed_loader(dataset, batch_size=2, rank=rank, world_size=3, seed=0)
    print(f"rank {rank}:", [batch[0].tolist() for batch in loader])

# %% [markdown]
# ## 2. All-reduce, step by step
#
# After an all-reduce every rank holds the sum of all ranks' tensors. The **naive** way sends
# everything to rank 0 and back: rank 0's link carries `2 (n - 1) N` bytes. The **ring**
# cuts the tensor into `n` chunks and passes them around a ring `r -> r + 1`:
#
# - *reduce-scatter*, `n - 1` steps: rank `r` sends chunk `(r - s) mod n` to its right
#   neighbour, which adds it to its own copy; afterwards rank `r` owns the full sum of chunk
#   `(r + 1) mod n`;
# - *all-gather*, `n - 1` steps: the complete chunks travel once more around the ring.
#
# Every rank sends `2 (n - 1) / n · N` bytes, whatever `n`. Below, each chunk is tracked by
# the set of ranks whose data it already holds.


# %%
def ring_frames(n: int) -> list[tuple[str, list[list[set]], list[tuple[int, int, int]]]]:
    """The state after each step: ``state[r][c]`` = the ranks summed into rank r's chunk c."""
    state = [[{r} for _ in range(n)] for r in range(n)]
    frames = [("start", deepcopy(state), [])]
    for phase, first in (("reduce-scatter", 0), ("all-gather", 1)):
        for step in range(n - 1):
            sends = [(r, (r + 1) % n, (r + first - step) % n) for r in range(n)]
            new = deepcopy(state)
            for src, dst, chunk in sends:
                if phase == "reduce-scatter":
                    new[dst][chunk] = state[dst][chunk] | state[src][chunk]
                else:
                    new[dst][chunk] = set(state[src][chunk])
            state = new
            frames.append((f"{phase} {step + 1}", deepcopy(state), sends))
    return frames


def draw_ring(frames, n: int, path: Path) -> Path:
    """One panel per step: ranks on a ring, their chunks shaded by how complete they are."""
    import math

    columns = (len(frames) + 1) // 2
    fig, grid = new_figure(2, columns, figsize=(2.8 * columns, 6.0))
    axes = list(grid.flat)
    for ax in axes[len(frames) :]:
        ax.axis("off")
    cmap = __import__("matplotlib").colormaps["Blues"]
    where = [
        (math.cos(math.pi / 2 - 2 * math.pi * r / n), math.sin(math.pi / 2 - 2 * math.pi * r / n))
        for r in range(n)
    ]
    for ax, (title, state, sends) in zip(axes, frames, strict=False):
        for src, dst, chunk in sends:
            (x0, y0), (x1, y1) = where[src], where[dst]
            ax.annotate(
                "",
                xy=(0.55 * x1 + 0.1 * x0, 0.55 * y1 + 0.1 * y0),
                xytext=(0.55 * x0 + 0.1 * x1, 0.55 * y0 + 0.1 * y1),
                arrowprops={"arrowstyle": "->", "color": "tab:red", "lw": 1.5},
            )
            ax.text(0.42 * (x0 + x1), 0.42 * (y0 + y1), f"c{chunk}", color="tab:red", fontsize=8)
        for rank, (x, y_) in enumerate(where):
            for c in range(n):
                share = len(state[rank][c]) / n
                ax.add_patch(
                    __import__("matplotlib").patches.Rectangle(
                        (x - 0.3 + 0.6 * c / n, y_ - 0.1),
                        0.6 / n,
                        0.2,
                        facecolor=cmap(0.15 + 0.85 * share),
                        edgecolor="black",
                        lw=0.5,
                    )
                )
            ax.text(x, y_ + 0.17, f"rank {rank}", ha="center", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.set_xlim(-1.4, 1.4)
        ax.set_ylim(-1.4, 1.4)
        ax.set_aspect("equal")
        ax.axis("off")
    fig.suptitle("ring all-reduce: chunk shade = share of the ranks summed into it", fontsize=10)
    return save_figure(fig, path)


N_RANKS = 4
frames = ring_frames(N_RANKS)
for title, state, _ in frames:
    print(f"{title:>16}:", " | ".join("".join(str(len(c)) for c in row) for row in state))
complete = all(len(chunk) == N_RANKS for row in frames[-1][1] for chunk in row)
print("every rank holds every chunk's full sum:", complete)
draw_ring(frames, N_RANKS, FIGURES / "ring_allreduce.png")

# %% [markdown]
# Now the real thing: 4 processes, each with its own random tensor, reduce it with dllab's
# ring, dllab's naive all-reduce and `dist.all_reduce`. The sizes include ones that 4 does
# not divide, and bfloat16 (8 significant bits, so its sums round differently).

# %%
cases = [Case((1001,)), Case((7,), op="mean"), Case((4, 5), transposed=True)]
cases.append(Case((1001,), "bfloat16"))
results = workers(compare_all_reduces, N_RANKS, (cases,))
errors = {}
for i, case in enumerate(cases):
    for name in ("ring", "naive"):
        diff = max(
            (r[i][name].double() - r[i]["library"].double()).abs().max().item() for r in results
        )
        same = all(torch.equal(r[i][name], results[0][i][name]) for r in results)
        errors[(case.dtype, case.shape, name)] = diff
        print(
            f"{name:>5} {case.dtype:>8} {case.shape}: max |ours - gloo| {diff:.1e}, same on every rank: {same}"
        )
metrics["ring_max_abs_error_float32"] = max(
    v for (dtype, _, name), v in errors.items() if dtype == "float32" and name == "ring"
)

# %% [markdown]
# ## 3. Data parallelism by hand and with DDP
#
# Each rank holds a full model and a shard of the global batch; it computes its gradient,
# the ranks average the gradients with one all-reduce, and all take the same step. The
# average of the shards' gradients is the full batch's gradient (each rank scales its loss by
# its share when the shards differ in size), so after any number of steps the parameters
# equal those of one process training on the full batch, up to rounding. DDP does the same
# inside `backward`, bucket by bucket, overlapping communication with computation.

# %%
problem = ToyProblem(steps=6)
single = train_single(problem)
runs = {
    "manual, 2 ranks": workers(train_manual, 2, (problem,)),
    "manual, 3 ranks": workers(train_manual, 3, (ToyProblem(steps=6, batch_size=25),)),
    "DDP, 2 ranks": workers(train_ddp, 2, (problem,)),
}
for name, states in runs.items():
    reference = single if "3" not in name else train_single(ToyProblem(steps=6, batch_size=25))
    diff = max((s[k] - reference[k]).abs().max().item() for s in states for k in reference)
    agree = all(torch.equal(s[k], states[0][k]) for s in states for k in reference)
    print(f"{name}: max |parallel - single| {diff:.1e} (float64), ranks identical: {agree}")
    metrics[f"{name.split(',')[0].lower()}_{len(states)}_max_abs_error"] = diff

# %% [markdown]
# ## 4. Hardware acceleration
#
# A GPU runs many arithmetic units at once, and bf16 halves the bytes to move. Both help
# only when there is enough work: small matrices are dominated by launch overheads. CUDA
# calls are **asynchronous**: the Python call returns once the kernel is queued, and
# `torch.cuda.synchronize()` waits for it to finish; a timer that does not synchronize
# measures the launch only.

# %% [markdown]
# On a CPU without bf16 arithmetic units, autocast converts every operand and gains nothing:
# expect bf16 to be slower there, and faster on a recent GPU.

# %%
GPU = torch.cuda.is_available()
if not GPU:
    print("No GPU on this machine: the figures below are the CPU's only.")
SIZE = 256 if QUICK else 2048
REPEATS = 3 if QUICK else 10


def best_time(fn, device: str) -> float:
    """The fastest of ``REPEATS`` calls after a warm-up, synchronizing on a GPU."""
    fn()
    times = []
    for _ in range(REPEATS):
        if device == "cuda":
            torch.cuda.synchronize()
        tic = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - tic)
    return min(times)


def matmul(device: str, bf16: bool):
    a = torch.randn(SIZE, SIZE, device=device)

    def run():
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            return a @ a

    return run


def train_step(device: str, bf16: bool):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 10)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    X = torch.randn(512, 784, device=device)
    y = torch.randint(0, 10, (512,), device=device)

    def run():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            loss = nn.functional.cross_entropy(model(X), y)
        loss.backward()
        optimizer.step()

    return run


timings = {}
for device in ["cpu", "cuda"] if GPU else ["cpu"]:
    for bf16 in (False, True):
        label = f"{device} {'bf16' if bf16 else 'fp32'}"
        timings[f"matmul {label}"] = best_time(matmul(device, bf16), device)
        timings[f"train step {label}"] = best_time(train_step(device, bf16), device)
flops = 2 * SIZE**3
for name, seconds in timings.items():
    extra = f"  ({flops / seconds / 1e9:.1f} GFLOP/s)" if name.startswith("matmul") else ""
    print(f"{name:>22}: {seconds * 1e3:8.2f} ms{extra}")
metrics["timings_ms"] = {k: round(v * 1e3, 3) for k, v in timings.items()}
metrics["gpu"] = GPU

# %%
if GPU:
    a = torch.randn(4096, 4096, device="cuda")
    torch.cuda.synchronize()
    tic = time.perf_counter()
    for _ in range(10):
        b = a @ a
    launched = time.perf_counter() - tic
    torch.cuda.synchronize()
    finished = time.perf_counter() - tic
    print(f"10 matmuls: {launched * 1e3:.2f} ms to launch, {finished * 1e3:.2f} ms to finish")
    metrics["async_launch_ms"], metrics["async_finish_ms"] = launched * 1e3, finished * 1e3
else:
    print(
        "No GPU: on a CPU every call returns when its work is done, so there is nothing to synchronize."
    )

# %%
Path("metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
print(json.dumps(metrics, default=str))
