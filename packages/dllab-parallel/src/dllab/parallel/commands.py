"""The bodies of ``dllab parallel train`` and ``dllab parallel devices`` (see ``cli``)."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

QUICK: dict[str, Any] = {"samples": 2000, "epochs": 3, "batch_size": 64}
"""``--quick``: a small run that still learns (the MLP passes 80% on the glyphs)."""
TIMEOUT_S = 300.0
"""How long one collective may wait for a rank before the run fails (both strategies)."""


def _accelerator(name: str) -> str:
    import torch

    if name == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    return "gpu" if name in ("gpu", "cuda") else name


def _check(options: dict[str, Any], accelerator: str) -> int:
    """The number of processes, once the options are known to fit together."""
    import torch

    if accelerator not in ("cpu", "gpu"):
        raise typer.BadParameter(
            f"{accelerator} is not supported here: use cpu or gpu", param_hint="--accelerator"
        )
    if options["strategy"] == "manual" and options["num_nodes"] > 1:
        raise typer.BadParameter(
            "the manual strategy runs on one machine; use --strategy ddp with torchrun",
            param_hint="--num-nodes",
        )
    if accelerator == "gpu" and options["devices"] > torch.cuda.device_count():
        raise typer.BadParameter(
            f"{options['devices']} GPUs asked for, {torch.cuda.device_count()} present",
            param_hint="--devices",
        )
    world = options["devices"] * options["num_nodes"]
    if options["batch_size"] % world:
        raise typer.BadParameter(
            f"the global batch of {options['batch_size']} must split evenly across {world} "
            "processes",
            param_hint="--batch-size",
        )
    return world


def train_command(options: dict[str, Any]) -> dict[str, Any]:
    """``dllab parallel train``: fit core's MLP on the glyphs; returns the summary."""
    from dllab.core.cli.options import apply_quick

    apply_quick(options, QUICK)
    accelerator = _accelerator(str(options["accelerator"]))
    world = _check(options, accelerator)
    if options["strategy"] == "manual":
        return _train_manual(options, accelerator, world)
    return _train_ddp(options, accelerator, world)


def _train_ddp(options: dict[str, Any], accelerator: str, world: int) -> dict[str, Any]:
    """Lightning's DDP: it starts the other processes (or joins torchrun's) itself."""
    from datetime import timedelta

    from lightning.pytorch.strategies import DDPStrategy

    from dllab.core.cli.training import TrainingCommand

    # a rank that dies leaves the others failing after TIMEOUT_S, not Lightning's 30 minutes
    strategy = DDPStrategy(timeout=timedelta(seconds=TIMEOUT_S)) if world > 1 else "auto"
    trainer_kwargs = {"strategy": strategy, "num_nodes": options["num_nodes"]}
    with TrainingCommand(
        "parallel-train",
        options,
        epochs=options["epochs"],
        seed=options["seed"],
        runs_dir=options["runs_dir"],
        accelerator=accelerator,
        devices=options["devices"],
        trainer_kwargs=trainer_kwargs,
    ) as run:
        import lightning as L

        from dllab.core.data.glyphs import GlyphsData
        from dllab.core.fundamentals.models import MLP

        L.seed_everything(options["seed"], verbose=False)
        per_rank = options["batch_size"] // world  # each rank's share of the global batch
        data = GlyphsData(n=options["samples"], batch_size=per_rank, seed=options["seed"])
        model = MLP(num_hiddens=(options["hidden"],), lr=options["lr"])
        return run.fit(model, data, after_fit=_ranks_agree)


def _ranks_agree(trainer: Any, model: Any, data: Any, run_dir: Any) -> dict[str, Any]:
    """Whether every rank logged the same validation metrics (a collective: all ranks run it)."""
    import torch

    keys = sorted(k for k in trainer.callback_metrics if k.startswith("val_"))
    values = torch.tensor([float(trainer.callback_metrics[k]) for k in keys], dtype=torch.float64)
    gathered = trainer.strategy.all_gather(values).reshape(-1, len(keys))  # (world, metrics)
    return {"ranks_agree": bool((gathered == gathered[0]).all()), "processes": len(gathered)}


def _train_manual(options: dict[str, Any], accelerator: str, world: int) -> dict[str, Any]:
    """Start ``world`` processes that train by hand; rank 0 writes into this run folder."""
    # the ranks' heavy imports happen here, once: forked ranks inherit them
    import dllab.core.data.glyphs
    import dllab.core.fundamentals.models  # noqa: F401
    from dllab.core.callbacks import plot_history
    from dllab.core.cli.resume import plain
    from dllab.core.runs import run_folder
    from dllab.parallel.glyphs import train_glyphs
    from dllab.parallel.launch import WorkerError, run_workers

    settings = {**options, "hidden": [options["hidden"]], "accelerator": accelerator}
    backend = "nccl" if accelerator == "gpu" else "gloo"
    # CUDA cannot be forked; on CPU a forked rank inherits the imports instead of redoing them
    start = "fork" if backend == "gloo" and sys.platform == "linux" else "spawn"
    hparams = {"options": plain(options), "trainer": {"strategy": "manual", "backend": backend}}
    try:
        with run_folder(options["runs_dir"], "parallel-train", hparams) as run:
            histories = run_workers(
                train_glyphs,
                world,
                (settings, str(run.dir)),
                backend=backend,
                timeout=TIMEOUT_S,
                start_method=start,
            )
            agree = all(h == histories[0] for h in histories)
            history = histories[0]
            curves = {k: [(r["epoch"], r[k]) for r in history] for k in history[0] if k != "epoch"}
            plot_history(curves, run.path("curves.png"))
            summary = {k: v for k, v in history[-1].items() if k != "epoch"}
            summary.update(epochs=len(history), processes=world, ranks_agree=agree)
            run.write_summary(summary)
    except WorkerError as err:  # the run folder is already marked failed (or removed)
        typer.echo(f"Error: {err}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"run folder: {run.dir}")
    typer.echo(json.dumps(summary, sort_keys=True))
    return summary


def devices_command() -> dict[str, Any]:
    """``dllab parallel devices``: print the devices and backends; returns them."""
    from dllab.parallel.devices import available_backends, format_bytes, list_devices

    found = list_devices()
    backends = available_backends()
    for device in found:
        typer.echo(
            f"{device.name:<8} {format_bytes(device.memory_bytes):>10}  {device.description}"
        )
    shown = ", ".join(f"{name} {'yes' if ok else 'no'}" for name, ok in backends.items())
    typer.echo(f"torch.distributed backends: {shown}")
    result = {
        "devices": [
            {"name": d.name, "memory_bytes": d.memory_bytes, "description": d.description}
            for d in found
        ],
        "backends": backends,
    }
    typer.echo(json.dumps(result, sort_keys=True))
    return result
