"""Trainer overhead: a hand-written loop vs plain Lightning vs dllab's Trainer.

One MLP (784-256-10), 60,000 synthetic 784-dim samples, batch 256, SGD, CPU. Each contender
trains from the same initial weights; runs are interleaved after a warm-up, each compared pair
back to back and in reverse order every other round (so that neither side always runs first),
and the minimum epoch time of each is compared (``*_over_raw``). A second pair
times a training recipe: a per-step one-cycle schedule, Nesterov momentum and weight decay on
the weight matrices only, as ``Module`` options in dllab and written by hand in the raw loop.

The shared machine's speed drifts by 10-30% over seconds, so the JSON also carries
``*_paired``: the median over rounds of the ratio of the two best epochs of one round (see
``dllab.core.bench.paired_ratio``). The last line is one JSON object of ratios.

    uv run python packages/dllab-core/benchmarks/bench_trainer.py [--repeats 9] [--epochs 2]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import tempfile
import time
import warnings

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn
from torch.nn import functional as F
from torch.optim.lr_scheduler import OneCycleLR
from torch.utils.data import DataLoader, TensorDataset

from dllab.core import Classifier, TensorDataModule, Trainer
from dllab.core.bench import interleaved, paired_ratio, ratio, round_ratios

RECIPE = {
    "schedule": "onecycle",
    "momentum": 0.9,
    "nesterov": True,
    "weight_decay": 5e-4,
    "decay_norm_and_bias": False,
}


def make_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


class Net(Classifier):
    def __init__(self, lr: float = 0.1, **recipe) -> None:
        super().__init__(num_classes=10, lr=lr, **recipe)
        self.net = make_net()


class PlainNet(L.LightningModule):
    """What a Lightning user writes: log the loss every step."""

    def __init__(self, lr: float = 0.1) -> None:
        super().__init__()
        self.net, self.lr = make_net(), lr

    def training_step(self, batch, batch_idx):
        X, y = batch
        loss = F.cross_entropy(self.net(X), y)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


class EpochTimer(Callback):
    def __init__(self) -> None:
        self.times: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._tic = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.times.append(time.perf_counter() - self._tic)


def raw_loop(X, y, epochs: int, batch_size: int, net=None, opt=None, sched=None) -> list[float]:
    """The fastest obvious hand-written loop: shuffled index slices of in-memory tensors."""
    if net is None:
        net = make_net()
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
    times = []
    for epoch in range(epochs):
        tic = time.perf_counter()
        order = torch.randperm(len(X), generator=torch.Generator().manual_seed(epoch))
        for idx in order.split(batch_size):
            loss = F.cross_entropy(net(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
        times.append(time.perf_counter() - tic)
    return times


def recipe_by_hand(net: nn.Module, steps: int) -> tuple[torch.optim.SGD, OneCycleLR]:
    """``RECIPE`` written out: two groups, Nesterov SGD, a one-cycle schedule over ``steps``."""
    decay = RECIPE["weight_decay"]
    groups = [
        {"params": [p for p in net.parameters() if p.ndim > 1], "weight_decay": decay},
        {"params": [p for p in net.parameters() if p.ndim <= 1], "weight_decay": 0.0},
    ]
    opt = torch.optim.SGD(groups, lr=0.1, momentum=0.9, nesterov=True, weight_decay=decay)
    return opt, OneCycleLR(opt, max_lr=[0.1, 0.1], total_steps=steps, cycle_momentum=False)


def raw_recipe_loop(X, y, epochs: int, batch_size: int) -> list[float]:
    """The raw loop with ``RECIPE`` by hand, its schedule stepped after every step."""
    net = make_net()
    opt, sched = recipe_by_hand(net, epochs * math.ceil(len(X) / batch_size))
    return raw_loop(X, y, epochs, batch_size, net, opt, sched)


def plain_lightning(X, y, epochs: int, batch_size: int) -> list[float]:
    timer = EpochTimer()
    loader = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True)
    with tempfile.TemporaryDirectory() as root:
        trainer = L.Trainer(
            max_epochs=epochs,
            accelerator="cpu",
            devices=1,
            default_root_dir=root,
            enable_progress_bar=False,
            enable_model_summary=False,
            callbacks=[timer],
        )
        trainer.fit(PlainNet(), loader)
    return timer.times


def dllab_trainer(
    X, y, epochs: int, batch_size: int, lean_loop: bool = True, recipe: dict | None = None
) -> list[float]:
    timer = EpochTimer()
    data = TensorDataModule((X, y), batch_size=batch_size, val_fraction=0.0)
    with tempfile.TemporaryDirectory() as root:
        trainer = Trainer(
            max_epochs=epochs,
            runs_dir=root,
            progress_bar=False,
            accelerator="cpu",
            callbacks=[timer],
            lean_loop=lean_loop,
        )
        trainer.fit(Net(**(recipe or {})), data)
    return timer.times


def help_seconds(repeats: int = 3) -> float:
    """Best wall time of ``dllab --help`` in a fresh interpreter (it must not import torch)."""
    import subprocess
    import sys

    code = "from dllab.core.cli.app import main; main()"
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        subprocess.run([sys.executable, "-c", code, "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - tic)
    print("dllab --help: " + ", ".join(f"{t:.3f}s" for t in times))
    return min(times)


def dllab_stock_loop(X, y, epochs: int, batch_size: int) -> list[float]:
    """dllab's Trainer on Lightning's own epoch loop (``lean_loop=False``), for comparison."""
    return dllab_trainer(X, y, epochs, batch_size, lean_loop=False)


def dllab_recipe(X, y, epochs: int, batch_size: int) -> list[float]:
    """dllab's Trainer with ``RECIPE`` as ``Module`` options (still the direct step)."""
    return dllab_trainer(X, y, epochs, batch_size, recipe=RECIPE)


CONTENDERS = {  # this order, reversed every other round: each compared pair back to back
    "raw": raw_loop,
    "dllab": dllab_trainer,
    "raw-recipe": raw_recipe_loop,
    "dllab-recipe": dllab_recipe,
    "lightning": plain_lightning,
    "dllab-stock-loop": dllab_stock_loop,
}
BASELINES = {"dllab-recipe": "raw-recipe", "raw-recipe": "raw-recipe"}  # else "raw"


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    torch.manual_seed(0)
    X = torch.randn(args.samples, 784)
    y = (X[:, :10].argmax(1) + X[:, 10:20].argmax(1)) % 10  # a learnable synthetic target
    print(
        f"torch {torch.__version__}, lightning {L.__version__}, threads {torch.get_num_threads()}"
    )
    print(f"MLP 784-256-10, {args.samples} samples, batch {args.batch_size}, {args.epochs} epochs")
    for fn in CONTENDERS.values():  # warm-up
        fn(X[: 4 * args.batch_size], y[: 4 * args.batch_size], 1, args.batch_size)
    samples: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    round_best: dict[str, list[float]] = {name: [] for name in CONTENDERS}  # one per round
    repeat = dict.fromkeys(CONTENDERS, 0)

    def timed(name: str):
        def run() -> None:
            times = CONTENDERS[name](X, y, args.epochs, args.batch_size)
            samples[name].extend(times)
            round_best[name].append(min(times))
            shown = ", ".join(f"{t:.3f}s" for t in times)
            print(f"repeat {repeat[name]} {name:>16}: epoch times {shown}")
            repeat[name] += 1

        return run

    contenders = {name: timed(name) for name in CONTENDERS}
    interleaved(contenders, repeats=args.repeats, warmup=0, alternate=True)
    best = {name: min(ts) for name, ts in samples.items()}
    for name, t in best.items():
        base = BASELINES.get(name, "raw")
        print(f"{name:>16}: best epoch {t:.3f}s  ({t / best[base]:.3f}x {base})")
    for name, base in (("dllab", "raw"), ("dllab-recipe", "raw-recipe")):
        rounds = round_ratios(round_best, name, base)
        print(f"{name} / {base} per round: " + " ".join(f"{r:.3f}" for r in rounds))
    ratios = {
        "lightning_over_raw": ratio(best, "lightning", "raw"),
        "dllab_over_raw": ratio(best, "dllab", "raw"),
        "dllab_stock_loop_over_raw": ratio(best, "dllab-stock-loop", "raw"),
        "dllab_recipe_over_raw": ratio(best, "dllab-recipe", "raw-recipe"),
        "dllab_over_raw_paired": paired_ratio(round_best, "dllab", "raw"),
        "dllab_recipe_over_raw_paired": paired_ratio(round_best, "dllab-recipe", "raw-recipe"),
        "dllab_help_seconds": round(help_seconds(), 3),
    }
    print(json.dumps(ratios))
    return ratios


if __name__ == "__main__":
    main()
